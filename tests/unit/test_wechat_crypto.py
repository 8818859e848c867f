"""Callback signatures and AES message encryption against Tencent's published vectors."""

from __future__ import annotations

import base64
import re

import pytest

from app.wechat.crypto import (
    AppIdMismatch,
    DecryptionFailed,
    MessageCrypto,
    SignatureMismatch,
    StaleTimestamp,
    check_msg_signature,
    check_signature,
    check_timestamp,
    sign,
)
from app.wechat.parsing import parse_xml

# Tencent's Official Account sample (WXBizMsgCrypt "测试解密接口").
SAMPLE_TOKEN = "spamtest"
SAMPLE_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
SAMPLE_APP_ID = "wx2c2769f8efd9abc2"
SAMPLE_TIMESTAMP = "1409735669"
SAMPLE_NONCE = "1320562132"
SAMPLE_MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
SAMPLE_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6F8PGHQHFVAFmOD2LdJF9"
    "FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T332jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3y"
    "t+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCgavjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0"
    "EIBYYI1BD1DlD+C0CR8e6OewpusjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)


def sample_crypto(app_id: str = SAMPLE_APP_ID) -> MessageCrypto:
    return MessageCrypto(SAMPLE_TOKEN, SAMPLE_KEY, app_id)


def test_official_sample_decrypts():
    plaintext = sample_crypto().decrypt_checked(SAMPLE_ENCRYPT, SAMPLE_MSG_SIGNATURE, SAMPLE_TIMESTAMP, SAMPLE_NONCE)
    fields = parse_xml(plaintext)
    assert fields["ToUserName"] == "gh_10f6c3c3ac5a"
    assert fields["FromUserName"] == "oyORnuP8q7ou2gfYjqLzSIWZf0rs"
    assert fields["Content"] == "abcdteT"
    assert fields["MsgId"] == "6054768590064713728"


def test_official_sample_with_wrong_app_id_is_refused():
    with pytest.raises(AppIdMismatch):
        sample_crypto("wx0000000000000000").decrypt(SAMPLE_ENCRYPT)


def test_official_sample_with_tampered_signature_is_refused():
    bad = SAMPLE_MSG_SIGNATURE[:-1] + ("0" if SAMPLE_MSG_SIGNATURE[-1] != "0" else "1")
    with pytest.raises(SignatureMismatch):
        sample_crypto().decrypt_checked(SAMPLE_ENCRYPT, bad, SAMPLE_TIMESTAMP, SAMPLE_NONCE)
    with pytest.raises(SignatureMismatch):
        sample_crypto().decrypt_checked(SAMPLE_ENCRYPT, None, SAMPLE_TIMESTAMP, SAMPLE_NONCE)


def test_official_encryption_vector_with_fixed_random_prefix():
    # Tencent's WXBizMsgCrypt Java test: random "aaaabbbbccccdddd", AppID wxb11529c136998cb6.
    crypto = MessageCrypto("pamtest", SAMPLE_KEY, "wxb11529c136998cb6")
    expected = "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
    assert crypto.encrypt("我是中文abcd123", random_prefix=b"aaaabbbbccccdddd") == expected
    assert crypto.decrypt(expected) == "我是中文abcd123"


def test_official_url_verification_signature():
    # The worked example of the official message-push page: Token "AAAAA".
    assert sign("AAAAA", "1714036504", "1514711492") == "f464b24fc39322e44b38aa78f5edd27bd1441696"
    check_signature("AAAAA", "f464b24fc39322e44b38aa78f5edd27bd1441696", "1714036504", "1514711492")
    with pytest.raises(SignatureMismatch):
        check_signature("AAAAB", "f464b24fc39322e44b38aa78f5edd27bd1441696", "1714036504", "1514711492")
    with pytest.raises(SignatureMismatch):
        check_signature("AAAAA", None, "1714036504", "1514711492")


def test_safe_mode_reply_decrypts_with_the_same_key():
    crypto = sample_crypto()
    reply = "<xml><ToUserName><![CDATA[o1]]></ToUserName><Content><![CDATA[排查]]></Content></xml>"
    envelope = parse_xml(crypto.encrypted_reply(reply, "1700000000", "n0nce"))
    assert set(envelope) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
    assert envelope["TimeStamp"] == "1700000000" and envelope["Nonce"] == "n0nce"
    # WeChat checks MsgSignature over (token, TimeStamp, Nonce, Encrypt), then decrypts.
    check_msg_signature(SAMPLE_TOKEN, envelope["MsgSignature"], "1700000000", "n0nce", envelope["Encrypt"])
    assert crypto.decrypt(envelope["Encrypt"]) == reply


def test_each_encryption_uses_a_fresh_random_prefix():
    crypto = sample_crypto()
    assert crypto.encrypt("same") != crypto.encrypt("same")


@pytest.mark.parametrize(
    "ciphertext",
    [
        "not base64!!",
        "",
        base64.b64encode(b"short").decode(),  # not a whole AES block
        base64.b64encode(b"\x00" * 32).decode(),  # decrypts to garbage padding
    ],
)
def test_garbage_ciphertext_is_refused(ciphertext):
    with pytest.raises(DecryptionFailed):
        sample_crypto().decrypt(ciphertext)


def test_length_field_larger_than_the_plaintext_is_refused():
    crypto = sample_crypto()
    # Encrypt a frame by hand whose length field claims more bytes than follow.
    raw = b"r" * 16 + (10_000).to_bytes(4, "big") + b"<xml/>" + SAMPLE_APP_ID.encode()
    pad = 32 - len(raw) % 32
    framed = raw + bytes([pad]) * pad
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    key = base64.b64decode(SAMPLE_KEY + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    ciphertext = base64.b64encode(encryptor.update(framed) + encryptor.finalize()).decode()
    with pytest.raises(DecryptionFailed, match="length"):
        crypto.decrypt(ciphertext)


def test_bad_encoding_aes_key_is_rejected_at_construction():
    with pytest.raises(ValueError):
        MessageCrypto("t", "short", "wx1")
    with pytest.raises(ValueError):
        MessageCrypto("t", "*" * 43, "wx1")


@pytest.mark.parametrize(
    ("timestamp", "ok"),
    [("1000", True), ("700", True), ("1300", True), ("699", False), ("1301", False)],
)
def test_timestamp_window(timestamp, ok):
    if ok:
        assert check_timestamp(timestamp, 1000.0, 300) == int(timestamp)
    else:
        with pytest.raises(StaleTimestamp):
            check_timestamp(timestamp, 1000.0, 300)


@pytest.mark.parametrize("timestamp", [None, "", "abc", "-5", "1e3", "１２３", "9" * 40])
def test_timestamp_must_be_plain_digits(timestamp):
    with pytest.raises(StaleTimestamp):
        check_timestamp(timestamp, 1000.0, 300)


def test_signature_is_hex_sha1():
    assert re.fullmatch(r"[0-9a-f]{40}", sign("a", "b", "c"))
    # Order of the inputs does not matter: they are sorted first.
    assert sign("a", "b", "c") == sign("c", "a", "b")
