"""Client for the REST API of a Bequant BQN (a traffic shaper): its rate policies, its
subscribers (one per IP address, IPv4 or IPv6) and its subscriber groups.

The API is ``https://<bqn>:3443/api/v1`` with HTTP Basic authentication as a REST user
configured on the BQN (whose allow-list must hold our address). Each of the three collections
is served the same way, and this client serves them the same way too, through one
:class:`Collection` each (:data:`POLICIES`, :data:`SUBSCRIBERS`, :data:`GROUPS`):

- ``GET /<collection>`` lists them all: ``{"items": [...]}``, with fields the BQN adds itself
  (``policyAssignedBy`` on a subscriber, ``congestionMgmt`` in a policy's rates);
- ``POST /<collection>/<id>`` creates the object or replaces it (201 created, 200 replaced;
  a field not sent is reset);
- ``PUT /<collection>/<id>`` replaces an existing object; ``DELETE /<collection>/<id>``
  removes one.

The id in the path is URL-encoded with no character left as is, so an IPv6 address
(``2001:db8::1``) or a name with ``/`` or spaces reaches the BQN intact. Every request is
idempotent (a replayed POST writes the same object again), so all of them are retried after a
lost answer; a DELETE whose retry finds the object already gone counts as done.

Errors: :class:`BqnTransientError` (no usable answer after the bounded retries),
:class:`BqnRefused` (the BQN answered no: a 4xx; :class:`BqnAuthError` and
:class:`BqnNotFound` are kinds of it) and :class:`BqnError` itself when the request cannot be
sent (a TLS certificate that does not verify: the BQN's is self-signed, so ``verify`` is
either False or the path of that certificate).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import quote, urlsplit, urlunsplit

import urllib3

from ngnserver.vendors import rest

API_PATH = "/api/v1"
DEFAULT_PORT = 3443


@dataclass(frozen=True)
class Collection:
    """A kind of BQN object: where the API serves it and which field names one."""

    path: str
    key: str
    label: str


POLICIES = Collection("policies/rate", "policyName", "rate policy")
SUBSCRIBERS = Collection("subscribers", "subscriberIp", "subscriber")
GROUPS = Collection("subscriberGroups", "subscriberGroupName", "subscriber group")

ALL_SUBSCRIBERS = "all-subscribers"
"""The BQN's own group of every subscriber: this client refuses to delete it."""


class BqnError(Exception):
    """Any failure talking to the BQN. Raised as such only when the request cannot be sent (a
    TLS certificate that does not verify), which no retry mends."""


class BqnTransientError(BqnError):
    """No usable answer after the bounded retries: a timeout, a connection error, a 5xx, or a
    body that is not what the API sends (:class:`BqnProtocolError`)."""


class BqnProtocolError(BqnTransientError):
    """The BQN answered a listing with something that is not ``{"items": [...]}``."""


class BqnRefused(BqnError):
    """The BQN answered with a 4xx: ``status``, and ``message`` from its body (its shape is
    not documented: a JSON ``message`` is taken if present, else the text)."""

    def __init__(self, message: str, *, status: int, what: str = "") -> None:
        super().__init__(f"{what}: {message}" if what else message)
        self.message = message
        self.status = status


class BqnAuthError(BqnRefused):
    """The BQN refused the REST user (HTTP 401 or 403; 403 also when our address is not on
    its REST allow-list)."""


class BqnNotFound(BqnRefused):
    """No object with that id (HTTP 404)."""


class BqnClient:
    """One BQN. ``url`` is its management address (``https://192.0.2.10`` gets port 3443 and
    the API path added); ``user`` and ``password`` a REST user of the BQN. ``verify`` checks
    the TLS certificate (True), or not (False), or against a CA bundle (its path).
    ``retries`` new attempts of a failed request at most, ``backoff`` seconds growing x2
    between them. The client may be shared by threads: up to ``pool_size`` requests run at
    once over kept-alive connections, and a thread wanting one more waits for one to be
    free. ``debug_log`` receives every request and answer at DEBUG (the password never)."""

    def __init__(
        self,
        url: str,
        user: str,
        password: str,
        *,
        verify: bool | str = True,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        retries: int = 3,
        backoff: float = 0.5,
        pool_size: int = 8,
        debug_log: logging.Logger | None = None,
    ) -> None:
        self.url = _api_url(rest.check_base_url(url, "BQN"))
        if not user:
            raise ValueError("the BQN REST user is empty")
        self.user = user
        self.timeout = (connect_timeout, read_timeout)
        self._debug_log = debug_log
        self._path = urlsplit(self.url).path
        self._pool = rest.pool(
            self.url,
            timeout=self.timeout,
            retries=retries,
            backoff=backoff,
            verify=verify,
            pool_size=pool_size,
            retry_methods=("GET", "POST", "PUT", "DELETE"),
            vendor="bqn",
            headers={
                "Accept": "application/json",
                "Content-Type": "application/json; charset=utf-8",
                **urllib3.util.make_headers(basic_auth=f"{user}:{password}"),
            },
        )

    def __repr__(self) -> str:  # the password stays out
        return f"BqnClient(url={self.url!r}, user={self.user!r})"

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def list(self, collection: Collection) -> list[dict[str, Any]]:
        """Every object of the collection, as the BQN shows it (its own fields included)."""
        what = f"BQN list {collection.path}"
        response = self._request("GET", collection.path, what)
        try:
            reply = response.json()
        except ValueError:
            raise BqnProtocolError(f"{what}: the answer is not JSON") from None
        items = reply.get("items") if isinstance(reply, dict) else None
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise BqnProtocolError(f"{what}: the answer has no list of items")
        self._log("%s: %s items", what, len(items))
        return items

    def get(self, collection: Collection, object_id: str) -> dict[str, Any] | None:
        """One object, or None when the BQN has none by that id."""
        what = f"BQN get {collection.label} {object_id}"
        try:
            response = self._request("GET", _path(collection, object_id), what)
        except BqnNotFound:
            return None
        try:
            found = response.json()
        except ValueError:
            raise BqnProtocolError(f"{what}: the answer is not JSON") from None
        if not isinstance(found, dict):
            raise BqnProtocolError(f"{what}: the answer is not an object")
        return found

    def create_or_update(
        self, collection: Collection, object_id: str, body: Mapping[str, Any]
    ) -> bool:
        """Create the object, or replace it whole if it exists (fields not sent are reset).
        True when the BQN created it (201). After a retried request the BQN may answer 200
        for an object the first attempt created."""
        what = f"BQN create-or-update {collection.label} {object_id}"
        response = self._request(
            "POST", _path(collection, object_id), what, _body(collection, object_id, body)
        )
        return response.status == 201

    def update(self, collection: Collection, object_id: str, body: Mapping[str, Any]) -> None:
        """Replace an existing object whole; :class:`BqnNotFound` if there is none."""
        what = f"BQN update {collection.label} {object_id}"
        self._request("PUT", _path(collection, object_id), what, _body(collection, object_id, body))

    def delete(self, collection: Collection, object_id: str) -> None:
        """Remove an object; :class:`BqnNotFound` if there was none. The group
        ``all-subscribers`` belongs to the BQN and is refused with ValueError."""
        if collection == GROUPS and object_id == ALL_SUBSCRIBERS:
            raise ValueError(f"the BQN group {ALL_SUBSCRIBERS} is never deleted")
        what = f"BQN delete {collection.label} {object_id}"
        self._request("DELETE", _path(collection, object_id), what, gone_is_done=True)

    def _request(
        self,
        method: str,
        path: str,
        what: str,
        body: dict[str, Any] | None = None,
        *,
        gone_is_done: bool = False,
    ) -> urllib3.BaseHTTPResponse:
        """Send one request (retried as the session says) and return the answer once it is a
        2xx, or raise the error its failure maps to."""
        data = None
        if body is not None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self._log("%s: %s %s %s", what, method, path, data.decode())
        try:
            response = self._pool.request(method, f"{self._path}/{path}", body=data)
        except urllib3.exceptions.HTTPError as exc:
            if rest.tls_failed(exc):
                raise BqnError(f"{what}: TLS failed (is verify right for this BQN?): {exc}") from exc
            # a timeout, a refused or dropped connection: the BQN may answer the next run
            raise BqnTransientError(f"{what}: no answer after the retries: {exc}") from exc
        status = response.status
        self._log("%s: HTTP %s", what, status)
        if 200 <= status < 300:
            return response
        if status == 404 and gone_is_done and rest.attempts(response) > 1:
            return response  # an earlier attempt deleted it and its answer was lost
        if status in rest.RETRY_STATUSES or status >= 500:
            tries = rest.attempts(response)
            raise BqnTransientError(f"{what}: HTTP {status} {response.reason} after {tries} tries")
        message = _error_message(response)
        if status in (401, 403):
            raise BqnAuthError(message, status=status, what=what)
        if status == 404:
            raise BqnNotFound(message, status=status, what=what)
        raise BqnRefused(message, status=status, what=what)

    def _log(self, message: str, *args: object) -> None:
        if self._debug_log is not None:
            self._debug_log.debug(message, *args)


def _api_url(base: str) -> str:
    parts = urlsplit(base)
    netloc = parts.netloc
    if parts.port is None and parts.scheme == "https":
        netloc = f"{netloc}:{DEFAULT_PORT}"
    path = parts.path if parts.path.endswith(API_PATH) else parts.path + API_PATH
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def _path(collection: Collection, object_id: str) -> str:
    if not object_id:
        raise ValueError(f"a BQN {collection.label} needs an id")
    return f"{collection.path}/{quote(object_id, safe='')}"


def _body(collection: Collection, object_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
    """The object with its id field set to the id of the path (a different one is refused)."""
    named = body.get(collection.key, object_id)
    if named != object_id:
        raise ValueError(
            f"the {collection.label} body names {named!r} but the path names {object_id!r}"
        )
    return {**body, collection.key: object_id}


def _error_message(response: urllib3.BaseHTTPResponse) -> str:
    text = response.data.decode("utf-8", "replace").strip()
    try:
        reply = json.loads(text)
    except ValueError:
        reply = None
    if isinstance(reply, dict) and isinstance(reply.get("message"), str):
        text = reply["message"]
    text = text[:300] or response.reason or ""
    return f"HTTP {response.status}: {text}"
