"""Slow clients, as an attacker (or a bad network) makes them, for tests and bench scripts.

- ``SlowHeaders``: connections that send a request line and then one header line every
  ``interval`` seconds, never ending the head (slowloris).
- ``SlowBody``: connections that send a complete head announcing ``length`` bytes of body
  and then dribble ``chunk`` bytes every ``interval`` seconds.

Each runs its connections in daemon threads; a connection the server closes is opened
again at once, as an attacker would, and counted in ``closed_by_server``. ``stop()`` closes
them all.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Self

from tests.support.wire import SoapFault


@dataclass
class _SlowClients:
    host: str
    port: int
    count: int
    interval: float
    closed_by_server: int = 0
    connections_opened: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Self:
        for n in range(self.count):
            thread = threading.Thread(target=self._run, args=(n,), daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(self.interval + 5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _head(self, n: int) -> bytes:
        raise NotImplementedError

    def _drip(self, n: int, step: int) -> bytes:
        raise NotImplementedError

    def _run(self, n: int) -> None:
        while not self._stop.is_set():
            try:
                sock = socket.create_connection((self.host, self.port), timeout=5)
            except OSError:
                self._stop.wait(0.2)
                continue
            with self._lock:
                self.connections_opened += 1
            try:
                self._dribble(sock, n)
            finally:
                sock.close()

    def _dribble(self, sock: socket.socket, n: int) -> None:
        """Send the head, then a little every ``interval`` until stopped or closed."""
        try:
            sock.sendall(self._head(n))
            step = 0
            while not self._stop.is_set():
                if _closed(sock, self.interval, self._stop):
                    break
                if self._stop.is_set():
                    return
                sock.sendall(self._drip(n, step))
                step += 1
            else:
                return
        except OSError:
            pass
        with self._lock:
            self.closed_by_server += 1


def _closed(sock: socket.socket, interval: float, stop: threading.Event) -> bool:
    """Wait ``interval`` seconds (less if stopped); True when the server closed or answered
    meanwhile (the connection is over for this client)."""
    deadline = time.monotonic() + interval
    while not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        sock.settimeout(min(remaining, 0.2))
        try:
            sock.recv(65536)
            return True  # EOF, or an answer (a 408 or a 400): the server is done with us
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


class SlowHeaders(_SlowClients):
    """A request line, then one header line every ``interval`` seconds."""

    def _head(self, n: int) -> bytes:
        return f"POST /ngnpro/ HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n".encode()

    def _drip(self, n: int, step: int) -> bytes:
        return f"X-Slow-{step}: {n}\r\n".encode()


@dataclass
class SlowBody(_SlowClients):
    """A complete head announcing ``length`` bytes, then ``chunk`` bytes every ``interval``."""

    length: int = 100_000
    chunk: int = 16

    def _head(self, n: int) -> bytes:
        return (
            f"POST /ngnpro/ HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f'Content-Type: text/xml; charset=utf-8\r\nSOAPAction: ""\r\n'
            f"Content-Length: {self.length}\r\n\r\n<"
        ).encode()

    def _drip(self, n: int, step: int) -> bytes:
        return b" " * self.chunk


def timed(function: Callable[[], object]) -> tuple[float, object]:
    """(seconds ``function()`` took, what it returned or the network error or fault it
    raised)."""
    started = time.monotonic()
    try:
        result: object = function()
    except (OSError, SoapFault) as exc:  # the caller reports it with the time
        result = exc
    return time.monotonic() - started, result
