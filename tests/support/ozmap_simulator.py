"""A simulator of the OZmap API v2, served over real HTTP on 127.0.0.1, for the tests of the
OZmap client and of the OZmap <-> IXC syncs.

Typical use::

    with OzmapSimulator() as ozmap:                    # a free port, stopped on exit
        project = ozmap.add("projects", name="Centro")
        box = ozmap.add("boxes", name="CTO-01", project=project["id"], coords=[-49.2, -25.4])
        ozmap.add_splitter(box["id"], outputs=8, isDrop=True)
        client = OzmapClient(ozmap.url, ozmap.key)
        [*client.boxes_changed_since(None)]

It behaves as vendors.md 4.3 describes:

- objects of every model under ``/api/v2/<model>`` (:data:`MODELS`), with ObjectId-like ids
  (24 hex digits, in creation order), ``createdAt`` and ``updatedAt`` set on each write
  (ISO 8601 in UTC with milliseconds; :attr:`OzmapSimulator.frozen_time` makes every write
  share one instant, for cursor ties);
- lists: the filter from the query string (``filter=<JSON>``) or the GET body
  (``{"filter": [...]}``), every operator but ``near`` and ``point-intersect`` (which answer
  400), dotted properties (``client.code``), a nested list as an OR group; ``sort`` likewise;
  ``page`` (from 1) and ``limit`` (``default_limit``, capped at ``max_limit``); the answer
  ``{"total", "count", "start", "limit", "rows", "hasNextPage", "nextUrl"}``, its
  ``nextUrl`` a path with the query of the next page. Objects that tie on every sort key
  come in id order, or, with ``unstable_ties``, in an order that changes on every request
  (as a database gives them without a unique sort key);
- ``GET /<model>/<id>`` (404 when absent or deleted), ``POST /<model>`` (the object),
  ``PATCH /<model>/<id>`` (204; the object's own ``external_id`` sent again is 400, as the
  SDK warns), ``DELETE /<model>/<id>`` (204, then 404);
- ``POST /<model>/batch-update {"filter", "update"}`` (204) for ftth-clients (``status``,
  ``implanted``, ``certified``) and properties (``potencyRead``); other fields are 400;
- properties: created on a ``box`` with a ``port`` (1-based) and ``auto_connect``, on the
  splitter ``connector`` names or else the box's first drop splitter; an occupied or
  blocked port is 400 unless ``force`` (which takes the port from the property holding it).
  The connection fills the splitter's ``connectables.output`` with a new drop's id and the
  property's ``drop`` and ``connections``; PATCH with ``port``/``connector``/``box`` moves it,
  ``connector: null`` disconnects it, DELETE frees it. ``client`` is a new client's fields
  (``code`` unique) or a client id, and is shown populated;
  ``GET /properties/client/<code>`` lists the properties of a client, client embedded;
- ``Authorization: <key>`` (raw; a ``Bearer`` prefix is refused), 401 ``{"message"}``
  otherwise. ``POST /users/login?type=API {login, password}`` answers a new key;
  ``GET /authenticated`` checks one. :meth:`expire_keys` invalidates every key, so the next
  request is 401 until the client logs in again.

Knobs (from :class:`~tests.support.http_simulator.HttpSimulator`): :meth:`fail` with a
predicate (``"status:503"``, ``"hang"`` for a slow answer, ``"drop"`` for a reset...),
``latency``; here :meth:`expire_keys`, ``frozen_time``, ``unstable_ties``, ``max_limit``.
Counters: :meth:`count` by operation (``"<METHOD> <route>"``: ``"GET boxes"`` for a listing,
``"GET boxes/:id"``, ``"PATCH ftth-clients/:id"``, ``"POST properties/batch-update"``,
``"GET properties/client/:code"``, ``"POST users/login"``), :meth:`writes`, ``calls``.
:func:`generate_plant` fills it with a plant of any size.

The error bodies, the 204 of DELETE, the ``type=API`` login answer's key format, the 1-based
ports, the drop made by a connection and the shape of ``within`` are our assumptions
(vendors.md marks them [I]).
"""

from __future__ import annotations

import copy
import datetime
import itertools
import json
import random
import re
import secrets
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlencode

from tests.support.http_simulator import HttpSimulator, Request, Response, json_response

API_PATH = "/api/v2"
KEY = "eyJhbGciOiJIUzI1NiJ9.c2ltdWxhdGVkLW96bWFw.k3Y-Sim-4f1d9b0e"
USER = "integracao"
PASSWORD = "Oz-Map-Pw-5521"

MODELS = (
    "projects", "boxes", "buildings", "horizontal-condominiums", "splitters", "olts",
    "ftth-clients", "properties", "drops", "network-connectors", "network-connectables",
    "fibers", "regions", "pops", "base-boxes",
)

BATCH_FIELDS = {
    "ftth-clients": frozenset({"status", "implanted", "certified"}),
    "properties": frozenset({"potencyRead"}),
}
"""What ``batch-update`` may set, per model (vendors.md 4.1)."""

POPULATED = {"project": "projects", "box": "boxes", "client": "ftth-clients", "parent": None}
"""Fields ``populate`` may replace by the object they name (``parent``: a box or building)."""

_ISO = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_MISSING = object()


class _Refused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class OzmapSimulator(HttpSimulator):
    """The simulated OZmap tenant. ``key`` is a valid API key; ``user``/``password`` may log
    in for another. ``default_limit`` rows per page when the client names none, never more
    than ``max_limit``."""

    api_path = API_PATH

    def __init__(
        self,
        *,
        key: str = KEY,
        user: str = USER,
        password: str = PASSWORD,
        default_limit: int = 100,
        max_limit: int = 1000,
        timeout_sleep: float = 10.0,
        keep_calls: bool = True,
        tls: bool = False,
    ) -> None:
        super().__init__(timeout_sleep=timeout_sleep, keep_calls=keep_calls, tls=tls)
        self.key = key
        self.user = user
        self.password = password
        self.default_limit = default_limit
        self.max_limit = max_limit
        self.frozen_time: str | None = None
        self.unstable_ties = False
        self.valid_keys = {key}
        self.store: dict[str, dict[str, dict[str, Any]]] = {model: {} for model in MODELS}
        self._ids = itertools.count(1)
        self._random = random.Random(19)
        self._last_time = ""
        self._indexes: _Indexes | None = None

    @property
    def url(self) -> str:
        """The tenant's address, as an operator configures it (without the API path)."""
        return self.root_url

    # test hooks

    def add(self, model: str, **fields: Any) -> dict[str, Any]:
        """Store an object as if made in OZmap's UI (no call counted); returns a copy."""
        with self._lock:
            return copy.deepcopy(self._create(model, fields))

    def add_splitter(
        self, parent: str, *, outputs: int = 8, name: str = "", **fields: Any
    ) -> dict[str, Any]:
        """A splitter with ``outputs`` free ports inside box or building ``parent``."""
        with self._lock:
            container = self._find_parent(parent)
            body = {
                "name": name or f"SPL-{len(self.store['splitters']) + 1}",
                "kind": "Splitter",
                "parent": parent,
                "project": container.get("project"),
                "splitterType": f"1x{outputs}",
                "isDrop": True,
                "implanted": True,
                "connectables": {"input": [None], "output": [None] * outputs},
                "ports": [{"index": index, "blocked": False} for index in range(1, outputs + 1)],
                **fields,
            }
            return copy.deepcopy(self._create("splitters", body))

    def touch(self, model: str, object_id: str, at: str | None = None) -> None:
        """Mark an object changed now (or at ``at``), as an edit in the UI would."""
        with self._lock:
            self.store[model][object_id]["updatedAt"] = at or self._now()

    def remove(self, model: str, object_id: str) -> None:
        """Delete an object as the UI would (no call counted)."""
        with self._lock:
            self._delete(model, object_id)

    def expire_keys(self) -> None:
        """Every key stops working: the next request is 401 until a login makes a new one."""
        with self._lock:
            self.valid_keys.clear()

    def object(self, model: str, object_id: str) -> dict[str, Any] | None:
        """An object as stored (a copy), or None."""
        with self._lock:
            found = self.store[model].get(object_id)
            return copy.deepcopy(found) if found is not None else None

    def verb(self, method: str) -> int:
        with self._lock:
            return sum(n for op, n in self.counts.items() if op.split(" ")[0] == method)

    def writes(self) -> int:
        """POST (but logins), PATCH and DELETE calls received."""
        with self._lock:
            posts = self.verb("POST") - self.counts["POST users/login"]
        return posts + self.verb("PATCH") + self.verb("DELETE")

    # the service

    def classify(self, request: Request) -> str:
        segments = request.segments
        if len(segments) >= 2 and segments[0] == "properties" and segments[1] == "client":
            return f"{request.method} properties/client/:code"
        if len(segments) == 2 and segments[1] == "batch-update":
            return f"{request.method} {segments[0]}/batch-update"
        if len(segments) == 2 and segments[0] in MODELS:
            return f"{request.method} {segments[0]}/:id"
        return f"{request.method} {'/'.join(segments)}"

    def authorized(self, request: Request) -> bool:
        if request.segments == ["users", "login"]:
            return True
        return request.headers.get("Authorization", "") in self.valid_keys

    def unauthorized(self) -> Response:
        return _message(401, "Unauthorized")

    def handle(self, request: Request) -> Response:
        try:
            return self._handle(request)
        except _Refused as refused:
            return _message(refused.status, refused.message)

    def _handle(self, request: Request) -> Response:
        segments, method = request.segments, request.method
        if segments == ["users", "login"] and method == "POST":
            return self._login(request)
        if segments == ["authenticated"] and method == "GET":
            return json_response(200, {"authenticated": True})
        model = segments[0]
        if model not in MODELS:
            raise _Refused(404, f"no route /{'/'.join(segments)}")
        if len(segments) == 3 and model == "properties" and segments[1] == "client":
            if method != "GET":
                raise _Refused(405, "method not allowed")
            return json_response(200, self._properties_of_client(segments[2]))
        if len(segments) == 1:
            if method == "GET":
                return json_response(200, self._list(model, request))
            if method == "POST":
                body = _body(request)
                created = self._create(model, body, validate=True)
                return json_response(201, self._view(model, created["id"], ""))
            raise _Refused(405, "method not allowed on a collection")
        if len(segments) != 2:
            raise _Refused(404, f"no route /{'/'.join(segments)}")
        if segments[1] == "batch-update":
            if method != "POST":
                raise _Refused(405, "method not allowed")
            self._batch_update(model, _body(request))
            return Response(204)
        object_id = segments[1]
        if object_id not in self.store[model]:
            raise _Refused(404, f"{model} {object_id} not found")
        if method == "GET":
            query = _query(request)
            return json_response(200, self._view(model, object_id, query.get("populate", "")))
        if method == "PATCH":
            self._patch(model, object_id, _body(request))
            return Response(204)
        if method == "DELETE":
            self._delete(model, object_id)
            return Response(204)
        raise _Refused(405, f"method {method} not allowed")

    def _login(self, request: Request) -> Response:
        body = _body(request)
        if _query(request).get("type") != "API":
            raise _Refused(400, "login needs type=API")
        if body.get("login") != self.user or body.get("password") != self.password:
            return _message(401, "invalid login or password")
        key = f"eyJhbGciOiJIUzI1NiJ9.{secrets.token_urlsafe(18)}.{secrets.token_urlsafe(8)}"
        self.valid_keys.add(key)
        return json_response(200, {"authorization": key})

    # listing

    def _list(self, model: str, request: Request) -> dict[str, Any]:
        query = _query(request)
        body = request.json() if request.body else {}
        if not isinstance(body, dict):
            raise _Refused(400, "the body of a listing must be an object")
        filters = _json_param(query.get("filter"), body.get("filter"), "filter")
        sort = _json_param(query.get("sort"), body.get("sort"), "sort")
        try:
            page = int(query.get("page", "1"))
            limit = min(int(query.get("limit", str(self.default_limit))), self.max_limit)
        except ValueError:
            raise _Refused(400, "page and limit must be numbers") from None
        if page < 1 or limit < 1:
            raise _Refused(400, "page and limit must be positive")
        populate = query.get("populate", "")
        rows: list[dict[str, Any]] = list(self.store[model].values())
        populated = set(POPULATED) if model == "properties" or populate else set()
        if any(path.split(".")[0] in populated and "." in path for path in _paths(filters, sort)):
            rows = [self._view(model, row["id"], populate) for row in rows]  # client.code
        rows = self._sorted([row for row in rows if _matches(row, filters)], sort)
        start = (page - 1) * limit
        shown = rows[start : start + limit]
        has_next = start + limit < len(rows)
        next_url = None
        if has_next:
            next_query = {"page": str(page + 1), "limit": str(limit)}
            for name in ("filter", "sort"):
                value = filters if name == "filter" else sort
                if value:
                    next_query[name] = json.dumps(value)
            for name in ("select", "populate"):
                if query.get(name):
                    next_query[name] = query[name]
            next_url = f"{API_PATH}/{model}?{urlencode(next_query)}"
        return {
            "total": len(rows),
            "count": len(shown),
            "start": start,
            "limit": limit,
            "rows": [self._view(model, row["id"], populate) for row in shown],
            "hasNextPage": has_next,
            "nextUrl": next_url,
        }

    def _sorted(self, rows: list[dict[str, Any]], sort: Any) -> list[dict[str, Any]]:
        if not isinstance(sort, list):
            raise _Refused(400, "sort must be a list")
        ordered = sorted(rows, key=lambda row: row["id"])
        if self.unstable_ties and sort:
            self._random.shuffle(ordered)
        for item in reversed(sort):
            if not isinstance(item, dict) or item.get("direction") not in (1, -1):
                raise _Refused(400, f"bad sort {item!r}")
            prop = str(item.get("property", ""))
            ordered.sort(key=lambda row: _sort_key(_get(row, prop)), reverse=item["direction"] < 0)
        return ordered

    # writing

    def _now(self) -> str:
        if self.frozen_time is not None:
            return self.frozen_time
        now = datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")
        now = now.replace("+00:00", "Z")
        self._last_time = max(now, self._last_time)  # the clock never goes back
        return self._last_time

    def _new_id(self) -> str:
        seconds = int(datetime.datetime.now(datetime.UTC).timestamp())
        return f"{seconds:08x}{0x5EED00:06x}{next(self._ids):010x}"

    def _create(self, model: str, body: Any, *, validate: bool = False) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _Refused(400, "the body must be a JSON object")
        if "id" in body:
            raise _Refused(400, "id is given by OZmap")
        fields = copy.deepcopy(body)
        if validate:
            self._validate(model, fields)
        now = self._now()
        stored = {"id": self._new_id(), **fields, "createdAt": now, "updatedAt": now}
        if model == "properties":
            return self._create_property(stored)
        self.store[model][stored["id"]] = stored
        self._note(model, stored)
        return stored

    def _validate(self, model: str, fields: dict[str, Any]) -> None:
        def need(*names: str) -> None:
            for name in names:
                if fields.get(name) in (None, ""):
                    raise _Refused(400, f"{model}: {name} is required")

        def exists(target: str, name: str) -> None:
            if fields.get(name) and fields[name] not in self.store[target]:
                raise _Refused(400, f"{model}: {name} {fields[name]} does not exist")

        if model == "projects":
            need("name")
        elif model in ("boxes", "buildings", "horizontal-condominiums"):
            need("name", "project")
            exists("projects", "project")
        elif model == "splitters":
            need("name", "parent")
            self._find_parent(fields["parent"])
        elif model == "ftth-clients":
            need("code")
            self._check_code(fields["code"])
        elif model == "properties":
            need("project")
            exists("projects", "project")
            exists("boxes", "box")

    def _check_code(self, code: Any, but: str = "") -> None:
        if any(client != but for client in self._clients_with_code(code)):
            raise _Refused(400, f"a client with code {code} already exists")

    def _find_parent(self, parent: str) -> dict[str, Any]:
        for model in ("boxes", "buildings", "base-boxes"):
            if parent in self.store[model]:
                return self.store[model][parent]
        raise _Refused(400, f"parent {parent} is not a box or a building")

    def _patch(self, model: str, object_id: str, body: Any) -> None:
        if not isinstance(body, dict):
            raise _Refused(400, "the body must be a JSON object")
        stored = self.store[model][object_id]
        if "id" in body:
            raise _Refused(400, "id cannot be changed")
        if "external_id" in body and body["external_id"] == stored.get("external_id"):
            raise _Refused(400, f"external_id {body['external_id']} is already in use")
        changes = copy.deepcopy(body)
        if model == "ftth-clients" and "code" in changes:
            self._check_code(changes["code"], but=object_id)
        if model == "properties":
            self._patch_property(stored, changes)
        else:
            stored.update(changes)
        stored["updatedAt"] = self._now()
        self._note(model, stored)

    def _delete(self, model: str, object_id: str) -> None:
        stored = self.store[model].pop(object_id)
        if model == "properties":
            self._disconnect(stored)
        elif model == "ftth-clients":
            for prop_id in self._index().properties_of[object_id]:
                prop = self.store["properties"].get(prop_id)
                if prop is not None and prop.get("client") == object_id:
                    prop["client"] = None
                    prop["updatedAt"] = self._now()

    def _batch_update(self, model: str, body: Any) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("update"), dict):
            raise _Refused(400, "batch-update needs {filter, update}")
        filters = body.get("filter")
        if not isinstance(filters, list) or not filters:
            raise _Refused(400, "batch-update needs a filter")
        allowed = BATCH_FIELDS.get(model, frozenset())
        extra = set(body["update"]) - allowed
        if extra:
            raise _Refused(400, f"batch-update of {model} cannot set {sorted(extra)}")
        now = self._now()
        for row in self.store[model].values():
            if _matches(row, filters):
                row.update(copy.deepcopy(body["update"]))
                row["updatedAt"] = now

    # properties and ports

    def _create_property(self, stored: dict[str, Any]) -> dict[str, Any]:
        stored["kind"] = "Property"
        stored.setdefault("connections", [])
        stored.setdefault("drop", None)
        client = stored.get("client")
        connect = {
            name: stored.pop(name)
            for name in ("port", "connector", "auto_connect", "force")
            if name in stored
        }
        if isinstance(client, dict):
            self._check_code(client.get("code"))
            if not client.get("code"):
                raise _Refused(400, "properties: client.code is required")
        if connect.get("port") is not None or connect.get("connector"):
            self._connect(stored, connect)  # may refuse: nothing is stored before this
        if isinstance(client, dict):
            now = stored["createdAt"]
            body = {"status": 0, "implanted": False, "certified": False, **client}
            made = {"id": self._new_id(), **body, "createdAt": now, "updatedAt": now}
            self.store["ftth-clients"][made["id"]] = made
            self._note("ftth-clients", made)
            stored["client"] = made["id"]
        elif client is not None and client not in self.store["ftth-clients"]:
            self._disconnect(stored)
            raise _Refused(400, f"properties: client {client} does not exist")
        self.store["properties"][stored["id"]] = stored
        self._note("properties", stored)
        return stored

    def _patch_property(self, stored: dict[str, Any], changes: dict[str, Any]) -> None:
        connect = {
            name: changes.pop(name)
            for name in ("port", "connector", "auto_connect", "force")
            if name in changes
        }
        if "client" in changes and isinstance(changes["client"], dict):
            self._check_code(changes["client"].get("code"))
            now = self._now()
            made = {"id": self._new_id(), **changes["client"], "createdAt": now, "updatedAt": now}
            self.store["ftth-clients"][made["id"]] = made
            self._note("ftth-clients", made)
            changes["client"] = made["id"]
        moved = "box" in changes and changes["box"] != stored.get("box")
        if "box" in changes and changes["box"] and changes["box"] not in self.store["boxes"]:
            raise _Refused(400, f"properties: box {changes['box']} does not exist")
        if "connector" in connect and connect["connector"] is None:
            self._disconnect(stored)
        elif (
            connect.get("port") is not None
            or connect.get("connector")
            or (moved and stored["connections"])
        ):
            previous = copy.deepcopy(stored)
            target = {**stored, **changes}
            port = connect.get("port")
            if port is None and stored["connections"]:
                port = stored["connections"][0]["port"]
            self._disconnect(stored)
            try:
                self._connect(target, {**connect, "port": port})
            except _Refused:
                stored.clear()
                stored.update(previous)
                self._reconnect(stored)
                raise
            stored.update(target)
            return
        stored.update(changes)

    def _connect(self, prop: dict[str, Any], connect: dict[str, Any]) -> None:
        """Connect ``prop`` to a splitter port: the ``connector`` named, else the first drop
        splitter of its box. Refuses an occupied or blocked port unless ``force``."""
        splitter = self._splitter_for(prop, connect.get("connector"))
        port = connect.get("port")
        outputs = splitter["connectables"]["output"]
        if port is None:
            raise _Refused(400, "properties: a port is needed to connect")
        if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= len(outputs):
            raise _Refused(400, f"splitter {splitter['name']} has no port {port}")
        if any(p.get("index") == port and p.get("blocked") for p in splitter.get("ports", [])):
            raise _Refused(400, f"port {port} of splitter {splitter['name']} is blocked")
        holder = outputs[port - 1]
        if holder is not None:
            if not connect.get("force"):
                raise _Refused(400, f"port {port} of splitter {splitter['name']} is occupied")
            for other in self.store["properties"].values():
                if other.get("drop") == holder:
                    self._disconnect(other)
                    other["updatedAt"] = self._now()
        drop = {"id": self._new_id(), "kind": "Drop", "createdAt": self._now()}
        drop["updatedAt"] = drop["createdAt"]
        self.store["drops"][drop["id"]] = drop
        outputs[port - 1] = drop["id"]
        splitter["updatedAt"] = self._now()
        prop["drop"] = drop["id"]
        prop["connections"] = [
            {
                "id": splitter["id"],
                "name": splitter["name"],
                "kind": "Splitter",
                "port": port,
                "implanted": True,
                "fiber": drop["id"],
            }
        ]
        if not prop.get("box") and splitter.get("parent") in self.store["boxes"]:
            prop["box"] = splitter["parent"]

    def _reconnect(self, prop: dict[str, Any]) -> None:
        for connection in prop.get("connections", []):
            splitter = self.store["splitters"].get(connection["id"])
            if splitter is not None:
                splitter["connectables"]["output"][connection["port"] - 1] = prop["drop"]
                self.store["drops"][prop["drop"]] = {"id": prop["drop"], "kind": "Drop"}

    def _splitter_for(self, prop: dict[str, Any], connector: Any) -> dict[str, Any]:
        if connector:
            splitter = self.store["splitters"].get(connector)
            if splitter is None:
                raise _Refused(400, f"connector {connector} is not a splitter")
            return splitter
        box = prop.get("box")
        for splitter_id in sorted(self._index().splitters_in[box]):
            splitter = self.store["splitters"].get(splitter_id)
            if splitter is not None and splitter.get("parent") == box and splitter.get("isDrop"):
                return splitter
        raise _Refused(400, f"box {box} has no drop splitter to connect to")

    def _disconnect(self, prop: dict[str, Any]) -> None:
        drop = prop.get("drop")
        for connection in prop.get("connections", []):
            splitter = self.store["splitters"].get(connection["id"])
            if splitter is not None:
                outputs = splitter["connectables"]["output"]
                index = connection["port"] - 1
                if 0 <= index < len(outputs) and outputs[index] == drop:
                    outputs[index] = None
                    splitter["updatedAt"] = self._now()
        if drop:
            self.store["drops"].pop(drop, None)
        prop["drop"] = None
        prop["connections"] = []

    def _properties_of_client(self, code: str) -> list[dict[str, Any]]:
        properties = self.store["properties"]
        found = {
            prop
            for client in self._clients_with_code(code)
            for prop in self._index().properties_of[client]
            if prop in properties and properties[prop].get("client") == client
        }
        return [self._view("properties", prop, "") for prop in sorted(found)]

    # indexes: what is looked up by a field (clients by code, a client's properties, a box's
    # splitters), so that a plant of 50,000 clients is not scanned at every call. Built from
    # the store when first needed (generate_plant fills the store directly and drops them),
    # then noted at every write; each lookup checks the store, so an entry a delete or a
    # change left behind is harmless.

    def _index(self) -> _Indexes:
        if self._indexes is None:
            self._indexes = _Indexes()
            for model in ("ftth-clients", "properties", "splitters"):
                for stored in self.store[model].values():
                    self._indexes.note(model, stored)
        return self._indexes

    def _note(self, model: str, stored: dict[str, Any]) -> None:
        if self._indexes is not None:
            self._indexes.note(model, stored)

    def _clients_with_code(self, code: Any) -> list[str]:
        clients = self.store["ftth-clients"]
        return [
            client
            for client in self._index().clients_by_code.get(code, ())
            if client in clients and clients[client].get("code") == code
        ]

    # views

    def _view(self, model: str, object_id: str, populate: str) -> dict[str, Any]:
        shown = copy.deepcopy(self.store[model][object_id])
        fields = {name.strip() for name in populate.split(",") if name.strip()}
        if model == "properties":
            fields.add("client")  # a property always shows its client
        for name in fields & set(POPULATED):
            value = shown.get(name)
            if not isinstance(value, str):
                continue
            targets = [POPULATED[name]] if POPULATED[name] else ["boxes", "buildings"]
            for target in targets:
                if value in self.store[target]:  # type: ignore[index]
                    shown[name] = copy.deepcopy(self.store[target][value])  # type: ignore[index]
        return shown


class _Indexes:
    def __init__(self) -> None:
        self.clients_by_code: dict[Any, set[str]] = {}
        self.properties_of: defaultdict[Any, set[str]] = defaultdict(set)
        self.splitters_in: defaultdict[Any, set[str]] = defaultdict(set)

    def note(self, model: str, stored: dict[str, Any]) -> None:
        if model == "ftth-clients" and isinstance(stored.get("code"), str):
            self.clients_by_code.setdefault(stored["code"], set()).add(stored["id"])
        elif model == "properties" and isinstance(stored.get("client"), str):
            self.properties_of[stored["client"]].add(stored["id"])
        elif model == "splitters" and isinstance(stored.get("parent"), str):
            self.splitters_in[stored["parent"]].add(stored["id"])


def _paths(*items: Any) -> Iterator[str]:
    """The properties a filter or a sort names, OR groups included."""
    for item in items:
        if isinstance(item, list):
            yield from _paths(*item)
        elif isinstance(item, dict) and "property" in item:
            yield str(item["property"])


def _query(request: Request) -> dict[str, str]:
    return {name: values[-1] for name, values in parse_qs(request.query).items()}


def _body(request: Request) -> Any:
    try:
        return request.json()
    except ValueError:
        raise _Refused(400, "the body is not JSON") from None


def _json_param(from_query: str | None, from_body: Any, name: str) -> Any:
    if from_query is not None:
        try:
            return json.loads(from_query)
        except ValueError:
            raise _Refused(400, f"{name} is not JSON") from None
    return from_body if from_body is not None else []


def _get(row: Any, prop: str) -> Any:
    value = row
    for part in prop.split("."):
        if isinstance(value, dict) and part in value:
            value = value[part]
        else:
            return _MISSING
    return value


def _comparable(value: Any) -> Any:
    if isinstance(value, str) and _ISO.fullmatch(value):
        return datetime.datetime.fromisoformat(value)
    return value


def _sort_key(value: Any) -> tuple[int, Any]:
    if value is _MISSING or value is None:
        return (0, "")
    value = _comparable(value)
    if isinstance(value, bool):
        return (1, int(value))
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, datetime.datetime):
        return (2, value)
    return (3, str(value))


def _matches(row: dict[str, Any], filters: Any) -> bool:
    if not isinstance(filters, list):
        raise _Refused(400, "filter must be a list")
    return all(_holds(row, item) for item in filters)


def _holds(row: dict[str, Any], item: Any) -> bool:
    if isinstance(item, list):  # an OR group
        return any(_holds(row, inner) for inner in item)
    if not isinstance(item, dict) or "property" not in item or "operator" not in item:
        raise _Refused(400, f"bad filter {item!r}")
    value = _get(row, str(item["property"]))
    if isinstance(value, dict) and "id" in value:
        value = value["id"]
    wanted = item.get("value")
    operator = item["operator"]
    test = _OPERATORS.get(operator)
    if test is None:
        raise _Refused(400, f"operator {operator!r} is not supported")
    return test(value, wanted)


def _compare(check: Callable[[Any, Any], bool]) -> Callable[[Any, Any], bool]:
    def test(value: Any, wanted: Any) -> bool:
        if value is _MISSING or value is None:
            return False
        left, right = _comparable(value), _comparable(wanted)
        try:
            return check(left, right)
        except TypeError:
            return False

    return test


def _like(value: Any, wanted: Any) -> bool:
    if not isinstance(value, str):
        return False
    return re.search(str(wanted), value, re.IGNORECASE) is not None


def _within(value: Any, polygon: Any) -> bool:
    """Whether a point ``[lng, lat]`` is inside a polygon ``[[lng, lat], ...]``."""
    if not isinstance(value, list) or len(value) != 2 or not isinstance(polygon, list):
        return False
    x, y = value
    inside = False
    for (x1, y1), (x2, y2) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def _unsupported(operator: str) -> Callable[[Any, Any], bool]:
    def test(value: Any, wanted: Any) -> bool:
        raise _Refused(400, f"the simulator does not implement {operator!r}")

    return test


_OPERATORS: dict[str, Callable[[Any, Any], bool]] = {
    "=": lambda value, wanted: value is not _MISSING and _comparable(value) == _comparable(wanted),
    "!=": lambda value, wanted: value is _MISSING or _comparable(value) != _comparable(wanted),
    "<": _compare(lambda a, b: a < b),
    "<=": _compare(lambda a, b: a <= b),
    ">": _compare(lambda a, b: a > b),
    ">=": _compare(lambda a, b: a >= b),
    "in": lambda value, wanted: isinstance(wanted, list) and value in wanted,
    "notin": lambda value, wanted: isinstance(wanted, list) and value not in wanted,
    "like": _like,
    "exists": lambda value, wanted: (value is not _MISSING and value is not None) == bool(wanted),
    "all": lambda value, wanted: (
        isinstance(value, list) and isinstance(wanted, list) and all(w in value for w in wanted)
    ),
    "within": _within,
    "near": _unsupported("near"),
    "point-intersect": _unsupported("point-intersect"),
}


def _message(status: int, message: str) -> Response:
    return json_response(status, {"message": message})


def generate_plant(
    ozmap: OzmapSimulator,
    *,
    boxes: int,
    splitters_per_box: int = 3,
    outputs: int = 8,
    projects: int = 4,
    olts: int = 0,
    clients: int = 0,
    seed: int = 19,
) -> list[str]:
    """Fill the simulator with a plant: ``projects`` projects (``Projeto <n>``), ``boxes``
    boxes spread over them with coordinates, and ``splitters_per_box`` splitters in each (the
    first of a box its drop splitter). With ``olts``, that many OLTs (IP ``10.255.<n>``...,
    as :func:`tests.support.ixc_simulator.populate_fiber` names IXC's transmitters) feed the
    drop splitters in turn; with ``clients``, that many properties with an FTTH client of
    code ``cliente<n>`` (the IXC logins ``populate_fiber`` makes) fill the drop splitters'
    ports box after box. Built straight into the store: 20,000 boxes, 60,000 splitters and
    50,000 clients take a few seconds. Returns the box ids, in creation order."""
    rng = random.Random(seed)
    project_ids = [ozmap.add("projects", name=f"Projeto {n + 1}")["id"] for n in range(projects)]
    olt_ids = [ozmap.add("olts", name=f"OLT {n + 1}", ip=olt_ip(n))["id"] for n in range(olts)]
    box_ids: list[str] = []
    drops: list[dict[str, Any]] = []
    with ozmap._lock:
        # each object its own change time, 1 ms apart and in the past, as a real plant has
        start = datetime.datetime.now(datetime.UTC) - datetime.timedelta(
            milliseconds=2 * (boxes * (splitters_per_box + 2) + clients) + 10
        )
        clock = itertools.count()

        def now_() -> str:
            if ozmap.frozen_time is not None:  # a test asking for ties at one instant
                return ozmap.frozen_time
            at = start + datetime.timedelta(milliseconds=next(clock))
            return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")

        store = ozmap.store
        for number in range(boxes):
            box_id = ozmap._new_id()
            box = {
                "id": box_id,
                "name": f"CTO-{number + 1:05d}",
                "kind": "Box",
                "project": project_ids[number % projects],
                "coords": [
                    round(-49.3 + rng.random() / 10, 6),
                    round(-25.5 + rng.random() / 10, 6),
                ],
                "implanted": True,
                "draft": False,
                "createdAt": now_(),
                "updatedAt": now_(),
            }
            store["boxes"][box_id] = box
            box_ids.append(box_id)
            for index in range(splitters_per_box):
                splitter_id = ozmap._new_id()
                feed = olt_ids[number % len(olt_ids)] if olt_ids and index == 0 else None
                splitter = {
                    "id": splitter_id,
                    "name": f"SPL-{number + 1:05d}-{index + 1}",
                    "kind": "Splitter",
                    "parent": box_id,
                    "project": box["project"],
                    "splitterType": f"1x{outputs}",
                    "isDrop": index == 0,
                    "implanted": True,
                    "connectables": {"input": [feed], "output": [None] * outputs},
                    "ports": [{"index": i, "blocked": False} for i in range(1, outputs + 1)],
                    "createdAt": now_(),
                    "updatedAt": now_(),
                }
                store["splitters"][splitter_id] = splitter
                if index == 0:
                    drops.append(splitter)
        for number in range(min(clients, len(drops) * outputs)):
            splitter = drops[number // outputs]
            port = number % outputs + 1
            box = store["boxes"][splitter["parent"]]
            client_id, property_id, drop_id = ozmap._new_id(), ozmap._new_id(), ozmap._new_id()
            code = f"cliente{number + 1}"
            store["ftth-clients"][client_id] = {
                "id": client_id, "code": code, "name": f"Cliente {number + 1}", "status": 0,
                "implanted": True, "certified": False, "createdAt": now_(), "updatedAt": now_(),
            }
            store["drops"][drop_id] = {"id": drop_id, "kind": "Drop", "createdAt": now_(),
                                       "updatedAt": now_()}
            splitter["connectables"]["output"][port - 1] = drop_id
            store["properties"][property_id] = {
                "id": property_id,
                "kind": "Property",
                "project": box["project"],
                "box": box["id"],
                "coords": [box["coords"][0] + 0.0001 * port, box["coords"][1]],
                "address": "",
                "client": client_id,
                "drop": drop_id,
                "connections": [
                    {
                        "id": splitter["id"],
                        "name": splitter["name"],
                        "kind": "Splitter",
                        "port": port,
                        "implanted": True,
                        "fiber": drop_id,
                    }
                ],
                "createdAt": now_(),
                "updatedAt": now_(),
            }
        ozmap._indexes = None  # built again from the store at the next lookup
    return box_ids


def olt_ip(number: int) -> str:
    """The IP of the generated OLT ``number`` (from 0)."""
    return f"10.255.{number // 250}.{number % 250 + 1}"
