"""Voicemail accounts: the mailbox of a SIP account on the voicemail server."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from ngnserver.models.base import Base, Dated


class VoicemailAccount(Dated, Base):
    """A SIP account's voice mailbox. ``id`` is the mailbox number (unique on the server,
    which CDRTool addresses as ``mailbox@voicemail-server``); the PIN is sealed like SIP
    passwords, since CDRTool shows it back; ``delete_after_email``: messages are sent by
    e-mail and not kept. Scope is the SIP account's, and the mailbox goes with it."""

    __tablename__ = "voicemail_accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(
        ForeignKey("sip_accounts.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    password_sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, default=b"")
    name: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    email: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    info: Mapped[str] = mapped_column(String(255), nullable=False, default="")
    delete_after_email: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    announcement: Mapped[bytes] = mapped_column(LargeBinary, nullable=False, default=b"")
    announcement_date: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)

    __table_args__ = ({"sqlite_autoincrement": True},)
