"""IXC -> Bequant BQN: every Internet plan of IXC becomes a BQN rate policy, every online login
a BQN subscriber under its IP address, blocked (policy ``Billing-Block``) while its contract's
Internet status is neither A (active) nor FA (overdue but allowed); optionally, a group
``DS-<login>`` holds a login's IPv4 address and IPv6 prefix under the same policy.

It does what Bequant's own script (``sync-ixc-bqn`` with ``BillingSync.py``) does, rule for
rule (vendors.md 6.2), and closes its gaps:

- reading IXC: online logins (``radusuarios.online = S``), all plans (``radgrupos``) and all
  contracts (``cliente_contrato``), page after page; a page that keeps failing fails the run
  after the client's retries (the script looped on it forever);
- policies: ``{policyName: grupo, policyId: id, rateLimitUplink: {rate: kbps(upload)},
  rateLimitDownlink: {rate: kbps(download)}}`` for the plans of ``tipo`` I, speeds converted
  by :func:`kbps`; ``Billing-Block`` (id ``block``, 0/0) is created when missing, never
  changed or deleted;
- subscribers: ``{subscriberIp: ip, subscriberId: login, policyRate: plan}``. A login whose
  plan is not an Internet plan, or unknown, gets ``policyRate`` "" (the script named the
  non-Internet plan, a policy it never created). Logins sharing an IP are all left out.
  A login without a valid IP is left out (counted as skipped);
- every string of every object has its spaces replaced by ``_`` (names, ids, logins);
- the diff against what the BQN shows now (read every run, nothing cached here): missing ->
  create (POST), different -> update (PUT), absent from IXC -> delete, with the script's
  rules: policies compare ``policyId`` and both rates (fields the BQN adds, such as
  ``congestionMgmt``, are ignored); subscribers compare ``subscriberId`` and ``policyRate``,
  only ``subscriberId`` when IXC gives no policy and the BQN's rules assigned one; a
  subscriber absent from IXC is deleted only when the BQN says who assigned its policy and it
  was not its rules; groups compare members, ranges and policy; ``all-subscribers`` is never
  deleted. Lists compare sorted, and a missing field equals an empty one;
- safety kept from the script: a kind of object IXC returns none of (no Internet plan, no
  online login, no group) has none of its BQN objects deleted, so an IXC that answers empty
  lists never empties the BQN. Groups are touched only with dual stack on.

Writes are ordered so that no object names a policy before it exists: policies created or
changed first, then subscribers, then groups, then deletions of groups and subscribers, then
of policies (:attr:`~ngnserver.core.sync.Write.stage`).

Inferred (not in the script): a blocked login's dual-stack group carries ``Billing-Block``
too (the script gave it the plan, leaving the IPv6 prefix unblocked), and a blocked login
without a plan gets its group as well.
"""

from __future__ import annotations

import ipaddress
import logging
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ngnserver.core.sync import (
    CREATE,
    DELETE,
    SKIPPED,
    UNCHANGED,
    UPDATE,
    Plan,
    Sync,
    SyncFailed,
    Write,
    clients,
    register,
)
from ngnserver.vendors.bqn import (
    ALL_SUBSCRIBERS,
    GROUPS,
    POLICIES,
    SUBSCRIBERS,
    BqnAuthError,
    BqnClient,
    BqnError,
    BqnNotFound,
    BqnRefused,
    BqnTransientError,
    Collection,
)
from ngnserver.vendors.ixc import IxcAuthError, IxcClient, IxcError

log = logging.getLogger("ngnserver.sync.ixc_bqn")

NAME = "ixc-bqn"
BLOCK_POLICY = "Billing-Block"
BLOCK_BODY: dict[str, Any] = {
    "policyName": BLOCK_POLICY,
    "policyId": "block",
    "rateLimitDownlink": {"rate": 0},
    "rateLimitUplink": {"rate": 0},
}
ALLOWED_INTERNET_STATUSES = frozenset({"A", "FA"})
"""Contract Internet statuses that are not blocked: A (active), FA (overdue, still allowed)."""

INTERNET_PLAN = "I"
GROUP_PREFIX = "DS-"

POLICY, SUBSCRIBER, GROUP = "policy", "subscriber", "group"
KINDS = (POLICY, SUBSCRIBER, GROUP)
_COLLECTIONS: dict[str, Collection] = {POLICY: POLICIES, SUBSCRIBER: SUBSCRIBERS, GROUP: GROUPS}
_COMPARED = {
    POLICY: ("policyId", "rateLimitDownlink", "rateLimitUplink"),
    SUBSCRIBER: ("subscriberId", "policyRate"),
    GROUP: ("subscriberMembers", "subscriberRanges", "policyRate"),
}
_STAGES = {
    (POLICY, CREATE): 0,
    (POLICY, UPDATE): 0,
    (SUBSCRIBER, CREATE): 1,
    (SUBSCRIBER, UPDATE): 1,
    (GROUP, CREATE): 2,
    (GROUP, UPDATE): 2,
    (GROUP, DELETE): 3,
    (SUBSCRIBER, DELETE): 3,
    (POLICY, DELETE): 4,
}
_RATE = re.compile(r"(\d+)\s*([kKmMgG])")
_UNIT_KBPS = {"k": 1, "m": 1000, "g": 1_000_000}
_NOTES_LOGGED = 20  # objects left out, logged one by one per kind; the rest are counted


def kbps(speed: str) -> int:
    """An IXC speed (``100M``, ``512 k``, ``1G``) in kbit/s; -1 when it has no number with a
    unit, as the script sends it."""
    found = _RATE.search(speed or "")
    if found is None:
        return -1
    return int(found.group(1)) * _UNIT_KBPS[found.group(2).lower()]


def normalised(value: Any) -> Any:
    """``value`` with the spaces of every string in it replaced by ``_``, as the BQN names
    things."""
    if isinstance(value, str):
        return value.replace(" ", "_")
    if isinstance(value, Mapping):
        return {key: normalised(item) for key, item in value.items()}
    if isinstance(value, list):
        return [normalised(item) for item in value]
    return value


@dataclass
class Billing:
    """What IXC says the BQN should hold: policies by name, subscribers by IP (canonical
    form), groups by name; how many Internet plans IXC has; what was left out."""

    policies: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscribers: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, dict[str, Any]] = field(default_factory=dict)
    plans: int = 0
    skipped: Counter[str] = field(default_factory=Counter)


@dataclass(frozen=True)
class _Login:
    login: str
    ip: str
    prefix: str
    plan: str
    contract: str


class _Notes:
    """Warnings about objects left out: the first few of each kind logged, all counted."""

    def __init__(self, skipped: Counter[str]) -> None:
        self.skipped = skipped

    def __call__(self, kind: str, message: str, *args: object) -> None:
        self.skipped[kind] += 1
        if self.skipped[kind] <= _NOTES_LOGGED:
            log.warning(f"IXC -> BQN: {message}; left out", *args)

    def close(self) -> None:
        for kind, n in self.skipped.items():
            if n > _NOTES_LOGGED:
                log.warning("IXC -> BQN: %s more %ss left out", n - _NOTES_LOGGED, kind)


def billing(
    logins: Iterable[Mapping[str, Any]],
    plans: Iterable[Mapping[str, Any]],
    contracts: Mapping[str, str],
    dual_stack: bool = False,
) -> Billing:
    """The BQN objects IXC's online ``logins``, ``plans`` (radgrupos) and ``contracts`` (id ->
    status_internet) call for (the rules of the module docstring)."""
    wanted = Billing()
    notes = _Notes(wanted.skipped)
    plan_names: dict[str, str] = {}  # Internet plan id -> policy name
    for plan in sorted(plans, key=lambda row: _number(row.get("id"))):
        if str(plan.get("tipo", "")).strip() != INTERNET_PLAN:
            continue
        policy = normalised(
            {
                "policyName": str(plan.get("grupo", "")),
                "policyId": str(plan.get("id", "")),
                "rateLimitUplink": {"rate": kbps(str(plan.get("upload", "")))},
                "rateLimitDownlink": {"rate": kbps(str(plan.get("download", "")))},
            }
        )
        name = policy["policyName"]
        if not name or name == BLOCK_POLICY or name in wanted.policies:
            notes(
                POLICY,
                "plan %s is named %r, which is empty, reserved or another plan's",
                plan.get("id"),
                name,
            )
            continue
        wanted.policies[name] = policy
        plan_names[str(plan.get("id", ""))] = name
    wanted.plans = len(wanted.policies)
    wanted.policies[BLOCK_POLICY] = dict(BLOCK_BODY)

    by_ip: dict[str, _Login] = {}
    shared: set[str] = set()
    for row in logins:
        login = _login(row, notes)
        if login is None:
            continue
        if login.ip in by_ip:
            if login.ip not in shared:
                notes(
                    SUBSCRIBER,
                    "login %s has the IP %s of login %s",
                    by_ip[login.ip].login,
                    login.ip,
                    login.login,
                )
            notes(SUBSCRIBER, "login %s has the IP %s of another login", login.login, login.ip)
            shared.add(login.ip)
        else:
            by_ip[login.ip] = login
    for ip in shared:
        del by_ip[ip]

    for ip, login in by_ip.items():
        policy = plan_names.get(login.plan, "")
        status = contracts.get(login.contract)
        if status is not None and status not in ALLOWED_INTERNET_STATUSES:
            policy = BLOCK_POLICY
        subscriber_id = normalised(login.login)
        wanted.subscribers[ip] = {
            "subscriberIp": ip,
            "subscriberId": subscriber_id,
            "policyRate": policy,
        }
        if dual_stack and policy and login.prefix:
            name = normalised(f"{GROUP_PREFIX}{login.login}")
            if name in wanted.groups:
                notes(GROUP, "group %s would be made twice (two logins %s)", name, login.login)
                continue
            wanted.groups[name] = {
                "subscriberGroupName": name,
                "policyRate": policy,
                "subscriberMembers": [ip],
                "subscriberRanges": [login.prefix],
            }
    notes.close()
    return wanted


def _login(row: Mapping[str, Any], notes: _Notes) -> _Login | None:
    login = str(row.get("login", ""))
    try:
        ip = str(ipaddress.ip_address(str(row.get("ip", "")).strip()))
    except ValueError:
        notes(SUBSCRIBER, "login %s has no valid IP address (%r)", login, row.get("ip"))
        return None
    prefix = str(row.get("pd_ipv6", "") or "").strip()
    if prefix:
        try:
            prefix = str(ipaddress.ip_network(prefix, strict=False))
        except ValueError:
            notes(GROUP, "login %s has an IPv6 prefix that is not one (%r)", login, prefix)
            prefix = ""
    return _Login(
        login,
        ip,
        prefix,
        str(row.get("id_grupo", "")).strip(),
        str(row.get("id_contrato", "")).strip(),
    )


def _number(value: Any) -> tuple[int, str]:
    text = str(value or "")
    return (int(text), "") if text.isascii() and text.isdigit() else (1 << 62, text)


def diff(wanted: Billing, live: Mapping[str, list[dict[str, Any]]], dual_stack: bool) -> Plan:
    """The writes that bring the BQN (``live``: what it lists, by kind) to ``wanted``."""
    plan = Plan()
    created_policies: set[str] = set()

    shown = {_key(POLICY, item): item for item in live.get(POLICY, [])}
    for name, policy in wanted.policies.items():
        current = shown.get(name)
        if current is None:
            plan.add(_write(POLICY, CREATE, name, policy))
            created_policies.add(name)
        elif name != BLOCK_POLICY and not _same(current, policy, _COMPARED[POLICY]):
            plan.add(_write(POLICY, UPDATE, name, policy))
        else:
            plan.note(POLICY, UNCHANGED)
    if wanted.plans:
        for name in shown.keys() - wanted.policies.keys():
            if name != BLOCK_POLICY:
                plan.add(_write(POLICY, DELETE, name))

    shown = {_key(SUBSCRIBER, item): item for item in live.get(SUBSCRIBER, [])}
    for ip, subscriber in wanted.subscribers.items():
        current = shown.get(ip)
        needs = (
            ((POLICY, subscriber["policyRate"]),)
            if subscriber["policyRate"] in created_policies
            else ()
        )
        compared = _COMPARED[SUBSCRIBER]
        if (
            current is not None
            and not subscriber["policyRate"]
            and current.get("policyAssignedBy") == "rules"
        ):
            compared = ("subscriberId",)
        if current is None:
            plan.add(_write(SUBSCRIBER, CREATE, ip, subscriber, needs))
        elif not _same(current, subscriber, compared):
            plan.add(_write(SUBSCRIBER, UPDATE, _id(SUBSCRIBER, current), subscriber, needs))
        else:
            plan.note(SUBSCRIBER, UNCHANGED)
    if wanted.subscribers:
        for ip in shown.keys() - wanted.subscribers.keys():
            assigned_by = shown[ip].get("policyAssignedBy")
            if assigned_by is not None and assigned_by != "rules":
                plan.add(_write(SUBSCRIBER, DELETE, _id(SUBSCRIBER, shown[ip])))

    if dual_stack:
        shown = {_key(GROUP, item): item for item in live.get(GROUP, [])}
        for name, group in wanted.groups.items():
            current = shown.get(name)
            needs = (
                ((POLICY, group["policyRate"]),) if group["policyRate"] in created_policies else ()
            )
            if current is None:
                plan.add(_write(GROUP, CREATE, name, group, needs))
            elif not _same(current, group, _COMPARED[GROUP]):
                plan.add(_write(GROUP, UPDATE, name, group, needs))
            else:
                plan.note(GROUP, UNCHANGED)
        if wanted.groups:
            for name in shown.keys() - wanted.groups.keys():
                if name != ALL_SUBSCRIBERS:
                    plan.add(_write(GROUP, DELETE, name))

    for kind, n in wanted.skipped.items():
        plan.note(kind, SKIPPED, n)
    return plan


def _write(
    kind: str,
    action: str,
    key: str,
    body: Mapping[str, Any] | None = None,
    needs: tuple[tuple[str, str], ...] = (),
) -> Write:
    return Write(kind, action, key, body, _STAGES[(kind, action)], needs)


def _id(kind: str, item: Mapping[str, Any]) -> str:
    return str(item.get(_COLLECTIONS[kind].key, ""))


def _key(kind: str, item: Mapping[str, Any]) -> str:
    """The object's id as the diff matches it: a subscriber's IP in canonical form."""
    key = _id(kind, item)
    if kind == SUBSCRIBER:
        try:
            return str(ipaddress.ip_address(key))
        except ValueError:
            return key
    return key


def _same(current: Mapping[str, Any], wanted: Mapping[str, Any], keys: Iterable[str]) -> bool:
    return all(_equal(current.get(key), wanted.get(key)) for key in keys)


def _equal(current: Any, wanted: Any) -> bool:
    """Whether the BQN's value matches ours: a missing value equals an empty one, lists
    compare sorted, and in an object only the fields we send count (the BQN adds its own)."""
    if _empty(current) and _empty(wanted):
        return True
    if isinstance(wanted, Mapping):
        return isinstance(current, Mapping) and all(
            _equal(current.get(k), v) for k, v in wanted.items()
        )
    if isinstance(wanted, list):
        return isinstance(current, list) and sorted(map(str, current)) == sorted(map(str, wanted))
    return current == wanted


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


class IxcBqnSync(Sync):
    """The sync between one IXC and one BQN (the clients are closed with the sync)."""

    name = NAME
    kinds = KINDS

    def __init__(self, ixc: IxcClient, bqn: BqnClient, dual_stack: bool = False) -> None:
        self.ixc = ixc
        self.bqn = bqn
        self.dual_stack = dual_stack

    def plan(self) -> Plan:
        wanted = self.read_ixc()
        try:
            live = {
                kind: self.bqn.list(collection)
                for kind, collection in _COLLECTIONS.items()
                if kind != GROUP or self.dual_stack
            }
        except BqnAuthError as exc:
            raise SyncFailed(
                f"the BQN refused the REST user {self.bqn.user!r} ({exc.message})"
            ) from None
        except BqnError as exc:
            raise SyncFailed(f"cannot read the BQN: {exc}") from None
        return diff(wanted, live, self.dual_stack)

    def read_ixc(self) -> Billing:
        """What IXC calls for; :class:`SyncFailed` if a listing cannot be read whole."""
        try:
            plans = [
                {key: row.get(key, "") for key in ("id", "grupo", "upload", "download", "tipo")}
                for row in self.ixc.iterate("radgrupos")
            ]
            contracts = {
                str(row.get("id", "")): str(row.get("status_internet", "")).strip()
                for row in self.ixc.iterate("cliente_contrato")
            }
            logins = [
                {
                    key: row.get(key, "")
                    for key in ("login", "ip", "pd_ipv6", "id_grupo", "id_contrato")
                }
                for row in self.ixc.iterate(
                    "radusuarios", qtype="radusuarios.online", oper="=", query="S"
                )
            ]
        except IxcAuthError:
            raise SyncFailed("IXC refused the API token (check NGNSERVER_IXC_TOKEN)") from None
        except IxcError as exc:
            raise SyncFailed(f"cannot read IXC: {exc}") from None
        return billing(logins, plans, contracts, self.dual_stack)

    def apply(self, write: Write) -> None:
        collection = _COLLECTIONS[write.kind]
        try:
            if write.action == CREATE:
                self.bqn.create_or_update(collection, write.key, write.body or {})
            elif write.action == UPDATE:
                self.bqn.update(collection, write.key, write.body or {})
            else:
                try:
                    self.bqn.delete(collection, write.key)
                except BqnNotFound:
                    pass  # gone already: what was wanted
        except BqnAuthError as exc:
            raise SyncFailed(
                f"the BQN refused the REST user {self.bqn.user!r} ({exc.message})"
            ) from None
        except (BqnRefused, BqnTransientError):
            raise
        except BqnError as exc:
            raise SyncFailed(str(exc)) from None

    def close(self) -> None:
        self.ixc.close()
        self.bqn.close()


def missing_settings(settings: Any) -> list[str]:
    """The settings still missing for this sync (none: it can run)."""
    ixc, bqn = settings.ixc, settings.bqn
    required = (
        ("NGNSERVER_IXC_URL", ixc.url),
        ("NGNSERVER_IXC_TOKEN", ixc.token),
        ("NGNSERVER_BQN_URL", bqn.url),
        ("NGNSERVER_BQN_USER", bqn.user),
        ("NGNSERVER_BQN_PASSWORD", bqn.password),
    )
    return [name for name, value in required if not value]


@register(NAME)
def from_settings(settings: Any) -> IxcBqnSync:
    """The sync the settings describe; ValueError (one sentence) if they do not."""
    missing = missing_settings(settings)
    if missing:
        raise ValueError(f"the IXC -> BQN sync is not configured: set {', '.join(missing)}")
    bqn = settings.bqn
    bqn_client = BqnClient(
        bqn.url,
        bqn.user,
        bqn.password,
        verify=bqn.verify_tls,
        connect_timeout=bqn.connect_timeout,
        read_timeout=bqn.read_timeout,
        retries=bqn.retries,
        backoff=bqn.backoff,
        pool_size=bqn.write_connections,
        debug_log=clients.DEBUG_LOG,
    )
    return IxcBqnSync(clients.ixc_client(settings), bqn_client, bqn.dual_stack)
