"""The XML-RPC endpoint: bytes in, bytes out, like ``soap.endpoint.SoapEndpoint``.

A request is refused before it costs anything exactly as a SOAP one (size limit, no
DOCTYPE, the hardened parser of ``safexml``, which also bounds nesting at depth 256); only a
document that passed is handed to the standard library's ``xmlrpc.client.loads`` to read the
values. The method ``Port.operation`` takes the operation's parameters by position.

Credentials come from HTTP: Basic gives the auth header's ``username`` and ``password``;
the query string its ``admin`` (``?admin=1``: an admin login of the configuration) and
``impersonate`` (``?admin=1&impersonate=7``: admin acting as customer 7).

Every answer is HTTP 200 (XML-RPC's rule); a refusal is an XML-RPC fault whose faultCode is
the errorcode and whose faultString is the sentence a SOAP fault carries in ``errorstring``.
The fault struct also has ``requestId`` (the X-Request-Id of the answer).
"""

from __future__ import annotations

import base64
import binascii
import logging
import xmlrpc.client
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from ngnserver.core.errors import E, NGNError
from ngnserver.logs import REQUEST
from ngnserver.soap.codec import DEFAULT_MAX_ITEMS, bool_from_text, escape, int_from_text, xml_chars
from ngnserver.soap.endpoint import Call, parse_document
from ngnserver.soap.ports import Operation, PortMap
from ngnserver.xmlrpc.codec import decode, encode

log = logging.getLogger("ngnserver.xmlrpc")

LIST_METHODS = "system.listMethods"
QUERY_NAMES = ("admin", "impersonate")


def credentials(authorization: str, query: str) -> dict[str, Any] | None:
    """The auth header's fields from an ``Authorization`` value and the query string; None
    when no credentials were sent."""
    fields: dict[str, Any] = {}
    try:
        pairs = parse_qsl(query, keep_blank_values=True, max_num_fields=len(QUERY_NAMES))
    except ValueError:
        pairs = [("", "")] * (len(QUERY_NAMES) + 1)
    for name, value in pairs:
        if name not in QUERY_NAMES or name in fields:
            names = " and ".join(QUERY_NAMES)
            raise NGNError(E.INVALID_VALUE, f"The XML-RPC address takes {names} in its query, each once, not {query!r}.")
        fields[name] = bool_from_text(value, "admin") if name == "admin" else int_from_text(value, "impersonate")
    scheme, _, token = authorization.strip().partition(" ")
    if not authorization:
        return None
    if scheme.lower() != "basic":
        raise NGNError(E.AUTH_MISSING, f"XML-RPC takes HTTP Basic credentials, not {scheme!r} ones.")
    try:
        username, colon, password = base64.b64decode(token.strip(), validate=True).decode("utf-8").partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise NGNError(E.AUTH_MISSING, "The HTTP Basic credentials are not base64 of UTF-8 username:password.") from None
    if not colon:
        raise NGNError(E.AUTH_MISSING, "The HTTP Basic credentials are not username:password.")
    return {"username": username, "password": password, **fields}


class XmlRpcEndpoint:
    def __init__(self, ports: PortMap, max_bytes: int = 2 * 1024 * 1024, max_items: int = DEFAULT_MAX_ITEMS) -> None:
        self.ports = ports
        self.max_bytes = max_bytes
        self.max_items = max_items

    def parse(self, body: bytes, auth: dict[str, Any] | None) -> tuple[str, list[Any] | Call]:
        """(method name, the call) of a request body; for ``system.listMethods`` the list
        of methods instead of a call. NGNError for anything malformed."""
        if len(body) > self.max_bytes:
            raise NGNError(E.REQUEST_TOO_LARGE, f"The request is larger than {self.max_bytes} bytes.")
        root = parse_document(body)
        if root.tag != "methodCall":
            raise NGNError(E.NOT_AN_XMLRPC_CALL, "The request is not an XML-RPC methodCall.")
        try:
            params, method = xmlrpc.client.loads(body)
        except Exception as exc:  # noqa: BLE001 - whatever the reader trips on, the caller sent it
            raise NGNError(E.NOT_AN_XMLRPC_CALL, f"The XML-RPC call cannot be read ({type(exc).__name__}).") from None
        if not method:
            raise NGNError(E.NOT_AN_XMLRPC_CALL, "The XML-RPC call names no method.")
        if method == LIST_METHODS:
            return method, [*self.ports.names(), LIST_METHODS]
        operation = self.ports.named(method)
        if operation is None:
            raise NGNError(E.UNKNOWN_OPERATION, f"There is no method {method[:80]!r}; system.listMethods lists them.")
        if len(params) > len(operation.params):
            names = ", ".join(name for name, _ in operation.params) or "none"
            raise NGNError(
                E.INVALID_VALUE,
                f"{method} takes {len(operation.params)} parameter{'' if len(operation.params) == 1 else 's'} ({names}), not {len(params)}.",
            )
        if auth is None and operation.login_required:
            raise NGNError(
                E.AUTH_MISSING,
                "XML-RPC calls need HTTP Basic credentials (http://USERNAME:PASSWORD@host/ngnpro/xmlrpc; "
                "add ?admin=1 for an admin login).",
            )
        args = [
            decode(part_type, params[i], name, self.max_items) if i < len(params) else None
            for i, (name, part_type) in enumerate(operation.params)
        ]
        return method, Call(operation, auth, args)

    @staticmethod
    def response(operation: Operation, value: Any) -> bytes:
        result = None if operation.result is None else encode(operation.result[1], value)
        return _dumps((result,))

    @staticmethod
    def fault(error: NGNError) -> bytes:
        fault = xmlrpc.client.Fault(error.code, xml_chars(error.message))
        request = REQUEST.get()
        text = xmlrpc.client.dumps(fault, methodresponse=True)
        if request:  # a member xmlrpc.client.Fault accepts (and PHP ignores), for a user to quote
            member = f"<member>\n<name>requestId</name>\n<value><string>{escape(request)}</string></value>\n</member>\n"
            text = text.replace("</struct>", member + "</struct>", 1)
        return text.encode("utf-8")

    def handle(
        self, body: bytes, invoke: Callable[[Call], Any], auth: Callable[[], dict[str, Any] | None]
    ) -> tuple[bool, bytes, Call | None, NGNError | None]:
        """(ok, response body, the call if it parsed, the error if any); ``auth`` reads the
        credentials (it may refuse them)."""
        call = None
        try:
            _, parsed = self.parse(body, auth())
            if isinstance(parsed, list):
                return True, _dumps((parsed,)), None, None
            call = parsed
            return True, self.response(call.operation, invoke(call)), call, None
        except NGNError as error:
            return False, self.fault(error), call, error
        except Exception:
            where = f"{call.operation.port.name}.{call.operation.name}" if call else "XML-RPC request parsing"
            log.exception("unexpected failure in %s", where)
            error = NGNError(E.INTERNAL_ERROR, "The server failed to process the request; the fault is logged.")
            return False, self.fault(error), call, error


def _dumps(params: tuple[Any, ...]) -> bytes:
    return xmlrpc.client.dumps(params, methodresponse=True, allow_none=True).encode("utf-8")
