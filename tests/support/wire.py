"""A test client that speaks NGNPro the way CDRTool's PEAR SOAP client does, and a strict
reader of responses that fails on anything PEAR would decode wrongly.

- ``Client.call(port, operation, **params)`` encodes parameters as PEAR does (typed scalars,
  ``SOAP-ENC:Array`` of ``<item>``, unqualified parts, an un-namespaced ``auth`` header),
  sends HTTP/1.0 with ``Connection: close`` over a raw socket, and reads to EOF.
- ``read_response`` checks the PEAR rules (every scalar typed, every array with
  ``arrayType``, no ``offset``, no ``xsi:nil``, no multiRef) and decodes by ``xsi:type``, so
  tests see what a PHP client would: ints as int, booleans as bool, arrays as lists.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from lxml import etree

ENV = "http://schemas.xmlsoap.org/soap/envelope/"
ENC = "http://schemas.xmlsoap.org/soap/encoding/"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
TYPES = "urn:AGProjects:NGNPro"
PORT_NS = {p: f"urn:AGProjects:NGNPro:{p}" for p in ("Customer", "Sip", "Enum", "Dns", "Network", "Dsl", "Server", "Voicemail", "Rating")}
PORT_NS["Presence"] = "urn:AGProjects:SoapSIMPLEProxy:Presence"  # as CDRTool's Presence class sends it
CAPTURES = Path(__file__).parent.parent / "fixtures" / "cdrtool-wire"


class SoapFault(Exception):
    def __init__(self, faultcode: str, faultstring: str, errorcode: int | None, errorstring: str, status: int):
        super().__init__(f"{faultstring.split(': ', 1)[0]} ({errorcode}): {errorstring}")
        self.faultcode = faultcode
        self.faultstring = faultstring
        self.errorcode = errorcode
        self.errorstring = errorstring
        self.status = status


@dataclass
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    raw_head: bytes = b""
    extra: dict[str, Any] = field(default_factory=dict)


def http_exchange(url: str, raw_request: bytes, timeout: float = 30) -> HttpResponse:
    """Send bytes as they are, read until the server closes, split the response."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=timeout) as sock:
        sock.sendall(raw_request)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return HttpResponse(status, headers, body, head)


def post(url: str, body: bytes, headers: dict[str, str] | None = None, version: str = "HTTP/1.0") -> HttpResponse:
    parts = urlsplit(url)
    hdrs = {
        "Host": parts.netloc,
        "User-Agent": "PEAR-SOAP 0.11.0-beta",
        "Content-Type": "text/xml; charset=UTF-8",
        "SOAPAction": '""',
        "Connection": "close",
        **(headers or {}),
        "Content-Length": str(len(body)),
    }
    head = f"POST {parts.path or '/'} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
    return http_exchange(url, head.encode("latin-1") + b"\r\n" + body)


def capture(name: str) -> tuple[str, dict[str, str], bytes]:
    """(request line, headers, body) of a captured CDRTool request."""
    raw = (CAPTURES / f"{name}.http").read_bytes()
    head, _, body = raw.partition(b"\n\n")
    lines = head.decode().splitlines()
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return lines[0], headers, body


def replay(url: str, name: str, body: bytes | None = None) -> HttpResponse:
    """Send a captured request with its own request line and headers (Content-Length set
    to the body actually sent)."""
    request_line, headers, captured_body = capture(name)
    body = captured_body if body is None else body
    method, _path, version = request_line.split()
    parts = urlsplit(url)
    headers = {**headers, "Host": parts.netloc, "Content-Length": str(len(body))}
    head = f"{method} {parts.path} {version}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return http_exchange(url, head.encode() + b"\r\n" + body)


# -- encoding like PEAR ----------------------------------------------------------------------


def encode(name: str, value: Any, type_name: str | None = None) -> str:
    if value is None:
        return f"<{name}/>"
    if isinstance(value, bool):
        return f'<{name} xsi:type="xsd:boolean">{"true" if value else "false"}</{name}>'
    if isinstance(value, int):
        return f'<{name} xsi:type="xsd:int">{value}</{name}>'
    if isinstance(value, float):
        return f'<{name} xsi:type="xsd:float">{value}</{name}>'
    if isinstance(value, str):
        return f'<{name} xsi:type="xsd:string">{escape(value)}</{name}>'
    if isinstance(value, list):
        if value and all(isinstance(v, str) for v in value):
            array_type = f"xsd:string[{len(value)}]"
        else:
            array_type = f"Struct[{len(value)}]" if value else "xsd:anyType[0]"
        items = "".join(encode("item", v) for v in value)
        return (
            f'<{name} xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="{array_type}" '
            f'SOAP-ENC:offset="[0]">{items}</{name}>'
        )
    if isinstance(value, dict):
        typed = f' xsi:type="ns4:{type_name}"' if type_name else ""
        inner = "".join(encode(k, v) for k, v in value.items())
        return f"<{name}{typed}>{inner}</{name}>"
    raise TypeError(value)


def envelope(port: str, operation: str, params: dict[str, Any], auth: dict[str, Any] | None) -> bytes:
    header = ""
    if auth is not None:
        header = "<SOAP-ENV:Header>\n" + encode("auth", auth) + "\n</SOAP-ENV:Header>\n"
    parts = "".join(
        encode(name, value[1], value[0]) if isinstance(value, tuple) else encode(name, value)
        for name, value in params.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{ENV}" xmlns:xsd="http://www.w3.org/2001/XMLSchema" '
        f'xmlns:xsi="{XSI}" xmlns:SOAP-ENC="{ENC}" xmlns:ns4="{TYPES}" xmlns:ns5="{PORT_NS[port]}" '
        f'SOAP-ENV:encodingStyle="{ENC}">\n{header}<SOAP-ENV:Body>\n'
        f"<ns5:{operation}>{parts}</ns5:{operation}>\n</SOAP-ENV:Body>\n</SOAP-ENV:Envelope>\n"
    ).encode()


# -- strict decoding -------------------------------------------------------------------------

XSI_TYPE = f"{{{XSI}}}type"


class PearRuleBroken(AssertionError):
    pass


def _decode(el: etree._Element, where: str) -> Any:
    for attr in el.attrib:
        if etree.QName(attr).localname == "offset":
            raise PearRuleBroken(f"{where}: an 'offset' attribute crashes PEAR")
    if el.get(f"{{{XSI}}}nil") is not None:
        raise PearRuleBroken(f"{where}: xsi:nil is ignored by PEAR; omit the member")
    if el.get("href") is not None or el.get("id") is not None:
        raise PearRuleBroken(f"{where}: multiRef/href is not allowed")
    xsi_type = el.get(XSI_TYPE)
    if xsi_type is None:
        raise PearRuleBroken(f"{where}: untyped element (PEAR decodes it as a string)")
    prefix, _, local = xsi_type.rpartition(":")
    ns = el.nsmap.get(prefix) if prefix else None
    if ns == ENC and local == "Array":
        array_type = el.get(f"{{{ENC}}}arrayType")
        if not array_type:
            raise PearRuleBroken(f"{where}: array without SOAP-ENC:arrayType")
        items = [c for c in el if isinstance(c.tag, str)]
        declared = int(array_type.rpartition("[")[2].rstrip("]"))
        if declared != len(items):
            raise PearRuleBroken(f"{where}: arrayType says {declared} items, found {len(items)}")
        return [_decode(c, f"{where}[{i}]") for i, c in enumerate(items)]
    if ns == "http://www.w3.org/2001/XMLSchema":
        text = el.text or ""
        if local == "int":
            return int(text)
        if local == "boolean":
            if text not in ("true", "false"):
                raise PearRuleBroken(f"{where}: boolean {text!r}")
            return text == "true"
        if local in ("double", "float"):
            return float(text)
        if local == "string":
            return text
        raise PearRuleBroken(f"{where}: unexpected scalar type {xsi_type}")
    if ns != TYPES:
        raise PearRuleBroken(f"{where}: struct type {xsi_type} is not in {TYPES}")
    result = {}
    for child in el:
        name = etree.QName(child).localname
        result[name] = _decode(child, f"{where}.{name}")
    return result


@dataclass
class Response:
    http: HttpResponse
    root: etree._Element
    value: Any = None


def read_response(http: HttpResponse, port: str | None = None, operation: str | None = None) -> Response:
    """Check transport and PEAR rules, then decode; raise SoapFault for a Fault."""
    assert http.headers.get("content-type", "").lower() == "text/xml; charset=utf-8", http.headers
    assert "transfer-encoding" not in http.headers
    assert int(http.headers["content-length"]) == len(http.body)
    root = etree.fromstring(http.body)
    body = root.find(f"{{{ENV}}}Body")
    payload = next(c for c in body if isinstance(c.tag, str))
    if payload.tag == f"{{{ENV}}}Fault":
        assert http.status == 500, http.status
        detail = payload.find("detail/exception")
        errorcode = detail.findtext("errorcode") if detail is not None else None
        raise SoapFault(
            payload.findtext("faultcode"),
            payload.findtext("faultstring"),
            int(errorcode) if errorcode else None,
            detail.findtext("errorstring") if detail is not None else "",
            http.status,
        )
    assert http.status == 200, http.status
    if port and operation:
        assert payload.tag == f"{{{PORT_NS[port]}}}{operation}Response", payload.tag
    children = [c for c in payload if isinstance(c.tag, str)]
    assert len(children) <= 1, "a response wrapper has at most one child"
    value = _decode(children[0], children[0].tag) if children else None
    return Response(http, root, value)


@dataclass
class Client:
    """A CDRTool-like client for one login."""

    url: str
    username: str
    password: str
    admin: bool = True
    impersonate: int = 0
    headers: dict[str, str] | None = None  # extra HTTP headers (say, X-Forwarded-For)

    def auth(self) -> dict[str, Any]:
        auth: dict[str, Any] = {"username": self.username, "password": self.password, "admin": self.admin}
        if self.impersonate:
            auth["impersonate"] = self.impersonate
        return auth

    def call(self, port: str, operation: str, **params: Any) -> Any:
        return self.call_full(port, operation, **params).value

    def call_full(self, port: str, operation: str, **params: Any) -> Response:
        http = post(self.url, envelope(port, operation, params, self.auth()), self.headers)
        return read_response(http, port, operation)

    def as_customer(self, customer_id: int) -> Client:
        return Client(self.url, self.username, self.password, True, customer_id, self.headers)


def all_at_once(n: int, call: Callable[[int], Any]) -> list[int]:
    """``call(i)`` for i in range(n), released at one instant; 0 for success, else the errorcode."""
    barrier = threading.Barrier(n)

    def one(i: int) -> int:
        barrier.wait()
        try:
            call(i)
            return 0
        except SoapFault as fault:
            return fault.errorcode or -1

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))
