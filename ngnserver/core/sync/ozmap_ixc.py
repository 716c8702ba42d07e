"""OZmap -> IXC: the service boxes of the fiber plant OZmap documents become IXC FTTH boxes
(``rad_caixa_ftth``), and the box, port and coordinates OZmap gives a client go to its IXC
login (``radusuarios``) and ONU (``radpop_radio_cliente_fibra``). The rules are OZmap's own
IXC integration's (vendors.md 5, the integration's description), with its options as
settings (:class:`~ngnserver.config.OzmapIxcSettings`).

Boxes, read by cursor (:mod:`ngnserver.core.sync.cursor`): the boxes changed since the last
run (``updatedAt >=`` the cursor, ids seen at that instant dropped), the boxes of the
splitters changed since then, and the objects a write failed for last time. For each box:

- drafts and boxes not implanted ("in project") are left out, and so are boxes without a
  drop (service) splitter;
- the project: the IXC ``df_projeto`` named exactly (case-sensitive) as the box's OZmap
  project; none -> the box is left out (``consider_project``; off: project 0);
- the transmitter: the IXC ``radpop_radio`` whose IP is the IP of the OLT feeding the box's
  first drop splitter (the splitters' ``connectables.input``, followed up through splitters
  until an OLT); none -> left out with ``transmitter_required``, else 0; ``consider_olt``
  off: 0;
- the IXC box: the one the box link names; at first sight the IXC box of the same name (and
  project) no other link names, adopted; else a new one;
- what is written (the fields we own, read-merge-PUT on update, so IXC's other columns keep
  their values): ``descricao``, ``id_projeto``, ``id_transmissor``, ``capacidade`` (the drop
  splitters' output ports summed), ``latitude``/``longitude`` (strings, ``coords[1]``/
  ``coords[0]``), ``obs_caixa_ftth`` (the observation), ``status`` A; a new box also gets
  ``tipo``, ``codigo_estilo_caixa``, ``endereco``, ``idx`` and ``external_id`` (the OZmap id).
  Nothing is written when the fingerprint of these fields is the one last written;
- ``splitter_as_box``: one IXC box per drop splitter instead, named ``<box>-<splitter>``, its
  capacity that splitter's outputs; the box's other IXC boxes (the whole box's, or a splitter
  gone) are set inactive;
- ``condominiums``: each building (vertical condominium), and each box inside a horizontal
  condominium's polygon, gives one IXC box per splitter, named ``<condominium>-<splitter>``;
- removed: a box OZmap no longer has (404 when read again, or absent from the full listing of
  box ids made every ``removal_scan_interval``) gets its IXC boxes set to status ``I``
  (``remove_deleted_boxes``; never deleted: logins refer to them).

Clients, read by cursor too: the properties changed since the last run. A property's client
``code`` is the IXC ``login``; only fiber logins (``tipo_conexao_mapa`` F) that are active
(``ativo`` S) are touched. With ``update_client_port``, the IXC box linked to the property's
box (or splitter) and the splitter port go to the login (``id_caixa_ftth``, ``ftth_porta``)
and to its ONU (``id_caixa_ftth``, ``porta_ftth``); a box that is not linked (not created in
IXC) leaves the client alone. With ``update_client_coords``, the property's ``coords`` go to
the login's ``latitude``/``longitude``. Only what differs from IXC's row is written.
"""

from __future__ import annotations

import datetime
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from ngnserver.core.sync import (
    CREATE,
    DELETE,
    SKIPPED,
    UNCHANGED,
    UPDATE,
    Cursor,
    CursorWalk,
    Plan,
    Sync,
    SyncFailed,
    Write,
    WriteKey,
    clients,
    fingerprint,
    register,
)
from ngnserver.core.sync import ozmap_state as state
from ngnserver.vendors.ixc import IxcAuthError, IxcClient, IxcError, IxcNotFound
from ngnserver.vendors.ozmap import (
    BOXES,
    BUILDINGS,
    OzmapAuthError,
    OzmapClient,
    OzmapError,
)

log = logging.getLogger("ngnserver.sync.ozmap_ixc")

NAME = "ozmap-ixc"
BOX, LOGIN, FIBER = "box", "login", "fiber"
KINDS = (BOX, LOGIN, FIBER)
BOX_TABLE = "rad_caixa_ftth"
ACTIVE, INACTIVE = "A", "I"
FIBER_CONNECTION = "F"
BULK_LOOKUP = 50
"""Past this many lookups of one kind in a run, the IXC table is listed whole once."""
_NOTES_LOGGED = 20


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _coordinate(value: Any) -> str:
    """A coordinate as IXC stores it: a string (``-25.4284``), '' when there is none."""
    if value is None or value == "":
        return ""
    try:
        return repr(float(value)) if not isinstance(value, str) else str(float(value))
    except (TypeError, ValueError):
        return ""


def _lat_lng(coords: Any) -> tuple[str, str]:
    """(latitude, longitude) from OZmap's ``coords`` [lng, lat]."""
    if isinstance(coords, Sequence) and not isinstance(coords, str) and len(coords) >= 2:
        return _coordinate(coords[1]), _coordinate(coords[0])
    return "", ""


def _inside(point: Any, polygon: Any) -> bool:
    """Whether a point [lng, lat] lies inside a polygon of [lng, lat] points (ray casting);
    a polygon may come as GeoJSON-like rings ``[[[lng, lat], ...]]``."""
    if not isinstance(point, Sequence) or len(point) < 2 or not isinstance(polygon, list):
        return False
    if polygon and isinstance(polygon[0], list) and polygon[0] and isinstance(polygon[0][0], list):
        polygon = polygon[0]
    try:
        x, y = float(point[0]), float(point[1])
        ring = [(float(p[0]), float(p[1])) for p in polygon]
    except (TypeError, ValueError, IndexError):
        return False
    inside = False
    for (x1, y1), (x2, y2) in zip(ring, ring[1:] + ring[:1], strict=True):
        if (y1 > y) != (y2 > y) and x < (x2 - x1) * (y - y1) / (y2 - y1) + x1:
            inside = not inside
    return inside


def _outputs(splitter: Mapping[str, Any]) -> int:
    outputs = (splitter.get("connectables") or {}).get("output")
    if isinstance(outputs, list):
        return len(outputs)
    kind = str(splitter.get("splitterType") or "")
    _, _, count = kind.partition("x")
    return int(count) if count.isascii() and count.isdigit() else 0


def _key(box_id: str, splitter_id: str | None) -> str:
    return box_id if splitter_id is None else f"{box_id}/{splitter_id}"


@dataclass
class _Wanted:
    """One IXC box a box (or condominium) calls for."""

    box_id: str
    splitter_id: str | None
    source: str
    project_id: str
    fields: dict[str, str]  # the fields we own
    extra: dict[str, str]  # written on create only

    @property
    def key(self) -> str:
        return _key(self.box_id, self.splitter_id)


@dataclass
class _Notes:
    skipped: dict[str, int] = field(default_factory=dict)

    def __call__(self, kind: str, message: str, *args: object) -> None:
        self.skipped[kind] = self.skipped.get(kind, 0) + 1
        if self.skipped[kind] <= _NOTES_LOGGED:
            log.info(f"OZmap -> IXC: {message}; left out", *args)


class OzmapIxcSync(Sync):
    """The sync from one OZmap tenant to one IXC (the clients are closed with the sync).
    ``database`` keeps the links and cursors; ``options`` are the settings' ``ozmap_ixc``;
    ``only`` names one OZmap box (or building) to sync, cursors untouched."""

    name = NAME
    kinds = KINDS

    def __init__(
        self,
        ozmap: OzmapClient,
        ixc: IxcClient,
        database: Any,
        options: Any,
        *,
        only: str | None = None,
        write_connections: int | None = None,
    ) -> None:
        self.ozmap = ozmap
        self.ixc = ixc
        self.database = database
        self.options = options
        self.only = only
        self.write_connections = write_connections
        self._walks: dict[str, CursorWalk] = {}
        self._projects: dict[str, str | None] = {}  # OZmap project id -> IXC project id
        self._transmitters: dict[str, str] | None = None  # IP -> IXC id
        self._olts: dict[str, dict[str, Any]] | None = None
        self._splitters: dict[str, dict[str, Any] | None] = {}
        self._ixc_boxes: dict[tuple[str, str], list[str]] | None = None
        self._links = state.BoxLinks()
        self._lock = threading.Lock()
        self._saved: dict[str, Cursor] = {}
        self._claimed: set[str] = set()  # IXC boxes adopted in this run
        self._horizontal: list[dict[str, Any]] | None = None

    def bind(self, database: Any) -> None:
        if self.database is None:
            self.database = database

    # reading

    def plan(self) -> Plan:
        try:
            return self._plan()
        except (OzmapAuthError, IxcAuthError) as exc:
            who = (
                "OZmap refused the API key"
                if isinstance(exc, OzmapAuthError)
                else ("IXC refused the API token")
            )
            raise SyncFailed(f"{who} ({exc})") from None
        except OzmapError as exc:
            raise SyncFailed(f"cannot read OZmap: {exc}") from None
        except IxcError as exc:
            raise SyncFailed(f"cannot read IXC: {exc}") from None

    def _plan(self) -> Plan:
        plan = Plan()
        notes = _Notes()
        with self.database.transaction(write=False) as session:
            self._links = state.box_links(session)
            cursors = {
                name: Cursor.load(session, name)
                for name in (
                    state.BOXES_CURSOR,
                    state.SPLITTERS_CURSOR,
                    state.BUILDINGS_CURSOR,
                    state.PROPERTIES_CURSOR,
                    state.REMOVAL_SCAN_CURSOR,
                )
            }
        if self.only is not None:
            self._plan_only(plan, notes)
        else:
            self._plan_boxes(plan, notes, cursors)
            if self.options.update_client_port or self.options.update_client_coords:
                self._plan_clients(plan, notes, cursors[state.PROPERTIES_CURSOR])
        for kind, n in notes.skipped.items():
            plan.note(kind, SKIPPED, n)
        return plan

    def _plan_only(self, plan: Plan, notes: _Notes) -> None:
        found = self.ozmap.get(BOXES, self.only)
        building = None if found is not None else self.ozmap.get(BUILDINGS, self.only)
        if found is None and building is None:
            if self.options.remove_deleted_boxes:
                self._plan_removal(plan, self.only)
            return
        containers = {self.only: (BOXES if found is not None else BUILDINGS, found or building)}
        self._plan_containers(plan, notes, containers)

    def _plan_boxes(self, plan: Plan, notes: _Notes, cursors: Mapping[str, Cursor]) -> None:
        """Every box and building to look at, reached through which cursor entry."""
        containers: dict[str, tuple[str, dict[str, Any] | None]] = {}
        entries: list[tuple[str, str, str | None, bool, str | None]] = []  # in read order

        def reached(
            box_id: str | None,
            model: str,
            found: dict[str, Any] | None,
            cursor: str,
            object_id: str,
            position: str | None,
            retry: bool = False,
        ) -> None:
            if box_id is not None and (box_id not in containers or containers[box_id][1] is None):
                containers[box_id] = (model, found)
            entries.append((cursor, object_id, position, retry, box_id))

        box_cursor = cursors[state.BOXES_CURSOR]
        for box in self.ozmap.boxes_changed_since(box_cursor.position):
            if box_cursor.is_new(box["id"], box.get("updatedAt")):
                reached(box["id"], BOXES, box, state.BOXES_CURSOR, box["id"], box.get("updatedAt"))
        for box_id in sorted(box_cursor.pending):
            found = self.ozmap.get(BOXES, box_id)
            reached(box_id, BOXES, found, state.BOXES_CURSOR, box_id, None, True)
        if self.options.condominiums:
            cursor = cursors[state.BUILDINGS_CURSOR]
            for building in self.ozmap.buildings_changed_since(cursor.position):
                if cursor.is_new(building["id"], building.get("updatedAt")):
                    reached(
                        building["id"],
                        BUILDINGS,
                        building,
                        state.BUILDINGS_CURSOR,
                        building["id"],
                        building.get("updatedAt"),
                    )
            for building_id in sorted(cursor.pending):
                found = self.ozmap.get(BUILDINGS, building_id)
                reached(
                    building_id, BUILDINGS, found, state.BUILDINGS_CURSOR, building_id, None, True
                )
        cursor = cursors[state.SPLITTERS_CURSOR]
        for splitter in self.ozmap.splitters_changed_since(cursor.position):
            if cursor.is_new(splitter["id"], splitter.get("updatedAt")):
                self._splitters[splitter["id"]] = splitter
                parent = _text(splitter.get("parent")) or None
                reached(
                    parent,
                    "",
                    None,
                    state.SPLITTERS_CURSOR,
                    splitter["id"],
                    splitter.get("updatedAt"),
                )
        for splitter_id in sorted(cursor.pending):
            splitter = self.ozmap.splitter(splitter_id)
            parent = _text((splitter or {}).get("parent")) or None
            reached(parent, "", None, state.SPLITTERS_CURSOR, splitter_id, None, True)
        for box_id, (model, found) in list(containers.items()):
            if model:
                continue
            box = self.ozmap.get(BOXES, box_id)
            if box is not None:
                containers[box_id] = (BOXES, box)
            elif self.options.condominiums and (building := self.ozmap.get(BUILDINGS, box_id)):
                containers[box_id] = (BUILDINGS, building)
            else:
                containers[box_id] = (BOXES, None)

        writes = self._plan_containers(plan, notes, containers)
        walks = {
            name: CursorWalk(cursors[name])
            for name in (state.BOXES_CURSOR, state.SPLITTERS_CURSOR, state.BUILDINGS_CURSOR)
        }
        for name, object_id, position, retry, box_id in entries:
            keys = writes.get(box_id, []) if box_id is not None else []
            if retry:
                walks[name].retry(object_id, keys)
            else:
                walks[name].read(object_id, position, keys)
        if self.options.remove_deleted_boxes:
            scan = self._plan_removal_scan(plan, cursors[state.REMOVAL_SCAN_CURSOR], containers)
            if scan is not None:
                walks[state.REMOVAL_SCAN_CURSOR] = scan
        self._walks.update(walks)

    def _plan_containers(
        self,
        plan: Plan,
        notes: _Notes,
        containers: Mapping[str, tuple[str, dict[str, Any] | None]],
    ) -> dict[str, list[tuple[str, str]]]:
        """Plan the writes of each box or building; returns its write keys by its id."""
        present = {box_id: found for box_id, (_, found) in containers.items() if found is not None}
        self._prepare_adoption(sum(1 for box_id in present if not self._links.of_box(box_id)))
        splitters = self._splitters_of(list(present))
        condominiums = self._condominiums() if self.options.condominiums else []
        writes: dict[str, list[tuple[str, str]]] = {}
        for box_id, (model, found) in containers.items():
            before = len(plan.writes)
            if found is None:
                if self.options.remove_deleted_boxes:
                    self._plan_removal(plan, box_id)
            else:
                wanted = self._wanted(model, found, splitters.get(box_id, []), condominiums, notes)
                if wanted is not None:
                    self._plan_wanted(plan, box_id, wanted)
            writes[box_id] = [(w.kind, w.key) for w in plan.writes[before:]]
        return writes

    def _splitters_of(self, parent_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
        found: dict[str, list[dict[str, Any]]] = {}
        if not parent_ids:
            return found
        for splitter in self.ozmap.splitters_of(parent_ids):
            self._splitters[splitter["id"]] = splitter
            found.setdefault(_text(splitter.get("parent")), []).append(splitter)
        return found

    def _condominiums(self) -> list[dict[str, Any]]:
        if self._horizontal is None:
            self._horizontal = [*self.ozmap.horizontal_condominiums()]
        return self._horizontal

    def _wanted(
        self,
        model: str,
        container: dict[str, Any],
        splitters: list[dict[str, Any]],
        condominiums: list[dict[str, Any]],
        notes: _Notes,
    ) -> list[_Wanted] | None:
        """The IXC boxes this box or building calls for ([]: none, its IXC boxes go
        inactive), or None: left out (its IXC boxes are left as they are)."""
        name = _text(container.get("name")) or container["id"]
        if container.get("draft") is True or container.get("implanted") is False:
            notes(BOX, "box %s (%s) is a draft or not implanted yet", name, container["id"])
            return None
        condominium = None
        if model == BUILDINGS:
            condominium = name
        elif condominiums:
            for area in condominiums:
                if _inside(container.get("coords"), area.get("coords")):
                    condominium = _text(area.get("name")) or area["id"]
                    break
        drops = [s for s in splitters if s.get("isDrop")]
        chosen = splitters if condominium is not None else drops
        if not chosen:
            notes(BOX, "box %s (%s) has no drop splitter: not a service box", name, container["id"])
            return None
        project = self._project(container, notes, name)
        if project is None:
            return None
        transmitter = self._transmitter(drops or chosen, notes, name)
        if transmitter is None:
            return None
        latitude, longitude = _lat_lng(container.get("coords"))
        base = {
            "id_projeto": project,
            "id_transmissor": transmitter,
            "latitude": latitude,
            "longitude": longitude,
            "obs_caixa_ftth": _text(container.get("observation")),
            "status": ACTIVE,
        }
        extra = {
            "tipo": self.options.box_type,
            "codigo_estilo_caixa": self.options.box_style,
            "endereco": _text(container.get("address")),
        }
        project_id = _text(container.get("project"))
        if condominium is not None or self.options.splitter_as_box:
            prefix = condominium if condominium is not None else name
            source = "building" if condominium is not None else "splitter"
            return [
                _Wanted(
                    container["id"],
                    splitter["id"],
                    source,
                    project_id,
                    {
                        "descricao": f"{prefix}-{_text(splitter.get('name')) or splitter['id']}",
                        "capacidade": str(_outputs(splitter)),
                        **base,
                    },
                    {**extra, "idx": splitter["id"], "external_id": splitter["id"]},
                )
                for splitter in sorted(chosen, key=lambda s: s["id"])
            ]
        capacity = sum(_outputs(s) for s in drops)
        return [
            _Wanted(
                container["id"],
                None,
                "box",
                project_id,
                {"descricao": name, "capacidade": str(capacity), **base},
                {**extra, "idx": container["id"], "external_id": container["id"]},
            )
        ]

    def _project(self, container: Mapping[str, Any], notes: _Notes, name: str) -> str | None:
        """The IXC project id of the box's project ("0" when projects are not considered),
        or None: left out."""
        if not self.options.consider_project:
            return "0"
        project_id = _text(container.get("project"))
        if isinstance(container.get("project"), Mapping):
            project_id = _text(container["project"].get("id"))
        if project_id not in self._projects:
            project = self.ozmap.project(project_id) if project_id else None
            found: str | None = None
            if project is not None:
                wanted = _text(project.get("name"))
                for row in self.ixc.iterate("df_projeto", qtype="df_projeto.nome", query=wanted):
                    if row.get("nome") == wanted:  # IXC compares without case: we do not
                        found = _text(row.get("id"))
                        break
            self._projects[project_id] = found
        found = self._projects[project_id]
        if found is None:
            notes(BOX, "box %s: IXC has no project named as its OZmap project", name)
        return found

    def _transmitter(self, splitters: list[dict[str, Any]], notes: _Notes, name: str) -> str | None:
        """The IXC transmitter of the OLT feeding the first splitter, "0" when there is none
        and one is not required (or OLTs are not considered), None: left out."""
        if not self.options.consider_olt:
            return "0"
        olt = self._olt_of(min(splitters, key=lambda s: s["id"]))
        transmitter = None
        if olt is not None:
            if self._transmitters is None:
                self._transmitters = {}
                for row in self.ixc.iterate("radpop_radio"):
                    self._transmitters.setdefault(
                        _text(row.get("ip")).strip(), _text(row.get("id"))
                    )
            transmitter = self._transmitters.get(_text(olt.get("ip")).strip())
        if transmitter is None:
            if self.options.transmitter_required:
                notes(BOX, "box %s: no IXC transmitter has the IP of its OLT", name)
                return None
            return "0"
        return transmitter

    def _olt_of(self, splitter: dict[str, Any]) -> dict[str, Any] | None:
        """The OLT feeding a splitter: its ``connectables.input`` names the OLT, or a
        splitter to follow up (at most 8 levels)."""
        if self._olts is None:
            self._olts = {row["id"]: row for row in self.ozmap.olts()}
        current: dict[str, Any] | None = splitter
        for _ in range(8):
            if current is None:
                return None
            inputs = (current.get("connectables") or {}).get("input") or []
            following = None
            for item in inputs:
                item_id = _text(item.get("id") if isinstance(item, Mapping) else item)
                if not item_id:
                    continue
                if item_id in self._olts:
                    return self._olts[item_id]
                following = item_id
            if following is None:
                return None
            if following not in self._splitters:
                self._splitters[following] = self.ozmap.splitter(following)
            current = self._splitters[following]
        return None

    def _plan_wanted(self, plan: Plan, box_id: str, wanted: list[_Wanted]) -> None:
        keys = set()
        for item in wanted:
            keys.add((item.box_id, item.splitter_id))
            link = self._links.get(item.box_id, item.splitter_id)
            digest = fingerprint(item.fields)
            if link is not None and link.last_hash == digest and not link.removed:
                plan.note(BOX, UNCHANGED)
                continue
            body: dict[str, Any] = {
                "fields": item.fields,
                "extra": item.extra,
                "source": item.source,
                "project": item.project_id,
                "hash": digest,
            }
            if link is not None:
                plan.add(Write(BOX, UPDATE, item.key, {**body, "caixa": link.ixc_caixa_id}))
                continue
            adopted = self._adoptable(item)
            if adopted is not None:
                plan.add(Write(BOX, UPDATE, item.key, {**body, "caixa": adopted, "adopted": True}))
            else:
                plan.add(Write(BOX, CREATE, item.key, body))
        for link in self._links.of_box(box_id):
            if link.key not in keys and not link.removed:
                self._plan_deactivate(plan, link)

    def _adoptable(self, item: _Wanted) -> str | None:
        """An IXC box of the same name (and project) that no link names: a box made in IXC
        before the integration, or by a run that stopped before it could save its link."""
        name = item.fields["descricao"]
        project = item.fields["id_projeto"]
        candidates: list[str]
        if self._ixc_boxes is not None:
            candidates = self._ixc_boxes.get((name, project), [])
        else:
            rows = self.ixc.list(BOX_TABLE, qtype=f"{BOX_TABLE}.descricao", query=name)
            candidates = [
                _text(r.get("id"))
                for r in rows
                if r.get("descricao") == name
                and (not self.options.consider_project or _text(r.get("id_projeto")) == project)
            ]
        with self._lock:
            for caixa in sorted(candidates, key=lambda c: int(c) if c.isascii() and c.isdigit() else 0):
                if caixa not in self._links.by_caixa and caixa not in self._claimed:
                    self._claimed.add(caixa)
                    return caixa
        return None

    def _prepare_adoption(self, count: int) -> None:
        if count > BULK_LOOKUP and self._ixc_boxes is None:
            self._ixc_boxes = {}
            for row in self.ixc.iterate(BOX_TABLE):
                project = _text(row.get("id_projeto")) if self.options.consider_project else "0"
                key = (_text(row.get("descricao")), project)
                self._ixc_boxes.setdefault(key, []).append(_text(row.get("id")))

    def _plan_deactivate(self, plan: Plan, link: state.BoxLink) -> None:
        digest = fingerprint({"status": INACTIVE})
        plan.add(
            Write(
                BOX,
                DELETE,
                _key(link.ozmap_box_id, link.ozmap_splitter_id),
                {"caixa": link.ixc_caixa_id, "hash": digest, "source": link.source},
            )
        )

    def _plan_removal(self, plan: Plan, box_id: str) -> None:
        for link in self._links.of_box(box_id):
            if not link.removed:
                self._plan_deactivate(plan, link)

    def _plan_removal_scan(
        self, plan: Plan, cursor: Cursor, containers: Mapping[str, Any]
    ) -> CursorWalk | None:
        """When the scan is due (None: it is not): list every box id (and building id) and
        deactivate the IXC boxes of those gone. With no link yet there is nothing to look
        for: the scan is noted as made without listing."""
        interval = self.options.removal_scan_interval
        if interval is None:
            return None
        if cursor.position is not None:
            last = datetime.datetime.fromisoformat(cursor.position)
            if _utc() - last < datetime.timedelta(seconds=interval):
                return None
        walk = CursorWalk(cursor)
        now = _now()
        if not len(self._links):
            walk.read("scan", now)
            return walk
        present = {row["id"] for row in self.ozmap.iterate(BOXES, select="id", sort=(("id", 1),))}
        if self.options.condominiums:
            present |= {
                row["id"] for row in self.ozmap.iterate(BUILDINGS, select="id", sort=(("id", 1),))
            }
        before = len(plan.writes)
        for box_id in sorted(self._links.by_box):
            if box_id not in present and box_id not in containers:
                self._plan_removal(plan, box_id)
        walk.read("scan", now, [(w.kind, w.key) for w in plan.writes[before:]])
        return walk

    # clients

    def _plan_clients(self, plan: Plan, notes: _Notes, cursor: Cursor) -> None:
        walk = CursorWalk(cursor)
        read: list[tuple[dict[str, Any], bool]] = []
        for prop in self.ozmap.properties_changed_since(cursor.position):
            if cursor.is_new(prop["id"], prop.get("updatedAt")):
                read.append((prop, False))
        for property_id in sorted(cursor.pending):
            found = self.ozmap.get_property(property_id)
            read.append((found or {"id": property_id}, True))
        codes = {
            _text(client.get("code"))
            for prop, _ in read
            if isinstance(client := prop.get("client"), Mapping) and client.get("code")
        }
        logins = self._logins(codes)
        fibers = self._fibers([row["id"] for row in logins.values()])
        planned_boxes = {w.key for w in plan.writes if w.kind == BOX and w.action != DELETE}
        for prop, retry in read:
            keys = self._plan_client(plan, notes, prop, logins, fibers, planned_boxes)
            if retry:
                walk.retry(prop["id"], keys)
            else:
                walk.read(prop["id"], prop.get("updatedAt"), keys)
        self._walks[state.PROPERTIES_CURSOR] = walk

    def _logins(self, codes: set[str]) -> dict[str, dict[str, Any]]:
        """The active fiber IXC logins whose login is one of ``codes``, by login."""
        found: dict[str, dict[str, Any]] = {}
        if not codes:
            return found
        if len(codes) > BULK_LOOKUP:
            rows: Iterable[dict[str, Any]] = self.ixc.iterate(
                "radusuarios", qtype="radusuarios.ativo", query="S"
            )
        else:
            rows = (
                row
                for code in sorted(codes)
                for row in self.ixc.iterate("radusuarios", qtype="radusuarios.login", query=code)
            )
        for row in rows:
            login = _text(row.get("login"))
            if login not in codes or row.get("ativo") != "S":
                continue
            if _text(row.get("tipo_conexao_mapa")).upper() != FIBER_CONNECTION:
                continue
            found[login] = row
        return found

    def _fibers(self, login_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The ONUs (``radpop_radio_cliente_fibra``) of these logins, by login id."""
        found: dict[str, dict[str, Any]] = {}
        if not login_ids or not self.options.update_client_port:
            return found
        wanted = set(login_ids)
        if len(wanted) > BULK_LOOKUP:
            rows: Iterable[dict[str, Any]] = self.ixc.iterate("radpop_radio_cliente_fibra")
        else:
            rows = (
                row
                for login_id in sorted(wanted)
                for row in self.ixc.iterate(
                    "radpop_radio_cliente_fibra",
                    qtype="radpop_radio_cliente_fibra.id_login",
                    query=login_id,
                )
            )
        for row in rows:
            login_id = _text(row.get("id_login"))
            if login_id in wanted:
                found.setdefault(login_id, row)
        return found

    def _plan_client(
        self,
        plan: Plan,
        notes: _Notes,
        prop: dict[str, Any],
        logins: Mapping[str, dict[str, Any]],
        fibers: Mapping[str, dict[str, Any]],
        planned_boxes: set[str],
    ) -> list[tuple[str, str]]:
        client = prop.get("client")
        code = _text(client.get("code")) if isinstance(client, Mapping) else ""
        if not code:
            return []  # a property without a client: nothing to tell IXC
        login = logins.get(code)
        if login is None:
            notes(LOGIN, "client %s: no active fiber login in IXC", code)
            return []
        changes: dict[str, str] = {}
        fiber_changes: dict[str, str] = {}
        needs: tuple[tuple[str, str], ...] = ()
        box_key: str | None = None
        if self.options.update_client_port:
            connection = next(iter(prop.get("connections") or []), None)
            box_id = _text(prop.get("box"))
            if isinstance(prop.get("box"), Mapping):
                box_id = _text(prop["box"].get("id"))
            splitter_id = _text(connection.get("id")) if isinstance(connection, Mapping) else ""
            port = _text(connection.get("port")) if isinstance(connection, Mapping) else ""
            box_key = self._client_box(box_id, splitter_id, planned_boxes)
            if box_key is None:
                notes(LOGIN, "client %s: its OZmap box is not an IXC box", code)
            else:
                caixa = self._caixa_of(box_key)
                fiber = fibers.get(_text(login.get("id")))
                if caixa is None:  # its IXC box is made (or adopted) in this run
                    needs = ((BOX, box_key),)
                    changes["id_caixa_ftth"] = ""
                    if fiber is not None:
                        fiber_changes["id_caixa_ftth"] = ""
                else:
                    if _text(login.get("id_caixa_ftth")) != caixa:
                        changes["id_caixa_ftth"] = caixa
                    if fiber is not None and _text(fiber.get("id_caixa_ftth")) != caixa:
                        fiber_changes["id_caixa_ftth"] = caixa
                if port and _text(login.get("ftth_porta")) != port:
                    changes["ftth_porta"] = port
                if fiber is not None and port and _text(fiber.get("porta_ftth")) != port:
                    fiber_changes["porta_ftth"] = port
        if self.options.update_client_coords:
            latitude, longitude = _lat_lng(prop.get("coords"))
            if latitude and (
                _coordinate(login.get("latitude")) != latitude
                or _coordinate(login.get("longitude")) != longitude
            ):
                changes.update(latitude=latitude, longitude=longitude)
        keys: list[tuple[str, str]] = []
        stage = 1 if needs else 0
        login_id = _text(login["id"])
        if changes:
            body = {"changes": changes, "box": box_key, "login": code}
            plan.add(Write(LOGIN, UPDATE, login_id, body, stage, needs))
            keys.append((LOGIN, login_id))
        else:
            plan.note(LOGIN, UNCHANGED)
        if fiber_changes:
            fiber_id = _text(fibers[login_id]["id"])
            body = {"changes": fiber_changes, "box": box_key, "login": code}
            plan.add(Write(FIBER, UPDATE, fiber_id, body, stage, needs))
            keys.append((FIBER, fiber_id))
        elif login_id in fibers:
            plan.note(FIBER, UNCHANGED)
        return keys

    def _client_box(self, box_id: str, splitter_id: str, planned: set[str]) -> str | None:
        """The key of the IXC box a client on this box and splitter belongs to: the
        splitter's own IXC box, else the whole box's; linked, or about to be written."""
        candidates = [_key(box_id, splitter_id)] if splitter_id else []
        candidates.append(_key(box_id, None))
        for key in candidates:
            box, _, splitter = key.partition("/")
            link = self._links.get(box, splitter or None)
            if key in planned or (link is not None and not link.removed):
                return key
        return None

    def _caixa_of(self, key: str) -> str | None:
        box, _, splitter = key.partition("/")
        link = self._links.get(box, splitter or None)
        return link.ixc_caixa_id if link is not None and not link.removed else None

    # writing

    def apply(self, write: Write) -> None:
        body = dict(write.body or {})
        try:
            if write.kind == BOX:
                self._apply_box(write, body)
            else:
                self._apply_client(write, body)
        except IxcAuthError as exc:
            raise SyncFailed(f"IXC refused the API token ({exc.message})") from None

    def _apply_box(self, write: Write, body: dict[str, Any]) -> None:
        box_id, _, splitter = write.key.partition("/")
        splitter_id = splitter or None
        if write.action == DELETE:
            try:
                self.ixc.update(BOX_TABLE, body["caixa"], {"status": INACTIVE})
            except IxcNotFound:
                pass  # gone from IXC already
            self._save_link(
                state.BoxLink(
                    box_id,
                    splitter_id,
                    body["source"],
                    body["caixa"],
                    "",
                    "",
                    body["hash"],
                    removed=True,
                ),
                keep_names=True,
            )
            return
        fields: dict[str, str] = body["fields"]
        caixa = body.get("caixa")
        if caixa is not None:
            try:
                self.ixc.update(BOX_TABLE, caixa, fields)
            except IxcNotFound:
                caixa = None  # deleted in IXC: made again
        if caixa is None:
            caixa = self.ixc.insert(BOX_TABLE, {**body["extra"], **fields})
            if caixa is None:
                raise IxcError(
                    f"IXC answered the insert of box {fields['descricao']} without its id"
                )
        self._save_link(
            state.BoxLink(
                box_id,
                splitter_id,
                body["source"],
                caixa,
                body["project"],
                fields["descricao"],
                body["hash"],
            )
        )

    def _save_link(self, link: state.BoxLink, keep_names: bool = False) -> None:
        with self._lock:
            if keep_names:
                old = self._links.get(link.ozmap_box_id, link.ozmap_splitter_id)
                if old is not None:
                    link = state.BoxLink(
                        link.ozmap_box_id,
                        link.ozmap_splitter_id,
                        old.source,
                        old.ixc_caixa_id,
                        old.ozmap_project_id,
                        old.name,
                        link.last_hash,
                        link.removed,
                    )
            with self.database.transaction() as session:
                state.save_box_link(session, link)
            self._links.add(link)

    def _apply_client(self, write: Write, body: dict[str, Any]) -> None:
        changes = dict(body["changes"])
        if body.get("box") and changes.get("id_caixa_ftth") == "":
            caixa = self._caixa_of(body["box"])
            if caixa is None:
                raise IxcError(f"the IXC box of OZmap box {body['box']} is not known")
            changes["id_caixa_ftth"] = caixa
        table = "radusuarios" if write.kind == LOGIN else "radpop_radio_cliente_fibra"
        self.ixc.update(table, write.key, changes)
        if write.kind == LOGIN:
            with self.database.transaction() as session:
                state.save_client_link(
                    session, write.key, login=body["login"], to_ixc_hash=fingerprint(changes)
                )

    # cursors

    def settle(self, done: AbstractSet[WriteKey], failed: AbstractSet[WriteKey]) -> None:
        if self.only is not None:
            return
        moved = {name: walk.settled(done, failed) for name, walk in self._walks.items()}
        changed = [cursor for name, cursor in moved.items() if self._saved.get(name) != cursor]
        if not changed:
            return
        with self.database.transaction() as session:
            for cursor in changed:
                cursor.save(session)
        self._saved.update({cursor.name: cursor for cursor in changed})

    def close(self) -> None:
        self.ozmap.close()
        self.ixc.close()


def _utc() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _now() -> str:
    return _utc().isoformat(timespec="milliseconds").replace("+00:00", "Z")


def missing_settings(settings: Any) -> list[str]:
    """The settings still missing for this sync (none: it can run)."""
    ozmap, ixc = settings.ozmap, settings.ixc
    missing = [name for name, value in (("NGNSERVER_OZMAP_URL", ozmap.url),) if not value]
    if not ozmap.key and not (ozmap.user and ozmap.password):
        missing.append("NGNSERVER_OZMAP_KEY (or NGNSERVER_OZMAP_USER and NGNSERVER_OZMAP_PASSWORD)")
    missing += [
        name
        for name, value in (("NGNSERVER_IXC_URL", ixc.url), ("NGNSERVER_IXC_TOKEN", ixc.token))
        if not value
    ]
    return missing


def build(settings: Any, database: Any = None, only: str | None = None) -> OzmapIxcSync:
    """The sync the settings describe, keeping its state in ``database`` (given by the
    engine when None: :meth:`OzmapIxcSync.bind`); ValueError (one sentence) if the settings
    are incomplete."""
    missing = missing_settings(settings)
    if missing:
        raise ValueError(f"the OZmap -> IXC sync is not configured: set {', '.join(missing)}")
    connections = settings.ozmap.write_connections
    return OzmapIxcSync(
        clients.ozmap_client(settings, connections),
        clients.ixc_client(settings, connections),
        database,
        settings.ozmap_ixc,
        only=only,
        write_connections=connections,
    )


@register(NAME)
def from_settings(settings: Any) -> OzmapIxcSync:
    return build(settings)
