"""The SOAP endpoint: bytes in, bytes out.

Parses a request without letting it cost anything (no DTDs, no entities, bounded size),
finds the operation by its namespace-qualified name, decodes the ``auth`` header and the
parameters, hands them to an invoker, and encodes the result or a Fault. Whatever goes
wrong, the caller gets a SOAP Fault with an errorcode, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lxml import etree

from ngnserver import safexml
from ngnserver.core.errors import E, NGNError, Side
from ngnserver.logs import REQUEST
from ngnserver.soap import SOAP_ENC_NS, SOAP_ENV_NS, TYPES_NS, XSD_NS, XSI_NS
from ngnserver.soap.codec import DEFAULT_MAX_ITEMS, decoder, escape, local_name, writer
from ngnserver.soap.ports import Operation, PortMap

log = logging.getLogger("ngnserver.soap")

ENVELOPE = f"{{{SOAP_ENV_NS}}}Envelope"
HEADER = f"{{{SOAP_ENV_NS}}}Header"
BODY = f"{{{SOAP_ENV_NS}}}Body"

_PARSER = safexml.parser()

# "<!DOCTYPE" as it looks in UTF-8 and in each UTF-16 and UTF-32 byte order
_DOCTYPE_MARKERS = tuple(
    "<!DOCTYPE".encode(codec) for codec in ("utf-8", "utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be")
)

_ENVELOPE_OPEN = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<SOAP-ENV:Envelope xmlns:SOAP-ENV="{SOAP_ENV_NS}" xmlns:SOAP-ENC="{SOAP_ENC_NS}" '
    f'xmlns:xsd="{XSD_NS}" xmlns:xsi="{XSI_NS}" xmlns:ns1="{TYPES_NS}"'
)
_ENCODING_STYLE = f' SOAP-ENV:encodingStyle="{SOAP_ENC_NS}"'


@dataclass(frozen=True)
class Call:
    """A decoded request: the operation, the ``auth`` header's members (None when the
    header is missing) and the arguments in parameter order."""

    operation: Operation
    auth: dict[str, Any] | None
    args: list[Any]


Invoker = Callable[[Call], Any]


class SoapEndpoint:
    def __init__(
        self, ports: PortMap, header_type: type, max_bytes: int = 2 * 1024 * 1024, max_items: int = DEFAULT_MAX_ITEMS
    ) -> None:
        self.ports = ports
        self.max_bytes = max_bytes
        self.max_items = max_items
        self._decode_header = decoder(header_type, max_items)

    # -- requests ------------------------------------------------------------------------

    def parse(self, body: bytes) -> Call:
        """The call a request body asks for, or NGNError for anything malformed."""
        if len(body) > self.max_bytes:
            raise NGNError(E.REQUEST_TOO_LARGE, f"The request is larger than {self.max_bytes} bytes.")
        root = parse_document(body)
        if root.tag != ENVELOPE:
            raise NGNError(E.NOT_A_SOAP_REQUEST, "The request is not a SOAP 1.1 envelope.")
        header = body_el = None
        for child in root:
            if child.tag == HEADER:
                header = child
            elif child.tag == BODY:
                body_el = child
        if body_el is None:
            raise NGNError(E.NOT_A_SOAP_REQUEST, "The SOAP envelope has no Body.")
        elements = [c for c in body_el if isinstance(c.tag, str)]
        if not elements:
            raise NGNError(E.NOT_A_SOAP_REQUEST, "The SOAP Body names no operation.")
        if len(elements) > 1:
            raise NGNError(
                E.NOT_A_SOAP_REQUEST, f"The SOAP Body holds {len(elements)} elements; a request is one operation."
            )
        op_el = elements[0]
        operation = self.ports.resolve(op_el.tag)
        if operation is None:
            raise NGNError(E.UNKNOWN_OPERATION, f"There is no operation {_describe(op_el.tag)}.")
        return Call(operation, self._auth(header), self._arguments(operation, op_el))

    def _auth(self, header: etree._Element | None) -> dict[str, Any] | None:
        if header is None:
            return None
        for child in header:
            if isinstance(child.tag, str) and child.tag in ("auth", f"{{{TYPES_NS}}}auth"):
                return self._decode_header(child, "auth") or {}
        return None

    def _arguments(self, operation: Operation, op_el: etree._Element) -> list[Any]:
        """Parts by name; parts not found by name are taken by position from the elements
        no part claimed (CDRTool's updateCustomer sends its account as ``<item>``)."""
        children = [c for c in op_el if isinstance(c.tag, str)]
        by_name = {local_name(c.tag): c for c in children}
        claimed = {id(by_name[name]) for name, _ in operation.params if name in by_name}
        unclaimed = iter(c for c in children if id(c) not in claimed)
        args = []
        for name, part_type in operation.params:
            el = by_name.get(name)
            if el is None:
                el = next(unclaimed, None)
            args.append(None if el is None else decoder(part_type, self.max_items)(el, name))
        return args

    # -- responses -----------------------------------------------------------------------

    @staticmethod
    def response(operation: Operation, value: Any) -> bytes:
        ns = operation.port.namespace
        out = [_ENVELOPE_OPEN, f' xmlns:ns2="{ns}"', _ENCODING_STYLE, "><SOAP-ENV:Body>"]
        tag = f"ns2:{operation.name}Response"
        if operation.result is None:
            out.append(f"<{tag}/>")
        else:
            part, part_type = operation.result
            out.append(f"<{tag}>")
            if value is not None:
                writer(part_type)(out, part, value)
            out.append(f"</{tag}>")
        out.append("</SOAP-ENV:Body></SOAP-ENV:Envelope>\n")
        return "".join(out).encode("utf-8")

    @staticmethod
    def fault(error: NGNError) -> bytes:
        side = "SOAP-ENV:Client" if error.error.side is Side.CLIENT else "SOAP-ENV:Server"
        return "".join(
            (
                _ENVELOPE_OPEN,
                _ENCODING_STYLE,
                "><SOAP-ENV:Body><SOAP-ENV:Fault>",
                f"<faultcode>{side}</faultcode>",
                # the sentence too, not just the title: zeep's Fault.message is the faultstring
                f"<faultstring>{escape(error.error.faultstring)}: {escape(error.message)}</faultstring>",
                '<detail><exception xsi:type="ns1:NGNProException">',
                f'<errorcode xsi:type="xsd:int">{error.code}</errorcode>',
                f'<errorstring xsi:type="xsd:string">{escape(error.message)}</errorstring>',
                _request_id_member(),
                "</exception></detail></SOAP-ENV:Fault></SOAP-ENV:Body></SOAP-ENV:Envelope>\n",
            )
        ).encode("utf-8")

    def handle(self, body: bytes, invoke: Invoker) -> tuple[bool, bytes, Call | None, NGNError | None]:
        """(ok, response body, the call if it parsed, the error if any)."""
        call = None
        try:
            call = self.parse(body)
            return True, self.response(call.operation, invoke(call)), call, None
        except NGNError as error:
            return False, self.fault(error), call, error
        except Exception:
            where = f"{call.operation.port.name}.{call.operation.name}" if call else "request parsing"
            log.exception("unexpected failure in %s", where)
            error = NGNError(E.INTERNAL_ERROR, "The server failed to process the request; the fault is logged.")
            return False, self.fault(error), call, error


def parse_document(body: bytes) -> etree._Element:
    """The root of a request body, parsed without letting it cost anything: a DOCTYPE is
    refused before parsing (so no entity is ever declared), then the hardened parser
    (``safexml``) reads it. NGNError 2002 or 2001 otherwise."""
    if any(marker in body for marker in _DOCTYPE_MARKERS):
        raise NGNError(E.DTD_REFUSED, "Requests with a DOCTYPE or entity declarations are refused.")
    try:
        root = etree.fromstring(body, _PARSER)
    except etree.XMLSyntaxError as exc:
        raise NGNError(E.MALFORMED_REQUEST, f"The request is not well-formed XML ({_short(exc)}).") from None
    if root.getroottree().docinfo.doctype:
        raise NGNError(E.DTD_REFUSED, "Requests with a DOCTYPE are refused.")
    return root


def _short(exc: Exception) -> str:
    text = str(exc)
    return text if len(text) <= 120 else text[:120] + "..."


def _describe(tag: str) -> str:
    ns, _, local = tag[1:].partition("}") if tag.startswith("{") else ("", "", tag)
    return f"{local!r} in namespace {ns!r}" if ns else f"{local!r} (it has no port namespace)"


def _request_id_member() -> str:
    """The request's id (the one its log line and X-Request-Id carry), for a user to quote."""
    request = REQUEST.get()
    return f'<requestid xsi:type="xsd:string">{escape(request)}</requestid>' if request else ""
