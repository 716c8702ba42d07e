"""Wire types shared by every port: the auth header and the pieces of a query.

Types live in the NGNPro types namespace. Every member is optional on the wire: the protocol
layer decodes leniently and the rules in ``core`` decide what is required.
"""

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from spyne import Array, Boolean, ComplexModel, Integer32, Unicode

from ngnserver.core.errors import E, NGNError
from ngnserver.core.queries import Query

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


def refuse_lost_lists(given: Mapping[str, Any] | None, names: tuple[str, ...], what: str) -> None:
    """Refuse (2006) a creation whose list member ``name`` arrived as an empty element
    without a type (the decoder gives None for it): zeep sends exactly that for a list
    inside a dict passed by position (``addAccount({..., "properties": [p]})``), having
    dropped its items, and an empty list in a creation means nothing anyway."""
    for name in names:
        if given is not None and name in given and given[name] is None:
            raise NGNError(
                E.INVALID_VALUE,
                f"{what}.{name} arrived empty and without a type, as zeep sends a list it dropped from "
                f"an argument given by position: pass {what} by keyword ({what}={{...}}), or leave {name} out.",
            )


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


class Listing:
    """How one port's listing reads the wire ``query`` (``filter``, ``orderBy``, ``range``):
    which filter members match their column with LIKE and which by equality, which names it
    may be ordered by, each with its column, and the order when none is asked for. Members
    named in ``lowercase`` are stored in lower case (domain names): given without a wildcard
    they are an equality, which the indexes serve (CDRTool lists a domain's accounts with
    ``domain = example.com``)."""

    def __init__(
        self,
        like: Mapping[str, Any],
        equal: Mapping[str, Any],
        order: Mapping[str, Any],
        default: tuple[str, str],
        lowercase: frozenset[str] = frozenset(),
    ) -> None:
        self.like, self.equal, self.order, self.lowercase = like, equal, order, lowercase
        self.default = (order[default[0]], default[1])

    def query(self, wire: Mapping[str, Any] | None) -> Query:
        wire = wire or {}
        filters = wire.get("filter") or {}
        like: dict[Any, str] = {}
        equal: dict[Any, Any] = {}
        for name, column in self.like.items():
            value = filters.get(name)
            if not value:
                continue
            value = str(value)
            if name in self.lowercase and "%" not in value and "_" not in value:
                equal[column] = value.lower()
            else:
                like[column] = value
        for name, column in self.equal.items():
            if filters.get(name):
                equal[column] = int(filters[name])
        rng = wire.get("range") or {}
        return Query(like, equal, self._order(wire.get("orderBy")), int(rng.get("start") or 0), rng.get("count") or None)

    def _order(self, order_by: Mapping[str, Any] | None) -> tuple[Any, str]:
        if not order_by or not order_by.get("attribute"):
            return self.default
        direction = str(order_by.get("direction") or "ASC").upper()
        if direction not in ("ASC", "DESC"):
            raise NGNError(E.INVALID_QUERY, f"orderBy direction must be ASC or DESC, not {direction!r}.")
        attribute = str(order_by["attribute"])
        if attribute not in self.order:
            known = ", ".join(sorted(self.order))
            raise NGNError(E.INVALID_QUERY, f"Cannot order by {attribute!r}; use one of: {known}.")
        return self.order[attribute], direction
