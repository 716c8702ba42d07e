"""Wire types shared by every port: the auth header and the pieces of a query.

Types live in the NGNPro types namespace. Every member is optional on the wire: the protocol
layer decodes leniently and the rules in ``core`` decide what is required.
"""

from datetime import datetime

from spyne import Array, Boolean, ComplexModel, Integer32, Unicode

TYPES_NS = "urn:AGProjects:NGNPro"


class NGNType(ComplexModel):
    """Base of every NGNPro struct (keeps them all in the types namespace)."""

    __namespace__ = TYPES_NS


class AuthHeader(NGNType):
    """The ``auth`` SOAP header every request carries."""

    __type_name__ = "AuthHeader"
    _type_info = [
        ("username", Unicode),
        ("password", Unicode),
        ("admin", Boolean),
        ("impersonate", Integer32),
    ]


class OrderBy(NGNType):
    __type_name__ = "OrderBy"
    _type_info = [("attribute", Unicode), ("direction", Unicode)]


class Range(NGNType):
    __type_name__ = "Range"
    _type_info = [("start", Integer32), ("count", Integer32)]


StringArray = Array(Unicode, type_name="StringArray")


def wire_date(value: datetime | str | None) -> str | None:
    """NGNPro's date format: ``YYYY-MM-DD HH:MM:SS`` in UTC (rows read straight from SQLite
    carry the stored text, which starts with exactly that)."""
    if not value:
        return None
    if isinstance(value, str):
        return value[:19]
    if type(value) is datetime and value.tzinfo is None:  # as strftime("%Y-%m-%d %H:%M:%S"), at a third of its cost
        return value.isoformat(" ", "seconds")
    return value.strftime("%Y-%m-%d %H:%M:%S")
