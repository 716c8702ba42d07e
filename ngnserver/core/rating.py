"""Rating profiles: which of CDRTool's rating profiles price an entity's calls on weekdays
and weekends (each with an alternative), and the timezone the day is taken in.

An entity is named as CDRTool's rating engine names it: ``subscriber://user@domain`` (a SIP
account; CDRTool's account page sends this one), ``domain://example.com`` (a SIP domain),
``customer://7`` or ``reseller://7`` (a customer, a reseller). The record it names must exist
in the caller's scope, and decides who sees the profiles. Rating is a reseller's business
(CDRTool offers it to resellers and admin only): a plain customer is refused every
operation. An entity without profiles reads as empty profiles, which CDRTool shows as
empty fields.
"""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ngnserver.core import audit, lengths, records
from ngnserver.core.callers import Caller, Role
from ngnserver.core.errors import E, NGNError
from ngnserver.core.sip import normalise_domain
from ngnserver.db import insert_skipping_duplicates
from ngnserver.models import Customer
from ngnserver.models.base import utcnow
from ngnserver.models.rating import RatingProfiles
from ngnserver.models.sip import SipAccount, SipDomain

PROFILE_FIELDS = ("profile_weekday", "profile_weekday_alt", "profile_weekend", "profile_weekend_alt")
_ENTITY_RE = re.compile(r"^(subscriber|domain|customer|reseller)://(.+)\Z")
_PROFILE_RE = re.compile(r"^[^\x00-\x1f\x7f]*\Z")


def _timezone(value: Any) -> str:
    name = str(value or "").strip()
    if not name:
        return ""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise NGNError(E.INVALID_VALUE, f"{name!r} is not a timezone (use a name such as Europe/Amsterdam).") from None
    return name


def _profile(name: str, value: Any) -> str:
    text = str(value or "").strip()
    if not _PROFILE_RE.match(text):
        raise NGNError(E.INVALID_VALUE, f"{name} must be a rating profile's name, without control characters.")
    return text


class Rating:
    """Rating profile operations for one request."""

    def __init__(self, session: Session, caller: Caller) -> None:
        if caller.role is Role.CUSTOMER:
            raise NGNError(E.PERMISSION_DENIED, "Only admin and resellers manage rating profiles.")
        self.session = session
        self.caller = caller

    def entity(self, name: Any) -> tuple[str, dict[str, int]]:
        """The entity's name as stored and the reference to its record (column -> id)."""
        text = str(name or "").strip()
        if not text:
            raise NGNError(E.MISSING_PARAMETER, "A rating entity is required (such as subscriber://user@example.com).")
        match = _ENTITY_RE.match(text)
        if not match:
            raise NGNError(
                E.INVALID_VALUE,
                f"{text!r} is not a rating entity: use subscriber://user@domain, domain://name, "
                "customer://id or reseller://id.",
            )
        kind, rest = match.groups()
        missing = (E.RATING_ENTITY_NOT_FOUND, f"Rating entity {text} names nothing that exists.")
        if kind == "subscriber":
            username, _, domain_name = rest.rpartition("@")
            if not username:
                raise NGNError(E.INVALID_VALUE, f"{text!r} does not name a SIP account (subscriber://user@domain).")
            domain = normalise_domain(domain_name)
            account = records.in_scope(
                self.session, self.caller, SipAccount, SipAccount.username == username, SipAccount.domain == domain,
                missing=missing,
            )  # fmt: skip
            return f"subscriber://{account.address}", {"sip_account_id": account.id}
        if kind == "domain":
            domain = normalise_domain(rest)
            found = records.in_scope(self.session, self.caller, SipDomain, SipDomain.domain == domain, missing=missing)
            return f"domain://{found.domain}", {"sip_domain_id": found.id}
        if not (rest.isascii() and rest.isdigit()) or len(rest) > 9:
            raise NGNError(E.INVALID_VALUE, f"{text!r} does not name a customer by its id ({kind}://7).")
        customer = self.session.get(Customer, int(rest))
        in_scope = customer is not None and (
            self.caller.role is Role.ADMIN or customer.reseller == self.caller.reseller_id
        )
        if not in_scope or (kind == "reseller" and not customer.is_reseller):
            raise NGNError(*missing)
        return f"{kind}://{customer.id}", {"customer_id": customer.id}

    def _stored(self, entity: str, lock: bool = False) -> RatingProfiles | None:
        stmt = select(RatingProfiles).where(RatingProfiles.entity == entity)
        if lock:
            stmt = stmt.with_for_update().execution_options(populate_existing=True)
        return self.session.execute(stmt).scalar_one_or_none()

    def get(self, name: Any) -> dict[str, str]:
        entity, _ = self.entity(name)
        stored = self._stored(entity)
        profiles = {field: getattr(stored, field) if stored else "" for field in (*PROFILE_FIELDS, "timezone")}
        return {"entity": entity, **profiles, "change_date": stored.change_date if stored else None}

    def set(self, fields: Mapping[str, Any]) -> None:
        """Store the profiles given (a member not sent keeps its value); profileWeekday is
        required, as CDRTool's rating engine prices with it first."""
        entity, reference = self.entity(fields.get("entity"))
        values = {field: _profile(field, fields.get(field)) for field in PROFILE_FIELDS if fields.get(field) is not None}
        if fields.get("timezone") is not None:
            values["timezone"] = _timezone(fields["timezone"])
        if not values.get("profile_weekday"):
            raise NGNError(E.MISSING_PARAMETER, f"The rating profiles of {entity} need profileWeekday.")
        lengths.check_row(RatingProfiles, values)
        # the entity's row, created unless there (a concurrent first set's is waited for),
        # then changed under its lock: two sets at once both apply, one after the other
        insert_skipping_duplicates(self.session, RatingProfiles.__table__, [{"entity": entity, **reference}])
        stored = self._stored(entity, lock=True)
        assert stored is not None
        for field, value in values.items():
            setattr(stored, field, value)
        stored.change_date = utcnow()
        audit.record(self.session, self.caller, "update", "rating_profiles", entity, records.given(fields))

    def delete(self, name: Any) -> None:
        entity, _ = self.entity(name)
        stored = self._stored(entity, lock=True)
        if stored is None:
            raise NGNError(E.RATING_PROFILES_NOT_FOUND, f"{entity} has no rating profiles.")
        self.session.delete(stored)
        audit.record(self.session, self.caller, "delete", "rating_profiles", entity)
