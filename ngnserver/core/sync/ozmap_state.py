"""The state both OZmap <-> IXC directions share, and the only code that reads or writes it:
the box links (which IXC box stands for which OZmap box or splitter), the client links (which
OZmap property and client stand for which IXC login) and the names of their cursors.

Contract (what each direction may rely on):

- a link is written only after the write it records was accepted by the other side, in its
  own short transaction (:func:`save_box_link`, :func:`save_client_link`), so a run killed at
  any point leaves links that are true; at worst an IXC box created just before the kill has
  no link, and the next run adopts it by name and project instead of creating another;
- one box link per (OZmap box, splitter) pair, the whole box's link having splitter None, and
  one per IXC box; one client link per IXC login. Saving again replaces the row's fields;
- the OZmap -> IXC direction owns :attr:`~ngnserver.models.ozmap.OzmapBoxLink` rows and the
  ``to_ixc_hash`` of client links; IXC -> OZmap owns the OZmap ids of client links,
  ``to_ozmap_hash`` and ``state``. :func:`save_client_link` changes only the fields it is
  given, so the two never overwrite each other's;
- syncs run one at a time each (the engine's lock); the two directions may run at once, which
  the per-field saves allow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ngnserver.models.ozmap import BOX_SOURCES, OzmapBoxLink, OzmapClientLink

BOXES_CURSOR = "ozmap-ixc:boxes"
SPLITTERS_CURSOR = "ozmap-ixc:splitters"
BUILDINGS_CURSOR = "ozmap-ixc:buildings"
PROPERTIES_CURSOR = "ozmap-ixc:properties"
REMOVAL_SCAN_CURSOR = "ozmap-ixc:removal-scan"
"""The cursors of OZmap -> IXC (names in ``sync_cursors``). The removal scan's position is
the time (UTC, ISO 8601) of the last full listing of OZmap's box ids."""

BoxKey = tuple[str, str | None]
"""(OZmap box or building id, splitter id or None for the whole box)."""


@dataclass(frozen=True)
class BoxLink:
    """A box link as read (see :class:`~ngnserver.models.ozmap.OzmapBoxLink`)."""

    ozmap_box_id: str
    ozmap_splitter_id: str | None
    source: str
    ixc_caixa_id: str
    ozmap_project_id: str = ""
    name: str = ""
    last_hash: str = ""
    removed: bool = False

    @property
    def key(self) -> BoxKey:
        return (self.ozmap_box_id, self.ozmap_splitter_id)


@dataclass
class BoxLinks:
    """Every box link, indexed by (box, splitter), by IXC box and by OZmap box."""

    by_key: dict[BoxKey, BoxLink] = field(default_factory=dict)
    by_caixa: dict[str, BoxLink] = field(default_factory=dict)
    by_box: dict[str, list[BoxLink]] = field(default_factory=dict)

    def add(self, link: BoxLink) -> None:
        old = self.by_key.get(link.key)
        if old is not None:
            self.by_caixa.pop(old.ixc_caixa_id, None)
            self.by_box[old.ozmap_box_id].remove(old)
        self.by_key[link.key] = link
        self.by_caixa[link.ixc_caixa_id] = link
        self.by_box.setdefault(link.ozmap_box_id, []).append(link)

    def get(self, box_id: str, splitter_id: str | None = None) -> BoxLink | None:
        return self.by_key.get((box_id, splitter_id))

    def of_box(self, box_id: str) -> list[BoxLink]:
        """The links of an OZmap box: the whole box's and its splitters'."""
        return list(self.by_box.get(box_id, ()))

    def __len__(self) -> int:
        return len(self.by_key)


def _box_link(row: OzmapBoxLink) -> BoxLink:
    return BoxLink(
        row.ozmap_box_id,
        row.ozmap_splitter_id,
        row.source,
        row.ixc_caixa_id,
        row.ozmap_project_id,
        row.name,
        row.last_hash,
        row.removed,
    )


def box_links(session: Session) -> BoxLinks:
    """Every box link (a plant's worth fits in memory: 20,000 boxes are a few MiB)."""
    links = BoxLinks()
    for row in session.execute(select(OzmapBoxLink)).scalars():
        links.add(_box_link(row))
    return links


def box_link_of_caixa(session: Session, ixc_caixa_id: str) -> BoxLink | None:
    """The link of an IXC box (``id_caixa_ftth`` of a login), or None: not one of ours."""
    row = session.execute(
        select(OzmapBoxLink).where(OzmapBoxLink.ixc_caixa_id == str(ixc_caixa_id))
    ).scalar_one_or_none()
    return None if row is None else _box_link(row)


def _where_box(box_id: str, splitter_id: str | None) -> list[Any]:
    splitter = (
        OzmapBoxLink.ozmap_splitter_id.is_(None)
        if splitter_id is None
        else OzmapBoxLink.ozmap_splitter_id == splitter_id
    )
    return [OzmapBoxLink.ozmap_box_id == box_id, splitter]


def save_box_link(session: Session, link: BoxLink) -> None:
    """Create or replace the link of ``link.key``. Another link naming the same IXC box is
    removed first (an IXC box stands for one OZmap object)."""
    if link.source not in BOX_SOURCES:
        raise ValueError(f"a box link's source is one of {BOX_SOURCES}, not {link.source!r}")
    row = session.execute(
        select(OzmapBoxLink).where(*_where_box(link.ozmap_box_id, link.ozmap_splitter_id))
    ).scalar_one_or_none()
    other = session.execute(
        select(OzmapBoxLink).where(OzmapBoxLink.ixc_caixa_id == link.ixc_caixa_id)
    ).scalar_one_or_none()
    if other is not None and other is not row:
        session.delete(other)
        session.flush()
    if row is None:
        row = OzmapBoxLink(ozmap_box_id=link.ozmap_box_id, ozmap_splitter_id=link.ozmap_splitter_id)
        session.add(row)
    row.source = link.source
    row.ixc_caixa_id = link.ixc_caixa_id
    row.ozmap_project_id = link.ozmap_project_id
    row.name = link.name[:255]
    row.last_hash = link.last_hash
    row.removed = link.removed
    session.flush()


def delete_box_link(session: Session, box_id: str, splitter_id: str | None = None) -> None:
    row = session.execute(
        select(OzmapBoxLink).where(*_where_box(box_id, splitter_id))
    ).scalar_one_or_none()
    if row is not None:
        session.delete(row)


@dataclass(frozen=True)
class ClientLink:
    """A client link as read (see :class:`~ngnserver.models.ozmap.OzmapClientLink`)."""

    ixc_login_id: str
    login: str = ""
    ozmap_property_id: str | None = None
    ozmap_client_id: str | None = None
    to_ixc_hash: str = ""
    to_ozmap_hash: str = ""
    state: dict[str, Any] = field(default_factory=dict)


def _client_link(row: OzmapClientLink) -> ClientLink:
    return ClientLink(
        row.ixc_login_id,
        row.login,
        row.ozmap_property_id,
        row.ozmap_client_id,
        row.to_ixc_hash,
        row.to_ozmap_hash,
        dict(row.state or {}),
    )


def client_links(session: Session, login_ids: Iterable[str] | None = None) -> dict[str, ClientLink]:
    """The client links by IXC login id: all of them, or those of ``login_ids``."""
    stmt = select(OzmapClientLink)
    if login_ids is not None:
        wanted = sorted({str(i) for i in login_ids})
        found: dict[str, ClientLink] = {}
        for start in range(0, len(wanted), 500):
            chunk = stmt.where(OzmapClientLink.ixc_login_id.in_(wanted[start : start + 500]))
            for row in session.execute(chunk).scalars():
                found[row.ixc_login_id] = _client_link(row)
        return found
    return {row.ixc_login_id: _client_link(row) for row in session.execute(stmt).scalars()}


def client_link(session: Session, ixc_login_id: str) -> ClientLink | None:
    row = session.execute(
        select(OzmapClientLink).where(OzmapClientLink.ixc_login_id == str(ixc_login_id))
    ).scalar_one_or_none()
    return None if row is None else _client_link(row)


_CLIENT_FIELDS = frozenset(
    {"login", "ozmap_property_id", "ozmap_client_id", "to_ixc_hash", "to_ozmap_hash", "state"}
)


def save_client_link(session: Session, ixc_login_id: str, **fields: Any) -> None:
    """Create the link of an IXC login, or change the ``fields`` given (the others keep their
    value): ``login``, ``ozmap_property_id``, ``ozmap_client_id``, ``to_ixc_hash``,
    ``to_ozmap_hash``, ``state`` (replaced whole: merge it yourself)."""
    unknown = set(fields) - _CLIENT_FIELDS
    if unknown:
        raise ValueError(f"a client link has no field {sorted(unknown)}")
    row = session.execute(
        select(OzmapClientLink).where(OzmapClientLink.ixc_login_id == str(ixc_login_id))
    ).scalar_one_or_none()
    if row is None:
        row = OzmapClientLink(ixc_login_id=str(ixc_login_id), state={})
        session.add(row)
    for name, value in fields.items():
        setattr(row, name, dict(value) if name == "state" else value)
    session.flush()


def delete_client_link(session: Session, ixc_login_id: str) -> None:
    row = session.execute(
        select(OzmapClientLink).where(OzmapClientLink.ixc_login_id == str(ixc_login_id))
    ).scalar_one_or_none()
    if row is not None:
        session.delete(row)
