"""What the JSON-over-HTTP vendor simulators (IXC, BQN, OZmap) share: a real HTTP/1.1 server on
127.0.0.1 that keeps connections alive, a record of every call, fault injection and latency.

A simulator subclasses :class:`HttpSimulator`, names its API path prefix, and implements
``classify`` (the operation a request is, for the counters), ``authorized`` and ``handle``
(the vendor's behaviour, called under the simulator's lock).

Faults (:meth:`HttpSimulator.fail`), applied before the request reaches ``handle`` unless
said otherwise:

- ``"status:<code>"``: answer that HTTP status with an HTML body; not processed;
- ``"drop"``: close the connection without answering; not processed;
- ``"timeout"``: processed, then the answer waits ``timeout_sleep`` seconds (longer than any
  read timeout a test gives its client), so a write happens and its answer is lost;
- ``"hang"``: not processed; the answer waits ``timeout_sleep`` seconds;
- ``"not_json"``: HTTP 200 with an HTML body; not processed;
- ``"body:<text>"``: HTTP 200 with exactly that (JSON) body; not processed.
"""

from __future__ import annotations

import base64
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from tests.support.loopback import Serving

FAULTS = ("drop", "timeout", "hang", "not_json")
"""The fault kinds :meth:`HttpSimulator.fail` takes, besides "status:<code>" and "body:<text>"."""


@dataclass
class Request:
    """A request as the simulator sees it: ``segments`` are the path segments after the API
    prefix, each URL-decoded on its own (so an encoded ``/`` stays inside its segment);
    ``raw_path`` is that part of the path as it was sent, ``query`` its query string."""

    method: str
    segments: list[str]
    headers: Message
    body: bytes
    raw_path: str = ""
    query: str = ""

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def basic_auth(self) -> tuple[str, str] | None:
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode().partition(":")
        except ValueError:
            return None
        return user, password


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, value: Any) -> Response:
    return Response(status, json.dumps(value, ensure_ascii=False).encode())


@dataclass
class Call:
    """One request received: its method, path segments, operation (``classify``), its JSON
    body (None if none or not JSON), the fault it met, if any, its headers (names in lower
    case), its path after the API prefix and its query string as sent (still URL-encoded)."""

    method: str
    segments: tuple[str, ...]
    operation: str
    body: Any
    fault: str | None
    headers: dict[str, str] = field(default_factory=dict)
    raw_path: str = ""
    query: str = ""


@dataclass
class _Fault:
    kind: str
    remaining: int | None  # None: forever
    where: Callable[[Request], bool] | None


class HttpSimulator:
    """The server and its bookkeeping. ``latency`` seconds are added to every answer (outside
    the lock, so concurrent clients overlap their waits); ``keep_calls`` False keeps counters
    only, for large runs. ``tls`` serves HTTPS with a self-signed certificate for 127.0.0.1,
    as BQNs and many IXC servers have; its PEM file is ``certificate_path``."""

    api_path = ""

    def __init__(
        self, *, timeout_sleep: float = 10.0, keep_calls: bool = True, tls: bool = False
    ) -> None:
        self.timeout_sleep = timeout_sleep
        self.keep_calls = keep_calls
        self.tls = tls
        self.latency = 0.0
        self.calls: list[Call] = []
        self.counts: Counter[str] = Counter()  # operation -> calls, faulted ones included
        self.connections = 0  # TCP connections accepted
        self.most_waiting = 0  # the most answers that waited their latency at the same time
        self._waiting = 0
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._faults: list[_Fault] = []
        self._serving: Serving | None = None

    # what a subclass provides

    def classify(self, request: Request) -> str:
        raise NotImplementedError

    def authorized(self, request: Request) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> Response:
        return Response(401, b"<html><body>401 Unauthorized</body></html>", "text/html")

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    # lifecycle

    def start(self) -> Self:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.simulator = self
        self._serving = Serving(server, tls=self.tls)
        return self

    def stop(self) -> None:
        """Stop serving; answers still waiting on a fault are released at once."""
        self._stopping.set()
        if self._serving is not None:
            self._serving.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def root_url(self) -> str:
        assert self._serving is not None, "the simulator is not started"
        return self._serving.root_url

    @property
    def certificate_path(self) -> Path | None:
        """The PEM file of the certificate served over TLS (None without ``tls``)."""
        return self._serving.certificate_path if self._serving is not None else None

    # test hooks

    def fail(
        self,
        kind: str,
        times: int | None = 1,
        where: Callable[[Request], bool] | None = None,
    ) -> None:
        """Make the next ``times`` requests (every one, if None) that ``where`` accepts (any,
        if None) fail as ``kind`` (see the module docstring). Faults are tried in the order
        they were added; a request meets one at most."""
        if kind not in FAULTS and not kind.startswith(("status:", "body:")):
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self._faults.append(_Fault(kind, times, where))

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    def count(self, operation: str | None = None) -> int:
        """Calls of one operation (as ``classify`` names them), or of all."""
        with self._lock:
            return self.counts[operation] if operation else sum(self.counts.values())

    def reset_counts(self) -> None:
        with self._lock:
            self.calls.clear()
            self.counts.clear()

    # serving

    def respond(self, request: Request) -> tuple[Response | None, float]:
        """The answer to one request (None: drop the connection) and how long to wait first."""
        with self._lock:
            fault = self._take_fault(request)
            kind = fault.kind if fault else ""
            operation = self.classify(request)
            self.counts[operation] += 1
            if self.keep_calls:
                try:
                    body = request.json()
                except ValueError:
                    body = None
                headers = {name.lower(): value for name, value in request.headers.items()}
                call = Call(
                    request.method,
                    tuple(request.segments),
                    operation,
                    body,
                    kind or None,
                    headers,
                    request.raw_path,
                    request.query,
                )
                self.calls.append(call)
            wait = self.latency
            if kind.startswith("status:"):
                code = int(kind.removeprefix("status:"))
                return Response(code, b"<html><body>Server Error</body></html>", "text/html"), wait
            if kind == "drop":
                return None, wait
            if kind == "hang":
                return json_response(200, {}), wait + self.timeout_sleep
            if kind == "not_json":
                return Response(200, b"<html><body>Manutencao<br></body></html>", "text/html"), wait
            if kind.startswith("body:"):
                return Response(200, kind.removeprefix("body:").encode()), wait
            if not self.authorized(request):
                return self.unauthorized(), wait
            response = self.handle(request)
            if kind == "timeout":
                wait += self.timeout_sleep
            return response, wait

    def wait(self, seconds: float) -> None:
        """Sleep, but wake at once when the simulator stops; counted in ``most_waiting``."""
        with self._lock:
            self._waiting += 1
            self.most_waiting = max(self.most_waiting, self._waiting)
        try:
            self._stopping.wait(seconds)
        finally:
            with self._lock:
                self._waiting -= 1

    def _take_fault(self, request: Request) -> _Fault | None:
        for fault in self._faults:
            if fault.where is None or fault.where(request):
                if fault.remaining is not None:
                    fault.remaining -= 1
                    if fault.remaining <= 0:
                        self._faults.remove(fault)
                return fault
        return None

    def _connected(self) -> None:
        with self._lock:
            self.connections += 1


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    simulator: HttpSimulator

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client that gave up on a slow answer has closed its socket; that is expected


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"  # keep-alive: the clients' connection reuse is observable
    timeout = 30  # an idle kept-alive connection is closed after this
    # The head and the body are written apart: without TCP_NODELAY, Nagle's algorithm holds
    # the body until the client's delayed ACK, 40 ms on every kept-alive answer.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.server.simulator._connected()

    def _serve(self) -> None:
        simulator = self.server.simulator
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = urlsplit(self.path)
        path = parts.path
        if not path.startswith(simulator.api_path + "/"):
            self._send(Response(404, b"Not Found", "text/plain"))
            return
        raw_path = path.removeprefix(simulator.api_path + "/")
        segments = [unquote(segment) for segment in raw_path.split("/")]
        request = Request(self.command, segments, self.headers, body, raw_path, parts.query)
        response, wait = simulator.respond(request)
        if wait:
            simulator.wait(wait)
        if response is None:
            self.close_connection = True
            return
        self._send(response)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

    def _send(self, response: Response) -> None:
        try:
            self.send_response(response.status)
            self.send_header("Content-Type", f"{response.content_type}; charset=utf-8")
            self.send_header("Content-Length", str(len(response.body)))
            for name, value in response.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(response.body)
        except OSError:
            self.close_connection = True  # the client timed out and went away

    def log_message(self, format: str, *args: object) -> None:
        pass
