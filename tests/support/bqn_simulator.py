"""A simulator of the REST API of a Bequant BQN, served over real HTTP on 127.0.0.1, for the
tests of the BQN client and of the IXC -> BQN sync.

Typical use::

    with BqnSimulator() as bqn:                        # a free port, stopped on exit
        client = BqnClient(bqn.url, bqn.user, bqn.password)
        client.create_or_update(POLICIES, "Plano_100M", {...})
        assert bqn.writes() == 1

It behaves as vendors.md 6.3 describes:

- in-memory rate policies, subscribers and subscriber groups under ``/api/v1``:
  ``GET /<collection>`` lists ``{"items": [...]}``, ``GET /<collection>/<id>`` shows one;
  ``POST`` creates or replaces (201 created, 200 replaced; a field not sent is reset),
  ``PUT`` replaces an existing object, ``DELETE`` removes one (204); an unknown id is 404;
- ids are URL-decoded segment by segment, so IPv6 addresses and names holding ``/`` work;
  a subscriber's id must be an IP address, a group's members IPs and its ranges networks;
- reads show fields the BQN adds itself: ``congestionMgmt`` in each rate of a policy (and,
  with ``rate_extras``, the burst fields seen on real BQNs), ``policyAssignedBy`` and
  ``subscriberGroups`` on a subscriber, ``subscriberGroupType`` on a group;
- a subscriber created without a policy gets one from the BQN's rules: it shows
  ``policyAssignedBy: "rules"`` and ``policyRate`` = ``rules_policy``; one created with a
  policy shows ``policyAssignedBy: "api"``. :meth:`add_rules_subscriber` adds one the BQN
  found in traffic;
- a subscriber or group naming a policy that does not exist is refused with 400 (with
  ``check_references``), so a sync that writes in the wrong order fails;
- the group ``all-subscribers`` always exists and cannot be written or deleted (400);
  a POST naming a static policy (:meth:`add_static_policy`, made in the BQN's CLI or GUI) is
  accepted and ignored;
- HTTP Basic authentication; 401 otherwise.

Knobs (from :class:`~tests.support.http_simulator.HttpSimulator`): :meth:`fail` with a
predicate, ``latency`` (seconds added to every answer, e.g. 0.002). Counters: :meth:`count`
by operation (``"<METHOD> <collection>"``, e.g. ``"POST subscribers"``), :meth:`verb`,
:meth:`writes`, ``calls``, and ``connections`` (TCP connections accepted).

The values of ``policyAssignedBy``, the error bodies (``{"message"}``), the 204 of DELETE, the
400 for a reference to a missing policy and the shown rules policy are our assumptions;
vendors.md marks them [I] or a third-party source [T] shows them.
"""

from __future__ import annotations

import copy
import ipaddress
from typing import Any

from tests.support.http_simulator import HttpSimulator, Request, Response, json_response

API_PATH = "/api/v1"
POLICIES = "policies/rate"
SUBSCRIBERS = "subscribers"
GROUPS = "subscriberGroups"
COLLECTIONS = (POLICIES, SUBSCRIBERS, GROUPS)
KEYS = {POLICIES: "policyName", SUBSCRIBERS: "subscriberIp", GROUPS: "subscriberGroupName"}
ALL_SUBSCRIBERS = "all-subscribers"

BURST_EXTRAS = {
    "burstDuration": 0,
    "burstTransitionDuration": 0,
    "burstRate": 0,
    "burstThreshold": 0,
    "burstThresholdWindow": 0,
}
"""The burst fields a third-party client shows in the rates of real BQN policies [T]."""


class _BadRequest(Exception):
    pass


class BqnSimulator(HttpSimulator):
    """The simulated BQN. ``rate_extras`` are the fields added to each rate object of a policy
    on read, when it was not sent (default: ``congestionMgmt`` True)."""

    api_path = API_PATH

    def __init__(
        self,
        *,
        user: str = "bqn-rest",
        password: str = "bqn-Rest-Pw-8841",
        rules_policy: str = "rules-default",
        check_references: bool = True,
        rate_extras: dict[str, Any] | None = None,
        timeout_sleep: float = 10.0,
        keep_calls: bool = True,
        tls: bool = False,
    ) -> None:
        super().__init__(timeout_sleep=timeout_sleep, keep_calls=keep_calls, tls=tls)
        self.user = user
        self.password = password
        self.rules_policy = rules_policy
        self.check_references = check_references
        self.rate_extras = {"congestionMgmt": True} if rate_extras is None else dict(rate_extras)
        self.policies: dict[str, dict[str, Any]] = {}
        self.subscribers: dict[str, dict[str, Any]] = {}
        self.groups: dict[str, dict[str, Any]] = {
            ALL_SUBSCRIBERS: {"subscriberGroupName": ALL_SUBSCRIBERS}
        }
        self.static_policies: set[str] = set()

    @property
    def url(self) -> str:
        """The BQN's address, as an operator configures it (without the API path)."""
        return self.root_url

    # test hooks

    def add_static_policy(self, name: str, downlink: int, uplink: int) -> None:
        """A policy made in the BQN's CLI or GUI: listed, and a REST POST of it is ignored."""
        with self._lock:
            self.policies[name] = {
                "policyName": name,
                "policyId": f"static-{name}",
                "rateLimitDownlink": {"rate": downlink},
                "rateLimitUplink": {"rate": uplink},
            }
            self.static_policies.add(name)

    def add_rules_subscriber(self, ip: str, subscriber_id: str = "") -> None:
        """A subscriber the BQN found in traffic, its policy assigned by its rules."""
        with self._lock:
            stored = {"subscriberIp": ip, "policyRate": ""}
            if subscriber_id:
                stored["subscriberId"] = subscriber_id
            self.subscribers[ip] = stored

    def state(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Every object as a client would read it, by collection and id: for comparing the
        BQN before and after a run."""
        with self._lock:
            return {
                collection: {key: self._view(collection, key) for key in self._store(collection)}
                for collection in COLLECTIONS
            }

    def verb(self, method: str) -> int:
        """Calls of one HTTP method, on any collection."""
        with self._lock:
            return sum(n for op, n in self.counts.items() if op.split(" ")[0] == method)

    def writes(self) -> int:
        """POST, PUT and DELETE calls received."""
        return self.verb("POST") + self.verb("PUT") + self.verb("DELETE")

    # the service

    def classify(self, request: Request) -> str:
        collection, _ = _route(request.segments)
        return f"{request.method} {collection or '/'.join(request.segments)}"

    def authorized(self, request: Request) -> bool:
        return request.basic_auth() == (self.user, self.password)

    def unauthorized(self) -> Response:
        return _message(401, "Unauthorized")

    def handle(self, request: Request) -> Response:
        collection, object_id = _route(request.segments)
        if collection is None:
            return _message(404, f"no resource /{'/'.join(request.segments)}")
        store = self._store(collection)
        if object_id is None:
            if request.method != "GET":
                return _message(405, "method not allowed on a collection")
            items = self._views(collection)
            return json_response(200, {"items": items})
        if request.method == "GET":
            if object_id not in store:
                return _message(404, f"{collection} {object_id} not found")
            return json_response(200, self._view(collection, object_id))
        if collection == GROUPS and object_id == ALL_SUBSCRIBERS:
            return _message(400, f"{ALL_SUBSCRIBERS} is a system group")
        if request.method == "DELETE":
            if object_id not in store:
                return _message(404, f"{collection} {object_id} not found")
            del store[object_id]
            self.static_policies.discard(object_id)
            return Response(204)
        if request.method not in ("POST", "PUT"):
            return _message(405, f"method {request.method} not allowed")
        if request.method == "PUT" and object_id not in store:
            return _message(404, f"{collection} {object_id} not found")
        try:
            body = request.json()
            stored = self._validated(collection, object_id, body)
        except ValueError as exc:
            return _message(400, f"invalid body: {exc}")
        except _BadRequest as exc:
            return _message(400, str(exc))
        if collection == POLICIES and object_id in self.static_policies:
            return json_response(200, self._view(collection, object_id))
        created = object_id not in store
        store[object_id] = stored
        return json_response(201 if created else 200, self._view(collection, object_id))

    # the store

    def _store(self, collection: str) -> dict[str, dict[str, Any]]:
        return {POLICIES: self.policies, SUBSCRIBERS: self.subscribers, GROUPS: self.groups}[
            collection
        ]

    def _validated(self, collection: str, object_id: str, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _BadRequest("the body must be a JSON object")
        key = KEYS[collection]
        if body.get(key, object_id) != object_id:
            raise _BadRequest(f"{key} {body.get(key)!r} does not match the path {object_id!r}")
        stored = {**copy.deepcopy(body), key: object_id}
        if collection == POLICIES:
            for direction in ("rateLimitDownlink", "rateLimitUplink"):
                rate = stored.get(direction)
                if rate is None:
                    continue
                if not isinstance(rate, dict) or not _integer(rate.get("rate")):
                    raise _BadRequest(f"{direction} must be an object with an integer rate")
        elif collection == SUBSCRIBERS:
            _address(object_id, "subscriberIp")
        else:
            for member in stored.get("subscriberMembers", []):
                _address(member, "subscriberMembers")
            for prefix in stored.get("subscriberRanges", []):
                try:
                    ipaddress.ip_network(prefix, strict=False)
                except (TypeError, ValueError):
                    raise _BadRequest(f"subscriberRanges: {prefix!r} is not a network") from None
        policy = stored.get("policyRate")
        if collection != POLICIES and policy:
            if not isinstance(policy, str):
                raise _BadRequest("policyRate must be a string")
            if self.check_references and policy not in self.policies:
                raise _BadRequest(f"policy {policy} does not exist")
        return stored

    def _views(self, collection: str) -> list[dict[str, Any]]:
        memberships = self._memberships() if collection == SUBSCRIBERS else None
        return [self._view(collection, key, memberships) for key in self._store(collection)]

    def _view(
        self,
        collection: str,
        object_id: str,
        memberships: dict[str, list[str]] | None = None,
    ) -> dict[str, Any]:
        """An object as GET shows it: what was written plus the fields the BQN adds."""
        shown = copy.deepcopy(self._store(collection)[object_id])
        if collection == POLICIES:
            for direction in ("rateLimitDownlink", "rateLimitUplink"):
                if isinstance(shown.get(direction), dict):
                    shown[direction] = {**self.rate_extras, **shown[direction]}
        elif collection == SUBSCRIBERS:
            if shown.get("policyRate"):
                shown["policyAssignedBy"] = "api"
            else:
                shown["policyAssignedBy"] = "rules"
                shown["policyRate"] = self.rules_policy
            if memberships is None:
                memberships = self._memberships()
            shown["subscriberGroups"] = [ALL_SUBSCRIBERS, *memberships.get(object_id, [])]
        else:
            is_all = object_id == ALL_SUBSCRIBERS
            shown["subscriberGroupType"] = ALL_SUBSCRIBERS if is_all else "generic"
            if not is_all:
                shown.setdefault("subscriberMembers", [])
                shown.setdefault("subscriberRanges", [])
        return shown

    def _memberships(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for name, group in self.groups.items():
            for member in group.get("subscriberMembers", []):
                found.setdefault(member, []).append(name)
        return found


def _route(segments: list[str]) -> tuple[str | None, str | None]:
    """(collection, id or None) of a path, or (None, None) if it names none."""
    for collection in COLLECTIONS:
        parts = collection.split("/")
        if segments[: len(parts)] == parts:
            rest = segments[len(parts) :]
            if not rest:
                return collection, None
            if len(rest) == 1 and rest[0]:
                return collection, rest[0]
    return None, None


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _address(value: Any, field: str) -> None:
    try:
        ipaddress.ip_address(value)
    except (TypeError, ValueError):
        raise _BadRequest(f"{field}: {value!r} is not an IP address") from None


def _message(status: int, message: str) -> Response:
    return json_response(status, {"message": message})
