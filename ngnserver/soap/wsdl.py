"""The WSDL: one WSDL 1.1 document, SOAP 1.1 RPC/encoded, describing every port.

Built by walking the spyne types of the ports' operations. CDRTool never reads it; it is for
WSDL-driven clients such as zeep. One schema in the types namespace declares every struct (a
sequence of optional, unqualified members) and every array (a restriction of SOAP-ENC:Array
with ``wsdl:arrayType`` and a sequence of ``item`` elements). That schema imports the SOAP
encoding namespace from our own copy (``encoding_schema``), served at
``<endpoint>/soap-encoding.xsd``, so that no client fetches schemas.xmlsoap.org.

Operation names repeat across ports (``addAccount`` is in Customer and Sip), so message names
carry the port: ``Customer.addAccountRequest``, ``Customer.addAccountResponse``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from importlib.resources import files

from lxml import etree

from ngnserver.soap import SOAP_ENC_NS, TYPES_NS, WSDL_NS, WSDL_SOAP_NS, XSD_NS
from ngnserver.soap.ports import Operation, Port, PortMap

with warnings.catch_warnings():
    # spyne 2.14 bundles six and imports cgi; both warn on Python 3.11.
    warnings.simplefilter("ignore")
    from spyne.model.complex import Array, ComplexModelBase
    from spyne.model.primitive import Boolean, Double, Integer, Unicode

SERVICE_NAME = "NGNPro"
ENCODING_SCHEMA_NAME = "soap-encoding.xsd"
"""Where the encoding schema is served, under the endpoint URL."""

_HTTP_TRANSPORT = "http://schemas.xmlsoap.org/soap/http"
_NSMAP = {
    "wsdl": WSDL_NS,
    "soap": WSDL_SOAP_NS,
    "xsd": XSD_NS,
    "SOAP-ENC": SOAP_ENC_NS,
    "tns": TYPES_NS,
}

# spyne primitive -> XML Schema type. NGNPro's integers are xsd:int (spyne's Integer is
# xsd:integer); Float is a subclass of Double.
_PRIMITIVES: tuple[tuple[type, str], ...] = (
    (Boolean, "xsd:boolean"),
    (Integer, "xsd:int"),
    (Double, "xsd:double"),
    (Unicode, "xsd:string"),
)


def encoding_schema() -> bytes:
    """Our minimal schema for the SOAP encoding namespace, imported by the WSDL."""
    return files("ngnserver.soap").joinpath(ENCODING_SCHEMA_NAME).read_bytes()


def encoding_schema_url(endpoint_url: str) -> str:
    """Where the WSDL served for ``endpoint_url`` says the encoding schema is."""
    return f"{endpoint_url.rstrip('/')}/{ENCODING_SCHEMA_NAME}"


def build_wsdl(port_map: PortMap, endpoint_url: str, header: tuple[str, type]) -> bytes:
    """The WSDL of every port in ``port_map``, served at ``endpoint_url``.

    ``header`` is the (part name, spyne type) of the SOAP header every request carries.
    The same inputs always give the same bytes.
    """
    header_part, header_type = header
    definitions = etree.Element(
        _wsdl("definitions"), nsmap=_NSMAP, name=SERVICE_NAME, targetNamespace=TYPES_NS
    )
    _add_schema(
        definitions, _collect_types(port_map, header_type), encoding_schema_url(endpoint_url)
    )

    header_message = header_type.get_type_name()
    message = etree.SubElement(definitions, _wsdl("message"), name=header_message)
    etree.SubElement(message, _wsdl("part"), name=header_part, type=_type_ref(header_type))
    for port in port_map.ports:
        for op in port.operations.values():
            _add_message(definitions, _request_message(op), op.params)
            _add_message(definitions, _response_message(op), _result_parts(op))

    for port in port_map.ports:
        _add_port_type(definitions, port)
    for port in port_map.ports:
        _add_binding(definitions, port, header_message, header_part)

    service = etree.SubElement(definitions, _wsdl("service"), name=SERVICE_NAME)
    for port in port_map.ports:
        wsdl_port = etree.SubElement(
            service, _wsdl("port"), name=_port_type_name(port), binding=f"tns:{_binding_name(port)}"
        )
        etree.SubElement(wsdl_port, _soap("address"), location=endpoint_url)

    return etree.tostring(definitions, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _collect_types(port_map: PortMap, header_type: type) -> dict[str, type]:
    """Type name -> spyne type, for every struct and array the WSDL declares."""
    found: dict[str, type] = {}
    _collect(header_type, found)
    for port in port_map.ports:
        for op in port.operations.values():
            for _, spyne_type in (*op.params, *_result_parts(op)):
                _collect(spyne_type, found)
    return found


def _collect(spyne_type: type, found: dict[str, type]) -> None:
    if not issubclass(spyne_type, ComplexModelBase):
        return
    name = spyne_type.get_type_name()
    known = found.get(name)
    if known is not None:
        if _shape(known) != _shape(spyne_type):
            raise ValueError(f"two different types are named {name}")
        return
    if not issubclass(spyne_type, Array) and spyne_type.get_namespace() != TYPES_NS:
        raise ValueError(f"{name} is not in the types namespace {TYPES_NS}")
    found[name] = spyne_type
    for member in _members(spyne_type).values():
        _collect(member, found)


def _members(spyne_type: type) -> dict[str, type]:
    """Member name -> type, inherited members included; an array's one member is its item."""
    return dict(spyne_type.get_flat_type_info(spyne_type))


def _shape(spyne_type: type) -> list[tuple[str, str]]:
    """What a complex type declares, to tell equal declarations from clashing ones."""
    shape = [(name, _type_ref(member)) for name, member in _members(spyne_type).items()]
    return [("[]", shape[0][1])] if issubclass(spyne_type, Array) else shape


def _type_ref(spyne_type: type) -> str:
    """The QName (with this document's prefixes) of a spyne type."""
    if issubclass(spyne_type, ComplexModelBase):
        return f"tns:{spyne_type.get_type_name()}"
    for primitive, xsd_name in _PRIMITIVES:
        if issubclass(spyne_type, primitive):
            return xsd_name
    raise TypeError(f"no XML Schema type for {spyne_type!r}")


def _add_schema(definitions: etree._Element, types: dict[str, type], schema_url: str) -> None:
    wsdl_types = etree.SubElement(definitions, _wsdl("types"))
    schema = etree.SubElement(wsdl_types, _xsd("schema"), targetNamespace=TYPES_NS)
    etree.SubElement(schema, _xsd("import"), namespace=SOAP_ENC_NS, schemaLocation=schema_url)
    for name in sorted(types):
        spyne_type = types[name]
        complex_type = etree.SubElement(schema, _xsd("complexType"), name=name)
        if issubclass(spyne_type, Array):
            (item,) = _members(spyne_type).values()
            content = etree.SubElement(complex_type, _xsd("complexContent"))
            restriction = etree.SubElement(content, _xsd("restriction"), base="SOAP-ENC:Array")
            # The item elements are what lets zeep send a list (given only wsdl:arrayType it
            # decodes typed items but cannot encode any) and decode items without xsi:type.
            etree.SubElement(
                etree.SubElement(restriction, _xsd("sequence")),
                _xsd("element"),
                name="item",
                type=_type_ref(item),
                minOccurs="0",
                maxOccurs="unbounded",
            )
            etree.SubElement(
                restriction,
                _xsd("attribute"),
                {"ref": "SOAP-ENC:arrayType", _wsdl("arrayType"): f"{_type_ref(item)}[]"},
            )
        else:
            sequence = etree.SubElement(complex_type, _xsd("sequence"))
            for member, member_type in _members(spyne_type).items():
                etree.SubElement(
                    sequence,
                    _xsd("element"),
                    name=member,
                    type=_type_ref(member_type),
                    minOccurs="0",
                )


def _add_message(definitions: etree._Element, name: str, parts: Iterable[tuple[str, type]]) -> None:
    message = etree.SubElement(definitions, _wsdl("message"), name=name)
    for part_name, spyne_type in parts:
        etree.SubElement(message, _wsdl("part"), name=part_name, type=_type_ref(spyne_type))


def _add_port_type(definitions: etree._Element, port: Port) -> None:
    port_type = etree.SubElement(definitions, _wsdl("portType"), name=_port_type_name(port))
    for op in port.operations.values():
        operation = etree.SubElement(port_type, _wsdl("operation"), name=op.name)
        etree.SubElement(operation, _wsdl("input"), message=f"tns:{_request_message(op)}")
        etree.SubElement(operation, _wsdl("output"), message=f"tns:{_response_message(op)}")


def _add_binding(
    definitions: etree._Element, port: Port, header_message: str, header_part: str
) -> None:
    binding = etree.SubElement(
        definitions,
        _wsdl("binding"),
        name=_binding_name(port),
        type=f"tns:{_port_type_name(port)}",
    )
    etree.SubElement(binding, _soap("binding"), style="rpc", transport=_HTTP_TRANSPORT)
    body = {"use": "encoded", "namespace": port.namespace, "encodingStyle": SOAP_ENC_NS}
    header = {
        "message": f"tns:{header_message}",
        "part": header_part,
        "use": "encoded",
        "namespace": TYPES_NS,
        "encodingStyle": SOAP_ENC_NS,
    }
    for op in port.operations.values():
        operation = etree.SubElement(binding, _wsdl("operation"), name=op.name)
        etree.SubElement(operation, _soap("operation"), soapAction="", style="rpc")
        wsdl_input = etree.SubElement(operation, _wsdl("input"))
        etree.SubElement(wsdl_input, _soap("body"), body)
        etree.SubElement(wsdl_input, _soap("header"), header)
        wsdl_output = etree.SubElement(operation, _wsdl("output"))
        etree.SubElement(wsdl_output, _soap("body"), body)


def _result_parts(op: Operation) -> tuple[tuple[str, type], ...]:
    """The parts of the response message: none for a void operation."""
    return (op.result,) if op.result else ()


def _port_type_name(port: Port) -> str:
    return f"{port.name}Port"


def _binding_name(port: Port) -> str:
    return f"{port.name}Binding"


def _request_message(op: Operation) -> str:
    return f"{op.port.name}.{op.name}Request"


def _response_message(op: Operation) -> str:
    return f"{op.port.name}.{op.name}Response"


def _wsdl(tag: str) -> str:
    return f"{{{WSDL_NS}}}{tag}"


def _soap(tag: str) -> str:
    return f"{{{WSDL_SOAP_NS}}}{tag}"


def _xsd(tag: str) -> str:
    return f"{{{XSD_NS}}}{tag}"
