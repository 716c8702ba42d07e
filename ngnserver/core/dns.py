"""DNS zones and the records in them, under the reseller credit model.

Zones are parent records, like SIP domains: admin and resellers create, change and delete
them (a plain customer only reads its own), and only while the reseller is active; each zone
counts against ``dns_zone_credit``. Records inherit ``customer``/``reseller`` from their zone
and may name an ``owner``; moving a zone to another customer moves them with it.

Regular records (A AAAA CNAME MX SRV NS NAPTR TXT PTR) are published in DNS. Fancy records
drive the operator's front-ends: ``MBOXFW`` forwards mail for ``name@zone`` (and counts
against ``email_credit``), ``URL`` redirects ``name.zone`` over HTTP. Both kinds share one
table (the ``fancy`` flag) and one id space, but each set of operations sees only its own
kind: a fancy record's id is "not found" for getRecord, and the other way round.

Decisions where NGNPro says nothing:

- Zone names are lowercased, lose a trailing dot, and must be host names of at least two
  labels (letters, digits, hyphens) with a top label that is not all digits (7009).
- SOA values must lie within ``SOA_LIMITS`` and expire must exceed retry (7009). Values not
  sent take the table's defaults on create and are kept on update. An empty or missing
  e-mail becomes ``hostmaster@<zone>``; either ``user@domain`` or the SOA form
  ``user.domain`` (dots in ``user`` escaped as ``\\.``) is accepted. Name servers are host
  names, lowercased, duplicates and empty items dropped, at most ``MAX_NAMESERVERS``; an
  empty list leaves them to the operator's defaults.
- The serial is ``YYYYMMDDnn`` (UTC): today's first (``nn`` = 01) for a new zone; every
  change in the zone (a zone field, any record or fancy record added, changed or deleted)
  sets it to max(serial + 1, today's first). An update that changes nothing writes nothing:
  no serial bump and no audit row, so clients that echo whole objects do not make the
  secondaries transfer the zone again.
- Record names are relative to the zone (``""`` or ``"@"`` is the apex, stored as ``""``).
  A name ending in "." is absolute and must lie inside the zone (7008); a name equal to the
  zone or ending in ``.<zone>`` is taken as absolute too. Stored relative and lowercased.
  Labels: letters, digits, ``-`` and ``_``; ``*`` as the first label for a wildcard.
- Host values (CNAME, MX, NS, PTR, the SRV target and NAPTR replacement) are absolute host
  names of at least two labels, stored lowercased without a trailing dot. Priority is
  required for MX and SRV (0..65535) and stored as 0 for every other type. A ttl of 0 or
  none is the zone's ttl; otherwise it must lie within ``TTL_LIMITS``.
- A CNAME cannot stand at the apex (the SOA and NS records live there) nor beside any other
  data of its name, in either order (7007). MBOXFW names are mailboxes, not DNS names, so
  they never conflict; URL redirects are published as addresses of the redirector, so they
  do. A duplicate (zone, name, type, value) is 7003, checked before the CNAME rule.
- A record stays in its zone: updateRecord naming another zone is refused (7006); delete it
  and add it there.
- Writing records (add, update, delete) needs an active reseller, as writing zones does;
  admin is never limited.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ngnserver.core import audit, credits, ownership, records
from ngnserver.core.callers import Caller, Role
from ngnserver.core.credits import Holders
from ngnserver.core.errors import E, NGNError
from ngnserver.core.properties import Credit
from ngnserver.core.queries import Query, fetch_page
from ngnserver.models.base import utcnow
from ngnserver.models.dns import DnsRecord, DnsZone


class RecordType(enum.StrEnum):
    """Every record type the port stores."""

    A = "A"
    AAAA = "AAAA"
    CNAME = "CNAME"
    MX = "MX"
    SRV = "SRV"
    NS = "NS"
    NAPTR = "NAPTR"
    TXT = "TXT"
    PTR = "PTR"
    MBOXFW = "MBOXFW"
    URL = "URL"


FANCY_TYPES = frozenset({RecordType.MBOXFW, RecordType.URL})
REGULAR_TYPES = frozenset(RecordType) - FANCY_TYPES
# Types whose name is a DNS name, so a CNAME cannot stand beside them (MBOXFW's is a mailbox).
DNS_NAME_TYPES = frozenset(RecordType) - {RecordType.MBOXFW}
WITH_PRIORITY = frozenset({RecordType.MX, RecordType.SRV})

TTL_LIMITS = (30, 2_419_200)  # 30 seconds to 4 weeks: the zone's default ttl and each record's
SOA_LIMITS = {
    "ttl": TTL_LIMITS,
    "minimum": (30, 86_400),  # negative caching; RFC 2308 advises one to three hours
    "retry": (60, 2_419_200),
    "expire": (3_600, 4_838_400),  # up to 8 weeks; RIPE-203 advises 1000 hours
}
MAX_PRIORITY = 65_535  # 16 bits on the wire (MX preference, SRV priority, weight and port)
MAX_VALUE = 1024  # the value column; TXT data and URLs up to this length
MAX_INFO = 255
MAX_NAMESERVERS = 13  # what one DNS referral carries

# What a client may change, by the names the wire and the tables share.
ZONE_FIELDS = (
    "ttl",
    "minimum",
    "retry",
    "expire",
    "email",
    "info",
    "nameservers",
    "customer",
    "reseller",
)
RECORD_FIELDS = ("name", "type", "value", "priority", "ttl", "owner")

# \Z, not $: $ would also match before a trailing newline
_LDH_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_ZONE_RE = re.compile(rf"^(?=.{{1,253}}\Z)(?:{_LDH_LABEL}\.)+{_LDH_LABEL}\Z")
_HOST_RE = re.compile(rf"^(?=.{{1,253}}\Z)(?:{_LABEL}\.)+{_LABEL}\Z")
_NAME_RE = re.compile(rf"^(?:\*|{_LABEL})(?:\.{_LABEL})*\Z")
_ATOM = r"[a-z0-9!#$%&'*+/=?^_`{|}~-]"
_MAILBOX_RE = re.compile(rf"^{_ATOM}+(?:\.{_ATOM}+)*\Z", re.IGNORECASE)
_SOA_MAILBOX_RE = re.compile(rf"^((?:{_ATOM}|\\\.)+)\.(.+)\Z", re.IGNORECASE)
_NAPTR_RE = re.compile(
    r'^([0-9]{1,5})\s+([0-9]{1,5})\s+"([a-z0-9]*)"\s+"([^"]*)"\s+"([^"]*)"\s+(\S+)\Z', re.IGNORECASE
)


# -- names and zone values --------------------------------------------------------------------


def _is_host(name: str) -> bool:
    return bool(_HOST_RE.match(name)) and not name.rpartition(".")[2].isdigit()


def zone_name(name: str | None) -> str:
    """The stored form of a zone name: lowercased, without a trailing dot."""
    given = (name or "").strip().lower().removesuffix(".")
    if not given:
        raise NGNError(E.MISSING_PARAMETER, "A DNS zone name is required.")
    if not _ZONE_RE.match(given) or given.rpartition(".")[2].isdigit():
        raise NGNError(
            E.DNS_INVALID_ZONE, f"{name!r} is not a valid zone name (a domain such as example.com)."
        )
    return given


def soa_email(value: str | None, zone: str) -> str:
    """The zone's contact: ``user@domain`` or the SOA form ``user.domain``; empty gives
    ``hostmaster@<zone>``."""
    given = (value or "").strip().removesuffix(".")
    if not given:
        return f"hostmaster@{zone}"
    local, at, domain = given.rpartition("@")
    if at:
        valid = bool(_MAILBOX_RE.match(local))
    else:
        soa_form = _SOA_MAILBOX_RE.match(given)
        local, domain = soa_form.groups() if soa_form else ("", "")
        valid = bool(soa_form)
    if not valid or not _is_host(domain.lower()) or len(given) > 255:
        raise NGNError(
            E.DNS_INVALID_ZONE,
            f"{value!r} is not a valid zone e-mail (hostmaster@example.com or hostmaster.example.com).",
        )
    return f"{local}{at or '.'}{domain.lower()}"


def nameservers(values: Sequence[str | None]) -> list[str]:
    found: list[str] = []
    for value in values:
        host = (value or "").strip().lower().removesuffix(".")
        if not host:
            continue
        if not _is_host(host):
            raise NGNError(E.DNS_INVALID_ZONE, f"Name server {value!r} is not a host name.")
        if host not in found:
            found.append(host)
    if len(found) > MAX_NAMESERVERS:
        raise NGNError(
            E.DNS_INVALID_ZONE,
            f"A zone has at most {MAX_NAMESERVERS} name servers, not {len(found)}.",
        )
    return found


def _check_soa(zone: DnsZone) -> None:
    for field, (low, high) in SOA_LIMITS.items():
        value = getattr(zone, field)
        if not low <= value <= high:
            raise NGNError(
                E.DNS_INVALID_ZONE,
                f"The {field} of zone {zone.name} must be {low} to {high} seconds, not {value}.",
            )
    if zone.expire <= zone.retry:
        raise NGNError(
            E.DNS_INVALID_ZONE,
            f"The expire of zone {zone.name} ({zone.expire}) must be longer than its retry ({zone.retry}).",
        )


def _apply_zone_fields(zone: DnsZone, fields: Mapping[str, Any]) -> None:
    """Apply the zone values that were sent, then check the SOA as a whole."""
    for field in SOA_LIMITS:
        if fields.get(field) is not None:
            setattr(zone, field, fields[field])
    if fields.get("email") is not None:
        zone.email = soa_email(fields["email"], zone.name)
    if fields.get("info") is not None:
        if len(fields["info"]) > MAX_INFO:
            raise NGNError(
                E.DNS_INVALID_ZONE,
                f"The info of zone {zone.name} is longer than {MAX_INFO} characters.",
            )
        zone.info = fields["info"]
    if fields.get("nameservers") is not None:
        zone.nameservers = nameservers(fields["nameservers"])
    _check_soa(zone)


def first_serial(day: date) -> int:
    return int(day.strftime("%Y%m%d")) * 100 + 1


def next_serial(serial: int, day: date) -> int:
    """The serial after a change made on ``day``."""
    return max(serial + 1, first_serial(day))


# -- record values ----------------------------------------------------------------------------


def _invalid(message: str) -> NGNError:
    return NGNError(E.DNS_INVALID_RECORD, message)


def fqdn(zone: str, name: str) -> str:
    return f"{name}.{zone}" if name else zone


def record_name(zone: str, name: str | None) -> str:
    """The stored (relative, lowercased) form of a record name in ``zone``."""
    given = (name or "").strip().lower()
    if given in ("", "@"):
        return ""
    absolute = given.endswith(".")
    given = given.removesuffix(".")
    if given == zone:
        return ""
    if given.endswith("." + zone):
        given = given[: -len(zone) - 1]
    elif absolute:
        raise NGNError(E.DNS_NAME_OUTSIDE_ZONE, f"{name!r} is not inside zone {zone}.")
    if not _NAME_RE.match(given) or len(given) + 1 + len(zone) > 253:
        raise _invalid(f"{name!r} is not a valid record name in zone {zone}.")
    return given


def _ipv4(value: str) -> str:
    try:
        return str(ipaddress.IPv4Address(value))
    except ValueError:
        raise _invalid(f"{value!r} is not an IPv4 address.") from None


def _ipv6(value: str) -> str:
    try:
        return str(ipaddress.IPv6Address(value))
    except ValueError:
        raise _invalid(f"{value!r} is not an IPv6 address.") from None


def _host(value: str) -> str:
    host = value.lower().removesuffix(".")
    if not _is_host(host):
        raise _invalid(f"{value!r} is not a host name (such as mail.example.com).")
    return host


def _target(value: str) -> str:
    """A host name, or "." for "no such service"."""
    return "." if value == "." else _host(value)


def _sixteen_bits(text: str) -> int | None:
    return int(text) if text.isascii() and text.isdigit() and int(text) <= MAX_PRIORITY else None


def _srv(value: str) -> str:
    parts = value.split()
    numbers = [_sixteen_bits(p) for p in parts[:2]]
    if len(parts) != 3 or None in numbers:
        raise _invalid(
            f"An SRV value is 'weight port target' (such as '5 5060 sip.example.com'), not {value!r}."
        )
    return f"{numbers[0]} {numbers[1]} {_target(parts[2])}"


def _naptr(value: str) -> str:
    match = _NAPTR_RE.match(value)
    if not match or _sixteen_bits(match[1]) is None or _sixteen_bits(match[2]) is None:
        raise _invalid(
            f'A NAPTR value is \'order preference "flags" "service" "regexp" replacement\', not {value!r}.'
        )
    order, preference, flags, service, regexp, replacement = match.groups()
    return f'{int(order)} {int(preference)} "{flags.upper()}" "{service}" "{regexp}" {_target(replacement)}'


def _text(value: str) -> str:
    return value


def _forward(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at or not _MAILBOX_RE.match(local) or not _is_host(domain.lower()):
        raise _invalid(f"An e-mail forward goes to an e-mail address, not {value!r}.")
    return f"{local}@{domain.lower()}"


def _url(value: str) -> str:
    try:
        parts = urlsplit(value)
        valid = (
            parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and parts.port != 0
        )
    except ValueError:
        valid = False
    if not valid or any(c.isspace() for c in value):
        raise _invalid(f"A URL redirect goes to an http:// or https:// URL, not {value!r}.")
    return value


_VALUES: dict[RecordType, Callable[[str], str]] = {
    RecordType.A: _ipv4,
    RecordType.AAAA: _ipv6,
    RecordType.CNAME: _host,
    RecordType.MX: _host,
    RecordType.SRV: _srv,
    RecordType.NS: _host,
    RecordType.NAPTR: _naptr,
    RecordType.TXT: _text,
    RecordType.PTR: _host,
    RecordType.MBOXFW: _forward,
    RecordType.URL: _url,
}


def record_type(value: str | None, fancy: bool) -> RecordType:
    given = (value or "").strip().upper()
    allowed, other = (FANCY_TYPES, REGULAR_TYPES) if fancy else (REGULAR_TYPES, FANCY_TYPES)
    if given in other:
        kind, operations = ("a regular", "Record") if fancy else ("a fancy", "FancyRecord")
        raise _invalid(f"{given} is {kind} record type: the {operations} operations handle it.")
    if given not in allowed:
        names = ", ".join(sorted(allowed))
        raise _invalid(
            f"{value!r} is not a {'fancy ' if fancy else ''}record type; use one of: {names}."
        )
    return RecordType(given)


@dataclass(frozen=True)
class RecordData:
    """A record's checked values, in their stored form."""

    name: str
    type: str
    value: str
    priority: int
    ttl: int


def checked_record(
    zone: DnsZone,
    fancy: bool,
    name: str,
    rtype: str | None,
    value: str | None,
    priority: int | None,
    ttl: int | None,
) -> RecordData:
    """Check type, value, priority and ttl of a record named ``name`` (already in stored
    form) in ``zone``."""
    kind = record_type(rtype, fancy)
    given = value or ""
    if kind is not RecordType.TXT:
        given = given.strip()
    if not given.strip():
        raise _invalid(f"A {kind} record needs a value.")
    if len(given) > MAX_VALUE:
        raise _invalid(f"A record value is at most {MAX_VALUE} characters, not {len(given)}.")
    stored = _VALUES[kind](given)
    if kind in WITH_PRIORITY:
        if priority is None or not 0 <= priority <= MAX_PRIORITY:
            raise _invalid(
                f"A {kind} record needs a priority from 0 to {MAX_PRIORITY}, not {priority}."
            )
    else:
        priority = 0
    if not ttl:
        ttl = zone.ttl
    elif not TTL_LIMITS[0] <= ttl <= TTL_LIMITS[1]:
        raise _invalid(
            f"A record's ttl must be {TTL_LIMITS[0]} to {TTL_LIMITS[1]} seconds (or 0 for the zone's), not {ttl}."
        )
    return RecordData(name=name, type=kind.value, value=stored, priority=priority, ttl=ttl)


# -- operations -------------------------------------------------------------------------------


class Dns:
    """DNS operations for one request."""

    def __init__(self, session: Session, caller: Caller, max_rows: int = 1000) -> None:
        self.session = session
        self.caller = caller
        self.max_rows = max_rows

    # -- zones -----------------------------------------------------------------------------

    def zone(self, name: str | None, lock: bool = False) -> DnsZone:
        stored = zone_name(name)
        return records.in_scope(
            self.session, self.caller, DnsZone, DnsZone.name == stored,
            missing=(E.DNS_ZONE_NOT_FOUND, f"DNS zone {stored} does not exist."), lock=lock,
        )  # fmt: skip

    def _require_zone_manager(self) -> None:
        if self.caller.role is Role.CUSTOMER:
            raise NGNError(E.PERMISSION_DENIED, "Only admin and resellers manage DNS zones.")
        records.require_active_reseller(self.caller)

    def add_zone(self, fields: Mapping[str, Any]) -> DnsZone:
        self._require_zone_manager()
        name = zone_name(fields.get("name"))
        if self.session.execute(select(DnsZone.id).where(DnsZone.name == name)).first():
            raise NGNError(E.DNS_ZONE_EXISTS, f"DNS zone {name} already exists.")
        customer, reseller = records.placement(
            self.session, self.caller, fields.get("customer"), fields.get("reseller")
        )
        self._check_no_overlap(name, reseller)
        zone = DnsZone(
            name=name, customer=customer, reseller=reseller, serial=first_serial(utcnow().date()),
            email=soa_email(None, name), info="", nameservers=[],
            **{field: DnsZone.__table__.c[field].default.arg for field in SOA_LIMITS},
        )  # fmt: skip
        _apply_zone_fields(zone, fields)
        credits.charge(
            self.session,
            Credit.DNS_ZONE,
            Holders.of(reseller, customer),
            limited=records.limited(self.caller),
        )
        self.session.add(zone)
        try:
            self.session.flush()
        except IntegrityError:
            # a concurrent request created the same zone; the whole transaction is rolled back
            raise NGNError(E.DNS_ZONE_EXISTS, f"DNS zone {name} already exists.") from None
        audit.record(self.session, self.caller, "create", "dns_zone", name, records.given(fields))
        return zone

    def _check_no_overlap(self, name: str, reseller: int) -> None:
        """A reseller's zone may lie inside or above its own zones only: a zone inside another
        reseller's (``www.victim.test`` under ``victim.test``) would answer for its names, and
        one above it would let its owner delegate them away. Admin places zones anywhere."""
        if self.caller.role is Role.ADMIN:
            return
        labels = name.split(".")
        parents = [".".join(labels[n:]) for n in range(1, len(labels))]
        other = self.session.execute(
            select(DnsZone.name)
            .where(
                DnsZone.reseller != reseller,
                or_(DnsZone.name.in_(parents), DnsZone.name.endswith("." + name, autoescape=True)),
            )
            .limit(1)
        ).scalar()
        if other is not None:
            where = "inside" if other in parents else "above"
            raise NGNError(
                E.DNS_ZONE_OVERLAP,
                f"DNS zone {name} would lie {where} a zone of another reseller; ask the operator.",
            )

    def update_zone(self, fields: Mapping[str, Any]) -> None:
        self._require_zone_manager()
        zone = self.zone(fields.get("name"), lock=True)
        before = _snapshot(zone, ZONE_FIELDS)
        self._place_zone(zone, fields.get("customer"), fields.get("reseller"))
        _apply_zone_fields(zone, fields)
        if _snapshot(zone, ZONE_FIELDS) != before:
            _touch(zone)
            audit.record(self.session, self.caller, "update", "dns_zone", zone.name, records.given(fields))

    def _place_zone(self, zone: DnsZone, customer_id: int | None, reseller_id: int | None) -> None:
        """Move the zone when the customer or reseller sent differs from the stored one (a
        client echoing the stored values moves nothing)."""
        wanted = (
            zone.customer if customer_id is None else customer_id,
            zone.reseller if reseller_id is None else reseller_id,
        )
        if wanted == (zone.customer, zone.reseller):
            return
        customer, reseller = records.placement(self.session, self.caller, *wanted)
        if (customer, reseller) != (zone.customer, zone.reseller):
            self._move_zone(zone, customer, reseller)

    def _move_zone(self, zone: DnsZone, customer: int, reseller: int) -> None:
        """Move a zone and every record in it to another customer, re-checking credits (the
        zone's, and the e-mail forwards')."""
        limited = records.limited(self.caller)
        credits.move(
            self.session, Credit.DNS_ZONE, Holders.of(zone.reseller, zone.customer), Holders.of(reseller, customer),
            limited=limited,
        )  # fmt: skip
        records.move_children(
            self.session, DnsRecord, DnsRecord.zone_id == zone.id, (zone.customer, zone.reseller),
            (customer, reseller), Credit.EMAIL, limited, charged=DnsRecord.type == RecordType.MBOXFW.value,
        )  # fmt: skip
        zone.customer, zone.reseller = customer, reseller
    def delete_zone(self, name: str | None) -> None:
        self._require_zone_manager()
        zone = self.zone(name, lock=True)
        left = dict(
            self.session.execute(
                select(DnsRecord.fancy, func.count())
                .where(DnsRecord.zone_id == zone.id)
                .group_by(DnsRecord.fancy)
            ).all()
        )
        if left:
            what = " and ".join(
                f"{n} {label}{'s' if n != 1 else ''}"
                for label, n in (
                    ("record", left.get(False, 0)),
                    ("fancy record", left.get(True, 0)),
                )
                if n
            )
            raise NGNError(
                E.DNS_ZONE_NOT_EMPTY, f"DNS zone {zone.name} still has {what}; delete them first."
            )
        credits.release(self.session, Credit.DNS_ZONE, Holders.of(zone.reseller, zone.customer))
        self.session.delete(zone)
        audit.record(self.session, self.caller, "delete", "dns_zone", zone.name)

    def zones(self, query: Query) -> tuple[int, list[DnsZone]]:
        total, rows = fetch_page(
            self.session, select(DnsZone), records.visible(self.caller, DnsZone), query,
            (DnsZone.name, "ASC"), DnsZone.id, self.max_rows,
        )  # fmt: skip
        return total, [r[0] for r in rows]

    # -- records (regular with fancy=False, fancy with fancy=True) --------------------------

    def record(self, record_id: int | None, fancy: bool) -> DnsRecord:
        found = self.session.execute(
            select(DnsRecord).where(*self._record_key(record_id, fancy))
        ).scalar_one_or_none()
        if found is None:
            raise _record_not_found(record_id, fancy)
        return found

    def _record_key(self, record_id: int | None, fancy: bool) -> list[Any]:
        """WHERE clauses finding one record of the kind asked for, in the caller's scope."""
        if record_id is None:
            raise NGNError(E.MISSING_PARAMETER, "A record id is required.")
        return [
            DnsRecord.id == record_id,
            DnsRecord.fancy == fancy,
            *records.visible(self.caller, DnsRecord),
        ]

    def _record_to_change(self, record_id: int | None, fancy: bool) -> tuple[DnsZone, DnsRecord]:
        """A record and its zone, the zone's row locked first: every writer of a zone's
        records takes that lock first, so they queue there and each sees the work of the
        one before (duplicates, CNAME conflicts, the serial)."""
        zone_id = self.session.execute(
            select(DnsRecord.zone_id).where(*self._record_key(record_id, fancy))
        ).scalar_one_or_none()
        if zone_id is None:
            raise _record_not_found(record_id, fancy)
        zone = self.session.execute(
            select(DnsZone).where(DnsZone.id == zone_id).with_for_update().execution_options(populate_existing=True)
        ).scalar_one()
        return zone, self.record(record_id, fancy)

    def add_record(self, fields: Mapping[str, Any], fancy: bool) -> DnsRecord:
        caller = self.caller
        zone = self.zone(fields.get("zone"), lock=True)
        records.require_active_reseller(caller)
        data = checked_record(
            zone, fancy, record_name(zone.name, fields.get("name")),
            fields.get("type"), fields.get("value"), fields.get("priority"), fields.get("ttl"),
        )  # fmt: skip
        self._check_free(zone, data)
        owner = records.owner_for(self.session, caller, fields.get("owner"), zone.reseller)
        self._count_forwards(zone, None, (data.type, owner))
        record = DnsRecord(
            zone_id=zone.id, zone=zone.name, fancy=fancy, owner=owner, customer=zone.customer,
            reseller=zone.reseller, **asdict(data),
        )  # fmt: skip
        self.session.add(record)
        _touch(zone)
        self.session.flush()
        audit.record(self.session, caller, "create", _audit_kind(fancy), record.id, records.given(fields))
        return record

    def update_record(self, fields: Mapping[str, Any], fancy: bool) -> None:
        caller = self.caller
        zone, record = self._record_to_change(fields.get("id"), fancy)
        records.require_active_reseller(caller)
        given_zone = (fields.get("zone") or "").strip().lower().removesuffix(".")
        if given_zone and given_zone != zone.name:
            raise _invalid(
                f"DNS {_kind(fancy)} {record.id} is in zone {zone.name}; a record cannot move to another zone "
                "(delete it and add it there)."
            )
        data = checked_record(
            zone, fancy,
            record.name if fields.get("name") is None else record_name(zone.name, fields["name"]),
            fields.get("type") or record.type,
            record.value if fields.get("value") is None else fields["value"],
            record.priority if fields.get("priority") is None else fields["priority"],
            record.ttl if fields.get("ttl") is None else fields["ttl"],
        )  # fmt: skip
        self._check_free(zone, data, record.id)
        owner = record.owner
        if fields.get("owner") is not None and fields["owner"] != record.owner:
            owner = records.owner_for(self.session, caller, fields["owner"], zone.reseller)
        self._count_forwards(zone, (record.type, record.owner), (data.type, owner))
        before = _snapshot(record, RECORD_FIELDS)
        for field, value in asdict(data).items():
            setattr(record, field, value)
        record.owner = owner
        if _snapshot(record, RECORD_FIELDS) != before:
            record.change_date = utcnow()
            _touch(zone)
            audit.record(
                self.session, caller, "update", _audit_kind(fancy), record.id, records.given(fields)
            )

    def delete_record(self, record_id: int | None, fancy: bool) -> None:
        zone, record = self._record_to_change(record_id, fancy)
        records.require_active_reseller(self.caller)
        self._count_forwards(zone, (record.type, record.owner), None)
        self.session.delete(record)
        _touch(zone)
        audit.record(self.session, self.caller, "delete", _audit_kind(fancy), record.id)

    def matching_records(self, query: Query, fancy: bool) -> tuple[int, list[DnsRecord]]:
        scope = [DnsRecord.fancy == fancy, *records.visible(self.caller, DnsRecord)]
        total, rows = fetch_page(
            self.session, select(DnsRecord), scope, query, (DnsRecord.id, "ASC"), DnsRecord.id, self.max_rows
        )
        return total, [r[0] for r in rows]

    def _check_free(self, zone: DnsZone, data: RecordData, record_id: int | None = None) -> None:
        """Refuse a duplicate (7003) and a CNAME beside other data (7007)."""
        same_name = [DnsRecord.zone_id == zone.id, DnsRecord.name == data.name]
        if record_id is not None:
            same_name.append(DnsRecord.id != record_id)
        where = fqdn(zone.name, data.name)
        if self.session.execute(
            select(DnsRecord.id).where(
                *same_name, DnsRecord.type == data.type, DnsRecord.value == data.value
            )
        ).first():
            raise NGNError(
                E.DNS_RECORD_EXISTS, f"DNS record {where} {data.type} {data.value} already exists."
            )
        if data.type not in DNS_NAME_TYPES:
            return
        if data.type == RecordType.CNAME and not data.name:
            raise NGNError(
                E.DNS_CNAME_CONFLICT,
                f"{zone.name} is the zone apex (SOA and NS): it cannot be a CNAME.",
            )
        others = set(
            self.session.execute(
                select(DnsRecord.type).where(
                    *same_name, DnsRecord.type.in_([t.value for t in DNS_NAME_TYPES])
                )
            ).scalars()
        )
        if data.type == RecordType.CNAME and others:
            raise NGNError(
                E.DNS_CNAME_CONFLICT,
                f"{where} already has {', '.join(sorted(others))} data; a CNAME cannot stand beside it.",
            )
        if data.type != RecordType.CNAME and RecordType.CNAME.value in others:
            raise NGNError(
                E.DNS_CNAME_CONFLICT, f"{where} is a CNAME; no other data can stand beside it."
            )

    def _count_forwards(
        self, zone: DnsZone, before: tuple[str, int] | None, after: tuple[str, int] | None
    ) -> None:
        """Keep ``email_credit`` usage in step as a record (type, owner) comes, changes or
        goes: only MBOXFW records count, against the zone's reseller and customer and the
        record's owner."""

        def holders(state: tuple[str, int] | None) -> Holders | None:
            if state is None or state[0] != RecordType.MBOXFW:
                return None
            return Holders.of(zone.reseller, zone.customer, state[1])

        old, new = holders(before), holders(after)
        limited = records.limited(self.caller)
        if old and new:
            credits.move(self.session, Credit.EMAIL, old, new, limited=limited)
        elif old:
            credits.release(self.session, Credit.EMAIL, old)
        elif new:
            credits.charge(self.session, Credit.EMAIL, new, limited=limited)


def _touch(zone: DnsZone) -> None:
    """Something in the zone changed: bump its serial."""
    now = utcnow()
    zone.serial = next_serial(zone.serial, now.date())
    zone.change_date = now


def _snapshot(row: Any, fields: Sequence[str]) -> tuple[Any, ...]:
    return tuple(getattr(row, field) for field in fields)


def _kind(fancy: bool) -> str:
    return "fancy record" if fancy else "record"


def _record_not_found(record_id: int | None, fancy: bool) -> NGNError:
    return NGNError(E.DNS_RECORD_NOT_FOUND, f"DNS {_kind(fancy)} {record_id} does not exist.")


def _audit_kind(fancy: bool) -> str:
    return "dns_fancy_record" if fancy else "dns_record"


ownership.count_records(DnsZone, "DNS zone", "DNS zones")
ownership.count_records(DnsRecord, "DNS record", "DNS records")
credits.counts(Credit.DNS_ZONE, DnsZone)
credits.counts(Credit.EMAIL, DnsRecord, lambda c: [c.type == "MBOXFW"])
