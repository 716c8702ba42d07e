"""Client for the webservice of IXC Provedor, IXC Soft's ERP for ISPs: paged listings of its
tables (logins, plans, contracts, FTTH boxes...) and inserts, edits and deletes of their rows.

The webservice is ``<server>/webservice/v1/<table>``, with four verbs:

- **list**: ``POST /<table>`` with the header ``ixcsoft: listar`` and a JSON body of
  ``qtype`` (the column filtered on, ``table.column`` or ``column``), ``oper``, ``query``,
  ``page``, ``rp`` (rows per page), ``sortname`` and ``sortorder``, every value a string. The
  answer is ``{"page": "1", "total": "150", "registros": [...]}`` with the total as a string
  and no ``registros`` at all when the page is empty;
- **insert**: ``POST /<table>`` *without* that header. The same request with the header
  forgotten creates a row, so this client has no generic POST: :meth:`IxcClient.list_page`,
  :meth:`IxcClient.iterate` and :meth:`IxcClient.list` always send the header and
  :meth:`IxcClient.insert` never does;
- **edit**: ``PUT /<table>/<id>``, which replaces the whole row (a column not sent is
  blanked), so :meth:`IxcClient.update` reads the row, merges the changes and sends it all;
- **delete**: ``DELETE /<table>/<id>``.

Writes answer ``{"type": "success" | "error", "message": ...}``, errors usually inside an
HTTP 200, so every body is checked. Authentication is HTTP Basic with the token IXC shows for
an API user (``<user id>:<key>``, e.g. ``6:4dac...``) as the credentials, exactly as the
Bequant sync script and IXC's PHP client send it.

Errors are split the way a sync run needs them:

- :class:`IxcTransientError`: no usable answer after the bounded retries (timeouts,
  connection errors, 5xx, a body that is not an IXC reply: :class:`IxcProtocolError`);
- :class:`IxcRefused`: IXC answered and said no (``type: error``, a 4xx); retrying the same
  request will not help. :class:`IxcAuthError` and :class:`IxcNotFound` are kinds of it;
- :class:`IxcError` itself: the client cannot send at all (a TLS verification failure).
"""

from __future__ import annotations

import base64
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Self
from urllib.parse import urlsplit

import urllib3

from ngnserver.vendors import rest

API_PATH = "/webservice/v1"
OPERATORS = ("=", ">", "<", ">=", "<=", "!=", "L")
"""List filter operators: comparisons, and ``L`` for SQL LIKE."""

DEFAULT_PAGE_SIZE = 10_000
"""Rows per page: Bequant measured 10,000 45% quicker than 1,000 over 60,000 logins."""

_TABLE = re.compile(r"[a-z][a-z0-9_]*")
_LIST_HEADERS = {"ixcsoft": "listar"}
# Every request but a listing goes without it: the pool's own headers never carry it.
_WRITE_HEADERS: dict[str, str] = {}
# A listing may be sent again: it reads. PUT and DELETE of the same row twice do the same as
# once. An insert is retried only when the connection could not even be opened.
_RETRIED_METHODS = ("POST", "PUT", "DELETE")


class IxcError(Exception):
    """Any failure talking to IXC. Raised as such only when the request cannot be sent (a TLS
    certificate that does not verify), which no retry mends."""


class IxcTransientError(IxcError):
    """No usable answer after the bounded retries: a timeout, a connection error, a 5xx or a
    body that is not an IXC reply. A later run may succeed; an insert may have happened."""


class IxcProtocolError(IxcTransientError):
    """IXC answered with something that is not one of its replies: not JSON, a listing without
    ``total``, a total that is not a number."""


class IxcRefused(IxcError):
    """IXC answered and refused: ``type: error`` (``message`` is its text) or an HTTP 4xx
    (``status``). Sending the same request again will not help."""

    def __init__(self, message: str, *, status: int = 200, what: str = "") -> None:
        super().__init__(f"{what}: {message}" if what else message)
        self.message = message
        self.status = status


class IxcAuthError(IxcRefused):
    """IXC refused the token (HTTP 401 or 403)."""


class IxcNotFound(IxcRefused):
    """The row asked for does not exist."""


@dataclass(frozen=True)
class Page:
    """One page of a listing: its number, IXC's count of every row that matches (on all
    pages), and the rows of this page, every value a string as IXC sends them."""

    number: int
    total: int
    records: list[dict[str, Any]]


class IxcClient:
    """One IXC server. ``url`` is the server (``https://ixc.example.com``; the webservice path
    is added unless the URL already ends with it); ``token`` the API user's token. ``verify``
    checks the TLS certificate (True), or not (False: IXC servers often have self-signed ones),
    or against a CA bundle (its path). ``retries`` new attempts of a failed request at most,
    ``backoff`` seconds growing x2 between them; ``page_size`` rows per listing page.
    ``debug_log`` receives every request at DEBUG with the token and passwords (``senha``)
    masked. The client may be shared by threads; its ``pool_size`` connections are kept alive."""

    def __init__(
        self,
        url: str,
        token: str,
        *,
        verify: bool | str = True,
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        retries: int = 3,
        backoff: float = 1.0,
        page_size: int = DEFAULT_PAGE_SIZE,
        pool_size: int = 4,
        debug_log: logging.Logger | None = None,
    ) -> None:
        base = rest.check_base_url(url, "IXC")
        self.url = base if base.endswith(API_PATH) else base + API_PATH
        if not token:
            raise ValueError("the IXC token is empty")
        if page_size < 1:
            raise ValueError(f"the IXC page size must be positive, not {page_size}")
        self.page_size = page_size
        self.timeout = (connect_timeout, read_timeout)
        self._debug_log = debug_log
        credentials = base64.b64encode(token.encode()).decode()
        headers = {
            "Authorization": f"Basic {credentials}",
            "Accept": "application/json",
            "Content-Type": "application/json; charset=utf-8",
        }
        self._path = urlsplit(self.url).path
        options = {"retries": retries, "backoff": backoff, "verify": verify, "headers": headers, "vendor": "ixc",
                   "timeout": self.timeout, "pool_size": pool_size}  # fmt: skip
        self._session = rest.pool(self.url, **options, retry_methods=_RETRIED_METHODS)
        self._insert_session = rest.pool(self.url, **options, retry_methods=())  # never retried; as many at once as the rest

    def __repr__(self) -> str:  # the token stays out
        return f"IxcClient(url={self.url!r})"

    def close(self) -> None:
        self._session.close()
        self._insert_session.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # reading

    def list_page(
        self,
        table: str,
        *,
        qtype: str = "",
        query: str = "",
        oper: str = "=",
        page: int = 1,
        rp: int | None = None,
        sortname: str = "",
        sortorder: Literal["asc", "desc"] = "asc",
        grid: Sequence[tuple[str, str, str]] = (),
    ) -> Page:
        """One page (from 1) of the rows of ``table`` whose ``qtype`` column compares by
        ``oper`` (one of :data:`OPERATORS`) to ``query``; every row when ``qtype`` is ''.
        ``grid`` adds filters, (column, oper, value) each, sent as IXC's ``grid_param``.
        Rows are sorted by ``sortname``, by default the table's id, so that pages neither
        skip nor repeat rows."""
        body = self._list_body(table, qtype, query, oper, sortname, sortorder, grid)
        return self._page(table, body, page, rp or self.page_size)

    def iterate(
        self,
        table: str,
        *,
        qtype: str = "",
        query: str = "",
        oper: str = "=",
        sortname: str = "",
        sortorder: Literal["asc", "desc"] = "asc",
        grid: Sequence[tuple[str, str, str]] = (),
        rp: int | None = None,
        max_pages: int | None = None,
    ) -> Iterator[dict[str, Any]]:
        """Every matching row, page after page (filters as :meth:`list_page`), until IXC's
        total is reached or a page comes back empty. A page that keeps failing raises
        :class:`IxcTransientError` after the client's retries; it is never skipped, so a
        listing is complete or an error. ``max_pages`` stops early (for tests and trials)."""
        body = self._list_body(table, qtype, query, oper, sortname, sortorder, grid)
        seen = 0
        number = 1
        while max_pages is None or number <= max_pages:
            page = self._page(table, body, number, rp or self.page_size)
            if not page.records:
                return
            yield from page.records
            seen += len(page.records)
            if seen >= page.total:
                return
            number += 1

    def list(self, table: str, **filters: Any) -> list[dict[str, Any]]:
        """Every matching row in one list: :meth:`iterate` collected."""
        return [*self.iterate(table, **filters)]

    def get(self, table: str, record_id: str | int) -> dict[str, Any]:
        """The row of ``table`` whose id is ``record_id``; :class:`IxcNotFound` if none."""
        wanted = _record_id(record_id)
        page = self.list_page(table, qtype=f"{table}.id", query=wanted, rp=1)
        for record in page.records:
            if str(record.get("id")) == wanted:
                return record
        raise IxcNotFound(f"no {table} with id {wanted}", what=f"IXC get {table} {wanted}")

    # writing

    def insert(self, table: str, fields: Mapping[str, Any]) -> str | None:
        """Insert a row; returns its id as IXC answers it (None if IXC sends none). Not retried
        once the request may have reached IXC: a second POST would insert a second row."""
        what = f"IXC insert {table}"
        if "id" in fields:
            raise ValueError(f"{what}: IXC gives the id; do not send one")
        reply = self._request(
            self._insert_session, "POST", _table(table), what, dict(fields), _WRITE_HEADERS
        )
        new_id = _checked_write(reply, what).get("id")
        return None if new_id in (None, "") else str(new_id)

    def update(
        self, table: str, record_id: str | int, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Change some columns of a row and keep the others: IXC's PUT blanks every column it
        is not sent, so the row is read, merged with ``changes`` and sent whole (without its
        ``id``, which is in the path). Returns the row as written. Another writer's change to
        the same row between the read and the write is lost, as with any IXC client."""
        if "id" in changes:
            raise ValueError("the id of an IXC row cannot be changed")
        path = f"{_table(table)}/{_record_id(record_id)}"
        record = self.get(table, record_id)
        merged = {**record, **changes}
        body = {key: value for key, value in merged.items() if key != "id"}
        what = f"IXC update {table} {record_id}"
        _checked_write(self._request(self._session, "PUT", path, what, body, _WRITE_HEADERS), what)
        return merged

    def delete(self, table: str, record_id: str | int) -> None:
        """Delete a row. IXC refuses (:class:`IxcRefused`) a row others refer to."""
        what = f"IXC delete {table} {record_id}"
        path = f"{_table(table)}/{_record_id(record_id)}"
        reply = self._request(self._session, "DELETE", path, what, None, _WRITE_HEADERS)
        _checked_write(reply, what)

    # the wire

    def _list_body(
        self,
        table: str,
        qtype: str,
        query: str,
        oper: str,
        sortname: str,
        sortorder: str,
        grid: Sequence[tuple[str, str, str]],
    ) -> dict[str, str]:
        _table(table)
        for column, operator, _ in ((qtype, oper, ""), *grid):
            if operator not in OPERATORS:
                raise ValueError(f"IXC filter on {column!r}: oper must be one of {OPERATORS}")
        if sortorder not in ("asc", "desc"):
            raise ValueError(f"IXC sortorder must be asc or desc, not {sortorder!r}")
        body = {"sortname": sortname or f"{table}.id", "sortorder": sortorder}
        if qtype:
            body.update(qtype=qtype, query=str(query), oper=oper)
        if grid:
            body["grid_param"] = json.dumps(
                [
                    {"TB": column, "OP": operator, "P": str(value)}
                    for column, operator, value in grid
                ]
            )
        return body

    def _page(self, table: str, filters: dict[str, str], number: int, rp: int) -> Page:
        what = f"IXC list {table} page {number}"
        body = {**filters, "page": str(number), "rp": str(rp)}
        reply = self._request(self._session, "POST", table, what, body, _LIST_HEADERS)
        if reply.get("type") == "error":
            raise IxcRefused(str(reply.get("message", "")), what=what)
        if "total" not in reply and "registros" not in reply:
            # What an insert answers: the listing header did not reach IXC.
            raise IxcProtocolError(f"{what}: the answer is not a listing: {_brief(reply)}")
        try:
            total = int(str(reply.get("total", "0")).strip() or "0")
        except ValueError:
            raise IxcProtocolError(f"{what}: total {reply['total']!r} is not a number") from None
        records = reply.get("registros", [])
        if not isinstance(records, list) or not all(isinstance(row, dict) for row in records):
            raise IxcProtocolError(f"{what}: registros is not a list of rows")
        self._log("%s: total %s, %s rows", what, total, len(records))
        return Page(number=number, total=total, records=records)

    def _request(
        self,
        http: rest.Pool,
        method: str,
        path: str,
        what: str,
        body: Mapping[str, Any] | None,
        headers: Mapping[str, str],
    ) -> dict[str, Any]:
        """Send one request (retried as the session says) and return the JSON object IXC
        answered, or raise the error its failure maps to."""
        if self._debugging:
            self._log("%s: %s %s %s", what, method, path, json.dumps(rest.redacted(body)))
        try:
            response = http.request(
                method,
                f"{self._path}/{path}",
                body=None if body is None else json.dumps(body).encode(),
                headers=headers,
            )
        except urllib3.exceptions.HTTPError as exc:
            if rest.tls_failed(exc):
                raise IxcError(f"{what}: TLS failed (is verify right for this server?): {exc}") from exc
            # a timeout, a refused or dropped connection: IXC may answer the next run
            raise IxcTransientError(f"{what}: no answer after the retries: {exc}") from exc
        status = response.status
        if status in (401, 403):
            raise IxcAuthError(f"IXC refused the token (HTTP {status})", status=status, what=what)
        if status in rest.RETRY_STATUSES or status >= 500:
            tries = rest.attempts(response)
            raise IxcTransientError(f"{what}: HTTP {status} {response.reason} after {tries} tries")
        if not 200 <= status < 300:
            raise IxcRefused(f"HTTP {status} {response.reason}", status=status, what=what)
        try:
            reply = response.json()
        except ValueError:
            raise IxcProtocolError(f"{what}: HTTP {status} with a body that is not JSON") from None
        if not isinstance(reply, dict):
            raise IxcProtocolError(f"{what}: the answer is not a JSON object")
        if self._debugging and headers is _WRITE_HEADERS:  # a page is logged by its counts
            self._log("%s: answered %s", what, json.dumps(rest.redacted(reply)))
        return reply

    @property
    def _debugging(self) -> bool:
        return self._debug_log is not None and self._debug_log.isEnabledFor(logging.DEBUG)

    def _log(self, message: str, *args: object) -> None:
        if self._debug_log is not None:
            self._debug_log.debug(message, *args)


def _table(table: str) -> str:
    if not _TABLE.fullmatch(table):
        raise ValueError(f"{table!r} is not an IXC table name")
    return table


def _record_id(record_id: str | int) -> str:
    text = str(record_id)
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"{text!r} is not an IXC row id")
    return text


def _checked_write(reply: dict[str, Any], what: str) -> dict[str, Any]:
    """A write's answer once it is a success: ``type: error`` raises :class:`IxcRefused`, and
    an answer that is neither raises :class:`IxcProtocolError`."""
    kind = reply.get("type")
    if kind == "error":
        raise IxcRefused(str(reply.get("message", "")), what=what)
    if kind != "success":
        raise IxcProtocolError(f"{what}: the answer is neither success nor error: {_brief(reply)}")
    return reply


def _brief(reply: Mapping[str, Any]) -> str:
    text = json.dumps(rest.redacted(reply))
    return text if len(text) <= 200 else text[:200] + "..."
