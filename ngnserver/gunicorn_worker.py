"""gunicorn's threaded worker, reading each request whole before a thread sees it.

gunicorn's ``gthread`` worker hands a connection to a thread as soon as its first bytes
arrive; the thread then reads the rest of the head and the body from a blocking socket
with no time limit. A client that sends a header line every few seconds, or dribbles its
body, keeps that thread for as long as it likes, and a few such clients hold every thread
of every worker (issue 14, item 4). This worker does what a buffering proxy does, in its
event loop:

- A connection is read without blocking by the worker's main loop until it holds a whole
  request, as ``h11`` parses it: the head up to its blank line, then the body its
  ``Content-Length`` announces (or its chunks up to the last one and the trailers). Only
  then does a thread get it, with the bytes already read (and any pipelined after it),
  which gunicorn's own parser reads again. A slow client costs a socket and its bytes,
  never a thread.
- A request not complete within ``client_timeout`` seconds of its first byte (of the
  connection, for a new one) is answered ``408`` and closed. A head larger than
  ``MAX_HEAD_BYTES`` (or a chunk-size or trailer line that long) is answered ``431``, and
  a request HTTP/1.1 does not allow (``h11`` refuses it: a bad chunk, conflicting
  lengths, no ``Host`` in HTTP/1.1) ``400`` (``501`` for a transfer coding other than
  chunked). A body larger than twice what the application accepts (``max_request_bytes``,
  announced or sent in chunks) is not buffered: the request goes to a thread with what was
  read, and the application refuses it unread (one up to twice the limit is read whole,
  and the application throws it away before it answers).
- ``Expect: 100-continue`` is answered here, once (the thread gets the head without it),
  so that such a client sends its body.
- In a thread, the socket has a timeout of ``client_timeout`` seconds for each read and for
  sending each answer (to a client that does not read it), so nothing waits on a client
  for ever.
- A worker takes new connections only while it has a thread free, as a sync worker does,
  so a connection goes to a worker that can serve it (gthread accepts as long as it has
  room for connections, and queues their requests behind its busy threads).

The settings come from :mod:`ngnserver.gunicorn_conf` (``NGNSERVER_CLIENT_TIMEOUT``) and the
application's own settings (``NGNSERVER_MAX_REQUEST_BYTES``). TLS in gunicorn
(``certfile``) is not buffered: there the worker behaves as ``gthread`` does.
"""

from __future__ import annotations

import errno
import selectors
import time
from concurrent.futures import Future
from functools import partial
from http import HTTPStatus
from itertools import takewhile
from typing import Any

import h11
from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn, ThreadWorker

MAX_HEAD_BYTES = 64 * 1024  # gunicorn's own limits (line 8190, 100 fields) refuse less
FEED_BYTES = 16 * 1024  # fed to h11 even with no line feed among them
STOP_LINGER = 2.0  # a stopping worker gives a request being read this much longer
_RECV = 65536

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def _answer(status: int) -> bytes:
    phrase = HTTPStatus(status).phrase
    return f"HTTP/1.1 {status} {phrase}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".encode()


class Incomplete(Exception):
    """The bytes so far do not hold a whole head yet."""


class Framing:
    """Where one request ends, found by an ``h11`` connection fed the request's bytes as
    they arrive: each call feeds it only the bytes added since the last one, and h11 goes
    on from where it stopped, so a request sent a byte at a time costs no more to follow
    than one sent at once. As h11 spends some 10 us on each call, it is called only when
    it may find more: a body of known length once all of it is there, otherwise when a
    line feed has come (the end of a head or a chunked body is one) or 16 KiB.

    A request h11 refuses raises ``h11.RemoteProtocolError``, whose ``error_status_hint``
    is the answer. A body longer than ``body_limit`` (announced, or once its chunks hold
    more) ends the request at its head: the application refuses it without reading it.
    One Framing (and h11 connection) follows one request; the next one on the connection
    gets a new one, with the bytes left after this one.
    """

    def __init__(self, body_limit: int) -> None:
        self.body_limit = body_limit
        self.head_end: int | None = None
        self.request: h11.Request | None = None
        self.expects_continue = False  # the head asks for ``100 Continue`` before the body
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD_BYTES)
        self._fed = 0  # bytes of the request's buffer given to h11
        self._body = 0  # body bytes h11 has decoded
        self._wait = 0  # a body of known length: h11 is fed once data holds this many
        self._scanned = 0  # no line feed in data before this since the last feed
        self._end: int | None = None

    def end(self, data: bytes | bytearray) -> int | None:
        """Where the request in ``data`` ends, None while its body is incomplete;
        ``Incomplete`` while its head is. ``data`` is the bytes of the last call and
        more."""
        if self._end is not None:
            return self._end
        if len(data) < self._wait or not self._worth_feeding(data):
            if self.head_end is None:
                raise Incomplete
            return None
        self._h11.receive_data(bytes(data[self._fed :]))
        self._fed = self._scanned = len(data)
        while True:
            event = self._h11.next_event()
            if event is h11.NEED_DATA:
                if self.head_end is None:
                    raise Incomplete
                return None
            if isinstance(event, h11.Request):
                self.request = event
                self.head_end = self._parsed()
                self.expects_continue = self._h11.they_are_waiting_for_100_continue
                lengths = [value for name, value in event.headers if name == b"content-length"]
                if lengths and int(lengths[0]) > self.body_limit:  # h11 keeps one at most
                    self._end = self.head_end
                    return self._end
                if lengths:
                    self._wait = self.head_end + int(lengths[0])
            elif isinstance(event, h11.Data):
                self._body += len(event.data)
                if self._body > self.body_limit:  # chunked
                    self._end = self.head_end
                    return self._end
            elif isinstance(event, h11.EndOfMessage):
                self._end = self._parsed()
                return self._end

    def _worth_feeding(self, data: bytes | bytearray) -> bool:
        """Whether h11 may find more in ``data`` than it was fed: a body of known length
        all there, or a line feed (a head, a chunk-size line and the trailers end in one),
        or ``FEED_BYTES`` more (for h11 to check its limits)."""
        if self._wait:
            return True
        if len(data) - self._fed >= FEED_BYTES:
            return True
        found = data.find(b"\n", self._scanned) >= 0
        self._scanned = len(data)
        return found

    def _parsed(self) -> int:
        """How many of the bytes fed h11 has parsed into events."""
        return self._fed - len(self._h11.trailing_data[0])

    def head_without_expect(self) -> bytes:
        """The request's head as h11 read it, less its ``Expect`` field."""
        assert self.request is not None
        request = self.request
        lines = [b"%s %s HTTP/%s" % (request.method, request.target, request.http_version)]
        lines += [
            b"%s: %s" % (name, value)
            for name, value in request.headers.raw_items()
            if name.lower() != b"expect"
        ]
        return b"\r\n".join(lines) + b"\r\n\r\n"


def request_end(data: bytes | bytearray, body_limit: int) -> tuple[int, int | None]:
    """(where the head of the request in ``data`` ends, where the request ends or None
    while its body is incomplete); ``Incomplete`` while the head is. See ``Framing``."""
    framing = Framing(body_limit)
    end = framing.end(data)
    assert framing.head_end is not None
    return framing.head_end, end


class BufferedConn(TConn):
    """A connection the main loop reads until it holds a whole request."""

    def __init__(self, cfg: Any, sock: Any, client: Any, server: Any, io_timeout: float) -> None:
        super().__init__(cfg, sock, client, server)
        self.io_timeout = io_timeout
        self.data_ready = True  # gthread's wait for a first byte: the main loop does that
        self.buffer = bytearray()
        self.framing: Framing | None = None
        self.deadline = 0.0
        self.complete = False
        self.registered = False

    def init(self) -> None:
        """In the thread, each time it takes the connection: the parser gets the bytes read
        so far, and the socket a timeout for each operation."""
        super().init()
        if self.io_timeout:
            self.sock.settimeout(self.io_timeout)
        if self.buffer and self.parser is not None:
            self.parser.unreader.unread(bytes(self.buffer))
            self.buffer = bytearray()


class BufferingWorker(ThreadWorker):
    """``gthread`` that gives its threads whole requests only; see the module."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        from ngnserver import gunicorn_conf

        self.client_timeout = float(gunicorn_conf.client_timeout)
        self.body_limit = 0
        self.reading: dict[BufferedConn, None] = {}  # in the order of their deadlines
        self.in_flight = 0
        self.stopping_at: float | None = None

    def init_process(self) -> None:
        from ngnserver import config

        # up to twice the application's limit is read whole, so that the application can
        # read and discard a body just over its limit without a thread waiting on the
        # client (and the client, which writes before it reads, then gets the fault)
        self.body_limit = 2 * config.load().max_request_bytes
        super().init_process()

    def accept(self, listener: Any) -> None:
        try:
            sock, client = listener.accept()
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                return
            raise
        self.nr_conns += 1
        conn = BufferedConn(self.cfg, sock, client, listener.getsockname(), self.client_timeout)
        if negotiation.prior_knowledge_allowed(self.cfg, client) or self.cfg.is_ssl:
            conn.complete = True  # gunicorn reads the preface or the handshake itself
        self.enqueue_req(conn)

    def enqueue_req(self, conn: Any) -> None:
        """New connections, kept-alive ones that became readable, pipelined requests all
        come through here; only whole requests go on to a thread."""
        if not isinstance(conn, BufferedConn) or conn.complete:
            if isinstance(conn, BufferedConn):
                conn.complete = self.cfg.is_ssl  # with TLS every request goes straight on
            self.in_flight += 1
            if self.in_flight >= self.cfg.threads:
                ThreadWorker.set_accept_enabled(self, False)
            super().enqueue_req(conn)
            return
        if conn.parser is not None:  # kept alive: what gunicorn has read ahead
            conn.buffer += conn.parser.unreader.take_buffered()
        conn.sock.setblocking(False)
        conn.deadline = time.monotonic() + self.client_timeout
        conn.framing = Framing(self.body_limit)
        self.reading[conn] = None
        if not self._whole(conn):
            self.poller.register(
                conn.sock, selectors.EVENT_READ, partial(self.on_request_bytes, conn)
            )
            conn.registered = True

    def on_request_bytes(self, conn: BufferedConn, _sock: Any) -> None:
        try:
            data = conn.sock.recv(_RECV)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the client gave up
            self._drop(conn)
            return
        conn.buffer += data
        self._whole(conn)

    def _whole(self, conn: BufferedConn) -> bool:
        """True when ``conn`` is off the loop: handed to a thread with a whole request, or
        refused; False while it is still being read."""
        framing = conn.framing or Framing(self.body_limit)
        conn.framing = framing
        new_head = framing.head_end is None
        try:
            end = framing.end(conn.buffer)
            if new_head and framing.head_end is not None and framing.expects_continue:
                # answered here, once: the thread gets the head without it, read anew
                conn.buffer[: framing.head_end] = framing.head_without_expect()
                conn.framing = framing = Framing(self.body_limit)
                end = framing.end(conn.buffer)
                if end is None:
                    self._send(conn, CONTINUE)
        except Incomplete:
            return False
        except h11.RemoteProtocolError as exc:
            status = exc.error_status_hint
            self.log.debug("%s: %s, answered %d", conn.client, exc, status)
            self._drop(conn, _answer(status))
            return True
        if end is None:
            return False
        self._unregister(conn)
        del self.reading[conn]
        conn.complete = True
        conn.framing = None
        self.enqueue_req(conn)
        return True

    @staticmethod
    def _send(conn: BufferedConn, data: bytes) -> None:
        try:
            conn.sock.send(data)
        except OSError:
            pass

    def _unregister(self, conn: BufferedConn) -> None:
        if conn.registered:
            conn.registered = False
            try:
                self.poller.unregister(conn.sock)
            except (KeyError, ValueError, OSError):
                pass

    def _drop(self, conn: BufferedConn, answer: bytes = b"") -> None:
        self._unregister(conn)
        self.reading.pop(conn, None)
        if answer:
            self._send(conn, answer)
        self.nr_conns -= 1
        conn.close()

    def murder_pending(self) -> None:
        """Also refuse requests not read whole in time (on every pass of the main loop;
        a stopping worker gives them ``STOP_LINGER`` seconds)."""
        super().murder_pending()
        now = time.monotonic()
        if not self.alive and self.stopping_at is None:
            self.stopping_at = now
        if self.stopping_at is not None and now >= self.stopping_at + STOP_LINGER:
            late = list(self.reading)
        else:
            late = list(takewhile(lambda conn: conn.deadline <= now, self.reading))
        for conn in late:
            self.log.debug(
                "%s: no whole request within %g s, answered 408", conn.client, self.client_timeout
            )
            self._drop(conn, _answer(HTTPStatus.REQUEST_TIMEOUT))

    def finish_request(self, conn: Any, fs: Future[Any]) -> None:
        self.in_flight -= 1
        super().finish_request(conn, fs)

    def set_accept_enabled(self, enabled: bool) -> None:
        """New connections only while a thread is free (see the module)."""
        super().set_accept_enabled(enabled and self.in_flight < self.cfg.threads)
