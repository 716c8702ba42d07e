"""SOAP section-5 values: lenient decoding of what PHP clients send, and encoding that
PEAR SOAP 0.11 decodes correctly.

Both directions are compiled once per spyne type into small closures, so a request costs a
walk over the elements and no introspection.

Decoding is forgiving in the ways NGNPro's clients need: members are matched by local name
whatever their namespace, ``xsi:type`` is never trusted (PHP picks it from the runtime value:
an int may come as ``xsd:string``), booleans may be ``true/false/1/0``, an untyped empty
element is "not given", unknown members are ignored, and array items may have any name.

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


def _kind(spyne_type: type) -> str:
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


def _invalid(path: str, what: str, text: str) -> NGNError:
    shown = text if len(text) <= 40 else text[:40] + "..."
    return NGNError(E.INVALID_VALUE, f"{path} must be {what}, not {shown!r}.")


INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # xsd:int


def _decode_int(el: etree._Element, path: str) -> int | None:
    if _is_absent(el):
        return None
    text = (el.text or "").strip()
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        try:
            number = float(text)
        except (ValueError, OverflowError):
            raise _invalid(path, "a whole number", text) from None
        if not number.is_integer():
            raise _invalid(path, "a whole number", text) from None
        value = int(number)
    if not INT_MIN <= value <= INT_MAX:
        raise _invalid(path, f"a whole number from {INT_MIN} to {INT_MAX}", text)
    return value


_TRUE = frozenset(("true", "1"))
_FALSE = frozenset(("false", "0"))


def _decode_bool(el: etree._Element, path: str) -> bool | None:
    if _is_absent(el):
        return None
    text = (el.text or "").strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if not text:
        return None
    raise _invalid(path, "true, false, 1 or 0", text)


def _decode_double(el: etree._Element, path: str) -> float | None:
    if _is_absent(el):
        return None
    text = (el.text or "").strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise _invalid(path, "a number", text) from None
    if not math.isfinite(value):
        raise _invalid(path, "a finite number", text)
    return value


def _decode_string(el: etree._Element, path: str) -> str | None:
    if _is_absent(el):
        return None
    if len(el):
        raise NGNError(E.INVALID_VALUE, f"{path} must be a string, not a structure.")
    return el.text or ""


@cache
def decoder(spyne_type: type) -> Decoder:
    """The function that turns an element into the Python value of ``spyne_type``: int,
    bool, float, str, dict (structs) or list (arrays); None where nothing was given."""
    kind = _kind(spyne_type)
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
                item_decoder_holder.append(decoder(item_type))
            if _is_absent(el):
                return None
            decode_item = item_decoder_holder[0]
            return [
                decode_item(child, f"{path}[{i}]")
                for i, child in enumerate(c for c in el if isinstance(c.tag, str))
            ]

        return decode_array

    fields = members(spyne_type)
    plan: dict[str, type] = dict(fields)
    compiled: dict[str, Decoder] = {}

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
                continue  # read-only or unknown members that clients echo back
            decode_member = compiled.get(name)
            if decode_member is None:
                decode_member = compiled[name] = decoder(member_type)
            result[name] = decode_member(child, f"{path}.{name}")
        return result

    return decode_struct


# -- encoding --------------------------------------------------------------------------------

_INVALID_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


_NEEDS_ESCAPING = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# ASCII bytes that never need escaping (everything but & < > \r and controls other than \t \n)
_PLAIN_ASCII = bytes(b for b in range(128) if not _NEEDS_ESCAPING.match(chr(b)))


def needs_escaping(text: str) -> bool:
    """Whether ``escape`` would change ``text``. ASCII text (most of what a database holds) is
    checked by deleting the bytes that are fine, several times faster than the regex scan."""
    if text.isascii():
        return bool(text.encode("ascii").translate(None, _PLAIN_ASCII))
    return _NEEDS_ESCAPING.search(text) is not None


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
    kind = _kind(spyne_type)
    if kind in _SCALARS:
        return _SCALARS[kind][0]
    if kind == "array":
        return "SOAP-ENC:Array"
    return f"{TYPES_PREFIX}:{spyne_type.get_type_name()}"


@cache
def writer(spyne_type: type) -> Writer:
    """The function that appends ``<tag xsi:type=...>value</tag>`` to a list of strings."""
    kind = _kind(spyne_type)
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
    """A writer generated for one struct type: every member's tag, type and formatting is
    fixed in the source, so writing a struct is straight-line code (this is the hot path of
    every listing: 20 accounts of 30 members each)."""
    name = spyne_type.get_type_name()
    lines = [
        "def write(out, tag, value):",
        "    get = value.get if isinstance(value, dict) else (lambda n: getattr(value, n, None))",
        f"    out.append('<' + tag + ' xsi:type=\"{xsi_type_of(spyne_type)}\">')",
    ]
    env: dict[str, Any] = {"escape": escape, "isinstance": isinstance, "getattr": getattr, "str": str,
                           "float": float, "repr": repr, "int": int, "lazy": {}}  # fmt: skip
    for index, (member, member_type) in enumerate(members(spyne_type)):
        kind = _kind(member_type)
        lines.append(f"    v = get({member!r})")
        lines.append("    if v is not None:")
        if kind == "string":
            lines.append(f"        out.append('<{member} xsi:type=\"xsd:string\">' + escape(v if v.__class__ is str "
                         f"else str(v)) + '</{member}>')")  # fmt: skip
        elif kind == "int":
            lines.append(f"        out.append('<{member} xsi:type=\"xsd:int\">%d</{member}>' % int(v))")
        elif kind == "boolean":
            true = f'<{member} xsi:type=\"xsd:boolean\">true</{member}>'
            false = f'<{member} xsi:type=\"xsd:boolean\">false</{member}>'
            lines.append(f"        out.append('{true}' if v else '{false}')")
        elif kind == "double":
            lines.append(f"        out.append('<{member} xsi:type=\"xsd:double\">' + repr(float(v)) + '</{member}>')")
        else:
            # nested structs and arrays: resolved on first use (types may refer to each other)
            env[f"T{index}"] = member_type
            lines.append(f"        w = lazy.get({index}) or lazy.setdefault({index}, writer(T{index}))")
            as_written = "out.append(v) if v.__class__ is Written"  # by a values_writer: as it is
            lines.append(f"        {as_written} else w(out, {member!r}, v)")
    lines.append("    out.append('</' + tag + '>')")
    env["writer"] = writer
    env["Written"] = Written
    exec(compile("\n".join(lines), f"<writer {name}>", "exec"), env)  # noqa: S102 (our own generated code)
    return env["write"]


# -- writing from values ---------------------------------------------------------------------


class Values(list):
    """An operation's answer given as its struct's member values in declaration order (a
    row as the driver returns it): the endpoint writes it with ``values_writer``."""

    __slots__ = ()


class Written(str):
    """XML already written for a struct member, by ``values_writer(member type, member
    name)``: a struct writer appends it as it is."""

    __slots__ = ()


@cache
def values_writer(spyne_type: type, tag: str) -> Callable[[Any], str]:
    """A function that returns the text ``writer`` writes for ``<tag>`` and a value of
    ``spyne_type`` given as plain values: a struct as the sequence of its members' values in
    declaration order (a row as the database driver returns it; None leaves a member out),
    an array as a sequence of its items, a scalar as itself (None: nothing). Listings use
    it: a whole struct is one formatted string, after one scan of all its strings tells
    whether any needs escaping."""
    kind = _kind(spyne_type)
    if kind in _SCALARS:
        xsd_type, fmt = _SCALARS[kind]
        open_tag, close_tag = f'<{tag} xsi:type="{xsd_type}">', f"</{tag}>"

        def write_scalar(value: Any) -> str:
            return "" if value is None else open_tag + fmt(value) + close_tag

        return write_scalar
    if kind == "array":
        item_type = array_item_type(spyne_type)
        head = f'<{tag} xsi:type="SOAP-ENC:Array" SOAP-ENC:arrayType="{xsi_type_of(item_type)}['
        empty, close_tag = head + '0]"/>', f"</{tag}>"
        item_holder: list[Callable[[Any], str]] = []

        def write_array(items: Any) -> str:
            if not item_holder:
                item_holder.append(values_writer(item_type, "item"))
            if not isinstance(items, (list, tuple)):
                items = list(items)
            if not items:
                return empty
            write_item = item_holder[0]
            return f'{head}{len(items)}]">' + "".join([write_item(i) for i in items]) + close_tag

        return write_array
    return _struct_values_writer(spyne_type, tag)


def _struct_values_writer(spyne_type: type, tag: str) -> Callable[[Any], str]:
    """Generated: ``write`` formats the whole struct as one f-string when no member is None
    and every string member is a str (a row from the database); ``slow`` writes member by
    member, as ``writer`` does, for anything else."""
    fields = members(spyne_type)
    names = [f"v{i}" for i in range(len(fields))]
    env: dict[str, Any] = {
        "escape": escape, "needs_escaping": needs_escaping, "str": str, "int": int,
        "float": float, "repr": repr, "OPEN": f'<{tag} xsi:type="{xsi_type_of(spyne_type)}">',
        "CLOSE": f"</{tag}>",
    }  # fmt: skip
    strings: list[str] = []  # members whose text may need escaping
    others: list[str] = []  # members for which None must take the slow path
    fast_parts = ["{OPEN}"]  # the f-string of the fast path
    slow = ["def slow(values):", f"    {', '.join(names)}, = values", "    out = [OPEN]"]
    for i, (member, member_type) in enumerate(fields):
        kind, v = _kind(member_type), names[i]
        env[f"H{i}"] = head = f'<{member} xsi:type="{xsi_type_of(member_type)}">'
        env[f"C{i}"] = tail = f"</{member}>"
        if kind == "string":
            strings.append(v)
            fast = f"{head}{{{v}}}{tail}"
            text = f"escape({v} if {v}.__class__ is str else str({v}))"
        else:
            others.append(v)
            if kind == "int":
                fast, text = f"{head}{{int({v})}}{tail}", f"str(int({v}))"
            elif kind == "double":
                fast, text = f"{head}{{float({v})!r}}{tail}", f"repr(float({v}))"
            elif kind == "boolean":
                env[f"T{i}"], env[f"F{i}"] = f"{head}true{tail}", f"{head}false{tail}"
                fast, text = f"{{T{i} if {v} else F{i}}}", None
            else:  # nested: compiled on first use (types may refer to each other)
                env[f"W{i}"] = _first_use(env, f"W{i}", member_type, member)
                fast, text = f"{{W{i}({v})}}", None
        fast_parts.append(fast)
        append = f"out.append(H{i} + {text} + C{i})" if text else f"out.append({fast[1:-1]})"
        slow += [f"    if {v} is not None:", f"        {append}"]
    fast_parts.append("{CLOSE}")
    slow += ["    out.append(CLOSE)", '    return "".join(out)']
    write = ["def write(values):", f"    {', '.join(names)}, = values"]
    if others:
        write += [f"    if {' is None or '.join(others)} is None:", "        return slow(values)"]
    if strings:
        write += [
            "    try:",
            f"        text = ''.join(({', '.join(strings)},))",
            "    except TypeError:",
            "        return slow(values)",
            "    if needs_escaping(text):",
            *(f"        {v} = escape({v})" for v in strings),
        ]
    write.append(f"    return f{''.join(fast_parts)!r}")
    source = "\n".join(slow + write)
    code = compile(source, f"<values writer {spyne_type.get_type_name()}>", "exec")
    exec(code, env)  # noqa: S102 (our own generated code)
    return env["write"]


def _first_use(env: dict[str, Any], key: str, spyne_type: type, tag: str) -> Callable[[Any], str]:
    """A stand-in for a nested writer: compiles it on first use and takes its place."""

    def write(value: Any) -> str:
        env[key] = values_writer(spyne_type, tag)
        return env[key](value)

    return write
