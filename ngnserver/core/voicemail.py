"""Voicemail accounts: one voice mailbox per SIP account, with its PIN, the name and e-mail
messages are sent to, whether messages are deleted once e-mailed, and a greeting.

A mailbox is reached through its SIP account: whoever sees the account (admin, its
reseller, its customer or owner) sees and changes its mailbox, and nobody else; the mailbox
goes with the account. Creating one needs an active reseller, as every record does.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ngnserver.core import audit, records
from ngnserver.core.callers import Caller
from ngnserver.core.errors import E, NGNError
from ngnserver.core.sealing import PasswordSealer
from ngnserver.core.sip import normalise_domain
from ngnserver.models.base import utcnow
from ngnserver.models.sip import SipAccount
from ngnserver.models.voicemail import VoicemailAccount

MAX_ANNOUNCEMENT_BYTES = 1024 * 1024
_PIN_RE = re.compile(r"^[0-9]{4,16}\Z")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\Z")
TEXT_FIELDS = ("name", "email", "info")


def _pin(value: Any) -> str:
    pin = str(value).strip()
    if not _PIN_RE.match(pin):
        raise NGNError(E.INVALID_VALUE, "A voicemail password is 4 to 16 digits (it is typed on a phone's keypad).")
    return pin


def _email(value: Any) -> str:
    email = str(value).strip()
    if email and not _EMAIL_RE.match(email):
        raise NGNError(E.INVALID_VALUE, f"{email!r} is not an e-mail address.")
    return email


class Voicemail:
    """Voicemail operations for one request."""

    def __init__(self, session: Session, caller: Caller, sealer: PasswordSealer) -> None:
        self.session = session
        self.caller = caller
        self.sealer = sealer

    def sip_account(self, sip_id: Mapping[str, Any] | None, lock: bool = False) -> SipAccount:
        sip_id = sip_id or {}
        username = (sip_id.get("username") or "").strip()
        if not username:
            raise NGNError(E.MISSING_PARAMETER, "A voicemail account needs the sipId (username and domain) of its SIP account.")
        domain = normalise_domain(sip_id.get("domain"))
        return records.in_scope(
            self.session, self.caller, SipAccount, SipAccount.username == username, SipAccount.domain == domain,
            missing=(E.SIP_ACCOUNT_NOT_FOUND, f"SIP account {username}@{domain} does not exist."), lock=lock,
        )  # fmt: skip

    def mailbox(self, sip_id: Mapping[str, Any] | None, lock: bool = False) -> tuple[SipAccount, VoicemailAccount]:
        """The SIP account and its mailbox (``lock``: both, for a change)."""
        account = self.sip_account(sip_id, lock)
        stmt = select(VoicemailAccount).where(VoicemailAccount.account_id == account.id)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        mailbox = self.session.execute(stmt).scalar_one_or_none()
        if mailbox is None:
            raise NGNError(E.VOICEMAIL_NOT_FOUND, f"SIP account {account.address} has no voicemail account.")
        return account, mailbox

    def add(self, fields: Mapping[str, Any]) -> VoicemailAccount:
        account = self.sip_account(fields.get("sip_id"), lock=True)
        records.require_active_reseller(self.caller)
        exists = NGNError(E.VOICEMAIL_EXISTS, f"SIP account {account.address} already has a voicemail account.")
        if self.session.execute(select(VoicemailAccount.id).where(VoicemailAccount.account_id == account.id)).first():
            raise exists
        if not fields.get("password"):
            raise NGNError(E.MISSING_PARAMETER, "A voicemail account needs a password (4 to 16 digits).")
        mailbox = VoicemailAccount(account_id=account.id)
        self._apply(mailbox, fields)
        self.session.add(mailbox)
        records.flush_unique(self.session, E.VOICEMAIL_EXISTS, exists.message)
        audit.record(self.session, self.caller, "create", "voicemail_account", account.address, records.given(fields))
        return mailbox

    def update(self, fields: Mapping[str, Any]) -> None:
        account, mailbox = self.mailbox(fields.get("sip_id"), lock=True)
        self._apply(mailbox, fields)
        mailbox.change_date = utcnow()
        audit.record(self.session, self.caller, "update", "voicemail_account", account.address, records.given(fields))

    def _apply(self, mailbox: VoicemailAccount, fields: Mapping[str, Any]) -> None:
        """The members given; an empty password is "unchanged" (CDRTool sends what it read,
        and clears a PIN it cannot use)."""
        if fields.get("password"):
            mailbox.password_sealed = self.sealer.seal(_pin(fields["password"]))
        for name in TEXT_FIELDS:
            if fields.get(name) is not None:
                value = _email(fields[name]) if name == "email" else str(fields[name]).strip()
                setattr(mailbox, name, value)
        if fields.get("delete_after_email") is not None:
            mailbox.delete_after_email = bool(fields["delete_after_email"])

    def delete(self, sip_id: Mapping[str, Any] | None) -> None:
        account, mailbox = self.mailbox(sip_id, lock=True)
        self.session.delete(mailbox)
        audit.record(self.session, self.caller, "delete", "voicemail_account", account.address)

    def set_announcement(self, sip_id: Mapping[str, Any] | None, message: str | None) -> None:
        """The mailbox's greeting, an audio file sent base64-encoded; empty: none."""
        account, mailbox = self.mailbox(sip_id, lock=True)
        text = re.sub(r"\s+", "", message or "")
        try:
            audio = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raise NGNError(
                E.VOICEMAIL_INVALID_ANNOUNCEMENT, "The announcement must be the audio file, base64-encoded."
            ) from None
        if len(audio) > MAX_ANNOUNCEMENT_BYTES:
            raise NGNError(
                E.VOICEMAIL_INVALID_ANNOUNCEMENT,
                f"The announcement is {len(audio)} bytes; at most {MAX_ANNOUNCEMENT_BYTES} are kept.",
            )
        mailbox.announcement = audio
        mailbox.announcement_date = utcnow() if audio else None
        mailbox.change_date = utcnow()
        audit.record(
            self.session, self.caller, "update", "voicemail_account", account.address, {"announcement": len(audio)}
        )

    def password_of(self, mailbox: VoicemailAccount) -> str:
        return self.sealer.open(mailbox.password_sealed)
