"""Settings are validated at start-up; every bad setting is named in one error."""

from __future__ import annotations

import pytest

from config import ConfigError, load_settings
from config import settings as settings_module
from config.settings import DEFAULT_SECRET_KEY

GOOD_PRODUCTION = {
    "ANCHA_ENV": "production",
    "SECRET_KEY": "x" * 48,
    "DATABASE_URL": "postgresql+psycopg://ancha@db/ancha",
    "REDIS_URL": "redis://cache:6379/0",
    "WECHAT_APP_ID": "wx1234567890abcdef",
    "WECHAT_APP_SECRET": "s" * 32,
    "WECHAT_TOKEN": "token",
    "WECHAT_SANDBOX": "0",
}


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for name in list(GOOD_PRODUCTION) + ["WECHAT_ENCODING_AES_KEY", "PUBLIC_BASE_URL", "TIMEZONE", "PORT"]:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env
    monkeypatch.setattr(settings_module, "INSTANCE_DIR", tmp_path / "instance")


def test_embedded_default_needs_no_settings():
    settings = load_settings()
    assert settings.ANCHA_ENV == "development"
    assert settings.DATABASE_URL.startswith("sqlite:///") and "instance" in settings.DATABASE_URL
    assert settings.REDIS_URL is None
    assert settings.sandbox is True
    assert settings.wechat_api_base_url == "http://127.0.0.1:5000/sandbox/wx"


def test_make_run_signs_with_its_own_key_made_once_and_kept_private(tmp_path):
    first = load_settings()
    key_file = tmp_path / "instance" / "secret_key"
    assert first.SECRET_KEY != DEFAULT_SECRET_KEY and len(first.SECRET_KEY) >= 48
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert load_settings().SECRET_KEY == first.SECRET_KEY  # the next start keeps the sessions
    assert load_settings({"SECRET_KEY": "y" * 40}).SECRET_KEY == "y" * 40  # a set key wins
    assert load_settings({"ANCHA_ENV": "testing"}).SECRET_KEY == DEFAULT_SECRET_KEY


def test_a_configured_app_id_turns_the_sandbox_off_by_default():
    settings = load_settings({"WECHAT_APP_ID": "wx1234567890abcdef"})
    assert settings.sandbox is False
    assert settings.wechat_api_base_url == "https://api.weixin.qq.com"


def test_good_production_settings_load():
    settings = load_settings(GOOD_PRODUCTION)
    assert settings.is_production and not settings.sandbox


def test_production_names_every_bad_setting_at_once():
    with pytest.raises(ConfigError) as info:
        load_settings({"ANCHA_ENV": "production"})
    problems = info.value.problems
    assert set(problems) >= {
        "WECHAT_SANDBOX",
        "SECRET_KEY",
        "WECHAT_APP_ID",
        "WECHAT_APP_SECRET",
        "WECHAT_TOKEN",
        "DATABASE_URL",
        "REDIS_URL",
    }
    message = str(info.value)
    for name in problems:
        assert name in message


@pytest.mark.parametrize(
    ("override", "name"),
    [
        ({"SECRET_KEY": DEFAULT_SECRET_KEY}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
        ({"WECHAT_SANDBOX": "1"}, "WECHAT_SANDBOX"),
        ({"WECHAT_TOKEN": ""}, "WECHAT_TOKEN"),
    ],
)
def test_production_refuses(override, name):
    with pytest.raises(ConfigError) as info:
        load_settings({**GOOD_PRODUCTION, **override})
    assert list(info.value.problems) == [name]


def test_malformed_values_are_all_reported():
    with pytest.raises(ConfigError) as info:
        load_settings(
            {
                "ANCHA_ENV": "staging",
                "DATABASE_URL": "mysql://x",
                "REDIS_URL": "http://nope",
                "WECHAT_ENCODING_AES_KEY": "tooshort",
                "TIMEZONE": "Mars/Olympus",
                "PUBLIC_BASE_URL": "ftp://x",
            }
        )
    assert set(info.value.problems) == {
        "ANCHA_ENV",
        "DATABASE_URL",
        "REDIS_URL",
        "WECHAT_ENCODING_AES_KEY",
        "TIMEZONE",
        "PUBLIC_BASE_URL",
    }


def test_environment_and_dotenv_are_read(monkeypatch, tmp_path):
    (tmp_path / ".env").write_text("PUBLIC_BASE_URL=https://ancha.example.cn/\n", encoding="utf-8")
    monkeypatch.setenv("TIMEZONE", "Asia/Shanghai")
    settings = load_settings()
    assert settings.PUBLIC_BASE_URL == "https://ancha.example.cn"


def test_links_use_the_port_the_app_serves_on_unless_a_public_url_is_set(monkeypatch):
    """`make run` with PORT=5107 serves on 5107: `demo seed --json` links must say so too."""
    monkeypatch.setenv("PORT", "5107")
    settings = load_settings()
    assert settings.PUBLIC_BASE_URL == "http://127.0.0.1:5107"
    assert settings.wechat_api_base_url == "http://127.0.0.1:5107/sandbox/wx"
    monkeypatch.setenv("PUBLIC_BASE_URL", "https://ancha.example.cn")
    assert load_settings().PUBLIC_BASE_URL == "https://ancha.example.cn"
    monkeypatch.setenv("PUBLIC_BASE_URL", "")
    assert load_settings().PUBLIC_BASE_URL == "http://127.0.0.1:5107"


def test_plain_postgresql_url_uses_psycopg3():
    settings = load_settings({"DATABASE_URL": "postgresql://u@h/d"})
    assert settings.DATABASE_URL == "postgresql+psycopg://u@h/d"


def test_create_app_stops_on_bad_config():
    from app import create_app

    with pytest.raises(SystemExit, match="DATABASE_URL"):
        create_app({"DATABASE_URL": "oracle://nope"})


def test_the_message_mode_is_explicit_and_needs_its_key():
    assert load_settings().wechat_message_mode == "plaintext"
    key = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    assert load_settings({"WECHAT_ENCODING_AES_KEY": key}).wechat_message_mode == "safe"
    assert load_settings({"WECHAT_ENCODING_AES_KEY": key, "WECHAT_MESSAGE_MODE": "compatible"}).wechat_message_mode == "compatible"
    with pytest.raises(ConfigError, match="needs WECHAT_ENCODING_AES_KEY"):
        load_settings({"WECHAT_MESSAGE_MODE": "safe"})
