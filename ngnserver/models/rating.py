"""Rating profiles: which of CDRTool's rating profiles price the calls of an entity."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ngnserver.models.base import Base, Dated


class RatingProfiles(Dated, Base):
    """The rating profiles of one entity, named as CDRTool names it (``subscriber://
    user@domain``, ``domain://example.com``, ``customer://7``, ``reseller://7``): weekday and
    weekend profiles, each with an alternative, and the timezone the day is taken in. The
    entity's record (exactly one of the three references) decides who sees them, and they
    go with it."""

    __tablename__ = "rating_profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(330), nullable=False, unique=True)
    sip_account_id: Mapped[int | None] = mapped_column(
        ForeignKey("sip_accounts.id", ondelete="CASCADE"), nullable=True, index=True
    )
    sip_domain_id: Mapped[int | None] = mapped_column(
        ForeignKey("sip_domains.id", ondelete="CASCADE"), nullable=True, index=True
    )
    customer_id: Mapped[int | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), nullable=True, index=True
    )
    profile_weekday: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    profile_weekday_alt: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    profile_weekend: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    profile_weekend_alt: Mapped[str] = mapped_column(String(64), nullable=False, default="")
    timezone: Mapped[str] = mapped_column(String(64), nullable=False, default="")

    __table_args__ = (
        CheckConstraint(
            "(CASE WHEN sip_account_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN sip_domain_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN customer_id IS NULL THEN 0 ELSE 1 END) = 1",
            name="one_entity",
        ),
        {"sqlite_autoincrement": True},
    )
