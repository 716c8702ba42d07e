"""XML-RPC values <-> the Python values of spyne types, as the SOAP codec gives and takes them.

Decoding is as lenient as SOAP's where scripts need it (PHP sends a numeric username as an
int: a string member takes ints and floats; numeric strings fill int members; booleans may
be ``1/0/"true"/"false"``), and it goes by the type the operation expects, never by what the
value claims: struct members by name (unknown ones ignored), arrays of at most ``max_items``.
``dateTime.iso8601`` and ``base64`` values fit no NGNPro member and are refused (2006).

Encoding writes structs as XML-RPC structs without their absent (None) members, so that a
client needs no ``allow_none``; only a void operation's answer is ``<nil/>``, which
xmlrpc.client reads without options.
"""

from __future__ import annotations

from typing import Any

from ngnserver.core.errors import E, NGNError
from ngnserver.soap.codec import (
    array_item_type,
    bool_from_text,
    double_from_text,
    finite,
    int_from_text,
    int_in_range,
    invalid,
    kind_of,
    members,
    xml_chars,
)


def _what(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, dict):
        return "a structure"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return f"the string {value[:40]!r}"
    return f"a {type(value).__name__} value"  # DateTime, Binary


def _wrong(path: str, what: str, value: Any) -> NGNError:
    return NGNError(E.INVALID_VALUE, f"{path} must be {what}, not {_what(value)}.")


def decode(spyne_type: type, value: Any, path: str, max_items: int) -> Any:
    """``value`` (as xmlrpc.client.loads gave it) as the Python value of ``spyne_type``."""
    if value is None:
        return None
    kind = kind_of(spyne_type)
    if kind == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        raise _wrong(path, "a string", value)
    if kind == "int":
        if isinstance(value, str):
            return int_from_text(value, path)
        if isinstance(value, float):
            if not value.is_integer():
                raise invalid(path, "a whole number", repr(value))
            value = int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return int_in_range(value, path)
        raise _wrong(path, "a whole number", value)
    if kind == "boolean":
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            return bool_from_text(value, path)
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, int):
            raise invalid(path, "true, false, 1 or 0", str(value))
        raise _wrong(path, "a boolean", value)
    if kind == "double":
        if isinstance(value, str):
            return double_from_text(value, path)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return finite(float(value), path)
        raise _wrong(path, "a number", value)
    if kind == "array":
        if not isinstance(value, list):
            raise _wrong(path, "an array", value)
        if len(value) > max_items:
            raise NGNError(E.INVALID_VALUE, f"{path} holds {len(value)} items; at most {max_items} are accepted.")
        item_type = array_item_type(spyne_type)
        return [decode(item_type, item, f"{path}[{i}]", max_items) for i, item in enumerate(value)]
    if not isinstance(value, dict):
        raise _wrong(path, "a structure", value)
    plan = dict(members(spyne_type))
    return {
        name: decode(plan[name], member, f"{path}.{name}", max_items)
        for name, member in value.items()
        if name in plan  # read-only or unknown members that clients echo back
    }


def encode(spyne_type: type, value: Any) -> Any:
    """A result (dicts or objects for structs, as the services return them) as the values
    xmlrpc.client.dumps writes."""
    if value is None:
        return None
    kind = kind_of(spyne_type)
    if kind == "string":
        return xml_chars(value if isinstance(value, str) else str(value))
    if kind == "int":
        return int(value)
    if kind == "boolean":
        return bool(value)
    if kind == "double":
        return float(value)
    if kind == "array":
        item_type = array_item_type(spyne_type)
        return [encode(item_type, item) for item in value]
    get = value.get if isinstance(value, dict) else (lambda name: getattr(value, name, None))
    struct = {}
    for name, member_type in members(spyne_type):
        member = get(name)
        if member is not None:
            struct[name] = encode(member_type, member)
    return struct
