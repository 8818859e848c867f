"""Callback authentication and message encryption (docs/WECHAT.md §1.1–1.2).

- `signature` = sha1 of the sorted (token, timestamp, nonce), on every GET and POST.
- `msg_signature` = sha1 of the sorted (token, timestamp, nonce, Encrypt), in compatible and
  safe mode; it covers the ciphertext, so it is the check that authenticates the body.
- AES-256-CBC with AESKey = base64(EncodingAESKey + "="), IV = AESKey[:16], PKCS#7 padding
  to 32 bytes; plaintext = random(16) + len(msg) (4 bytes, network order) + msg + AppID.

Written on `cryptography` directly rather than wechatpy's WeChatCrypto because that one
compares signatures with `!=`, pads with `random` (not a CSPRNG) and never validates the
padding or the length field, so garbage turns into IndexError/UnicodeDecodeError.
Every failure here raises a `CallbackAuthError` subclass; nothing else escapes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import struct

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

_BLOCK = 32  # WeChat pads to 32-byte blocks, not AES's 16.
_RANDOM_PREFIX = 16


class CallbackAuthError(Exception):
    """A callback that must be refused; `http_status` is what WeChat (or an attacker) gets."""

    http_status = 403


class SignatureMismatch(CallbackAuthError):
    """`signature` or `msg_signature` is missing or wrong."""


class StaleTimestamp(CallbackAuthError):
    """`timestamp` is missing, not a number, or outside the accepted window."""


class DecryptionFailed(CallbackAuthError):
    """The ciphertext is not valid base64/AES/padding/length framing, or not UTF-8."""

    http_status = 400


class AppIdMismatch(DecryptionFailed):
    """The ciphertext decrypts but names another AppID: it was not meant for this account."""

    http_status = 403


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 hex of the parts sorted as byte strings and concatenated."""
    return hashlib.sha1(b"".join(sorted(p.encode() for p in parts))).hexdigest()


def _same(expected: str, given: str | None) -> bool:
    # Constant-time so a forger cannot learn the signature byte by byte from response times.
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())


def check_signature(token: str, signature: str | None, timestamp: str, nonce: str) -> None:
    """Verify the query-string `signature`. Raises SignatureMismatch."""
    if not _same(sign(token, timestamp or "", nonce or ""), signature):
        raise SignatureMismatch("bad signature")


def check_msg_signature(
    token: str, msg_signature: str | None, timestamp: str, nonce: str, encrypted: str
) -> None:
    """Verify `msg_signature` over the ciphertext. Raises SignatureMismatch."""
    if not _same(sign(token, timestamp or "", nonce or "", encrypted), msg_signature):
        raise SignatureMismatch("bad msg_signature")


def check_timestamp(timestamp: str | None, now_epoch: float, window: int) -> int:
    """The request's timestamp if it is within `window` seconds of `now_epoch`.

    Bounds replays of a captured signed URL. Raises StaleTimestamp."""
    if not timestamp or not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        raise StaleTimestamp("timestamp missing or not a number")
    value = int(timestamp)
    if abs(now_epoch - value) > window:
        raise StaleTimestamp("timestamp outside the accepted window")
    return value


def aes_key(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key behind the 43-character EncodingAESKey. Raises ValueError."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("EncodingAESKey is not valid base64") from exc
    if len(encoding_aes_key) != 43 or len(key) != 32:
        raise ValueError("EncodingAESKey must be 43 characters (32 bytes)")
    return key


class MessageCrypto:
    """Encrypt/decrypt callback payloads of one account (token, EncodingAESKey, AppID)."""

    def __init__(self, token: str, encoding_aes_key: str, app_id: str):
        self.token = token
        self.app_id = app_id
        self._key = aes_key(encoding_aes_key)

    def _cipher(self) -> Cipher:
        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def encrypt(self, plaintext: str, random_prefix: bytes | None = None) -> str:
        """Base64 ciphertext of `plaintext` for this AppID (`random_prefix` only for test vectors)."""
        prefix = random_prefix if random_prefix is not None else secrets.token_bytes(_RANDOM_PREFIX)
        if len(prefix) != _RANDOM_PREFIX:
            raise ValueError("random prefix must be 16 bytes")
        body = plaintext.encode()
        data = prefix + struct.pack(">I", len(body)) + body + self.app_id.encode()
        pad = _BLOCK - len(data) % _BLOCK
        data += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(data) + encryptor.finalize()).decode()

    def decrypt(self, encrypted: str) -> str:
        """The plaintext inside `encrypted`. Raises DecryptionFailed, AppIdMismatch."""
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise DecryptionFailed("ciphertext is not base64") from exc
        if not raw or len(raw) % 16:
            raise DecryptionFailed("ciphertext is not a whole number of AES blocks")
        decryptor = self._cipher().decryptor()
        data = decryptor.update(raw) + decryptor.finalize()
        pad = data[-1]
        if not 1 <= pad <= _BLOCK or data[-pad:] != bytes([pad]) * pad:
            raise DecryptionFailed("bad padding")
        content = data[_RANDOM_PREFIX:-pad]
        if len(content) < 4:
            raise DecryptionFailed("plaintext too short")
        (length,) = struct.unpack(">I", content[:4])
        if length > len(content) - 4:
            raise DecryptionFailed("length field exceeds the plaintext")
        message, from_app_id = content[4 : 4 + length], content[4 + length :]
        if from_app_id != self.app_id.encode():
            raise AppIdMismatch("ciphertext was made for another AppID")
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DecryptionFailed("plaintext is not UTF-8") from exc

    def decrypt_checked(self, encrypted: str, msg_signature: str | None, timestamp: str, nonce: str) -> str:
        """Check `msg_signature` over `encrypted`, then decrypt it.

        Raises SignatureMismatch, DecryptionFailed, AppIdMismatch."""
        check_msg_signature(self.token, msg_signature, timestamp, nonce, encrypted)
        return self.decrypt(encrypted)

    def encrypted_reply(self, reply_xml: str, timestamp: str, nonce: str) -> str:
        """The safe-mode reply envelope: <xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>."""
        encrypted = self.encrypt(reply_xml)
        signature = sign(self.token, timestamp, nonce, encrypted)
        # Base64, hex, digits and our own nonce: nothing here can contain "]]>".
        return (
            "<xml>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp>"
            f"<Nonce><![CDATA[{nonce}]]></Nonce>"
            "</xml>"
        )


def new_nonce() -> str:
    """A fresh nonce for an encrypted reply."""
    return secrets.token_hex(8)
