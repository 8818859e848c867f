"""Application settings.

Every setting comes from an environment variable of the same name (or `.env`).
`load_settings()` validates all of them at once and raises `ConfigError` naming
every bad or missing setting, so a misconfigured process stops with one message.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dotenv import dotenv_values
from pydantic import NonNegativeInt, PositiveInt, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"

# A SECRET_KEY equal to this (or empty) is only tolerated outside production.
DEFAULT_SECRET_KEY = "dev-insecure-change-me"
DEFAULT_WECHAT_API_BASE_URL = "https://api.weixin.qq.com"
# The sandbox's fixed account identity, used only while WECHAT_SANDBOX is on.
SANDBOX_APP_ID = "wx5a4d0c0ffee5a4d0"
SANDBOX_APP_SECRET = "sandbox-app-secret-not-for-production"
SANDBOX_TOKEN = "ancha-sandbox-token"
# WECHAT_TEMPLATE_<KIND> (or _<FAMILY>) names the template id of a notification kind.
TEMPLATE_SETTING_PREFIX = "WECHAT_TEMPLATE_"


class ConfigError(RuntimeError):
    """Raised when the settings are invalid; the message names every bad setting."""

    def __init__(self, problems: dict[str, str]):
        self.problems = problems
        lines = [f"  {name}: {why}" for name, why in sorted(problems.items())]
        super().__init__("Invalid configuration:\n" + "\n".join(lines))


class Settings(BaseSettings):
    """Validated settings. Field names map 1:1 to environment variables (upper case)."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        case_sensitive=False,
        extra="ignore",
    )

    ANCHA_ENV: Literal["development", "testing", "production"] = "development"
    SECRET_KEY: str = DEFAULT_SECRET_KEY
    DATABASE_URL: str = f"sqlite:///{INSTANCE_DIR / 'ancha.db'}"
    # Unset: an in-process fakeredis server (embedded default).
    REDIS_URL: str | None = None
    # Unset: http://127.0.0.1:<PORT> (PORT: what `flask serve` / `make run` listen on, 5000).
    PUBLIC_BASE_URL: str | None = None
    PORT: PositiveInt = 5000
    WECHAT_APP_ID: str | None = None
    WECHAT_APP_SECRET: str | None = None
    WECHAT_TOKEN: str | None = None
    WECHAT_ENCODING_AES_KEY: str | None = None
    # The message mode chosen in the MP admin (消息加解密方式): plaintext (明文), compatible
    # (兼容) or safe (安全). Unset: safe when an EncodingAESKey is set, else plaintext. In
    # compatible and safe mode every callback must come encrypted; a plaintext POST is refused
    # (a downgrade), as is an encrypted one in plaintext mode.
    WECHAT_MESSAGE_MODE: Literal["plaintext", "compatible", "safe"] | None = None
    WECHAT_API_BASE_URL: str = DEFAULT_WECHAT_API_BASE_URL
    # How far (seconds) a callback's `timestamp` may be from our clock before it is refused.
    WECHAT_TIMESTAMP_WINDOW: PositiveInt = 300
    # Unset: on exactly when no AppID is configured.
    WECHAT_SANDBOX: bool | None = None
    TIMEZONE: str = "Asia/Shanghai"
    MEDIA_ROOT: str = str(INSTANCE_DIR / "media")
    # Callback deliveries that met a store outage wait here to be replayed (a local disk of
    # the web host; app/wechat_inbound/spool.py).
    WECHAT_SPOOL_DIR: str = str(INSTANCE_DIR / "spool" / "wechat")
    # The account's send quotas, shared by every dispatcher ("N/minute;M/day"). Templates:
    # 100 000 a day by default (docs/WECHAT.md §2.4); customer-service messages 500 000.
    NOTIFY_RATE_TEMPLATE: str = "3000/minute;100000/day"
    NOTIFY_RATE_CUSTOM: str = "3000/minute;500000/day"
    # Rows one dispatcher claims at a time, and how many of them it sends at once.
    NOTIFY_BATCH_SIZE: PositiveInt = 50
    NOTIFY_CONCURRENCY: PositiveInt = 4
    # How many proxies (nginx) stand in front of gunicorn; their X-Forwarded-For/-Proto/-Host
    # are believed for that many hops. 0 believes none (a client could forge them); the
    # deploy/ layout (nginx on the same host) is 1.
    PROXY_HOPS: NonNegativeInt = 0
    # Unset: /metrics is open in development and testing and absent in production. Set: it
    # needs `Authorization: Bearer <METRICS_TOKEN>` (Prometheus' `authorization` setting).
    METRICS_TOKEN: str | None = None

    @field_validator(
        "PUBLIC_BASE_URL",
        "REDIS_URL",
        "WECHAT_APP_ID",
        "WECHAT_APP_SECRET",
        "WECHAT_TOKEN",
        "WECHAT_ENCODING_AES_KEY",
        "WECHAT_MESSAGE_MODE",
        "WECHAT_SANDBOX",
        "METRICS_TOKEN",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise ValueError("must be a sqlite:/// or postgresql+psycopg:// URL")
        if value.startswith("postgresql:"):
            # psycopg 3 is the installed driver; plain postgresql:// would ask for psycopg2.
            value = "postgresql+psycopg:" + value[len("postgresql:") :]
        return value

    @field_validator("REDIS_URL")
    @classmethod
    def _redis_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// or rediss:// URL")
        return value

    @field_validator("PUBLIC_BASE_URL", "WECHAT_API_BASE_URL")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value.rstrip("/")

    @field_validator("WECHAT_ENCODING_AES_KEY")
    @classmethod
    def _aes_key(cls, value: str | None) -> str | None:
        if value is not None and (len(value) != 43 or not value.isalnum()):
            raise ValueError("must be exactly 43 letters and digits, as shown in the MP admin")
        return value

    @field_validator("NOTIFY_RATE_TEMPLATE", "NOTIFY_RATE_CUSTOM")
    @classmethod
    def _rate(cls, value: str) -> str:
        from limits import parse_many

        try:
            parse_many(value)
        except ValueError as exc:
            raise ValueError('must look like "3000/minute;100000/day"') from exc
        return value

    @field_validator("TIMEZONE")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _defaults_and_production_rules(self) -> Settings:
        if self.WECHAT_SANDBOX is None:
            self.WECHAT_SANDBOX = self.WECHAT_APP_ID is None
        if self.PUBLIC_BASE_URL is None:
            # As `make run` serves: the local address on PORT.
            self.PUBLIC_BASE_URL = f"http://127.0.0.1:{self.PORT}"
        if self.WECHAT_MESSAGE_MODE in ("compatible", "safe") and not self.WECHAT_ENCODING_AES_KEY:
            raise ValueError(f"WECHAT_MESSAGE_MODE={self.WECHAT_MESSAGE_MODE} needs WECHAT_ENCODING_AES_KEY")
        return self

    @property
    def wechat_message_mode(self) -> str:
        if self.WECHAT_MESSAGE_MODE:
            return self.WECHAT_MESSAGE_MODE
        return "safe" if self.WECHAT_ENCODING_AES_KEY else "plaintext"

    @property
    def is_production(self) -> bool:
        return self.ANCHA_ENV == "production"

    @property
    def sandbox(self) -> bool:
        return bool(self.WECHAT_SANDBOX)

    # The effective WeChat account: the configured one, or the sandbox's fixed identity.
    @property
    def wechat_app_id(self) -> str:
        return self.WECHAT_APP_ID or SANDBOX_APP_ID

    @property
    def wechat_app_secret(self) -> str:
        return self.WECHAT_APP_SECRET or SANDBOX_APP_SECRET

    @property
    def wechat_token(self) -> str:
        return self.WECHAT_TOKEN or SANDBOX_TOKEN

    @property
    def wechat_api_base_url(self) -> str:
        """Where API calls go: the fake WeChat API of this very service while in the sandbox
        (unless WECHAT_API_BASE_URL was set explicitly), else WECHAT_API_BASE_URL."""
        if self.sandbox and self.WECHAT_API_BASE_URL == DEFAULT_WECHAT_API_BASE_URL:
            return f"{self.PUBLIC_BASE_URL}/sandbox/wx"
        return self.WECHAT_API_BASE_URL

    def wechat_template_id(self, kind: str, family: str | None = None) -> str | None:
        """The template id of notification `kind`: WECHAT_TEMPLATE_<KIND>, else
        WECHAT_TEMPLATE_<FAMILY> (environment, then `.env`). Unset in the sandbox: a stable
        fake id, so notifications work there without configuration; elsewhere None."""
        configured = template_settings()
        for name in (kind, family):
            value = configured.get(f"{TEMPLATE_SETTING_PREFIX}{name.upper()}") if name else None
            if value:
                return value
        return sandbox_template_id(kind) if self.sandbox else None


def template_settings() -> dict[str, str]:
    """Every non-empty WECHAT_TEMPLATE_* setting, names upper-cased; the environment wins
    over `.env`, as for the declared settings."""
    return {
        name.upper(): value.strip()
        for name, value in {**dotenv_values(".env"), **os.environ}.items()
        if name.upper().startswith(TEMPLATE_SETTING_PREFIX) and value and value.strip()
    }


def sandbox_template_id(kind: str) -> str:
    """A fake template id for `kind`, the same on every run: 43 characters of
    [A-Za-z0-9_-], the shape of a real one."""
    digest = hashlib.sha256(f"ancha-sandbox-template:{kind}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _production_problems(settings: Settings) -> dict[str, str]:
    problems: dict[str, str] = {}
    if not settings.is_production:
        return problems
    if settings.sandbox:
        problems["WECHAT_SANDBOX"] = "the WeChat sandbox must be off in production (set WECHAT_SANDBOX=0)"
    if not settings.SECRET_KEY or settings.SECRET_KEY == DEFAULT_SECRET_KEY:
        problems["SECRET_KEY"] = "missing or the development default; set a long random value"
    elif len(settings.SECRET_KEY) < 32:
        problems["SECRET_KEY"] = "too short; use at least 32 random characters"
    for name in ("WECHAT_APP_ID", "WECHAT_APP_SECRET", "WECHAT_TOKEN"):
        if not getattr(settings, name):
            problems[name] = "required in production"
    if settings.DATABASE_URL.startswith("sqlite:"):
        problems["DATABASE_URL"] = "production needs PostgreSQL (postgresql+psycopg://…)"
    if settings.REDIS_URL is None:
        problems["REDIS_URL"] = "production needs a real Redis server (redis://…)"
    return problems


def load_settings(overrides: dict[str, Any] | None = None) -> Settings:
    """Build settings from the environment, `.env` and `overrides`.

    Raises ConfigError naming every invalid or missing setting.
    """
    try:
        settings = Settings(**(overrides or {}))
    except ValidationError as exc:
        problems = {}
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "settings"
            problems[name] = err["msg"].removeprefix("Value error, ")
        raise ConfigError(problems) from None
    problems = _production_problems(settings)
    if problems:
        raise ConfigError(problems)
    if settings.ANCHA_ENV == "development" and settings.SECRET_KEY == DEFAULT_SECRET_KEY:
        # `make run` must not sign sessions with a key everyone can read in this file.
        settings = settings.model_copy(update={"SECRET_KEY": instance_secret_key(INSTANCE_DIR)})
    return settings


def instance_secret_key(folder: Path) -> str:
    """This installation's own signing key, made on first use and kept in
    `folder/secret_key` (readable by the owner only)."""
    path = folder / "secret_key"
    try:
        key = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        key = ""
    if len(key) >= 32:
        return key
    folder.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key
