"""What a SIP account's user sets for their own calls: call diversions, the rules for which
callers get through (accept rules, reject members), barred destination prefixes, and the
phonebook. Both tables hang off the account and go with it (ON DELETE CASCADE)."""

from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ngnserver.models.base import Base


class SipAccountSettings(Base):
    """An account's call settings, one row per account that has set any: each setting is
    replaced whole by its ``set*`` operation, so each is one structured value."""

    __tablename__ = "sip_account_settings"

    account_id: Mapped[int] = mapped_column(ForeignKey("sip_accounts.id", ondelete="CASCADE"), primary_key=True)
    # condition (FUNC, FNOL, FBUS, FNOA, FUNV) -> target ("sip:..." or "<voice-mailbox>")
    diversions: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    # {"persistent": [{"days", "start", "stop", "groups"}], "temporary": {"groups", "until"}}
    accept_rules: Mapped[dict] = mapped_column(JSON, nullable=False, default=dict)
    reject_members: Mapped[list] = mapped_column(JSON, nullable=False, default=list)
    barring_prefixes: Mapped[list] = mapped_column(JSON, nullable=False, default=list)


class PhonebookEntry(Base):
    """A contact in an account's phonebook: a SIP address with a display name and the
    group (vip, family...) that accept rules can name."""

    __tablename__ = "sip_phonebook_entries"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("sip_accounts.id", ondelete="CASCADE"), nullable=False)
    uri: Mapped[str] = mapped_column(String(255), nullable=False)
    name: Mapped[str] = mapped_column(String(128), nullable=False, default="")
    group_name: Mapped[str] = mapped_column(String(64), nullable=False, default="")

    __table_args__ = (
        UniqueConstraint("account_id", "uri", name="uq_sip_phonebook_entries_account_id_uri"),
        {"sqlite_autoincrement": True},
    )
