"""Reversible protection of customer passwords (and other secrets a client must read back).

CDRTool logs customers in with the password it reads back from getAccount, so passwords
cannot be hashed. They are sealed with AES-256-GCM (authenticated encryption, a random
96-bit nonce per value) under a key kept outside the database, so a database dump alone
does not reveal them. The key file holds 32 random bytes, URL-safe base64 encoded (the same
form as a Fernet key). AES-GCM opens a value in about 2 µs where Fernet takes 20: a page of
20 customers opens 20 passwords on every listing.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

NONCE_BYTES = 12
VERSION = b"\x01"  # leading byte of every sealed value, so the format can change later


class PasswordSealer:
    def __init__(self, key: bytes) -> None:
        try:
            raw = base64.urlsafe_b64decode(key)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("the secret key must be 32 bytes, URL-safe base64 encoded") from exc
        if len(raw) != 32:
            raise ValueError("the secret key must be 32 bytes, URL-safe base64 encoded")
        self._aead = AESGCM(raw)
        self._digest_key = HKDF(SHA256(), 32, salt=None, info=b"ngnserver secret digests").derive(raw)
        self._dummy = self.seal(base64.urlsafe_b64encode(os.urandom(12)).decode())

    def dummy(self) -> bytes:
        """A value sealed under this key that no password matches: opened in place of an
        unknown login's, so that a wrong username costs what a wrong password costs."""
        return self._dummy

    @staticmethod
    def new_key() -> bytes:
        return base64.urlsafe_b64encode(os.urandom(32))

    def seal(self, password: str) -> bytes:
        if not password:
            return b""
        nonce = os.urandom(NONCE_BYTES)
        return VERSION + nonce + self._aead.encrypt(nonce, password.encode("utf-8"), VERSION)

    def open(self, sealed: bytes) -> str:
        """The password, or "" when nothing is stored. A value sealed under another key
        raises: that is a misconfigured server, not a wrong password."""
        if not sealed:
            return ""
        sealed = bytes(sealed)
        if sealed[:1] != VERSION:
            raise RuntimeError("a stored secret has an unknown format")
        nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
        try:
            return self._aead.decrypt(nonce, body, VERSION).decode("utf-8")
        except InvalidTag as exc:
            raise RuntimeError("a stored secret cannot be opened: wrong secret key") from exc

    def digest(self, secret: str) -> bytes:
        """A keyed digest (HMAC-SHA256, under a key derived from the secret key) of a secret
        the server only ever compares, never shows again (a voucher's number): a database
        dump alone cannot test guesses against it."""
        mac = HMAC(self._digest_key, SHA256())
        mac.update(secret.encode("utf-8"))
        return mac.finalize()

    def matches(self, sealed: bytes, candidate: str) -> bool:
        stored = self.open(sealed)
        return bool(stored) and hmac.compare_digest(stored.encode(), candidate.encode())
