"""SOAP section-5 values: lenient decoding of what PHP clients send, and encoding that
PEAR SOAP 0.11 decodes correctly.

Both directions are compiled once per spyne type into small closures, so a request costs a
walk over the elements and no introspection.

Decoding is forgiving in the ways NGNPro's clients need: members are matched by local name
whatever their namespace, ``xsi:type`` is never trusted (PHP picks it from the runtime value:
an int may come as ``xsd:string``), booleans may be ``true/false/1/0``, an untyped empty
element is "not given", unknown members are ignored (a type with ``__unknown_members__ =
"key"`` gets their names listed under that key, for its rules to judge), and array items may
have any name.

Encoding follows PEAR's sharp edges: every scalar carries ``xsi:type`` (an untyped "false"
becomes a truthy PHP string), every array carries ``SOAP-ENC:arrayType`` even when empty
(else PEAR turns a one-element array into an object), no ``offset`` attribute (PEAR crashes),
no ``xsi:nil`` (absent members are left out), no multiRef.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from lxml import etree
from spyne.model import ComplexModelBase, SimpleModel
from spyne.model.complex import Array
from spyne.model.primitive import Boolean, Decimal, Double, Float, Integer, Unicode

from ngnserver.core.errors import E, NGNError
from ngnserver.soap import XSI_NS

XSI_TYPE = f"{{{XSI_NS}}}type"
XSI_NIL = f"{{{XSI_NS}}}nil"

TYPES_PREFIX = "ns1"  # prefix of urn:AGProjects:NGNPro in every response we write

Decoder = Callable[[etree._Element, str], Any]
Writer = Callable[[list[str], str, Any], None]


def kind_of(spyne_type: type) -> str:
    """The wire kind of a spyne type: array, struct, boolean, int, double or string."""
    if issubclass(spyne_type, Array):
        return "array"
    if issubclass(spyne_type, ComplexModelBase):
        return "struct"
    if issubclass(spyne_type, Boolean):
        return "boolean"
    if issubclass(spyne_type, Integer):
        return "int"
    if issubclass(spyne_type, (Double, Float, Decimal)):
        return "double"
    if issubclass(spyne_type, (Unicode, SimpleModel)):
        return "string"
    raise TypeError(f"no SOAP encoding for spyne type {spyne_type!r}")


def array_item_type(spyne_type: type) -> type:
    return next(iter(spyne_type._type_info.values()))


def members(spyne_type: type) -> list[tuple[str, type]]:
    return list(spyne_type._type_info.items())


def local_name(tag: Any) -> str | None:
    """The local part of an element tag; None for comments and processing instructions."""
    if not isinstance(tag, str):
        return None
    return tag.rpartition("}")[2]


# -- decoding --------------------------------------------------------------------------------


def _is_absent(el: etree._Element) -> bool:
    """PHP null: an empty element with no type, or an explicit xsi:nil."""
    if el.get(XSI_NIL) in ("true", "1"):
        return True
    return len(el) == 0 and not el.text and el.get(XSI_TYPE) is None


def invalid(path: str, what: str, text: str) -> NGNError:
    """The refusal (2006) of ``text`` where ``path`` must be ``what``."""
    shown = text if len(text) <= 40 else text[:40] + "..."
    return NGNError(E.INVALID_VALUE, f"{path} must be {what}, not {shown!r}.")


INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # xsd:int


def _scalar_text(el: etree._Element, path: str, what: str) -> str:
    """The text of a scalar member; a structure or an array sent in its place is refused."""
    if len(el):
        raise NGNError(E.INVALID_VALUE, f"{path} must be {what}, not a structure or an array.")
    return el.text or ""


def _plain(text: str, path: str, what: str) -> str:
    """``text`` when written in ASCII without ``_`` (Python's int() and float() also read
    "１２", "٣" and "1_000"; xsd numbers are ASCII digits)."""
    if not text.isascii() or "_" in text:
        raise invalid(path, what, text)
    return text


def _decode_int(el: etree._Element, path: str) -> int | None:
    if _is_absent(el):
        return None
    return int_from_text(_scalar_text(el, path, "a whole number"), path)


def int_from_text(text: str, path: str) -> int | None:
    """An xsd:int from its text (``7``, ``7.0``, `` 7 ``); None for nothing but blanks."""
    text = text.strip()
    if not text:
        return None
    try:
        value = int(_plain(text, path, "a whole number"))
    except ValueError:
        try:
            number = float(text)
        except (ValueError, OverflowError):
            raise invalid(path, "a whole number", text) from None
        if not number.is_integer():
            raise invalid(path, "a whole number", text) from None
        value = int(number)
    return int_in_range(value, path, text)


def int_in_range(value: int, path: str, text: str | None = None) -> int:
    if not INT_MIN <= value <= INT_MAX:
        raise invalid(path, f"a whole number from {INT_MIN} to {INT_MAX}", str(value) if text is None else text)
    return value


_TRUE = frozenset(("true", "1"))
_FALSE = frozenset(("false", "0"))


def _decode_bool(el: etree._Element, path: str) -> bool | None:
    if _is_absent(el):
        return None
    return bool_from_text(_scalar_text(el, path, "true or false"), path)


def bool_from_text(text: str, path: str) -> bool | None:
    """A boolean from ``true/false/1/0`` (any case); None for nothing but blanks."""
    text = text.strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if not text:
        return None
    raise invalid(path, "true, false, 1 or 0", text)


def _decode_double(el: etree._Element, path: str) -> float | None:
    if _is_absent(el):
        return None
    return double_from_text(_scalar_text(el, path, "a number"), path)


def double_from_text(text: str, path: str) -> float | None:
    """A finite number from its text; None for nothing but blanks."""
    text = text.strip()
    if not text:
        return None
    try:
        value = float(_plain(text, path, "a number"))
    except ValueError:
        raise invalid(path, "a number", text) from None
    return finite(value, path, text)


def finite(value: float, path: str, text: str | None = None) -> float:
    if not math.isfinite(value):
        raise invalid(path, "a finite number", str(value) if text is None else text)
    return value


def _decode_string(el: etree._Element, path: str) -> str | None:
    if _is_absent(el):
        return None
    if len(el):
        raise NGNError(E.INVALID_VALUE, f"{path} must be a string, not a structure.")
    return el.text or ""


DEFAULT_MAX_ITEMS = 100


@cache
def decoder(spyne_type: type, max_items: int = DEFAULT_MAX_ITEMS) -> Decoder:
    """The function that turns an element into the Python value of ``spyne_type``: int,
    bool, float, str, dict (structs) or list (arrays); None where nothing was given. An
    array of more than ``max_items`` items is refused (2006)."""
    kind = kind_of(spyne_type)
    if kind == "int":
        return _decode_int
    if kind == "boolean":
        return _decode_bool
    if kind == "double":
        return _decode_double
    if kind == "string":
        return _decode_string
    if kind == "array":
        item_decoder_holder: list[Decoder] = []
        item_type = array_item_type(spyne_type)

        def decode_array(el: etree._Element, path: str) -> list[Any] | None:
            if not item_decoder_holder:
                item_decoder_holder.append(decoder(item_type, max_items))
            if _is_absent(el):
                return None
            decode_item = item_decoder_holder[0]
            items = [c for c in el if isinstance(c.tag, str)]
            if len(items) > max_items:
                raise NGNError(E.INVALID_VALUE, f"{path} holds {len(items)} items; at most {max_items} are accepted.")
            return [decode_item(child, f"{path}[{i}]") for i, child in enumerate(items)]

        return decode_array

    fields = members(spyne_type)
    plan: dict[str, type] = dict(fields)
    compiled: dict[str, Decoder] = {}
    # a struct type whose unknown members matter to the rules names the key they are listed under
    unknown_key: str | None = getattr(spyne_type, "__unknown_members__", None)

    def decode_struct(el: etree._Element, path: str) -> dict[str, Any] | None:
        if _is_absent(el):
            return None
        if el.text and el.text.strip() and len(el) == 0:
            raise NGNError(E.INVALID_VALUE, f"{path} must be a structure, not text.")
        result: dict[str, Any] = {}
        for child in el:
            name = local_name(child.tag)
            member_type = plan.get(name) if name else None
            if member_type is None:
                if unknown_key is not None and name:
                    result.setdefault(unknown_key, []).append(name)
                continue  # read-only or unknown members that clients echo back
            decode_member = compiled.get(name)
            if decode_member is None:
                decode_member = compiled[name] = decoder(member_type, max_items)
            result[name] = decode_member(child, f"{path}.{name}")
        return result

    return decode_struct


# -- encoding --------------------------------------------------------------------------------

_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


_NEEDS_ESCAPING = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_chars(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry."""
    return _INVALID_XML_CHARS.sub("", text) if _INVALID_XML_CHARS.search(text) else text


def escape(text: str) -> str:
    """Text content, escaped; characters XML 1.0 cannot carry are dropped. Most values need
    nothing, and one regex scan tells."""
    if not _NEEDS_ESCAPING.search(text):
        return text
    if _INVALID_XML_CHARS.search(text):
        text = _INVALID_XML_CHARS.sub("", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\r", "&#13;")


def _format_bool(value: Any) -> str:
    return "true" if value else "false"


def _format_int(value: Any) -> str:
    return str(int(value))


def _format_double(value: Any) -> str:
    return repr(float(value))


def _format_string(value: Any) -> str:
    return escape(value if isinstance(value, str) else str(value))


_SCALARS = {
    "int": ("xsd:int", _format_int),
    "boolean": ("xsd:boolean", _format_bool),
    "double": ("xsd:double", _format_double),
    "string": ("xsd:string", _format_string),
}


def xsi_type_of(spyne_type: type) -> str:
    """The ``xsi:type`` value written for a value of ``spyne_type``."""
    kind = kind_of(spyne_type)
    if kind in _SCALARS:
        return _SCALARS[kind][0]
    if kind == "array":
        return "SOAP-ENC:Array"
    return f"{TYPES_PREFIX}:{spyne_type.get_type_name()}"


@cache
def writer(spyne_type: type) -> Writer:
    """The function that appends ``<tag xsi:type=...>value</tag>`` to a list of strings."""
    kind = kind_of(spyne_type)
    if kind in _SCALARS:
        xsd_type, fmt = _SCALARS[kind]
        open_tail = f' xsi:type="{xsd_type}">'

        def write_scalar(out: list[str], tag: str, value: Any) -> None:
            out.append(f"<{tag}{open_tail}{fmt(value)}</{tag}>")

        return write_scalar

    if kind == "array":
        item_type = array_item_type(spyne_type)
        item_xsi = xsi_type_of(item_type)
        array_open = f' xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="{item_xsi}['
        item_holder: list[Writer] = []

        def write_array(out: list[str], tag: str, value: Any) -> None:
            if not item_holder:
                item_holder.append(writer(item_type))
            items = list(value)
            if not items:
                out.append(f"<{tag}{array_open}0]\"/>")
                return
            out.append(f"<{tag}{array_open}{len(items)}]\">")
            write_item = item_holder[0]
            for item in items:
                write_item(out, "item", item)
            out.append(f"</{tag}>")

        return write_array

    return _struct_writer(spyne_type)


def _struct_writer(spyne_type: type) -> Writer:
    """The writer of one struct type: each member's tags and formatting are worked out once,
    then a struct (a dict, or an object with the members as attributes) is written member by
    member; nested structs and arrays get their writers on first use (types may refer to
    each other)."""
    open_tail = f' xsi:type="{xsi_type_of(spyne_type)}">'
    # (member, opening tag, closing tag, formatter) for scalars; (member, "", "", nested writer
    # taking (out, value)) for structs and arrays, told apart by the empty opening tag
    plans: list[tuple[str, str, str, Callable[..., Any]]] = []
    for member, member_type in members(spyne_type):
        kind = kind_of(member_type)
        if kind in _SCALARS:
            xsd_type, fmt = _SCALARS[kind]
            plans.append((member, f'<{member} xsi:type="{xsd_type}">', f"</{member}>", fmt))
        else:
            plans.append((member, "", "", _nested(member, member_type)))

    def write(out: list[str], tag: str, value: Any) -> None:
        get = value.get if isinstance(value, dict) else (lambda name: getattr(value, name, None))
        out.append(f"<{tag}{open_tail}")
        for member, head, tail, fmt in plans:
            v = get(member)
            if v is None:
                continue
            if head:
                out.append(head + fmt(v) + tail)
            else:
                fmt(out, v)
        out.append(f"</{tag}>")

    return write


def _nested(member: str, member_type: type) -> Callable[[list[str], Any], None]:
    def write_member(out: list[str], value: Any) -> None:
        writer(member_type)(out, member, value)

    return write_member
