"""Client for the OZmap API v2, where ISPs document their fiber plant (projects, boxes,
splitters, condominiums, OLTs) and the clients on it (properties and their FTTH clients).

The API is ``<tenant>/api/v2`` (hosted tenants answer on ``https://<name>.ozmap.com.br:9994``),
one route per kind of object:

- ``GET /<model>`` lists, a page at a time: the filter (``[{"property", "operator",
  "value"}]``, a nested list being an OR group), the sort (``[{"property", "direction"}]``),
  ``page``, ``limit``, ``select`` and ``populate`` all go in the query string (many HTTP
  stacks drop the body of a GET, where the vendor's SDK puts the filter). The answer is
  ``{"total", "count", "start", "limit", "rows", "hasNextPage", "nextUrl"}``;
  :meth:`OzmapClient.iterate` follows ``nextUrl`` until ``hasNextPage`` is false;
- ``GET /<model>/<id>`` shows one object, 404 when there is none: None here;
- ``POST /<model>`` creates and answers the object; ``PATCH /<model>/<id>`` changes the
  fields sent and answers 204; ``DELETE /<model>/<id>`` removes one;
- ``POST /<model>/batch-update {"filter", "update"}`` changes the fields of every match;
- ``GET /properties/client/<code>``: the properties of the FTTH client with that code.

Authentication is the API key, raw, in ``Authorization`` (no ``Bearer``). With a user and a
password configured the client logs in (``POST /users/login?type=API``) when it has no key,
and again, once, after a 401, as the vendor's SDK does.

Retries (bounded, with exponential backoff) after a timeout, a reset connection or a 5xx:
every request but a create, which is sent again only when the connection could not even be
opened (a second POST would make a second object). A DELETE whose retry finds the object
gone counts as done.

Errors are split the way a sync run needs them: :class:`OzmapTransientError` (no usable
answer after the retries; :class:`OzmapProtocolError` for a body that is not what the API
sends), :class:`OzmapRefused` (OZmap said no: a 4xx; :class:`OzmapAuthError` and
:class:`OzmapNotFound` are kinds of it) and :class:`OzmapError` itself when the request
cannot be sent (a TLS certificate that does not verify). The key and the password never reach
a log or an error message.

The error body (``{"message"}``), ``id`` as a filterable and sortable property, and the
1-based splitter ports are our assumptions (vendors.md 4 marks them [I]).
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import quote, urlencode, urljoin, urlsplit

import urllib3

from ngnserver.vendors import rest

API_PATH = "/api/v2"

OPERATORS = (
    "=", "like", "!=", "near", "all", "exists", "<", "<=", ">", ">=", "in", "notin", "within",
    "point-intersect",
)  # fmt: skip
"""The filter operators of the API."""

DEFAULT_PAGE_SIZE = 500
"""Rows per page: the integration helper's batch (the SDK's is 100)."""

BATCH_IDS = 500
"""Ids per ``in`` filter: a longer list is split into several requests."""

PROJECTS = "projects"
BOXES = "boxes"
BUILDINGS = "buildings"
HORIZONTAL_CONDOMINIUMS = "horizontal-condominiums"
SPLITTERS = "splitters"
OLTS = "olts"
PROPERTIES = "properties"
FTTH_CLIENTS = "ftth-clients"

CLIENT_OK = 0
CLIENT_ERROR = 1
"""The values of an FTTH client's ``status``: its ONU is online (0) or not (1)."""

_MODEL = re.compile(r"[a-z][a-z0-9-]*")
_NEVER_UPDATED = frozenset({"id", "external_id"})
# A PATCH naming the object's own external_id again is refused by OZmap ("sending the same
# external_id causes error", the SDK's comment), and the id is in the path.
_RETRIED_METHODS = ("GET", "PATCH", "DELETE", "POST")


class OzmapError(Exception):
    """Any failure talking to OZmap. Raised as such only when the request cannot be sent (a
    TLS certificate that does not verify), which no retry mends."""


class OzmapTransientError(OzmapError):
    """No usable answer after the bounded retries: a timeout, a reset connection, a 5xx, or a
    body that is not what the API sends. A later run may succeed; a create may have happened."""


class OzmapProtocolError(OzmapTransientError):
    """OZmap answered with something that is not one of its replies: not JSON, a listing
    without ``rows``, a ``nextUrl`` that leaves the API or goes round in a circle."""


class OzmapRefused(OzmapError):
    """OZmap answered with a 4xx: ``status``, and ``message`` from its body (a JSON
    ``message`` if there is one, else the text). Sending the same request again will not help:
    an occupied splitter port, a project that does not exist..."""

    def __init__(self, message: str, *, status: int, what: str = "") -> None:
        super().__init__(f"{what}: {message}" if what else message)
        self.message = message
        self.status = status


class OzmapAuthError(OzmapRefused):
    """OZmap refused the key (HTTP 401 or 403), after logging in again when credentials are
    configured, or refused the user and password of a login."""


class OzmapNotFound(OzmapRefused):
    """No object with that id (HTTP 404), on a write; a read answers None instead."""


@dataclass(frozen=True)
class Page:
    """One page of a listing: OZmap's count of every match (``total``), where this page
    starts (``start``, from 0), the page size it used, its rows, and where the next page is
    (``next_url``, a path under the API) when ``has_next_page``."""

    total: int
    start: int
    limit: int
    rows: list[dict[str, Any]]
    has_next_page: bool
    next_url: str | None


def where(prop: str, operator: str, value: Any) -> dict[str, Any]:
    """One filter condition: ``where("updatedAt", ">=", cursor)``."""
    if operator not in OPERATORS:
        raise ValueError(f"OZmap filter on {prop!r}: the operator must be one of {OPERATORS}")
    if not prop:
        raise ValueError("an OZmap filter condition needs a property")
    return {"property": prop, "operator": operator, "value": value}


Filter = Sequence[Mapping[str, Any] | Sequence[Mapping[str, Any]]]
"""Conditions that must all hold; a nested list is an OR group of conditions."""

Sort = Sequence[tuple[str, int]]
"""(property, 1 ascending or -1 descending), the first the most significant."""

BY_UPDATE: Sort = (("updatedAt", 1), ("id", 1))
"""The order of a cursor scan: oldest change first, ties broken by id so pages neither skip
nor repeat objects changed at the same instant."""


class OzmapClient:
    """One OZmap tenant. ``url`` is the tenant (``https://isp.ozmap.com.br:9994``; the API
    path is added unless the URL already ends with it); ``key`` an API key made in OZmap's UI,
    and/or ``user`` and ``password`` of a user allowed to log in for an API key. ``verify``
    checks the TLS certificate (True), or not (False), or against a CA bundle (its path).
    ``retries`` new attempts of a failed request at most, ``backoff`` seconds growing x2
    between them; ``read_timeout`` is long by default (OZmap takes minutes over big listings,
    the vendor's helper waits 240 s). ``page_size`` rows per listing page. The client may be
    shared by threads: ``pool_size`` connections are kept alive. ``debug_log`` receives every
    request at DEBUG, the key and the password never."""

    def __init__(
        self,
        url: str,
        key: str = "",
        *,
        user: str = "",
        password: str = "",
        verify: bool | str = True,
        connect_timeout: float = 10.0,
        read_timeout: float = 240.0,
        retries: int = 3,
        backoff: float = 5.0,
        page_size: int = DEFAULT_PAGE_SIZE,
        pool_size: int = 4,
        debug_log: logging.Logger | None = None,
    ) -> None:
        base = rest.check_base_url(url, "OZmap")
        self.url = base if base.endswith(API_PATH) else base + API_PATH
        if not key and not (user and password):
            raise ValueError("OZmap needs an API key, or a user and a password to log in")
        if bool(user) != bool(password):
            raise ValueError("an OZmap login needs both the user and the password")
        if page_size < 1:
            raise ValueError(f"the OZmap page size must be positive, not {page_size}")
        self.user = user
        self.page_size = page_size
        self.timeout = (connect_timeout, read_timeout)
        self.logins = 0  # logins made, for the operator's summary and the tests
        self._key = key
        self._password = password
        self._key_lock = threading.Lock()
        self._debug_log = debug_log
        options = {
            "retries": retries,
            "backoff": backoff,
            "verify": verify,
            "headers": {
                "Accept": "application/json",
                "Content-Type": "application/json; charset=utf-8",
            },
            "vendor": "ozmap",
            "timeout": self.timeout,
            "pool_size": pool_size,
        }
        self._session = rest.pool(self.url, **options, retry_methods=_RETRIED_METHODS)
        self._create_session = rest.pool(self.url, **options, retry_methods=())  # never retried; as many at once as the rest

    def __repr__(self) -> str:  # the key and the password stay out
        return f"OzmapClient(url={self.url!r}, user={self.user!r})"

    def close(self) -> None:
        self._session.close()
        self._create_session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # authentication

    def login(self) -> None:
        """Log in with the configured user and password and use the key OZmap answers."""
        if not self._password:
            raise ValueError("no OZmap user and password are configured")
        what = "OZmap login"
        body = {"login": self.user, "password": self._password}
        response = self._send(
            self._session, "POST", f"{self.url}/users/login", what, {"type": "API"}, body, None
        )
        self._check(response, what)
        reply = _json(response, what)
        key = reply.get("authorization") if isinstance(reply, dict) else None
        if not isinstance(key, str) or not key:
            raise OzmapProtocolError(f"{what}: the answer carries no authorization")
        self._key = key
        self.logins += 1
        self._log("%s: logged in as %s", what, self.user)

    def authenticated(self) -> bool:
        """Whether OZmap accepts the key (``GET /authenticated``), logging in again once if it
        does not and credentials are configured."""
        try:
            self._request("GET", "authenticated", "OZmap authenticated")
        except OzmapAuthError:
            return False
        return True

    # reading

    def list_page(
        self,
        model: str,
        *,
        filter: Filter = (),
        sort: Sort = (),
        select: str = "",
        populate: str = "",
        page: int = 1,
        limit: int | None = None,
    ) -> Page:
        """One page (from 1) of the objects of ``model`` that match ``filter``."""
        params = _list_params(filter, sort, select, populate)
        params.update(page=str(page), limit=str(limit or self.page_size))
        return self._page(model, f"{self.url}/{_model(model)}", params)

    def iterate(
        self,
        model: str,
        *,
        filter: Filter = (),
        sort: Sort = (),
        select: str = "",
        populate: str = "",
        limit: int | None = None,
        max_pages: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every matching object, page after page, following ``nextUrl`` while
        ``hasNextPage``. A page that keeps failing raises after the retries; none is skipped,
        so a listing is complete or an error. ``max_pages`` stops early (tests and trials)."""
        params: dict[str, str] | None = _list_params(filter, sort, select, populate)
        params.update(page="1", limit=str(limit or self.page_size))  # type: ignore[union-attr]
        url = f"{self.url}/{_model(model)}"
        seen: set[str] = set()
        pages = 0
        while max_pages is None or pages < max_pages:
            page = self._page(model, url, params)
            pages += 1
            yield from page.rows
            if not page.has_next_page:
                return
            if page.next_url:
                url, params = self._next_url(model, page.next_url, seen), None
            else:  # a next page with no address: ask for it by number
                if params is None:
                    raise OzmapProtocolError(f"OZmap list {model}: hasNextPage without nextUrl")
                params = {**params, "page": str(int(params["page"]) + 1)}

    def list(self, model: str, **options: Any) -> list[dict[str, Any]]:
        """Every matching object in one list: :meth:`iterate` collected."""
        return [*self.iterate(model, **options)]

    def get(
        self, model: str, object_id: str, *, select: str = "", populate: str = ""
    ) -> dict[str, Any] | None:
        """One object, or None when OZmap has none by that id (404)."""
        what = f"OZmap get {model} {object_id}"
        params = {
            name: value for name, value in (("select", select), ("populate", populate)) if value
        }
        try:
            response = self._request("GET", _object_path(model, object_id), what, params=params)
        except OzmapNotFound:
            return None
        found = _json(response, what)
        if not isinstance(found, dict):
            raise OzmapProtocolError(f"{what}: the answer is not an object")
        return found

    def changed_since(
        self, model: str, since: str | None, *, filter: Filter = (), **options: Any
    ) -> Iterator[dict[str, Any]]:
        """The objects of ``model`` changed at or after ``since`` (an ``updatedAt`` value;
        every object when None), oldest change first (:data:`BY_UPDATE`). ``>=``, not ``>``:
        an object changed at the very instant of the cursor is read again rather than lost,
        so the caller drops the ids it already saw at that instant."""
        conditions = [*filter]
        if since is not None:
            conditions.append(where("updatedAt", ">=", since))
        return self.iterate(model, filter=conditions, sort=BY_UPDATE, **options)

    # writing

    def create(self, model: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create an object; returns it as OZmap stored it (with its ``id``). Not retried once
        the request may have reached OZmap: a second POST would create a second object."""
        what = f"OZmap create {model}"
        if "id" in body:
            raise ValueError(f"{what}: OZmap gives the id; do not send one")
        response = self._request(
            "POST", _model(model), what, body=dict(body), http=self._create_session
        )
        created = _json(response, what)
        if not isinstance(created, dict) or not created.get("id"):
            raise OzmapProtocolError(f"{what}: the answer is not an object with an id")
        self._log("%s: created %s", what, created["id"])
        return created

    def update(self, model: str, object_id: str, changes: Mapping[str, Any]) -> None:
        """Change the fields sent and keep the others (a PATCH, answered 204).
        ``external_id`` and ``id`` are never sent: OZmap refuses an object's own external_id
        again. :class:`OzmapNotFound` when there is no such object."""
        what = f"OZmap update {model} {object_id}"
        body = {key: value for key, value in changes.items() if key not in _NEVER_UPDATED}
        if not body:
            return
        self._request("PATCH", _object_path(model, object_id), what, body=body)

    def delete(self, model: str, object_id: str) -> bool:
        """Remove an object: True when it was removed, False when there was none (404, or
        the retry of a DELETE whose first answer was lost)."""
        what = f"OZmap delete {model} {object_id}"
        try:
            self._request("DELETE", _object_path(model, object_id), what, gone_is_done=True)
        except OzmapNotFound:
            return False
        return True

    def batch_update(self, model: str, filter: Filter, update: Mapping[str, Any]) -> None:
        """Set the fields of ``update`` on every object that matches ``filter`` (one
        ``batch-update``, answered 204). An empty filter is refused: it would change every
        object of the model."""
        if not filter:
            raise ValueError("an OZmap batch-update needs a filter")
        what = f"OZmap batch-update {model}"
        body = {"filter": [*filter], "update": dict(update)}
        self._request("POST", f"{_model(model)}/batch-update", what, body=body)

    def batch_update_ids(self, model: str, ids: Iterable[str], update: Mapping[str, Any]) -> int:
        """:meth:`batch_update` of the objects with these ids, :data:`BATCH_IDS` at a time;
        returns the number of requests sent."""
        requests_sent = 0
        for chunk in _chunks(ids, BATCH_IDS):
            self.batch_update(model, [where("id", "in", chunk)], update)
            requests_sent += 1
        return requests_sent

    # what the OZmap <-> IXC sync reads and writes

    def project(self, project_id: str) -> dict[str, Any] | None:
        return self.get(PROJECTS, project_id)

    def projects(self, **options: Any) -> Iterator[dict[str, Any]]:
        return self.iterate(PROJECTS, **options)

    def box(self, box_id: str) -> dict[str, Any] | None:
        return self.get(BOXES, box_id)

    def boxes_changed_since(self, since: str | None, **options: Any) -> Iterator[dict[str, Any]]:
        """The boxes changed at or after ``since``, oldest first (:meth:`changed_since`)."""
        return self.changed_since(BOXES, since, **options)

    def building(self, building_id: str) -> dict[str, Any] | None:
        """A vertical condominium (a building)."""
        return self.get(BUILDINGS, building_id)

    def buildings_changed_since(
        self, since: str | None, **options: Any
    ) -> Iterator[dict[str, Any]]:
        return self.changed_since(BUILDINGS, since, **options)

    def horizontal_condominiums(self, **options: Any) -> Iterator[dict[str, Any]]:
        """The horizontal condominiums: polygons (``coords``) with a ``project`` and a name."""
        return self.iterate(HORIZONTAL_CONDOMINIUMS, **options)

    def splitter(self, splitter_id: str) -> dict[str, Any] | None:
        return self.get(SPLITTERS, splitter_id)

    def splitters_of(self, parent_ids: Iterable[str], **options: Any) -> Iterator[dict[str, Any]]:
        """The splitters inside these boxes or buildings (``parent in [...]``, in batches of
        :data:`BATCH_IDS` parents), by id."""
        for chunk in _chunks(parent_ids, BATCH_IDS):
            yield from self.iterate(
                SPLITTERS, filter=[where("parent", "in", chunk)], sort=(("id", 1),), **options
            )

    def splitters_changed_since(
        self, since: str | None, **options: Any
    ) -> Iterator[dict[str, Any]]:
        return self.changed_since(SPLITTERS, since, **options)

    def olt(self, olt_id: str) -> dict[str, Any] | None:
        return self.get(OLTS, olt_id)

    def olts(self, **options: Any) -> Iterator[dict[str, Any]]:
        return self.iterate(OLTS, **options)

    def get_property(self, property_id: str) -> dict[str, Any] | None:
        """A client's property (its ``client`` populated, ``box``, ``connections`` and the
        splitter ``port`` it is connected to)."""
        return self.get(PROPERTIES, property_id)

    def properties_changed_since(
        self, since: str | None, **options: Any
    ) -> Iterator[dict[str, Any]]:
        return self.changed_since(PROPERTIES, since, **options)

    def properties_of_client(self, code: str) -> list[dict[str, Any]]:
        """The properties of the FTTH client whose ``code`` (the join key with IXC) is
        ``code``, each with its client embedded; [] when there is none."""
        what = f"OZmap properties of client {code}"
        if not code:
            raise ValueError(f"{what}: the client code is empty")
        try:
            response = self._request("GET", f"{PROPERTIES}/client/{quote(code, safe='')}", what)
        except OzmapNotFound:
            return []
        found = _json(response, what)
        if not isinstance(found, list) or not all(isinstance(row, dict) for row in found):
            raise OzmapProtocolError(f"{what}: the answer is not a list of properties")
        return found

    def create_property(
        self,
        *,
        project: str,
        box: str,
        port: int | None,
        client: Mapping[str, Any] | str,
        coords: Sequence[float] | None = None,
        address: str = "",
        connector: str | None = None,
        auto_connect: bool = True,
        force: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        """A property on ``box``, connected to splitter port ``port`` (1-based; ``connector``
        names the splitter, else OZmap picks the box's drop splitter) with ``client`` (a new
        client's fields, ``code`` and ``name`` at least, or an existing client's id). OZmap
        refuses (:class:`OzmapRefused`) an occupied port unless ``force``."""
        if isinstance(client, Mapping) and not client.get("code"):
            raise ValueError("a new OZmap client needs a code (the IXC login or contract id)")
        body: dict[str, Any] = {
            "project": project,
            "box": box,
            "client": client if isinstance(client, str) else dict(client),
            "auto_connect": auto_connect,
            **extra,
        }
        if port is not None:
            body["port"] = port
        if coords is not None:
            body["coords"] = [*coords]
        if address:
            body["address"] = address
        if connector:
            body["connector"] = connector
        if force:
            body["force"] = True
        return self.create(PROPERTIES, body)

    def update_property(self, property_id: str, changes: Mapping[str, Any]) -> None:
        self.update(PROPERTIES, property_id, changes)

    def delete_property(self, property_id: str) -> bool:
        """Remove a property, which frees its splitter port."""
        return self.delete(PROPERTIES, property_id)

    def set_potency(self, property_ids: Iterable[str], potency: float) -> int:
        """The power read at these properties' clients (dBm), in batches; returns requests."""
        return self.batch_update_ids(PROPERTIES, property_ids, {"potencyRead": potency})

    def client(self, client_id: str) -> dict[str, Any] | None:
        """An FTTH client: ``code``, ``name``, ``status``, ``implanted``, ``onu``..."""
        return self.get(FTTH_CLIENTS, client_id)

    def update_client(self, client_id: str, changes: Mapping[str, Any]) -> None:
        self.update(FTTH_CLIENTS, client_id, changes)

    def delete_client(self, client_id: str) -> bool:
        return self.delete(FTTH_CLIENTS, client_id)

    def set_client_status(self, client_ids: Iterable[str], online: bool) -> int:
        """``status`` :data:`CLIENT_OK` (online) or :data:`CLIENT_ERROR` on these clients, in
        batches; returns the number of requests."""
        status = CLIENT_OK if online else CLIENT_ERROR
        return self.batch_update_ids(FTTH_CLIENTS, client_ids, {"status": status})

    def set_clients_implanted(self, client_ids: Iterable[str], implanted: bool = True) -> int:
        """Mark these clients implanted (installed), in batches; returns the requests."""
        return self.batch_update_ids(FTTH_CLIENTS, client_ids, {"implanted": implanted})

    # the wire

    def _page(self, model: str, url: str, params: Mapping[str, str] | None) -> Page:
        what = f"OZmap list {model}"
        response = self._send_authorized(self._session, "GET", url, what, params, None)
        reply = _json(response, what)
        if not isinstance(reply, dict) or not isinstance(reply.get("rows"), list):
            raise OzmapProtocolError(f"{what}: the answer is not a listing (no rows)")
        rows = reply["rows"]
        if not all(isinstance(row, dict) for row in rows):
            raise OzmapProtocolError(f"{what}: the rows are not objects")
        next_url = reply.get("nextUrl")
        try:
            page = Page(
                total=int(reply.get("total", len(rows))),
                start=int(reply.get("start", 0)),
                limit=int(reply.get("limit", len(rows))),
                rows=rows,
                has_next_page=bool(reply.get("hasNextPage", False)),
                next_url=next_url if isinstance(next_url, str) and next_url else None,
            )
        except (TypeError, ValueError):
            raise OzmapProtocolError(f"{what}: total, start or limit is not a number") from None
        self._log("%s: %s of %s from %s", what, len(rows), page.total, page.start)
        return page

    def _next_url(self, model: str, next_url: str, seen: set[str]) -> str:
        """The absolute address of a ``nextUrl``, which must stay on this tenant's API (the
        key goes with it) and not come back to a page already read."""
        origin = urlsplit(self.url)
        url = urljoin(f"{origin.scheme}://{origin.netloc}/", next_url)
        if not url.startswith(f"{self.url}/{model}"):
            raise OzmapProtocolError(f"OZmap list {model}: nextUrl {next_url!r} leaves the API")
        if url in seen:
            raise OzmapProtocolError(f"OZmap list {model}: nextUrl {next_url!r} was read before")
        seen.add(url)
        return url

    def _request(
        self,
        method: str,
        path: str,
        what: str,
        *,
        params: Mapping[str, str] | None = None,
        body: Any = None,
        http: rest.Pool | None = None,
        gone_is_done: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        return self._send_authorized(
            http or self._session, method, f"{self.url}/{path}", what, params, body, gone_is_done
        )

    def _send_authorized(
        self,
        http: rest.Pool,
        method: str,
        url: str,
        what: str,
        params: Mapping[str, str] | None,
        body: Any,
        gone_is_done: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        """Send with the current key (logging in first if there is none) and, after a 401
        when credentials are configured, log in again and send once more. Raises unless the
        answer is a 2xx (or a 404 the caller maps)."""
        key = self._current_key()
        response = self._send(http, method, url, what, params, body, key)
        if response.status == 401 and self._password:
            self._relogin(key)
            response = self._send(http, method, url, what, params, body, self._key)
        if response.status == 404 and gone_is_done and rest.attempts(response) > 1:
            return response  # an earlier attempt removed it and its answer was lost
        self._check(response, what)
        return response

    def _current_key(self) -> str:
        with self._key_lock:
            if not self._key:
                self.login()
            return self._key

    def _relogin(self, rejected: str) -> None:
        with self._key_lock:
            if self._key == rejected:  # else another thread has logged in meanwhile
                self._log("OZmap refused the key; logging in again")
                self.login()

    def _send(
        self,
        http: rest.Pool,
        method: str,
        url: str,
        what: str,
        params: Mapping[str, str] | None,
        body: Any,
        key: str | None,
    ) -> urllib3.BaseHTTPResponse:
        """Send one request to ``url`` (on this tenant: its path and query go on the wire)
        with ``params`` added to its query."""
        parts = urlsplit(url)
        if self._debugging:
            shown = "" if body is None else " " + json.dumps(rest.redacted(body))
            self._log("%s: %s %s %s%s", what, method, parts.path, params or "", shown)
        query = "&".join(part for part in (parts.query, urlencode(params or {})) if part)
        target = f"{parts.path}?{query}" if query else parts.path
        try:
            response = http.request(
                method,
                target,
                body=None if body is None else json.dumps(body, ensure_ascii=False).encode(),
                headers={"Authorization": key} if key else None,
            )
        except urllib3.exceptions.HTTPError as exc:
            if rest.tls_failed(exc):
                raise OzmapError(f"{what}: TLS failed (is verify right for OZmap?): {exc}") from exc
            # a timeout, a refused or dropped connection: OZmap may answer the next run
            raise OzmapTransientError(f"{what}: no answer after the retries: {exc}") from exc
        self._log("%s: HTTP %s", what, response.status)
        return response

    def _check(self, response: urllib3.BaseHTTPResponse, what: str) -> None:
        status = response.status
        if 200 <= status < 300:
            return
        if status in rest.RETRY_STATUSES or status >= 500:
            tries = rest.attempts(response)
            raise OzmapTransientError(
                f"{what}: HTTP {status} {response.reason} after {tries} tries"
            )
        message = _error_message(response)
        if status in (401, 403):
            raise OzmapAuthError(message, status=status, what=what)
        if status == 404:
            raise OzmapNotFound(message, status=status, what=what)
        raise OzmapRefused(message, status=status, what=what)

    @property
    def _debugging(self) -> bool:
        return self._debug_log is not None and self._debug_log.isEnabledFor(logging.DEBUG)

    def _log(self, message: str, *args: object) -> None:
        if self._debug_log is not None:
            self._debug_log.debug(message, *args)


def free_ports(splitter: Mapping[str, Any]) -> list[int]:
    """The output ports (1-based) of a splitter that nothing is connected to and that are not
    blocked: ``connectables.output`` holds what is connected to each port (None: nothing),
    ``ports[{index, blocked}]`` the blocked ones."""
    outputs = (splitter.get("connectables") or {}).get("output") or []
    blocked = {
        port.get("index")
        for port in splitter.get("ports") or []
        if isinstance(port, Mapping) and port.get("blocked")
    }
    return [
        index
        for index, connected in enumerate(outputs, start=1)
        if connected is None and index not in blocked
    ]


def _list_params(filter: Filter, sort: Sort, select: str, populate: str) -> dict[str, str]:
    params: dict[str, str] = {}
    if filter:
        params["filter"] = json.dumps([_condition(item) for item in filter], ensure_ascii=False)
    if sort:
        params["sort"] = json.dumps([_sort(prop, direction) for prop, direction in sort])
    if select:
        params["select"] = select
    if populate:
        params["populate"] = populate
    return params


def _condition(item: Mapping[str, Any] | Sequence[Mapping[str, Any]]) -> Any:
    if isinstance(item, Mapping):
        return where(item.get("property", ""), item.get("operator", ""), item.get("value"))
    return [_condition(inner) for inner in item]


def _sort(prop: str, direction: int) -> dict[str, Any]:
    if direction not in (1, -1):
        raise ValueError(f"OZmap sort on {prop!r}: the direction must be 1 or -1")
    return {"property": prop, "direction": direction}


def _model(model: str) -> str:
    if not _MODEL.fullmatch(model):
        raise ValueError(f"{model!r} is not an OZmap model route")
    return model


def _object_path(model: str, object_id: str) -> str:
    if not object_id:
        raise ValueError(f"an OZmap {model} object needs an id")
    return f"{_model(model)}/{quote(object_id, safe='')}"


def _chunks(ids: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for object_id in ids:
        chunk.append(object_id)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _json(response: urllib3.BaseHTTPResponse, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise OzmapProtocolError(f"{what}: HTTP {response.status}, not JSON") from None


def _error_message(response: urllib3.BaseHTTPResponse) -> str:
    text = response.data.decode("utf-8", "replace").strip()
    try:
        reply = response.json()
    except ValueError:
        reply = None
    if isinstance(reply, dict) and isinstance(reply.get("message"), str):
        text = reply["message"]
    text = text[:300] or response.reason
    return f"HTTP {response.status}: {text}"
