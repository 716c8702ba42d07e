"""Slow clients against the shipped gunicorn settings (issue 14, item 4): ``ngnserver serve``
with two workers of two threads each, fewer threads than slow clients, and no proxy.

A normal SOAP request is answered promptly while 20 connections send a header line every
2 s and 5 dribble their bodies, and no worker is killed; a client that does not finish its
request within ``NGNSERVER_CLIENT_TIMEOUT`` is answered 408. The worker's event loop reads
requests whole before a thread runs them (``ngnserver.gunicorn_worker``), so the requests
that are complete (kept alive, pipelined, chunked, ``Expect: 100-continue``) are checked
over real sockets too. The bounds on time are generous: these test behaviour, not speed.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import h11
import pytest

from ngnserver.gunicorn_worker import MAX_HEAD_BYTES, Framing, Incomplete, request_end
from tests.support.gunicorn import ADMIN, Deployment, Gunicorn
from tests.support.slow_clients import SlowBody, SlowHeaders, timed
from tests.support.wire import Client, HttpResponse, SoapFault, envelope, read_response

PROMPT = 3.0  # seconds: a normal request answered later than this was held up
THREADS = "2"  # per worker; 2 workers: 4 threads against 25 slow clients


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    deployment = Deployment(
        "sqlite",
        tmp_path_factory.mktemp("slow"),
        settings={"NGNSERVER_THREADS": THREADS, "NGNSERVER_CLIENT_TIMEOUT": "4"},
    )
    yield deployment.start()
    deployment.stop_all()


def _status_body() -> bytes:
    return envelope("Network", "getStatus", {}, Client("", *ADMIN).auth())


def _head(server: Gunicorn, body: bytes, extra: str = "", version: str = "HTTP/1.1") -> bytes:
    return (
        f"POST /ngnpro/ {version}\r\nHost: 127.0.0.1:{server.port}\r\n"
        f'Content-Type: text/xml; charset=UTF-8\r\nSOAPAction: ""\r\n{extra}'
    ).encode()


def _request(server: Gunicorn, body: bytes | None = None, extra: str = "") -> bytes:
    body = _status_body() if body is None else body
    return _head(server, body, f"{extra}Content-Length: {len(body)}\r\n\r\n") + body


def _read_response(sock: socket.socket, buffer: bytearray) -> HttpResponse:
    """One response read from ``sock`` by its Content-Length (the connection stays open);
    ``buffer`` holds what was read past it."""
    while b"\r\n\r\n" not in buffer:
        data = sock.recv(65536)
        assert data, f"the server closed the connection after {bytes(buffer)!r}"
        buffer += data
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {
        k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])
    }
    length = int(headers.get("content-length", "0"))
    while len(rest) < length:
        data = sock.recv(65536)
        assert data, "the server closed the connection in a body"
        rest += data
    buffer[:] = rest[length:]
    return HttpResponse(int(lines[0].split()[1]), headers, rest[:length], head)


def _connect(server: Gunicorn) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


def _normal_request_times(server: Gunicorn, seconds: float) -> list[float]:
    client = Client(server.url, *ADMIN)
    times = []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        took, result = timed(lambda: client.call("Network", "getStatus"))
        assert not isinstance(result, Exception), (
            f"a normal request failed after {took:.1f} s: {result!r}"
        )
        assert '"database": "ok"' in str(result)
        times.append(took)
        time.sleep(0.5)
    return times


def test_a_normal_request_is_answered_promptly_while_slow_clients_hold_connections(server):
    with (
        SlowHeaders("127.0.0.1", server.port, 20, interval=1.0) as heads,
        SlowBody("127.0.0.1", server.port, 5, interval=1.0) as bodies,
    ):
        time.sleep(1.0)  # they have all connected and sent a first part
        times = _normal_request_times(server, 2.5)
    assert heads.connections_opened >= 20 and bodies.connections_opened >= 5
    assert max(times) < PROMPT, f"normal requests took {[round(t, 2) for t in times]} s"
    assert "WORKER TIMEOUT" not in server.output()


def test_a_request_not_sent_whole_within_the_client_timeout_is_answered_408(server):
    started = time.monotonic()
    with _connect(server) as head_sock, _connect(server) as body_sock:
        head_sock.sendall(b"POST /ngnpro/ HTTP/1.1\r\nHost: x\r\n")
        body_sock.sendall(_head(server, b"") + b"Content-Length: 1000\r\n\r\n<")
        answers = {}
        for step in range(20):
            for name, sock, drip in (
                ("head", head_sock, f"X-{step}: y\r\n".encode()),
                ("body", body_sock, b" "),
            ):
                if name in answers:
                    continue
                try:
                    sock.sendall(drip)
                    sock.settimeout(0.5)
                    answers[name] = sock.recv(65536), time.monotonic() - started
                except TimeoutError:
                    continue
            if len(answers) == 2:
                break
    for name, (answer, seconds) in answers.items():
        assert answer.startswith(b"HTTP/1.1 408 "), (name, answer)
        assert 3.5 < seconds < 4 + PROMPT, (name, seconds)  # NGNSERVER_CLIENT_TIMEOUT=4
    assert set(answers) == {"head", "body"}


def test_a_kept_alive_connection_serves_requests_one_after_another(server):
    with _connect(server) as sock:
        buffer = bytearray()
        for _ in range(3):
            sock.sendall(_request(server))
            response = _read_response(sock, buffer)
            assert response.status == 200
            read_response(response, "Network", "getStatus")
            time.sleep(0.2)


def test_pipelined_requests_are_all_answered_in_order(server):
    body = envelope(
        "Network", "getStatus", {}, {"username": "nobody", "password": "x", "admin": True}
    )
    with _connect(server) as sock:
        sock.sendall(_request(server) + _request(server, body) + _request(server))
        buffer = bytearray()
        first, second, third = (_read_response(sock, buffer) for _ in range(3))
    assert (first.status, second.status, third.status) == (200, 500, 200)
    read_response(first, "Network", "getStatus")
    assert b"faultcode" in second.body


def test_a_chunked_body_is_read_whole_and_answered(server):
    body = _status_body()
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:100], body[100:]))
    with _connect(server) as sock:
        sock.sendall(_head(server, body, "Transfer-Encoding: chunked\r\n\r\n"))
        for piece in (chunks[:50], chunks[50:], b"0\r\n\r\n"):
            time.sleep(0.2)
            sock.sendall(piece)
        response = _read_response(sock, bytearray())
    assert response.status == 200
    read_response(response, "Network", "getStatus")


def test_expect_100_continue_gets_one_interim_answer_then_the_answer(server):
    body = _status_body()
    with _connect(server) as sock:
        sock.sendall(
            _head(server, body, f"Expect: 100-continue\r\nContent-Length: {len(body)}\r\n\r\n")
        )
        interim = sock.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(body)
        buffer = bytearray()
        response = _read_response(sock, buffer)
        assert response.status == 200, response.raw_head
        read_response(response, "Network", "getStatus")


def test_expect_100_continue_sent_with_its_body_gets_the_answer_alone(server):
    body = _status_body()
    with _connect(server) as sock:
        sock.sendall(_request(server, body, "Expect: 100-continue\r\n"))
        buffer = bytearray()
        response = _read_response(sock, buffer)
        assert response.status == 200, response.raw_head
        read_response(response, "Network", "getStatus")
        sock.sendall(_request(server))  # nothing came before or after it
        assert _read_response(sock, buffer).status == 200


def test_a_request_http_does_not_allow_is_answered_400_and_closed(server):
    with _connect(server) as sock:
        sock.sendall(_head(server, b"", "Transfer-Encoding: chunked\r\n\r\nzz\r\n"))
        response = _read_response(sock, bytearray())
        assert response.status == 400
        assert response.headers["connection"] == "close"
        assert sock.recv(65536) == b""


def test_a_head_larger_than_any_client_of_ours_sends_is_refused(server):
    with _connect(server) as sock:
        sock.sendall(b"POST /ngnpro/ HTTP/1.1\r\n")
        try:
            for n in range(100):
                sock.sendall(b"X-%d: %s\r\n" % (n, b"y" * 1000))
        except OSError:
            pass  # closed once refused
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:100]


def test_a_body_larger_than_the_limit_is_refused_without_waiting_for_it(server):
    with _connect(server) as sock:
        # over twice the limit (up to twice, the worker reads it whole and the app throws it away)
        sock.sendall(_head(server, b"") + b"Content-Length: 5000000\r\n\r\n<")
        took, response = timed(lambda: _read_response(sock, bytearray()))
    assert took < PROMPT
    with pytest.raises(SoapFault) as fault:
        read_response(response)
    assert fault.value.errorcode == 2003


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", (27, 27)),
        (b"POST / HTTP/1.0\r\nContent-Length: 3\r\n\r\nab", (38, None)),
        (b"POST / HTTP/1.0\r\ncontent-length: 3\r\n\r\nabcGET", (38, 41)),
        (
            b"POST / HTTP/1.0\r\nContent-Length: 99\r\n\r\n",
            (39, 39),
        ),  # over the limit: refused unread
        (
            b"POST / HTTP/1.0\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nab",
            (57, 58),
        ),  # one length, said twice (gunicorn then refuses it)
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", (47, None)),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\nX", (47, 59)),
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nT: 1\r\n", (47, None)),
        (
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\nff\r\n" + b"a" * 50,
            (47, None),
        ),  # up to the limit: read on
        (
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\nff\r\n" + b"a" * 51,
            (47, 47),
        ),  # chunks over the limit: refused unread
    ],
)
def test_where_a_request_ends(data, expected):
    assert request_end(data, body_limit=50) == expected


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),  # bad chunk
        (b"POST / HTTP/1.0\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", 400),
        (b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", 400),  # HTTP/1.1 without Host
        (b"POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", 501),
        (b"POST /\r\n\r\n", 400),  # no version
    ],
)
def test_a_request_http_does_not_allow_is_refused_with_the_status_h11_gives(data, status):
    with pytest.raises(h11.RemoteProtocolError) as refused:
        request_end(data, body_limit=50)
    assert refused.value.error_status_hint == status


def test_a_head_without_its_blank_line_is_incomplete():
    with pytest.raises(Incomplete):
        request_end(b"POST / HTTP/1.1\r\nHost: x\r\n", body_limit=50)


@pytest.mark.parametrize(
    "request_bytes",
    [
        b"POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhel\r\n2;x=y\r\nlo\r\n0\r\nT: 1\r\n\r\n",
    ],
)
def test_a_request_sent_a_byte_at_a_time_ends_at_its_last_byte(request_bytes):
    """Framing goes on from where it stopped: fed one byte more each time, it finds the
    end exactly when the last byte arrives, never before."""
    framing, data = Framing(body_limit=50), bytearray()
    for n, byte in enumerate(request_bytes + b"GET", 1):
        data.append(byte)
        try:
            end = framing.end(data)
        except Incomplete:
            end = None
        assert end == (len(request_bytes) if n >= len(request_bytes) else None), n


def test_a_chunk_size_line_longer_than_a_head_may_be_is_refused_431():
    head = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    assert request_end(head + b"0" * MAX_HEAD_BYTES, body_limit=10**6) == (len(head), None)
    with pytest.raises(h11.RemoteProtocolError) as refused:
        request_end(head + b"0" * (MAX_HEAD_BYTES + 1), body_limit=10**6)
    assert refused.value.error_status_hint == 431


def test_a_head_larger_than_max_head_bytes_is_refused_431_before_its_end():
    framing, data = Framing(body_limit=50), bytearray(b"POST / HTTP/1.1\r\n")
    with pytest.raises(Incomplete):
        framing.end(data)
    data += b"X: " + b"y" * MAX_HEAD_BYTES + b"\r\n"
    with pytest.raises(h11.RemoteProtocolError) as refused:
        framing.end(data)
    assert refused.value.error_status_hint == 431


def test_the_head_without_expect_is_the_head_less_that_field():
    data = b"POST /ngnpro/ HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
    framing = Framing(body_limit=50)
    assert framing.end(data) is None
    assert framing.expects_continue
    assert framing.head_without_expect() == (
        b"POST /ngnpro/ HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n"
    )
    complete = Framing(body_limit=50)  # body and all at once: it still asked
    assert complete.end(data + b"ab") == len(data) + 2 and complete.expects_continue


def test_a_request_dribbled_a_byte_at_a_time_costs_linear_time():
    """100,000 bytes of body fed one at a time, as a client sending one byte per packet
    makes the event loop do: well under what quadratic re-scanning would take."""
    body = 100_000
    framing = Framing(body_limit=10**6)
    data = bytearray(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % body)
    started = time.perf_counter()
    for _ in range(body - 1):
        data.append(0x20)
        assert framing.end(data) is None
    data.append(0x20)
    assert framing.end(data) == len(data)
    took = time.perf_counter() - started
    assert took < 5.0, f"{took:.2f} s for {body} one-byte chunks"
