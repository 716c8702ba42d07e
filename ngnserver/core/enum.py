"""ENUM ranges and the numbers in them, under the reseller credit model.

A range is a block of E.164 numbers (a ``prefix``) in an ENUM tree (a ``tld`` such as
``e164.arpa``), placed with a customer and a reseller like a SIP domain. Numbers inherit
``customer``/``reseller`` from their range, may have an ``owner``, and carry the NAPTR
mappings they resolve to. Every change to a range or to one of its numbers bumps the range's
``serial`` (the DNS serial of its zone).

Decisions where NGNPro says nothing:

- Only admin and resellers (their staff, admin impersonating them) add, change and delete
  ranges, and a reseller only while it is active. Any caller who sees a range may add numbers
  to it while its reseller is active (within credits); numbers are changed and deleted by
  whoever sees them, like SIP accounts.
- Prefixes and numbers are 1 to 15 digits (E.164); a leading ``+`` is accepted and dropped.
  The tld and the name servers are host names, stored in lower case without a final dot.
- ``minDigits``/``maxDigits``: 0 (or not given) means "no bound"; otherwise 1 to 15, min <=
  max, and max no shorter than the prefix. ``size``: the most numbers the range may hold, 0
  for no limit; a full range refuses numbers (3007), and neither the digit bounds nor the
  size can be changed so that numbers already in the range would fall outside (3007).
- A number belongs to the range with its longest prefix among **all** ranges of the tld
  (one query, ``prefix IN`` every prefix of the number). When that range is outside the
  caller's scope the answer is "no range" (3006), exactly as when there is none: a customer
  holding +31 cannot publish a number inside another customer's +3120. Numbers stay in the
  range they were created in; a range added later with a longer prefix takes only numbers
  created after it.
- A reseller cannot create a range inside or around another reseller's range (3001, the
  number block is already taken): the nearest enclosing range and every enclosed range of
  the tld must be its own. Admin is not limited.
- Moving a range to another customer moves its numbers (customer, reseller) and their
  credits, like a SIP domain; owners that would end up under another reseller are cleared.
  Admin may also move a range without a customer between resellers by its ``reseller``.
- Mappings: ``type`` is a NAPTR service token (``sip``, ``mailto``, ``web:http``,
  ``npd+tel``, ...; stored in lower case), ``mapto`` a URI (``scheme:rest``), ``ttl`` >= 0
  (not given: the range's ttl), ``priority`` >= 0 (not given: 10). The same type and target
  twice in one number is refused (3008). updateNumber with ``mappings`` replaces them all; an
  item carrying the ``id`` of one of the number's mappings keeps that id.
- getRanges orders by prefix and getNumbers by number unless ``orderBy`` says otherwise;
  a range's ``used`` is the number of numbers in it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from ngnserver.core import audit, credits, ownership, records
from ngnserver.core.callers import Caller, Role
from ngnserver.core.credits import Holders
from ngnserver.core.errors import E, ErrorCode, NGNError
from ngnserver.core.properties import Credit
from ngnserver.core.queries import Query, fetch_page, like
from ngnserver.core.sip import normalise_domain
from ngnserver.models.base import utcnow
from ngnserver.models.enum import EnumMapping, EnumNumber, EnumRange

MAX_DIGITS = 15  # E.164
DEFAULT_TTL = 3600
DEFAULT_PRIORITY = 10
MAX_INT = 2**31 - 1  # the columns are 32-bit integers

_DIGITS_RE = re.compile(rf"^[0-9]{{1,{MAX_DIGITS}}}$")
_SERVICE_RE = re.compile(r"^[a-z][a-z0-9+:._-]{0,31}\Z")
_URI_RE = re.compile(r"^[a-z][a-z0-9+.-]*:\S+\Z", re.IGNORECASE)

RANGE_FIELDS = ("ttl", "min_digits", "max_digits", "size", "nameservers", "info")


def normalise_tld(name: str | None) -> str:
    if not (name or "").strip():
        raise NGNError(E.MISSING_PARAMETER, "An ENUM tld is required (e.g. e164.arpa).")
    return normalise_domain(name)


def _digits(value: Any) -> str:
    return str(value if value is not None else "").strip().removeprefix("+")


def _range_id(range_id: Mapping[str, Any] | None) -> tuple[str, str]:
    range_id = range_id or {}
    prefix = _digits(range_id.get("prefix"))
    if not prefix:
        raise NGNError(E.MISSING_PARAMETER, "An ENUM range needs a prefix and a tld.")
    if not _DIGITS_RE.match(prefix):
        raise NGNError(E.INVALID_VALUE, f"{prefix!r} is not a valid ENUM prefix (1 to {MAX_DIGITS} digits).")
    return prefix, normalise_tld(range_id.get("tld"))


def _enum_id(enum_id: Mapping[str, Any] | None) -> tuple[str, str]:
    enum_id = enum_id or {}
    number = _digits(enum_id.get("number"))
    if not number:
        raise NGNError(E.MISSING_PARAMETER, "An ENUM number needs a number and a tld.")
    if not _DIGITS_RE.match(number):
        raise NGNError(E.ENUM_NUMBER_LENGTH, f"{number!r} is not an E.164 number (1 to {MAX_DIGITS} digits).")
    return number, normalise_tld(enum_id.get("tld"))


def _whole(value: Any, name: str, error: ErrorCode = E.INVALID_VALUE, maximum: int = MAX_INT) -> int:
    if not 0 <= value <= maximum:
        raise NGNError(error, f"{name} must be between 0 and {maximum}, not {value}.")
    return value


def _nameservers(names: list[str | None]) -> list[str]:
    cleaned: list[str] = []
    for name in names:
        if name and name.strip() and (host := normalise_domain(name)) not in cleaned:
            cleaned.append(host)
    return cleaned


def _label(prefix: str, tld: str) -> str:
    return f"+{prefix} under {tld}"


class Enum:
    """ENUM operations for one request."""

    def __init__(self, session: Session, caller: Caller, max_rows: int = 1000) -> None:
        self.session = session
        self.caller = caller
        self.max_rows = max_rows

    # -- ranges ----------------------------------------------------------------------------

    def range(self, range_id: Mapping[str, Any] | None, lock: bool = False) -> EnumRange:
        prefix, tld = _range_id(range_id)
        return records.in_scope(
            self.session, self.caller, EnumRange, EnumRange.prefix == prefix, EnumRange.tld == tld,
            missing=(E.ENUM_RANGE_NOT_FOUND, f"ENUM range {_label(prefix, tld)} does not exist."), lock=lock,
        )  # fmt: skip

    def _require_range_manager(self) -> None:
        if self.caller.role is Role.CUSTOMER:
            raise NGNError(E.PERMISSION_DENIED, "Only admin and resellers manage ENUM ranges.")
        records.require_active_reseller(self.caller)

    def add_range(self, fields: Mapping[str, Any]) -> EnumRange:
        self._require_range_manager()
        prefix, tld = _range_id(fields.get("id"))
        label = _label(prefix, tld)
        if self.session.execute(select(EnumRange.id).where(EnumRange.prefix == prefix, EnumRange.tld == tld)).first():
            raise NGNError(E.ENUM_RANGE_EXISTS, f"ENUM range {label} already exists.")
        self._check_no_overlap(prefix, tld)
        customer, reseller = records.placement(self.session, self.caller, fields.get("customer"), fields.get("reseller"))
        rng = EnumRange(
            prefix=prefix, tld=tld, ttl=DEFAULT_TTL, min_digits=0, max_digits=0, size=0, nameservers=[], info="",
            serial=1, customer=customer, reseller=reseller,
        )  # fmt: skip
        self._apply_range_fields(rng, fields)
        credits.charge(
            self.session, Credit.ENUM_RANGE, Holders.of(reseller, customer), limited=records.limited(self.caller)
        )
        self.session.add(rng)
        records.flush_unique(self.session, E.ENUM_RANGE_EXISTS, f"ENUM range {label} already exists.")
        audit.record(self.session, self.caller, "create", "enum_range", f"{prefix}@{tld}", records.given(fields))
        return rng

    def _check_no_overlap(self, prefix: str, tld: str) -> None:
        """A reseller's new range may sit inside its own ranges only, and around none of
        another reseller's."""
        if self.caller.role is Role.ADMIN:
            return
        rows = self.session.execute(
            select(EnumRange.prefix, EnumRange.reseller).where(
                EnumRange.tld == tld,
                or_(
                    EnumRange.prefix.in_([prefix[:n] for n in range(1, len(prefix))]),
                    EnumRange.prefix.like(prefix + "_%"),
                ),
            )
        ).all()
        holders = {reseller for p, reseller in rows if len(p) > len(prefix)}
        enclosing = [(len(p), reseller) for p, reseller in rows if len(p) < len(prefix)]
        if enclosing:
            holders.add(max(enclosing)[1])  # the nearest one
        if holders - {self.caller.reseller_id}:
            raise NGNError(
                E.ENUM_RANGE_OVERLAP,
                f"ENUM range {_label(prefix, tld)} overlaps a range held by another reseller; ask the operator.",
            )

    def update_range(self, fields: Mapping[str, Any]) -> None:
        self._require_range_manager()
        rng = self.range(fields.get("id"), lock=True)
        target = self._placement_change(rng, fields)
        if target is not None and target != (rng.customer, rng.reseller):
            self._move_range(rng, *target)
        self._apply_range_fields(rng, fields)
        if any(fields.get(name) is not None for name in ("min_digits", "max_digits", "size")):
            self._check_numbers_fit(rng)
        rng.serial += 1
        rng.change_date = utcnow()
        audit.record(self.session, self.caller, "update", "enum_range", f"{rng.prefix}@{rng.tld}", records.given(fields))

    def _placement_change(self, rng: EnumRange, fields: Mapping[str, Any]) -> tuple[int, int] | None:
        """Where the update moves the range, or None. Echoing the stored customer moves
        nothing; admin moves a range without a customer by naming another reseller."""
        customer_id, reseller_id = fields.get("customer"), fields.get("reseller")
        if customer_id is not None and customer_id != rng.customer:
            return records.placement(self.session, self.caller, customer_id, reseller_id)
        if self.caller.role is Role.ADMIN and not rng.customer and reseller_id not in (None, rng.reseller):
            return records.placement(self.session, self.caller, 0, reseller_id)
        return None

    def _move_range(self, rng: EnumRange, customer: int, reseller: int) -> None:
        """Move a range and its numbers to another customer, re-checking credits."""
        limited = records.limited(self.caller)
        credits.move(
            self.session, Credit.ENUM_RANGE,
            Holders.of(rng.reseller, rng.customer), Holders.of(reseller, customer), limited=limited,
        )  # fmt: skip
        records.move_children(
            self.session, EnumNumber, EnumNumber.range_id == rng.id,
            (rng.customer, rng.reseller), (customer, reseller), Credit.ENUM_NUMBER, limited,
        )  # fmt: skip
        rng.customer, rng.reseller = customer, reseller

    def _apply_range_fields(self, rng: EnumRange, fields: Mapping[str, Any]) -> None:
        given = {name: fields[name] for name in RANGE_FIELDS if fields.get(name) is not None}
        for name in ("ttl", "size"):
            if name in given:
                given[name] = _whole(given[name], name)
        for name, wire in (("min_digits", "minDigits"), ("max_digits", "maxDigits")):
            if name in given:
                given[name] = _whole(given[name], wire, maximum=MAX_DIGITS)
        if "nameservers" in given:
            given["nameservers"] = _nameservers(given["nameservers"])
        for name, value in given.items():
            setattr(rng, name, value)
        if rng.min_digits and rng.max_digits and rng.min_digits > rng.max_digits:
            raise NGNError(
                E.INVALID_VALUE, f"minDigits ({rng.min_digits}) cannot be larger than maxDigits ({rng.max_digits})."
            )
        if rng.max_digits and rng.max_digits < len(rng.prefix):
            raise NGNError(
                E.INVALID_VALUE, f"maxDigits ({rng.max_digits}) is shorter than the prefix +{rng.prefix}."
            )

    def _check_numbers_fit(self, rng: EnumRange) -> None:
        """The range's digit bounds and size still hold for the numbers already in it."""
        length = func.length(EnumNumber.number)
        outside = []
        if rng.min_digits:
            outside.append(length < rng.min_digits)
        if rng.max_digits:
            outside.append(length > rng.max_digits)
        in_range = EnumNumber.range_id == rng.id
        label = _label(rng.prefix, rng.tld)
        if outside:
            n = self.session.execute(
                select(func.count()).select_from(EnumNumber).where(in_range, or_(*outside))
            ).scalar_one()
            if n:
                raise NGNError(
                    E.ENUM_NUMBER_LENGTH,
                    f"ENUM range {label} has {_numbers(n)} outside {_bounds(rng)}; change or delete them first.",
                )
        if rng.size:
            used = self._used(rng)
            if used > rng.size:
                raise NGNError(
                    E.ENUM_RANGE_FULL, f"ENUM range {label} holds {_numbers(used)}, more than a size of {rng.size}."
                )

    def _used(self, rng: EnumRange) -> int:
        return self.session.execute(
            select(func.count()).select_from(EnumNumber).where(EnumNumber.range_id == rng.id)
        ).scalar_one()

    def delete_range(self, range_id: Mapping[str, Any] | None) -> None:
        self._require_range_manager()
        rng = self.range(range_id, lock=True)
        left = self._used(rng)
        if left:
            raise NGNError(
                E.ENUM_RANGE_NOT_EMPTY,
                f"ENUM range {_label(rng.prefix, rng.tld)} still has {_numbers(left)}; delete them first.",
            )
        credits.release(self.session, Credit.ENUM_RANGE, Holders.of(rng.reseller, rng.customer))
        self.session.delete(rng)
        audit.record(self.session, self.caller, "delete", "enum_range", f"{rng.prefix}@{rng.tld}")

    def ranges(self, query: Query) -> tuple[int, list[tuple[EnumRange, int]]]:
        """(total, [(range, numbers in it)]) for one page."""
        total, rows = fetch_page(
            self.session, select(EnumRange), records.visible(self.caller, EnumRange), query,
            (EnumRange.prefix, "ASC"), EnumRange.id, self.max_rows,
        )  # fmt: skip
        ranges = [r[0] for r in rows]
        used: dict[int, int] = {}
        if ranges:
            used = dict(
                self.session.execute(
                    select(EnumNumber.range_id, func.count())
                    .where(EnumNumber.range_id.in_([r.id for r in ranges]))
                    .group_by(EnumNumber.range_id)
                ).all()
            )
        return total, [(r, used.get(r.id, 0)) for r in ranges]

    # -- numbers ---------------------------------------------------------------------------

    def number(self, enum_id: Mapping[str, Any] | None, lock: bool = False) -> EnumNumber:
        number, tld = _enum_id(enum_id)
        return records.in_scope(
            self.session, self.caller, EnumNumber, EnumNumber.number == number, EnumNumber.tld == tld,
            missing=(E.ENUM_NUMBER_NOT_FOUND, f"ENUM number {_label(number, tld)} does not exist."),
            lock=lock, options=[selectinload(EnumNumber.mappings)],
        )  # fmt: skip

    def _range_of(self, number: str, tld: str) -> EnumRange:
        """The range a new number belongs to (locked: its serial and size change)."""
        rng = self.session.execute(
            select(EnumRange)
            .where(EnumRange.tld == tld, EnumRange.prefix.in_([number[:n] for n in range(1, len(number) + 1)]))
            .order_by(func.length(EnumRange.prefix).desc())
            .limit(1)
            .with_for_update()
        ).scalar_one_or_none()
        if rng is None or not records.can_see(self.caller, rng):
            raise NGNError(E.ENUM_NO_RANGE, f"No ENUM range under {tld} holds the number +{number}.")
        return rng

    def add_number(self, fields: Mapping[str, Any]) -> EnumNumber:
        caller = self.caller
        number, tld = _enum_id(fields.get("id"))
        label = _label(number, tld)
        rng = self._range_of(number, tld)
        records.require_active_reseller(caller)
        if rng.min_digits and len(number) < rng.min_digits or rng.max_digits and len(number) > rng.max_digits:
            raise NGNError(
                E.ENUM_NUMBER_LENGTH,
                f"+{number} has {len(number)} digits; ENUM range {_label(rng.prefix, tld)} takes {_bounds(rng)}.",
            )
        if self.session.execute(select(EnumNumber.id).where(EnumNumber.number == number, EnumNumber.tld == tld)).first():
            raise NGNError(E.ENUM_NUMBER_EXISTS, f"ENUM number {label} already exists.")
        if rng.size and self._used(rng) >= rng.size:
            raise NGNError(
                E.ENUM_RANGE_FULL,
                f"ENUM range {_label(rng.prefix, tld)} is full: it holds its size of {_numbers(rng.size)}.",
            )
        owner = records.owner_for(self.session, caller, fields.get("owner"), rng.reseller)
        mappings = _mappings(fields.get("mappings") or [], rng.ttl)
        credits.charge(
            self.session, Credit.ENUM_NUMBER, Holders.of(rng.reseller, rng.customer, owner),
            limited=records.limited(caller),
        )  # fmt: skip
        enum_number = EnumNumber(
            number=number, tld=tld, range_id=rng.id, owner=owner, customer=rng.customer, reseller=rng.reseller,
            info=fields.get("info") or "", mappings=[EnumMapping(**values) for _, values in mappings],
        )  # fmt: skip
        self.session.add(enum_number)
        records.flush_unique(self.session, E.ENUM_NUMBER_EXISTS, f"ENUM number {label} already exists.")
        rng.serial += 1
        audit.record(self.session, caller, "create", "enum_number", f"{number}@{tld}", records.given(fields))
        return enum_number

    def update_number(self, fields: Mapping[str, Any]) -> None:
        caller = self.caller
        enum_number = self.number(fields.get("id"), lock=True)
        rng = self.session.get(EnumRange, enum_number.range_id, with_for_update=True)
        if fields.get("owner") is not None and fields["owner"] != enum_number.owner:
            owner = records.owner_for(self.session, caller, fields["owner"], enum_number.reseller)
            credits.move(
                self.session, Credit.ENUM_NUMBER,
                Holders.of(enum_number.reseller, enum_number.customer, enum_number.owner),
                Holders.of(enum_number.reseller, enum_number.customer, owner), limited=records.limited(caller),
            )  # fmt: skip
            enum_number.owner = owner
        if fields.get("info") is not None:
            enum_number.info = fields["info"]
        if fields.get("mappings") is not None:
            self._replace_mappings(enum_number, _mappings(fields["mappings"], rng.ttl))
        enum_number.change_date = utcnow()
        rng.serial += 1
        key = f"{enum_number.number}@{enum_number.tld}"
        audit.record(self.session, caller, "update", "enum_number", key, records.given(fields))

    @staticmethod
    def _replace_mappings(enum_number: EnumNumber, wanted: list[tuple[int | None, dict[str, Any]]]) -> None:
        current = {m.id: m for m in enum_number.mappings}
        kept: list[EnumMapping] = []
        for mapping_id, values in wanted:
            mapping = current.pop(mapping_id, None)
            if mapping is None:
                kept.append(EnumMapping(**values))
                continue
            for name, value in values.items():
                setattr(mapping, name, value)
            kept.append(mapping)
        enum_number.mappings = kept

    def delete_number(self, enum_id: Mapping[str, Any] | None) -> None:
        enum_number = self.number(enum_id, lock=True)
        rng = self.session.get(EnumRange, enum_number.range_id, with_for_update=True)
        credits.release(
            self.session, Credit.ENUM_NUMBER,
            Holders.of(enum_number.reseller, enum_number.customer, enum_number.owner),
        )  # fmt: skip
        self.session.delete(enum_number)
        rng.serial += 1
        audit.record(self.session, self.caller, "delete", "enum_number", f"{enum_number.number}@{enum_number.tld}")

    def numbers(self, query: Query, mapping: Mapping[Any, str] | None = None) -> tuple[int, list[EnumNumber]]:
        """A page of the numbers in the caller's scope that match ``query``, and of which one
        and the same mapping matches every LIKE filter of ``mapping`` (column -> pattern)."""
        scope = records.visible(self.caller, EnumNumber)
        if mapping:
            scope.append(
                exists().where(EnumMapping.number_id == EnumNumber.id, *(like(c, p) for c, p in mapping.items()))
            )
        total, rows = fetch_page(
            self.session, select(EnumNumber).options(selectinload(EnumNumber.mappings)), scope, query,
            (EnumNumber.number, "ASC"), EnumNumber.id, self.max_rows,
        )  # fmt: skip
        return total, [r[0] for r in rows]


def _mappings(items: list[Mapping[str, Any] | None], default_ttl: int) -> list[tuple[int | None, dict[str, Any]]]:
    """(id the client gave, column values) of checked mappings (3008 for a bad one), with
    their defaults filled in. The id only serves to recognise an existing mapping."""
    cleaned: list[tuple[int | None, dict[str, Any]]] = []
    seen: set[tuple[str, str]] = set()
    for n, item in enumerate(i for i in items if i is not None):
        where = f"Mapping {n + 1}"
        service = (item.get("type") or "").strip().lower()
        if not _SERVICE_RE.match(service):
            raise NGNError(
                E.ENUM_INVALID_MAPPING,
                f"{where} needs a service type such as sip, mailto, tel, h323 or web:http, not {service!r}.",
            )
        target = (item.get("mapto") or "").strip()
        if not _URI_RE.match(target):
            raise NGNError(E.ENUM_INVALID_MAPPING, f"{where} needs a target URI such as sip:bob@example.com, not {target!r}.")
        if (service, target) in seen:
            raise NGNError(E.ENUM_INVALID_MAPPING, f"{where} repeats the {service} mapping to {target}.")
        seen.add((service, target))
        ttl = item.get("ttl")
        priority = item.get("priority")
        values = {
            "type": service,
            "mapto": target,
            "ttl": default_ttl if ttl is None else _whole(ttl, f"{where}: ttl", E.ENUM_INVALID_MAPPING),
            "priority": DEFAULT_PRIORITY if priority is None else _whole(
                priority, f"{where}: priority", E.ENUM_INVALID_MAPPING
            ),
        }
        cleaned.append((item.get("id") or None, values))
    return cleaned


def _numbers(n: int) -> str:
    return f"{n} number" if n == 1 else f"{n} numbers"


def _bounds(rng: EnumRange) -> str:
    low, high = rng.min_digits, rng.max_digits
    if low and high:
        return f"{low} digits" if low == high else f"{low} to {high} digits"
    return f"at least {low} digits" if low else f"at most {high} digits"


ownership.count_records(EnumRange, "ENUM range", "ENUM ranges")
ownership.count_records(EnumNumber, "ENUM number", "ENUM numbers")
credits.counts(Credit.ENUM_RANGE, EnumRange)
credits.counts(Credit.ENUM_NUMBER, EnumNumber)
