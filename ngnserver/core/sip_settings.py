"""A SIP account's call settings, as CDRTool's SIP settings page reads and writes them: call
diversions, accept rules and reject members (who gets through), barring prefixes (where
calls may not go) and the phonebook (whose groups accept rules name).

They belong to the account: whoever may see the account (its customer or owner, its
reseller, admin: ``records.visible``) reads them and whoever may change it changes them;
they follow it when its domain moves to another customer and go with it when it is deleted
(their tables cascade). Each ``set*`` replaces one setting whole, and every change locks the
account row first, so concurrent changes of one account take turns and none is half made.
ngnserver keeps and serves the settings; the SIP proxy that applies them reads them here.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from ngnserver.core import audit, records
from ngnserver.core.callers import Caller
from ngnserver.core.errors import E, ErrorCode, NGNError
from ngnserver.core.queries import Query, fetch_page, like
from ngnserver.core.sip import account_in_scope
from ngnserver.models.base import utcnow
from ngnserver.models.sip import SipAccount
from ngnserver.models.sip_settings import PhonebookEntry, SipAccountSettings

# diversion conditions: all calls, not online, busy, no answer, unavailable
CONDITIONS = ("FUNC", "FNOL", "FBUS", "FNOA", "FUNV")
CONDITION_NAMES = {"FUNC": "all calls", "FNOL": "not online", "FBUS": "busy", "FNOA": "no answer",
                   "FUNV": "unavailable"}  # fmt: skip
VOICEMAIL = "<voice-mailbox>"
VOICEMAIL_SPELLINGS = frozenset((VOICEMAIL, "voice-mailbox"))
# CDRTool sends this member (value "empty") when no condition is left to divert
NO_DIVERSIONS = "nocondition"
EVERYBODY, NOBODY = "everybody", "nobody"

MAX_PERSISTENT_RULES = 20
MAX_RULE_GROUPS = 20
MAX_REJECT_MEMBERS = 50
MAX_BARRING_PREFIXES = 50
MAX_PHONEBOOK_ENTRIES = 1000
MAX_DURATION = 366 * 24 * 60  # minutes of a temporary accept rule
MAX_URI = 255
MAX_NAME = 128
ALL_DAYS = 127  # Monday 1, Tuesday 2 ... Sunday 64

_USER_RE = re.compile(r"^[A-Za-z0-9._+\-*#!~%&=$,?'()]{1,64}\Z")
_HOST_RE = re.compile(r"^(?=.{1,253}\Z)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\Z")
_PARAMS_RE = re.compile(r"^(;[A-Za-z0-9._!~*'()%+-]+(=[A-Za-z0-9._!~*'()%+:-]*)?)*\Z")
_GROUP_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")
_TIME_RE = re.compile(r"^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)\Z")
_PREFIX_RE = re.compile(r"^\+[1-9][0-9]{0,31}\Z")


def _host(text: str) -> str | None:
    """A host part (a domain name, an IPv4 address or a bracketed IPv6 one), as stored
    (lower case); None when it is none of these."""
    if text.startswith("[") and text.endswith("]"):
        try:
            return f"[{ipaddress.IPv6Address(text[1:-1])}]"
        except ValueError:
            return None
    host = text.lower()
    return host if _HOST_RE.match(host) else None


def sip_address(value: Any, domain: str, error: ErrorCode, what: str) -> str:
    """``value`` as a full SIP address ``sip:user@host[:port][;params]``: ``sip:`` is added
    when no scheme is given, and the account's ``domain`` when no host is (so a number
    ``+31201234567`` becomes ``sip:+31201234567@<domain>``). Refused with ``error`` when it
    is not one."""
    text = str(value or "").strip()
    shown = text if len(text) <= 60 else text[:60] + "..."
    bad = NGNError(error, f"{what} {shown!r} is not a SIP address (sip:user@domain) or a number.")
    if not text or len(text) > MAX_URI:
        raise bad
    scheme, _, rest = text.partition(":") if text.lower().startswith(("sip:", "sips:")) else ("sip", "", text)
    user, at, hostport = rest.rpartition("@")
    if not at:
        user, hostport = rest, domain
    hostport, semicolon, params = hostport.partition(";")
    port = ""
    if not hostport.endswith("]") and ":" in hostport:
        hostport, _, port = hostport.rpartition(":")
        if not (port.isascii() and port.isdigit()) or not 1 <= int(port) <= 65535:
            raise bad
        port = f":{int(port)}"
    host = _host(hostport)
    if host is None or not _USER_RE.match(user) or not _PARAMS_RE.match(semicolon + params):
        raise bad
    address = f"{scheme.lower()}:{user}@{host}{port}{semicolon}{params}"
    if len(address) > MAX_URI:
        raise bad
    return address


def _group(value: Any, error: ErrorCode, what: str) -> str:
    name = str(value or "").strip()
    if not _GROUP_RE.match(name):
        raise NGNError(error, f"{what}: {name!r} is not a group name (letters, digits, '.', '_' and '-').")
    return name


def _rule_groups(values: Sequence[Any] | None, what: str) -> list[str]:
    """An accept rule's groups: everybody, nobody or phonebook groups, each once."""
    groups = list(dict.fromkeys(_group(v, E.SIP_ACCEPT_RULE_INVALID, what) for v in values or [] if v))
    if len(groups) > MAX_RULE_GROUPS:
        raise NGNError(E.SIP_SETTINGS_TOO_MANY, f"{what} names {len(groups)} groups; at most {MAX_RULE_GROUPS} are allowed.")
    return groups


def _time(value: Any, what: str) -> str:
    text = str(value or "").strip()
    if not _TIME_RE.match(text):
        raise NGNError(E.SIP_ACCEPT_RULE_INVALID, f"{what} must be a time HH:MM (00:00 to 24:00), not {text!r}.")
    return text


def _days(value: Any, what: str) -> int:
    if not isinstance(value, int) or not 1 <= value <= ALL_DAYS:
        raise NGNError(
            E.SIP_ACCEPT_RULE_INVALID,
            f"{what} needs days from 1 to {ALL_DAYS} (Monday 1, Tuesday 2 ... Sunday 64, added up), not {value!r}.",
        )
    return value


def _stamp(moment: datetime) -> str:
    return moment.isoformat(" ", "seconds")


def _minutes_left(until: str | None, now: datetime) -> int | None:
    """Minutes a temporary rule has left: 0 for one without an end, None for one that has
    ended."""
    if until is None:
        return 0
    left = (datetime.fromisoformat(until) - now).total_seconds()
    return math.ceil(left / 60) if left > 0 else None


class SipSettings:
    """The call settings of SIP accounts, for one request."""

    def __init__(self, session: Session, caller: Caller, max_rows: int = 1000) -> None:
        self.session = session
        self.caller = caller
        self.max_rows = max_rows

    def _account(self, sip_id: Mapping[str, Any] | None, lock: bool = False) -> SipAccount:
        return account_in_scope(self.session, self.caller, sip_id, lock)

    def _stored(self, account: SipAccount) -> SipAccountSettings | None:
        return self.session.get(SipAccountSettings, account.id)

    def _change(self, sip_id: Mapping[str, Any] | None) -> tuple[SipAccount, SipAccountSettings]:
        """The account, locked, and its settings row (a new one on its first change)."""
        account = self._account(sip_id, lock=True)
        return account, self._settings_of(account)

    def _settings_of(self, account: SipAccount) -> SipAccountSettings:
        settings = self._stored(account)
        if settings is None:
            settings = SipAccountSettings(
                account_id=account.id, diversions={}, accept_rules={}, reject_members=[], barring_prefixes=[]
            )
            self.session.add(settings)
        return settings

    def _changed(self, account: SipAccount, change: dict[str, Any]) -> None:
        account.change_date = utcnow()
        audit.record(self.session, self.caller, "update", "sip_account", account.address, change)

    # -- call diversions -------------------------------------------------------------------

    def diversions(self, sip_id: Mapping[str, Any] | None) -> dict[str, str]:
        """Every condition with its target ("" when calls are not diverted on it)."""
        settings = self._stored(self._account(sip_id))
        stored = settings.diversions if settings is not None else {}
        return {condition: stored.get(condition, "") for condition in CONDITIONS}

    def set_diversions(
        self, sip_id: Mapping[str, Any] | None, targets: Mapping[str, Any], unknown: Sequence[str] = ()
    ) -> None:
        """Replace the diversions: a condition given a target diverts there, any other does
        not divert. ``unknown``: the members sent that are no condition (only CDRTool's
        ``nocondition`` placeholder is let through)."""
        unknown = [name for name in unknown if name != NO_DIVERSIONS]
        if unknown:
            known = ", ".join(f"{c} ({n})" for c, n in CONDITION_NAMES.items())
            raise NGNError(E.SIP_DIVERSION_INVALID, f"{unknown[0]!r} is not a diversion condition; the conditions are {known}.")
        account = self._account(sip_id, lock=True)
        diversions = {}
        for condition in CONDITIONS:
            target = str(targets.get(condition) or "").strip()
            if not target:
                continue
            if target in VOICEMAIL_SPELLINGS:
                diversions[condition] = VOICEMAIL
            else:
                diversions[condition] = sip_address(target, account.domain, E.SIP_DIVERSION_INVALID, f"Diversion {condition}")
        self._settings_of(account).diversions = diversions
        self._changed(account, {"callDiversions": diversions})

    # -- accept rules and reject members ---------------------------------------------------

    def accept_rules(self, sip_id: Mapping[str, Any] | None) -> tuple[dict[str, Any], list[str]]:
        """The rules (``persistent`` and ``temporary``, whose ``duration`` is the minutes it
        has left, 0 for no end) and the groups a rule can name that have members
        (everybody, nobody and the phonebook's groups)."""
        account = self._account(sip_id)
        settings = self._stored(account)
        stored = settings.accept_rules if settings is not None else {}
        temporary = stored.get("temporary") or {"groups": [], "until": None}
        left = _minutes_left(temporary.get("until"), utcnow())
        rules = {
            "persistent": stored.get("persistent") or [],
            "temporary": {"groups": temporary["groups"], "duration": left} if left is not None
            else {"groups": [], "duration": 0},
        }  # fmt: skip
        groups = self.session.execute(
            select(PhonebookEntry.group_name)
            .where(PhonebookEntry.account_id == account.id, PhonebookEntry.group_name != "")
            .distinct().order_by(PhonebookEntry.group_name)
        ).scalars()  # fmt: skip
        return rules, [EVERYBODY, NOBODY, *(g for g in groups if g not in (EVERYBODY, NOBODY))]

    def set_accept_rules(self, sip_id: Mapping[str, Any] | None, rules: Mapping[str, Any] | None) -> None:
        """Replace the accept rules: ``persistent`` rules (on ``days``, from ``start`` to
        ``stop``, in the account's time zone, only ``groups`` get through) and a
        ``temporary`` one (``groups`` for ``duration`` minutes, 0: until changed)."""
        rules = rules or {}
        account, settings = self._change(sip_id)
        sent = [rule or {} for rule in rules.get("persistent") or []]
        if len(sent) > MAX_PERSISTENT_RULES:
            raise NGNError(
                E.SIP_SETTINGS_TOO_MANY, f"{len(sent)} persistent accept rules; at most {MAX_PERSISTENT_RULES} are allowed."
            )
        stored = (settings.accept_rules or {}).get("persistent") or []
        # CDRTool's do-not-disturb switch sends the rules back as it read them, keyed by
        # their days, which its client drops: in the same order, each has the stored days
        echoed = sent and len(sent) == len(stored) and all(rule.get("days") is None for rule in sent)
        persistent: list[dict[str, Any]] = []
        for n, rule in enumerate(sent, 1):
            what = f"Persistent accept rule {n}"
            days = _days(stored[n - 1]["days"] if echoed else rule.get("days"), what)
            if any(other["days"] == days for other in persistent):
                raise NGNError(E.SIP_ACCEPT_RULE_INVALID, f"{what}: another rule is already for days {days}.")
            groups = _rule_groups(rule.get("groups"), what)
            if not groups:
                raise NGNError(E.SIP_ACCEPT_RULE_INVALID, f"{what} needs its groups (everybody, nobody or phonebook groups).")
            persistent.append({"days": days, "start": _time(rule.get("start"), f"{what}'s start"),
                               "stop": _time(rule.get("stop"), f"{what}'s stop"), "groups": groups})  # fmt: skip
        temporary_sent = rules.get("temporary") or {}
        groups = _rule_groups(temporary_sent.get("groups"), "The temporary accept rule")
        duration = temporary_sent.get("duration") or 0
        if not 0 <= duration <= MAX_DURATION:
            raise NGNError(
                E.SIP_ACCEPT_RULE_INVALID,
                f"The temporary accept rule's duration must be 0 (until changed) to {MAX_DURATION} minutes, not {duration}.",
            )
        until = _stamp(utcnow() + timedelta(minutes=duration)) if groups and duration else None
        accept_rules = {"persistent": persistent, "temporary": {"groups": groups, "until": until}}
        settings.accept_rules = accept_rules
        self._changed(account, {"acceptRules": accept_rules})

    def reject_members(self, sip_id: Mapping[str, Any] | None) -> list[str]:
        settings = self._stored(self._account(sip_id))
        return list(settings.reject_members) if settings is not None else []

    def set_reject_members(self, sip_id: Mapping[str, Any] | None, members: Sequence[Any] | None) -> None:
        """Replace the addresses whose calls are refused (empty ones are dropped)."""
        account, settings = self._change(sip_id)
        given = [str(m).strip() for m in members or [] if m and str(m).strip()]
        found = list(dict.fromkeys(
            sip_address(m, account.domain, E.SIP_REJECT_MEMBER_INVALID, "Reject member") for m in given
        ))  # fmt: skip
        if len(found) > MAX_REJECT_MEMBERS:
            raise NGNError(E.SIP_SETTINGS_TOO_MANY, f"{len(found)} reject members; at most {MAX_REJECT_MEMBERS} are allowed.")
        settings.reject_members = found
        self._changed(account, {"rejectMembers": found})

    # -- barring prefixes ------------------------------------------------------------------

    def barring_prefixes(self, sip_id: Mapping[str, Any] | None) -> list[str]:
        settings = self._stored(self._account(sip_id))
        return list(settings.barring_prefixes) if settings is not None else []

    def set_barring_prefixes(self, sip_id: Mapping[str, Any] | None, prefixes: Sequence[Any] | None) -> None:
        """Replace the destination prefixes (``+`` and the digits, as +31900) the account may
        not call."""
        account, settings = self._change(sip_id)
        found = list(dict.fromkeys(str(p).strip() for p in prefixes or [] if p and str(p).strip()))
        for prefix in found:
            if not _PREFIX_RE.match(prefix):
                shown = prefix if len(prefix) <= 40 else prefix[:40] + "..."
                raise NGNError(
                    E.SIP_BARRING_PREFIX_INVALID, f"{shown!r} is not a barring prefix: + and the digits, as +31900."
                )
        if len(found) > MAX_BARRING_PREFIXES:
            raise NGNError(
                E.SIP_SETTINGS_TOO_MANY, f"{len(found)} barring prefixes; at most {MAX_BARRING_PREFIXES} are allowed."
            )
        settings.barring_prefixes = found
        self._changed(account, {"barringPrefixes": found})

    # -- phonebook -------------------------------------------------------------------------

    def _entry_uri(self, account: SipAccount, uri: Any) -> str:
        """A phonebook entry's key: its SIP address, in lower case as CDRTool sends it (a
        ``%`` or ``_`` in the user part is a wildcard entry, as ``sip:%@example.com``)."""
        return sip_address(str(uri or "").lower(), account.domain, E.SIP_PHONEBOOK_ENTRY_INVALID, "Phonebook entry")

    @staticmethod
    def _entry_fields(fields: Mapping[str, Any]) -> dict[str, str]:
        values = {}
        name = fields.get("name")
        if name is not None:
            values["name"] = str(name).strip()
            if len(values["name"]) > MAX_NAME:
                raise NGNError(E.SIP_PHONEBOOK_ENTRY_INVALID, f"A phonebook entry's name is at most {MAX_NAME} characters.")
        group = fields.get("group")
        if group is not None:
            values["group_name"] = _group(group, E.SIP_PHONEBOOK_ENTRY_INVALID, "Phonebook entry") if str(group).strip() else ""
        return values

    def _entry(self, account: SipAccount, uri: str) -> PhonebookEntry:
        found = self.session.execute(
            select(PhonebookEntry).where(PhonebookEntry.account_id == account.id, PhonebookEntry.uri == uri)
        ).scalar_one_or_none()
        if found is None:
            raise NGNError(E.SIP_PHONEBOOK_ENTRY_NOT_FOUND, f"The phonebook of {account.address} has no entry {uri}.")
        return found

    def add_entry(self, sip_id: Mapping[str, Any] | None, fields: Mapping[str, Any]) -> None:
        account = self._account(sip_id, lock=True)
        uri = self._entry_uri(account, fields.get("uri"))
        values = self._entry_fields(fields)
        entries = self.session.execute(
            select(func.count()).select_from(PhonebookEntry).where(PhonebookEntry.account_id == account.id)
        ).scalar_one()
        if entries >= MAX_PHONEBOOK_ENTRIES:
            raise NGNError(
                E.SIP_SETTINGS_TOO_MANY,
                f"The phonebook of {account.address} is full: it holds {MAX_PHONEBOOK_ENTRIES} entries.",
            )
        exists_message = f"The phonebook of {account.address} already has an entry {uri}."
        if self.session.execute(
            select(PhonebookEntry.id).where(PhonebookEntry.account_id == account.id, PhonebookEntry.uri == uri)
        ).first():
            raise NGNError(E.SIP_PHONEBOOK_ENTRY_EXISTS, exists_message)
        self.session.add(PhonebookEntry(account_id=account.id, uri=uri, **values))
        records.flush_unique(self.session, E.SIP_PHONEBOOK_ENTRY_EXISTS, exists_message)
        self._changed(account, {"addPhonebookEntry": {"uri": uri, **values}})

    def update_entry(self, sip_id: Mapping[str, Any] | None, fields: Mapping[str, Any]) -> None:
        """Change the name and group of the entry ``uri`` names (members not sent stay)."""
        account = self._account(sip_id, lock=True)
        entry = self._entry(account, self._entry_uri(account, fields.get("uri")))
        values = self._entry_fields(fields)
        for name, value in values.items():
            setattr(entry, name, value)
        self._changed(account, {"updatePhonebookEntry": {"uri": entry.uri, **values}})

    def delete_entry(self, sip_id: Mapping[str, Any] | None, uri: Any) -> None:
        account = self._account(sip_id, lock=True)
        entry = self._entry(account, self._entry_uri(account, uri))
        self.session.delete(entry)
        self._changed(account, {"deletePhonebookEntry": entry.uri})

    def entries(
        self, sip_id: Mapping[str, Any] | None, match: Mapping[str, Any] | None, start: int, count: int | None
    ) -> tuple[int, list[PhonebookEntry]]:
        """A page of the phonebook, by name: ``uri`` and ``name`` are LIKE patterns (given
        both, as CDRTool's search box sends one text in both, an entry matching either is
        found), ``group`` an exact group ("" for the entries in none)."""
        account = self._account(sip_id)
        match = match or {}
        patterns = [(column, str(match[name])) for name, column in (("uri", PhonebookEntry.uri),
                                                                     ("name", PhonebookEntry.name))
                    if match.get(name)]  # fmt: skip
        scope = [PhonebookEntry.account_id == account.id]
        if patterns:
            scope.append(or_(*(like(column, pattern) for column, pattern in patterns)))
        if match.get("group") is not None:
            scope.append(PhonebookEntry.group_name == str(match["group"]).strip())
        total, rows = fetch_page(
            self.session, select(PhonebookEntry), scope, Query(start=start, count=count),
            (PhonebookEntry.name, "ASC"), PhonebookEntry.id, self.max_rows,
        )  # fmt: skip
        return total, [r[0] for r in rows]
