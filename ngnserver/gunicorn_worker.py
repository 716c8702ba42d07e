"""gunicorn's threaded worker, reading each request whole before a thread sees it.

gunicorn's ``gthread`` worker hands a connection to a thread as soon as its first bytes
arrive; the thread then reads the rest of the head and the body from a blocking socket
with no time limit. A client that sends a header line every few seconds, or dribbles its
body, keeps that thread for as long as it likes, and a few such clients hold every thread
of every worker (issue 14, item 4). This worker does what a buffering proxy does, in its
event loop:

- A connection is read without blocking by the worker's main loop until it holds a whole
  request: the head up to its blank line, then the body its ``Content-Length`` announces
  (or its chunks up to the last one). Only then does a thread get it, with the bytes
  already read. A slow client costs a socket and its bytes, never a thread.
- A request not complete within ``client_timeout`` seconds of its first byte (of the
  connection, for a new one) is answered ``408`` and closed. A head larger than
  ``MAX_HEAD_BYTES`` is answered ``431``. A body larger than the application accepts
  (``max_request_bytes``) is not buffered: the request goes to a thread with its head, and
  the application refuses it unread.
- ``Expect: 100-continue`` is answered here, once, so that such a client sends its body.
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
import re
import selectors
import time
from concurrent.futures import Future
from functools import partial
from itertools import takewhile
from typing import Any

from gunicorn.http2 import negotiation
from gunicorn.workers.gthread import TConn, ThreadWorker

MAX_HEAD_BYTES = 64 * 1024  # gunicorn's own limits (line 8190, 100 fields) refuse less
MAX_LINE_BYTES = 8192  # a chunk-size or trailer line
STOP_LINGER = 2.0  # a stopping worker gives a request being read this much longer
_RECV = 65536

_HEAD_END = re.compile(rb"\r?\n\r?\n")
_CONTENT_LENGTH = re.compile(
    rb"^content-length[ \t]*:[ \t]*([0-9]+)[ \t]*\r?$", re.IGNORECASE | re.MULTILINE
)
_CHUNKED = re.compile(rb"^transfer-encoding[ \t]*:[^\r\n]*chunked", re.IGNORECASE | re.MULTILINE)
_EXPECT_CONTINUE = re.compile(
    rb"^expect[ \t]*:[ \t]*100-continue[ \t]*\r?\n", re.IGNORECASE | re.MULTILINE
)
_CHUNK_SIZE = re.compile(rb"[0-9a-fA-F]{1,16}")

CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def _answer(status: str) -> bytes:
    return f"HTTP/1.1 {status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n".encode()


class Incomplete(Exception):
    """The bytes so far do not hold a whole head yet."""


class Framing:
    """Where one request ends, found as its bytes arrive: each call goes on from where the
    last one stopped, so a request sent a byte at a time costs no more to follow than one
    sent at once.

    Framing this does not follow (a malformed or repeated length, a bad chunk) ends the
    request at its head: gunicorn's parser then refuses it. So does a body longer than
    ``body_limit``: the application refuses it without reading it.
    """

    def __init__(self, body_limit: int) -> None:
        self.body_limit = body_limit
        self.head_end: int | None = None
        self._scanned = 0  # the head's end was not before this
        self._length = 0
        self._chunked = False
        self._pos = 0  # chunked: where the next chunk-size or trailer line starts
        self._trailers = False

    def end(self, data: bytes | bytearray) -> int | None:
        """Where the request in ``data`` ends, None while its body is incomplete;
        ``Incomplete`` while its head is."""
        if self.head_end is None:
            match = _HEAD_END.search(data, max(0, self._scanned - 3))
            if match is None:
                self._scanned = len(data)
                raise Incomplete
            self.head_end = self._pos = match.end()
            head = bytes(data[: self.head_end])
            self._chunked = _CHUNKED.search(head) is not None
            lengths = _CONTENT_LENGTH.findall(head)
            if not self._chunked and len(lengths) == 1 and int(lengths[0]) <= self.body_limit:
                self._length = int(lengths[0])
        if self._chunked:
            return self._chunked_end(data, self.head_end)
        end = self.head_end + self._length
        return end if len(data) >= end else None

    def _chunked_end(self, data: bytes | bytearray, body_start: int) -> int | None:
        pos = self._pos
        while True:
            line_end = data.find(b"\n", pos, pos + MAX_LINE_BYTES)
            if line_end < 0:
                if len(data) - pos >= MAX_LINE_BYTES:
                    return body_start  # no line of ours is this long
                self._pos = pos
                return None
            if self._trailers:  # lines up to an empty one
                if data[pos:line_end] in (b"", b"\r"):
                    return line_end + 1
                pos = line_end + 1
            else:
                size = _CHUNK_SIZE.match(data, pos)
                if size is None:
                    return body_start
                length = int(size.group(), 16)
                if length == 0:
                    self._trailers = True
                    pos = line_end + 1
                    continue
                data_end = line_end + 1 + length
                if data_end - body_start > self.body_limit:
                    return body_start
                if len(data) < data_end + 2:
                    self._pos = pos
                    return None
                pos = data_end + (2 if data[data_end : data_end + 2] == b"\r\n" else 1)
            if pos - body_start > self.body_limit:
                return body_start


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

        self.body_limit = config.load().max_request_bytes
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
        except Incomplete:
            if len(conn.buffer) > MAX_HEAD_BYTES:
                self.log.debug(
                    "%s: a head over %d bytes, answered 431", conn.client, MAX_HEAD_BYTES
                )
                self._drop(conn, _answer("431 Request Header Fields Too Large"))
                return True
            return False
        if new_head and framing.head_end is not None:
            head = bytes(conn.buffer[: framing.head_end])
            if _EXPECT_CONTINUE.search(head):  # answered here, once; the thread must not again
                conn.buffer[: framing.head_end] = _EXPECT_CONTINUE.sub(b"", head, count=1)
                conn.framing = framing = Framing(self.body_limit)
                end = framing.end(conn.buffer)
                if end is None:
                    self._send(conn, CONTINUE)
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
            self._drop(conn, _answer("408 Request Timeout"))

    def finish_request(self, conn: Any, fs: Future[Any]) -> None:
        self.in_flight -= 1
        super().finish_request(conn, fs)

    def set_accept_enabled(self, enabled: bool) -> None:
        """New connections only while a thread is free (see the module)."""
        super().set_accept_enabled(enabled and self.in_flight < self.cfg.threads)
