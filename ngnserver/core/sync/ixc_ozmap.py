"""IXC -> OZmap: the FTTH clients of IXC's fiber logins, on the OZmap box and splitter port
IXC names (vendors.md 5, the IXC -> OZmap rows; what OZmap's own IXC integration does).

A login is an IXC ``radusuarios`` row with ``tipo_conexao_mapa`` F; its ``login`` is the
OZmap client's ``code`` (the join key), its client's ``razao`` (``cliente``) the client's
``name``, its contract (``cliente_contrato``) decides what it is in OZmap. Its box
(``id_caixa_ftth``) is found in OZmap through the box links the OZmap -> IXC direction wrote
(:mod:`ngnserver.core.sync.ozmap_state`): a whole box, one of its splitters (splitter as box)
or one splitter of a condominium. What the sync last wrote for a login is in its client link
(the OZmap property and client ids, ``state`` and ``to_ozmap_hash``, its fingerprint), so a
run writes only what changed, and a second run with nothing new writes nothing.

The rules, each optional feature behind its setting (``NGNSERVER_OZMAP_IXC_*``):

- **creation** (``create_clients``): a login without a client link, whose box is linked and
  whose contract is neither withdrawn nor cancelled, becomes an OZmap property on that box,
  connected (``auto_connect``) to the splitter port ``ftth_porta`` (1-based; the splitter of
  a splitter link, else the box's drop splitter), its client ``{code, name}`` created with
  it (with ``implanted``, ``status`` and the property's ``potencyRead`` when those features
  are on, so a new client needs no second write). A login without a port is created on the
  first free port of that splitter with ``first_free_port``, and left out otherwise. Before
  creating, the write asks OZmap for the properties of the code
  (``GET properties/client/<code>``) and adopts what it finds, so a client made by hand, by
  OZmap's own integration or by a run killed before it could record its link is never
  duplicated. An occupied port is refused by OZmap: that login's write fails with a
  sentence naming the port (a conflict, logged and in the run's errors) and the run goes on;
- **name**: always IXC's; a client renamed in OZmap gets its IXC name back;
- **port** (``update_client_port``): a login moved in IXC to another linked box or port has
  its property moved there (``PATCH properties/<id> {box, port}``); an occupied port is a
  conflict as above;
- **activation** (``implant_clients``): a login whose contract is active (``status`` A) has
  its client marked ``implanted`` (never unmarked);
- **withdrawal** (contract ``status`` D, never installed): the client and its property are
  deleted, which frees the splitter port;
- **cancellation** (contract ``status`` I, or an inactive login whose contract is gone): the
  client is deleted and the property kept, its ``observation`` naming the code and the last
  splitter port; with ``disconnect_clients`` its drop is also disconnected from the splitter
  (``connector: null``). A cancelled login that comes back gets a new client on the kept
  property;
- **status** (``update_client_status``) and **power** (``update_client_power``), for active
  logins (``ativo`` S): ``online`` S -> client ``status`` 0, else 1; the last signal IXC read
  (``sinal_ultimo_atendimento``, dBm) -> the property's ``potencyRead``. Both go out in
  batches: ``POST ftth-clients/batch-update`` / ``properties/batch-update`` with
  ``id in [...]`` (up to :data:`~ngnserver.vendors.ozmap.BATCH_IDS` ids a request), one per
  value.

Only linked objects are removed or changed: the sync never deletes an OZmap client it did not
create or adopt.

Reading IXC is not incremental, on purpose: the facts this sync carries change without
``radusuarios.ultima_atualizacao`` moving (``online`` and the signal are written by IXC's
RADIUS and ONU reads, a contract's status lives in ``cliente_contrato`` and a name in
``cliente``, tables with no change time), so every run reads the fiber logins, the contracts
and the clients whole (page after page, as IXC -> BQN does); what makes a run cheap is that
it compares them with the links and writes only the differences, and reads nothing from
OZmap for a login it knows (only the splitters of a box, for ``first_free_port``, and the
code look-up before a creation). ``--only LOGIN_ID`` reads that one login. No cursor is
kept.

Writes go in stages: removals (which free ports) first, then moves and returns to a kept
property, then creations, then renames, then the batches. Each write records its result in the login's link right after
OZmap accepted it, so a run killed half-way leaves links that are true, and the next run does
what was left, and only that.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ngnserver.core.sync import (
    CREATE,
    DELETE,
    SKIPPED,
    UNCHANGED,
    UPDATE,
    Plan,
    Sync,
    SyncFailed,
    Write,
    clients,
    fingerprint,
    register,
)
from ngnserver.core.sync import ozmap_state as state_db
from ngnserver.vendors.ixc import IxcAuthError, IxcClient, IxcError
from ngnserver.vendors.ozmap import (
    BATCH_IDS,
    CLIENT_ERROR,
    CLIENT_OK,
    FTTH_CLIENTS,
    PROPERTIES,
    OzmapAuthError,
    OzmapClient,
    OzmapError,
    OzmapNotFound,
    OzmapRefused,
    OzmapTransientError,
    free_ports,
    where,
)

log = logging.getLogger("ngnserver.sync.ixc_ozmap")

NAME = "ixc-ozmap"
PROPERTY, CLIENT, BATCH = "property", "client", "batch"
KINDS = (PROPERTY, CLIENT, BATCH)
LOGIN = "login"  # the kind counted for logins left alone (unchanged, skipped)

REMOVALS, PLACEMENTS, CREATIONS, RENAMES, BATCHES = 0, 1, 2, 3, 4
WITHDRAWN, CANCELLED, ACTIVE = "D", "I", "A"
FIBER = "F"
_NOTES_LOGGED = 20


@dataclass(frozen=True)
class Login:
    """What IXC says of one fiber login, as this sync uses it."""

    id: str
    code: str
    name: str
    active: bool  # ativo S
    contract: str  # the contract's status ('' when it has none)
    online: bool
    power: float | None
    caixa: str
    port: int | None
    coords: tuple[float, float] | None  # (lng, lat)
    address: str

    @property
    def withdrawn(self) -> bool:
        return self.contract == WITHDRAWN

    @property
    def cancelled(self) -> bool:
        return self.contract == CANCELLED or (not self.active and not self.contract)


def _number(text: Any) -> float | None:
    try:
        return float(str(text).strip().replace(",", "."))
    except ValueError:
        return None


def login_of(
    row: Mapping[str, Any], contracts: Mapping[str, str], names: Mapping[str, str]
) -> Login:
    """A ``radusuarios`` row with its contract's status and its client's name."""
    port_text = str(row.get("ftth_porta", "") or "").strip()
    lat, lng = _number(row.get("latitude", "")), _number(row.get("longitude", ""))
    power = _number(row.get("sinal_ultimo_atendimento", ""))
    code = str(row.get("login", "")).strip()
    return Login(
        id=str(row.get("id", "")),
        code=code,
        name=names.get(str(row.get("id_cliente", "")), "") or code,
        active=str(row.get("ativo", "")).strip().upper() == "S",
        contract=contracts.get(str(row.get("id_contrato", "")).strip(), ""),
        online=str(row.get("online", "")).strip().upper() == "S",
        power=None if power is None else round(power, 2),
        caixa=str(row.get("id_caixa_ftth", "") or "").strip(),
        port=int(port_text) if port_text.isascii() and port_text.isdigit() and int(port_text) > 0 else None,
        coords=(lng, lat) if lat is not None and lng is not None and (lat or lng) else None,
        address=str(row.get("endereco", "") or "").strip(),
    )


class _Notes:
    """Logins left out: the first few of each reason logged, all counted as skipped."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.reasons: dict[str, int] = defaultdict(int)

    def __call__(self, reason: str, login: Login) -> None:
        self.plan.note(LOGIN, SKIPPED)
        self.reasons[reason] += 1
        if self.reasons[reason] <= _NOTES_LOGGED:
            log.info("IXC -> OZmap: login %s (%s) %s; left out", login.code, login.id, reason)

    def close(self) -> None:
        for reason, n in self.reasons.items():
            if n > _NOTES_LOGGED:
                log.info("IXC -> OZmap: %s more logins %s; left out", n - _NOTES_LOGGED, reason)


class IxcOzmapSync(Sync):
    """The sync from one IXC to one OZmap (the clients are closed with the sync). ``options``
    are :class:`~ngnserver.config.OzmapIxcSettings`; ``only``: one IXC login id."""

    name = NAME
    kinds = (*KINDS, LOGIN)

    def __init__(
        self,
        ixc: IxcClient,
        ozmap: OzmapClient,
        options: Any,
        *,
        only: str | None = None,
        write_connections: int | None = None,
    ) -> None:
        self.ixc = ixc
        self.ozmap = ozmap
        self.options = options
        self.only = only
        self.write_connections = write_connections
        self.database: Any = None
        self._state_lock = threading.Lock()
        self._splitters: dict[tuple[str, str | None], dict[str, Any] | None] = {}

    def bind(self, database: Any) -> None:
        self.database = database

    # reading and planning

    def plan(self) -> Plan:
        if self.database is None:
            raise SyncFailed("the IXC -> OZmap sync runs without a database (bind it first)")
        logins = self.read_ixc()
        with self.database.transaction(write=False) as session:
            links = state_db.client_links(session, [login.id for login in logins])
            boxes = state_db.box_links(session).by_caixa
        plan = Plan()
        notes = _Notes(plan)
        taken = self._taken_ports(logins, boxes)
        for login in logins:
            writes = self._plan_login(login, links.get(login.id), boxes, taken, notes)
            if writes is None:
                continue
            if not writes:
                plan.note(LOGIN, UNCHANGED)
            for write in writes:
                plan.add(write)
        plan.writes.extend(self._batches(logins, links))
        notes.close()
        return plan

    def read_ixc(self) -> list[Login]:
        """The fiber logins (or the one of ``only``) with their contracts and names;
        :class:`SyncFailed` when a listing cannot be read whole."""
        try:
            if self.only is not None:
                rows = self.ixc.list("radusuarios", qtype="radusuarios.id", query=self.only)
                contract_ids = {str(r.get("id_contrato", "")) for r in rows} - {"", "0"}
                client_ids = {str(r.get("id_cliente", "")) for r in rows} - {"", "0"}
                contract_rows = [
                    c for i in contract_ids for c in self.ixc.list(
                        "cliente_contrato", qtype="cliente_contrato.id", query=i
                    )
                ]  # fmt: skip
                client_rows = [
                    c for i in client_ids for c in self.ixc.list(
                        "cliente", qtype="cliente.id", query=i
                    )
                ]  # fmt: skip
            else:
                rows = self.ixc.list(
                    "radusuarios", qtype="radusuarios.tipo_conexao_mapa", query=FIBER
                )
                contract_rows = self.ixc.list("cliente_contrato")
                client_rows = self.ixc.list("cliente")
        except IxcAuthError:
            raise SyncFailed("IXC refused the API token (check NGNSERVER_IXC_TOKEN)") from None
        except IxcError as exc:
            raise SyncFailed(f"cannot read IXC: {exc}") from None
        contracts = {
            str(c.get("id", "")): str(c.get("status", "")).strip().upper() for c in contract_rows
        }
        names = {
            str(c.get("id", "")): str(c.get("razao", "") or c.get("fantasia", "") or "").strip()
            for c in client_rows
        }
        logins = [
            login_of(row, contracts, names)
            for row in rows
            if str(row.get("tipo_conexao_mapa", "")).strip().upper() == FIBER
        ]
        return [login for login in logins if login.code]

    def _taken_ports(
        self, logins: list[Login], boxes: Mapping[str, state_db.BoxLink]
    ) -> dict[str, set[int]]:
        """The ports logins ask for by number, per IXC box: not for first_free_port."""
        taken: dict[str, set[int]] = defaultdict(set)
        for login in logins:
            if login.port is not None and login.caixa in boxes:
                taken[login.caixa].add(login.port)
        return taken

    def _plan_login(
        self,
        login: Login,
        link: state_db.ClientLink | None,
        boxes: Mapping[str, state_db.BoxLink],
        taken: dict[str, set[int]],
        notes: _Notes,
    ) -> list[Write] | None:
        """The writes of one login ([]: none needed; None: left out, counted)."""
        options = self.options
        prop = link.ozmap_property_id if link else None
        client = link.ozmap_client_id if link else None
        state = link.state if link else {}
        base = {"login_id": login.id, "code": login.code}
        if login.withdrawn:
            if not prop and not client:
                return []
            return [
                Write(PROPERTY, DELETE, prop or f"of {login.code}",
                      {**base, "property": prop, "client": client}, REMOVALS)
            ]  # fmt: skip
        if login.cancelled:
            disconnect = bool(prop) and options.disconnect_clients and not state.get("disconnected")
            if not client and not disconnect:
                return []
            last = _last_connection(login.code, state)
            return [
                Write(CLIENT, DELETE, client or f"of {login.code}",
                      {**base, "client": client, "property": prop,
                       "disconnect": disconnect, "observation": last}, REMOVALS)
            ]  # fmt: skip
        box = boxes.get(login.caixa) if login.caixa else None
        if box is not None and box.removed:
            box = None
        if not prop:
            if not options.create_clients:
                notes("is not in OZmap and creating clients is off", login)
                return None
            if box is None:
                notes(
                    f"is on IXC box {login.caixa or '(none)'}, which is not linked to OZmap", login
                )
                return None
            port = login.port
            if port is None:
                if not options.first_free_port:
                    notes("has no port in IXC (first_free_port is off)", login)
                    return None
                port = self._first_free(box, taken[login.caixa])
                if port is None:
                    notes(
                        f"has no port and box {box.name or box.ozmap_box_id} has none free", login
                    )
                    return None
                taken[login.caixa].add(port)
            return [
                Write(
                    PROPERTY,
                    CREATE,
                    login.code,
                    {**base, **self._new_property(login, box, port)},
                    CREATIONS,
                )
            ]
        writes: list[Write] = []
        if not client:  # kept after a cancellation: the login is back
            body = {**base, "property": prop, "client": self._new_client(login)}
            place = self._placement(login, box, state, force=bool(state.get("disconnected")))
            if place:
                body["place"] = place
            writes.append(Write(PROPERTY, UPDATE, prop, body, PLACEMENTS))
            return writes
        place = self._placement(login, box, state) if options.update_client_port else None
        if place:
            writes.append(
                Write(
                    PROPERTY, UPDATE, prop, {**base, "property": prop, "place": place}, PLACEMENTS
                )
            )
        if state.get("name") != login.name:
            writes.append(
                Write(
                    CLIENT, UPDATE, client, {**base, "client": client, "name": login.name}, RENAMES
                )
            )
        return writes

    def _placement(
        self,
        login: Login,
        box: state_db.BoxLink | None,
        state: Mapping[str, Any],
        force: bool = False,
    ) -> dict[str, Any] | None:
        """Where a known property must go, when IXC says elsewhere than it was put."""
        if box is None or login.port is None:
            return None
        wanted = {"box": box.ozmap_box_id, "splitter": box.ozmap_splitter_id, "port": login.port}
        if not force and all(state.get(k) == v for k, v in wanted.items()):
            return None
        return wanted

    def _new_client(self, login: Login) -> dict[str, Any]:
        client: dict[str, Any] = {"code": login.code, "name": login.name, "implanted": False}
        if self.options.implant_clients and login.contract == ACTIVE:
            client["implanted"] = True
        if self.options.update_client_status and login.active:
            client["status"] = CLIENT_OK if login.online else CLIENT_ERROR
        return client

    def _new_property(self, login: Login, box: state_db.BoxLink, port: int) -> dict[str, Any]:
        body: dict[str, Any] = {
            "project": box.ozmap_project_id,
            "box": box.ozmap_box_id,
            "splitter": box.ozmap_splitter_id,
            "building": box.source == "building",
            "port": port,
            "client": self._new_client(login),
        }
        if login.coords is not None:
            body["coords"] = [*login.coords]
        if login.address:
            body["address"] = login.address
        if self.options.update_client_power and login.active and login.power is not None:
            body["potencyRead"] = login.power
        return body

    def _first_free(self, box: state_db.BoxLink, taken: set[int]) -> int | None:
        splitter = self._splitter(box)
        if splitter is None:
            return None
        return next((port for port in free_ports(splitter) if port not in taken), None)

    def _splitter(self, box: state_db.BoxLink) -> dict[str, Any] | None:
        """The splitter a box link's clients connect to: the link's own, else the box's
        first drop splitter (as OZmap picks it). Read once a run."""
        key = (box.ozmap_box_id, box.ozmap_splitter_id)
        if key not in self._splitters:
            try:
                if box.ozmap_splitter_id:
                    found = self.ozmap.splitter(box.ozmap_splitter_id)
                else:
                    drops = [
                        s for s in self.ozmap.splitters_of([box.ozmap_box_id]) if s.get("isDrop")
                    ]
                    found = min(drops, key=lambda s: str(s.get("id", ""))) if drops else None
            except OzmapAuthError as exc:
                raise SyncFailed(f"OZmap refused the key ({exc.message})") from None
            except OzmapError as exc:
                raise SyncFailed(f"cannot read OZmap: {exc}") from None
            self._splitters[key] = found
        return self._splitters[key]

    def _batches(
        self, logins: Iterable[Login], links: Mapping[str, state_db.ClientLink]
    ) -> list[Write]:
        """The implanted, status and power changes of known clients, grouped by value into
        batch-updates of at most BATCH_IDS objects."""
        groups: dict[tuple[str, str, Any], dict[str, str]] = defaultdict(dict)
        options = self.options
        for login in logins:
            link = links.get(login.id)
            if link is None or not link.ozmap_client_id or login.withdrawn or login.cancelled:
                continue
            state = link.state
            if options.implant_clients and login.contract == ACTIVE and not state.get("implanted"):
                groups[(FTTH_CLIENTS, "implanted", True)][link.ozmap_client_id] = login.id
            if not login.active:
                continue
            status = CLIENT_OK if login.online else CLIENT_ERROR
            if options.update_client_status and state.get("status") != status:
                groups[(FTTH_CLIENTS, "status", status)][link.ozmap_client_id] = login.id
            if (
                options.update_client_power
                and link.ozmap_property_id
                and login.power is not None
                and state.get("power") != login.power
            ):
                groups[(PROPERTIES, "potencyRead", login.power)][link.ozmap_property_id] = login.id
        writes = []
        for (model, field_name, value), members in sorted(groups.items(), key=lambda g: repr(g[0])):
            ids = sorted(members)
            for start in range(0, len(ids), BATCH_IDS):
                chunk = {i: members[i] for i in ids[start : start + BATCH_IDS]}
                key = f"{model} {field_name}={value}#{start // BATCH_IDS + 1}"
                body = {"model": model, "update": {field_name: value}, "ids": chunk}
                writes.append(Write(BATCH, UPDATE, key, body, BATCHES))
        return writes

    # writing

    def apply(self, write: Write) -> None:
        body = dict(write.body or {})
        try:
            if write.kind == BATCH:
                self._apply_batch(body)
            elif write.kind == PROPERTY and write.action == CREATE:
                self._create(body)
            elif write.kind == PROPERTY and write.action == DELETE:
                self._withdraw(body)
            elif write.kind == PROPERTY:
                self._update_property(body)
            elif write.kind == CLIENT and write.action == DELETE:
                self._cancel(body)
            else:
                self._rename(body)
        except OzmapAuthError as exc:
            raise SyncFailed(f"OZmap refused the key ({exc.message})") from None
        except (OzmapRefused, OzmapTransientError):
            raise
        except OzmapError as exc:
            raise SyncFailed(str(exc)) from None

    def _create(self, body: dict[str, Any]) -> None:
        code, login_id = body["code"], body["login_id"]
        found = self.ozmap.properties_of_client(code)
        if found:
            self._adopt(body, found[0])
            return
        client = body["client"]
        extra = {"potencyRead": body["potencyRead"]} if "potencyRead" in body else {}
        if body.get("building"):  # a condominium's splitter: no box, the splitter named
            request = {
                "project": body["project"], "client": client, "port": body["port"],
                "connector": body["splitter"], "auto_connect": True, **extra,
            }  # fmt: skip
            for name in ("coords", "address"):
                if name in body:
                    request[name] = body[name]
            try:
                created = self.ozmap.create(PROPERTIES, request)
            except OzmapAuthError:
                raise
            except OzmapRefused as exc:
                raise _conflict(code, body, exc) from None
        else:
            try:
                created = self.ozmap.create_property(
                    project=body["project"],
                    box=body["box"],
                    port=body["port"],
                    client=client,
                    coords=body.get("coords"),
                    address=body.get("address", ""),
                    connector=body.get("splitter"),
                    **extra,
                )
            except OzmapAuthError:
                raise
            except OzmapRefused as exc:
                raise _conflict(code, body, exc) from None
        written = {
            "box": body["box"], "splitter": body.get("splitter"), "port": body["port"],
            "name": client["name"], "implanted": client["implanted"], "removed": None,
            "disconnected": False,
        }  # fmt: skip
        if "status" in client:
            written["status"] = client["status"]
        if "potencyRead" in body:
            written["power"] = body["potencyRead"]
        self._record(
            login_id, code, written, property_id=created["id"], client_id=_id(created.get("client"))
        )

    def _adopt(self, body: dict[str, Any], found: Mapping[str, Any]) -> None:
        """A property OZmap already has for the code: link it, give its client IXC's name,
        status and implanted, and remember where it is connected."""
        login_id, code, wanted = body["login_id"], body["code"], body["client"]
        client_id = _id(found.get("client"))
        client = found.get("client") if isinstance(found.get("client"), Mapping) else {}
        changes = {
            k: v
            for k, v in wanted.items()
            if k != "code" and (k != "implanted" or v) and client.get(k) != v
        }
        if client_id and changes:
            self.ozmap.update_client(client_id, changes)
        connection = (found.get("connections") or [{}])[0]
        written: dict[str, Any] = {
            "box": _id(found.get("box")), "splitter": connection.get("id"),
            "port": connection.get("port"), "name": wanted["name"],
            "implanted": bool(wanted["implanted"] or client.get("implanted")), "removed": None,
            "disconnected": not found.get("connections"),
        }  # fmt: skip
        if "status" in wanted:
            written["status"] = wanted["status"]
        if "potencyRead" in body and found.get("potencyRead") != body["potencyRead"]:
            self.ozmap.update_property(str(found["id"]), {"potencyRead": body["potencyRead"]})
        if "potencyRead" in body:
            written["power"] = body["potencyRead"]
        if body["splitter"] is None and written["box"] == body["box"]:
            written["splitter"] = None  # the box's drop splitter, as a box link names it
        log.info("IXC -> OZmap: login %s adopted the OZmap property %s", code, found["id"])
        self._record(login_id, code, written, property_id=str(found["id"]), client_id=client_id)

    def _withdraw(self, body: dict[str, Any]) -> None:
        if body.get("client"):
            self.ozmap.delete_client(body["client"])
        if body.get("property"):
            self.ozmap.delete_property(body["property"])
        self._record(
            body["login_id"], body["code"], {"removed": WITHDRAWN, "port": None, "box": None},
            property_id=None, client_id=None,
        )  # fmt: skip

    def _cancel(self, body: dict[str, Any]) -> None:
        if body.get("client"):
            self.ozmap.delete_client(body["client"])
        written: dict[str, Any] = {"removed": CANCELLED}
        if body.get("property"):
            changes: dict[str, Any] = {"observation": body["observation"]}
            if body.get("disconnect"):
                changes["connector"] = None
            try:
                self.ozmap.update_property(body["property"], changes)
            except OzmapNotFound:
                self._record(
                    body["login_id"], body["code"], written, property_id=None, client_id=None
                )
                return
            written["disconnected"] = bool(body.get("disconnect"))
        self._record(body["login_id"], body["code"], written, client_id=None)

    def _update_property(self, body: dict[str, Any]) -> None:
        changes: dict[str, Any] = {}
        place = body.get("place")
        if place:
            changes.update(box=place["box"], port=place["port"])
            if place.get("splitter"):
                changes["connector"] = place["splitter"]
        written: dict[str, Any] = {}
        if "client" in body:
            changes["client"] = body["client"]
        try:
            self.ozmap.update_property(body["property"], changes)
        except OzmapNotFound:
            self._record(body["login_id"], body["code"], {}, property_id=None, client_id=None)
            raise
        except OzmapAuthError:
            raise
        except OzmapRefused as exc:
            raise _conflict(body["code"], place or {}, exc) from None
        if place:
            written.update(place, disconnected=False)
        client_id = None
        if "client" in body:
            client = body["client"]
            shown = self.ozmap.get_property(body["property"]) or {}
            client_id = _id(shown.get("client"))
            written.update(name=client["name"], implanted=client["implanted"], removed=None)
            if "status" in client:
                written["status"] = client["status"]
            self._record(body["login_id"], body["code"], written, client_id=client_id)
            return
        self._record(body["login_id"], body["code"], written)

    def _rename(self, body: dict[str, Any]) -> None:
        try:
            self.ozmap.update_client(body["client"], {"name": body["name"]})
        except OzmapNotFound:  # deleted in OZmap: made again on the property next run
            self._record(body["login_id"], body["code"], {}, client_id=None)
            raise
        self._record(body["login_id"], body["code"], {"name": body["name"]})

    def _apply_batch(self, body: dict[str, Any]) -> None:
        model, update, members = body["model"], body["update"], body["ids"]
        self.ozmap.batch_update(model, [where("id", "in", sorted(members))], update)
        [(field_name, value)] = update.items()
        written = {{"potencyRead": "power"}.get(field_name, field_name): value}
        self._record(list(members.values()), None, written)

    def _record(
        self, login: str | Sequence[str], code: str | None, written: Mapping[str, Any], **ids: Any
    ) -> None:
        """What a write made, into the link of the login (or of each login given, in one
        transaction): its state merged with ``written``, the OZmap ids given
        (``property_id``, ``client_id``; None: gone)."""
        login_ids = [login] if isinstance(login, str) else login
        fields: dict[str, Any] = {}
        if "property_id" in ids:
            fields["ozmap_property_id"] = ids["property_id"]
        if "client_id" in ids:
            fields["ozmap_client_id"] = ids["client_id"]
        if code is not None:
            fields["login"] = code
        with self._state_lock, self.database.transaction(write=True) as session:
            for login_id in login_ids:
                link = state_db.client_link(session, login_id)
                state = {**(link.state if link else {}), **written}
                state_db.save_client_link(
                    session, login_id, state=state, to_ozmap_hash=fingerprint(state), **fields
                )

    def close(self) -> None:
        self.ixc.close()
        self.ozmap.close()


def _id(value: Any) -> str | None:
    if isinstance(value, Mapping):
        value = value.get("id")
    return str(value) if value else None


def _last_connection(code: str, state: Mapping[str, Any]) -> str:
    if state.get("port"):
        return f"{code}: cancelled in IXC; last connection: splitter {state.get('splitter') or 'of the box'} port {state['port']}"
    return f"{code}: cancelled in IXC"


class PortConflict(Exception):
    """OZmap refused to connect a client to the port IXC names (occupied, blocked, no such
    port): that login's write fails, the run goes on."""


def _conflict(code: str, place: Mapping[str, Any], exc: OzmapRefused) -> PortConflict:
    where_ = f"port {place.get('port')} of box {place.get('box') or place.get('splitter')}"
    message = f"login {code}: OZmap refused {where_} ({exc.message}); conflict left for a person"
    log.warning("IXC -> OZmap: %s", message)
    return PortConflict(message)


def missing_settings(settings: Any) -> list[str]:
    """The settings still missing for this sync (none: it can run)."""
    ixc, ozmap = settings.ixc, settings.ozmap
    required = [
        ("NGNSERVER_IXC_URL", ixc.url),
        ("NGNSERVER_IXC_TOKEN", ixc.token),
        ("NGNSERVER_OZMAP_URL", ozmap.url),
    ]
    if not (ozmap.key or (ozmap.user and ozmap.password)):
        required.append(
            ("NGNSERVER_OZMAP_KEY (or NGNSERVER_OZMAP_USER and NGNSERVER_OZMAP_PASSWORD)", "")
        )
    return [name for name, value in required if not value]


def build(settings: Any, *, only: str | None = None) -> IxcOzmapSync:
    """The sync the settings describe (``only``: one IXC login id); ValueError (one
    sentence) if they do not."""
    missing = missing_settings(settings)
    if missing:
        raise ValueError(f"the IXC -> OZmap sync is not configured: set {', '.join(missing)}")
    if only is not None and not (str(only).isascii() and str(only).isdigit()):
        raise ValueError(f"--only takes an IXC login id (a number), not {only!r}")
    connections = settings.ozmap.write_connections
    return IxcOzmapSync(
        clients.ixc_client(settings), clients.ozmap_client(settings, connections),
        settings.ozmap_ixc, only=only, write_connections=connections,
    )  # fmt: skip


@register(NAME)
def from_settings(settings: Any) -> IxcOzmapSync:
    return build(settings)
