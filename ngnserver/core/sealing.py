"""Reversible protection of customer passwords.

CDRTool logs customers in with the password it reads back from getAccount, so passwords
cannot be hashed. They are sealed with Fernet (AES-128-CBC + HMAC-SHA256) under a key kept
outside the database, so a database dump alone does not reveal them.
"""

from __future__ import annotations

import hmac

from cryptography.fernet import Fernet, InvalidToken


class PasswordSealer:
    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    @staticmethod
    def new_key() -> bytes:
        return Fernet.generate_key()

    def seal(self, password: str) -> bytes:
        return self._fernet.encrypt(password.encode("utf-8"))

    def open(self, sealed: bytes) -> str:
        """The password, or "" when nothing is stored. A token sealed under another key
        raises: that is a misconfigured server, not a wrong password."""
        if not sealed:
            return ""
        try:
            return self._fernet.decrypt(bytes(sealed)).decode("utf-8")
        except InvalidToken as exc:
            raise RuntimeError("a stored password cannot be opened: wrong secret key") from exc

    def matches(self, sealed: bytes, candidate: str) -> bool:
        stored = self.open(sealed)
        return bool(stored) and hmac.compare_digest(stored.encode(), candidate.encode())
