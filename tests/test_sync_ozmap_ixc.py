"""OZmap -> IXC against the OZmap and IXC simulators over real HTTP and a real database (SQLite
and PostgreSQL): the boxes of the integration's description (service boxes only, project by
exact name, transmitter by the OLT's IP, adoption by name and project, read-merge-PUT of the
fields we own, splitter-as-box, condominiums, removed boxes set inactive), each option on and
off; the clients' box, port and coordinates; the cursors (a second run reads only what
changed and writes nothing, ties at one instant, a failed write read again, a run killed
half-way), dry runs, ``--only``, the command line and the worker's schedule."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from ngnserver.cli import main
from ngnserver.config import IxcSettings, OzmapIxcSettings, OzmapSettings, Settings
from ngnserver.core import sync
from ngnserver.core.sync import Cursor, ozmap_ixc
from ngnserver.core.sync import ozmap_state as state
from ngnserver.worker import sync_intervals
from tests.conftest import make_settings
from tests.support.ixc_simulator import IxcSimulator, populate_fiber
from tests.support.ozmap_simulator import OzmapSimulator, generate_plant

REPOSITORY = Path(__file__).resolve().parent.parent
STYLE = "50r7nh0u"


@dataclass
class Env:
    """The simulators (OZmap with projects and OLTs; IXC with the matching projects and
    transmitters), settings pointing at them, and the test server's database."""

    ozmap: OzmapSimulator
    ixc: IxcSimulator
    settings: Settings
    database: Any
    tmp_path: Path
    projects: dict[str, str]
    olts: dict[str, str]

    def options(self, **changes: Any) -> None:
        self.settings = replace(
            self.settings, ozmap_ixc=replace(self.settings.ozmap_ixc, **changes)
        )

    def run(self, only: str | None = None, **options: Any) -> sync.RunResult:
        runner = ozmap_ixc.build(self.settings, only=only)
        try:
            return sync.execute(self.database, runner, connections=4, **options)
        finally:
            runner.close()

    def box(
        self,
        name: str,
        *,
        project: str = "Centro",
        coords: tuple[float, float] = (-49.27, -25.43),
        drops: tuple[int, ...] = (8,),
        others: tuple[int, ...] = (),
        olt: str | None = "olt1",
        **fields: Any,
    ) -> str:
        """A box with drop splitters of these output counts (fed by ``olt``) and others."""
        values = {"kind": "Box", "implanted": True, "draft": False, **fields}
        box = self.ozmap.add(
            "boxes", name=name, project=self.projects[project], coords=[*coords], **values
        )
        for outputs in drops:
            self.splitter(box["id"], outputs, drop=True, olt=olt)
        for outputs in others:
            self.splitter(box["id"], outputs, drop=False, olt=olt)
        return box["id"]

    def splitter(
        self,
        parent: str,
        outputs: int = 8,
        *,
        drop: bool = True,
        olt: str | None = "olt1",
        name: str = "",
    ) -> str:
        made = self.ozmap.add_splitter(parent, outputs=outputs, isDrop=drop, name=name)
        if olt:
            with self.ozmap._lock:
                self.ozmap.store["splitters"][made["id"]]["connectables"]["input"] = [
                    self.olts[olt]
                ]
        return made["id"]

    def ixc_boxes(self, unique: bool = True) -> dict[str, dict[str, str]]:
        """IXC's boxes by name (the seeded CTO-001 included), each name once unless not
        ``unique``."""
        rows = self.ixc.rows("rad_caixa_ftth")
        names = [row["descricao"] for row in rows]
        assert not unique or len(names) == len(set(names)), f"duplicate IXC boxes: {sorted(names)}"
        return {row["descricao"]: row for row in rows}

    def fresh(self) -> None:
        self.ozmap.reset_counts()
        self.ixc.reset_counts()

    def edit(self, model: str, object_id: str, **fields: Any) -> None:
        """An edit in OZmap's UI: the fields and a new updatedAt."""
        with self.ozmap._lock:
            self.ozmap.store[model][object_id].update(fields)
            self.ozmap.store[model][object_id]["updatedAt"] = self.ozmap._now()

    def cli_env(self) -> dict[str, str]:
        ozmap, ixc, options = self.settings.ozmap, self.settings.ixc, self.settings.ozmap_ixc
        return {
            "NGNSERVER_DATABASE_URL": self.database.url,
            "NGNSERVER_STATE_DIR": str(self.tmp_path),
            "NGNSERVER_ADMIN_USERNAME": "admin",
            "NGNSERVER_ADMIN_PASSWORD": "secret",
            "NGNSERVER_OZMAP_URL": ozmap.url,
            "NGNSERVER_OZMAP_KEY": ozmap.key,
            "NGNSERVER_OZMAP_BACKOFF": "0",
            "NGNSERVER_OZMAP_PAGE_SIZE": str(ozmap.page_size),
            "NGNSERVER_IXC_URL": ixc.url,
            "NGNSERVER_IXC_TOKEN": ixc.token,
            "NGNSERVER_IXC_BACKOFF": "0",
            "NGNSERVER_OZMAP_IXC_BOX_STYLE": options.box_style,
        }

    def cli(self, *args: str, exit_code: int = 0) -> Result:
        handlers = logging.getLogger().handlers[:]
        try:
            result = CliRunner().invoke(
                main, list(args), env=self.cli_env(), catch_exceptions=False
            )
        finally:
            logging.getLogger().handlers[:] = handlers
        assert result.exit_code == exit_code, result.output
        assert "Traceback" not in result.output
        return result


@pytest.fixture
def env(server: Any, tmp_path: Path) -> Iterator[Env]:
    with OzmapSimulator(timeout_sleep=3) as ozmap, IxcSimulator(seed=True, timeout_sleep=3) as ixc:
        projects = {
            name: ozmap.add("projects", name=name)["id"]
            for name in ("Centro", "Bairro Norte", "Sem IXC", "CENTRO")
        }
        olts = {
            "olt1": ozmap.add("olts", name="OLT Centro", ip="10.255.0.1")["id"],
            "olt2": ozmap.add("olts", name="OLT Norte", ip="10.255.0.2")["id"],
            "olt9": ozmap.add("olts", name="OLT sem IXC", ip="10.9.9.9")["id"],
        }
        settings = make_settings(
            tmp_path,
            server.database.url,
            ozmap=OzmapSettings(
                url=ozmap.url, key=ozmap.key, retries=1, backoff=0, read_timeout=2, page_size=2
            ),
            ixc=IxcSettings(
                url=ixc.url, token=ixc.token, retries=1, backoff=0, read_timeout=2, page_size=3
            ),
            ozmap_ixc=OzmapIxcSettings(box_style=STYLE),
        )
        yield Env(ozmap, ixc, settings, server.database, tmp_path, projects, olts)


def writes(env: Env) -> tuple[int, int]:
    return env.ozmap.writes(), env.ixc.writes()


# boxes


def test_a_first_run_creates_the_service_boxes_with_the_fields_ixc_wants(env: Env) -> None:
    a = env.box(
        "CTO-A",
        coords=(-49.2712, -25.4284),
        drops=(8, 16),
        others=(4,),
        observation="poste 12",
        address="Rua XV, 100",
    )
    env.box("CTO-B", project="Bairro Norte", olt="olt2")
    env.box("CEO-1", drops=(), others=(8,))  # a splice box: no drop splitter
    env.box("CTO-DRAFT", draft=True)
    env.box("CTO-PLANNED", implanted=False)
    result = env.run()
    assert result.status == "ok", result.message
    assert result.counts["box"]["create"] == 2 and result.counts["box"]["skipped"] == 3
    boxes = env.ixc_boxes()
    assert set(boxes) == {"CTO-001", "CTO-A", "CTO-B"}
    row = boxes["CTO-A"]
    assert {
        k: row[k]
        for k in (
            "id_projeto",
            "id_transmissor",
            "capacidade",
            "latitude",
            "longitude",
            "codigo_estilo_caixa",
            "status",
            "tipo",
            "obs_caixa_ftth",
            "endereco",
            "idx",
            "external_id",
        )
    } == {
        "id_projeto": "1",
        "id_transmissor": "1",
        "capacidade": "24",
        "latitude": "-25.4284",
        "longitude": "-49.2712",
        "codigo_estilo_caixa": STYLE,
        "status": "A",
        "tipo": "P",
        "obs_caixa_ftth": "poste 12",
        "endereco": "Rua XV, 100",
        "idx": a,
        "external_id": a,
    }
    assert boxes["CTO-B"]["id_projeto"] == "2" and boxes["CTO-B"]["id_transmissor"] == "2"
    with env.database.transaction() as session:
        links = state.box_links(session)
    assert links.get(a).ixc_caixa_id == row["id"] and links.get(a).source == "box"
    assert env.ozmap.writes() == 0


def test_a_second_run_reads_only_the_cursor_queries_and_writes_nothing(env: Env) -> None:
    env.settings = replace(env.settings, ozmap=replace(env.settings.ozmap, page_size=100))
    for n in range(5):
        env.box(f"CTO-{n}")
    assert env.run().status == "ok"
    env.fresh()
    result = env.run()
    assert result.status == "ok" and result.writes == 0
    assert writes(env) == (0, 0)
    # one listing per cursor, each answering only the objects at the cursor's instant
    assert env.ozmap.count() == env.ozmap.count("GET boxes") + env.ozmap.count(
        "GET splitters"
    ) + env.ozmap.count("GET properties")
    assert env.ozmap.count("GET boxes") == 1 and env.ozmap.count("GET boxes/:id") == 0
    assert env.ixc.count() == 0  # nothing changed: nothing to look up in IXC


def test_a_change_in_ozmap_updates_only_the_fields_we_own(env: Env) -> None:
    a = env.box("CTO-A")
    env.run()
    caixa = env.ixc_boxes()["CTO-A"]["id"]
    env.ixc.change("rad_caixa_ftth", caixa, id_interface="7", cep="80000-000", tipo="N")
    env.fresh()
    env.edit("boxes", a, name="CTO-A2", coords=[-49.3, -25.5], observation="novo")
    result = env.run()
    assert result.counts["box"]["update"] == 1 and env.ixc.count("insert") == 0
    row = env.ixc.row("rad_caixa_ftth", caixa)
    assert (row["descricao"], row["latitude"], row["longitude"], row["obs_caixa_ftth"]) == (
        "CTO-A2",
        "-25.5",
        "-49.3",
        "novo",
    )
    # read-merge-PUT: the columns IXC's own screens set are kept
    assert (row["id_interface"], row["cep"], row["tipo"], row["codigo_estilo_caixa"]) == (
        "7",
        "80000-000",
        "N",
        STYLE,
    )
    env.fresh()
    env.edit("boxes", a, tags=["x"])  # a change to nothing IXC shows: no write
    assert env.run().writes == 0 and env.ixc.writes() == 0


def test_a_new_drop_splitter_changes_the_capacity(env: Env) -> None:
    a = env.box("CTO-A", drops=(8,))
    env.run()
    env.splitter(a, 16)
    assert env.run().counts["box"]["update"] == 1
    assert env.ixc_boxes()["CTO-A"]["capacidade"] == "24"


def test_first_sight_adopts_the_ixc_box_of_the_same_name_and_project(env: Env) -> None:
    # CTO-001 exists in IXC (project 1, Centro) before the integration
    a = env.box("CTO-001")
    b = env.box("CTO-X", project="Bairro Norte")
    env.ixc.add("rad_caixa_ftth", descricao="CTO-X", id_projeto="1", status="A")  # other project
    result = env.run()
    assert result.counts["box"]["update"] == 1 and result.counts["box"]["create"] == 1
    with env.database.transaction() as session:
        links = state.box_links(session)
    assert links.get(a).ixc_caixa_id == "1"
    assert env.ixc.row("rad_caixa_ftth", 1)["capacidade"] == "8"
    assert links.get(b).ixc_caixa_id not in ("1", "2")
    assert len(env.ixc.rows("rad_caixa_ftth")) == 3


def test_adoption_in_bulk_when_many_boxes_are_new(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ozmap_ixc, "BULK_LOOKUP", 2)
    for n in range(4):
        env.ixc.add("rad_caixa_ftth", descricao=f"CTO-{n}", id_projeto="1", status="A")
        env.box(f"CTO-{n}")
    env.box("CTO-NEW")
    result = env.run()
    assert result.counts["box"]["update"] == 4 and result.counts["box"]["create"] == 1
    assert len(env.ixc_boxes()) == 6


@pytest.mark.parametrize("consider", [True, False])
def test_consider_project(env: Env, consider: bool) -> None:
    env.options(consider_project=consider)
    env.box("CTO-A", project="Sem IXC")
    env.box("CTO-B", project="CENTRO")  # IXC has Centro: not the same name
    env.box("CTO-001", project="Bairro Norte")  # the name of IXC's box in project 1
    result = env.run()
    boxes = env.ixc_boxes(unique=False)
    if consider:
        assert (
            result.counts["box"]["skipped"] == 2 and "CTO-A" not in boxes and "CTO-B" not in boxes
        )
        assert result.counts["box"]["create"] == 1  # CTO-001 of Bairro Norte is another box
        assert sorted(r["id_projeto"] for r in env.ixc.rows("rad_caixa_ftth")) == ["1", "2"]
    else:
        assert boxes["CTO-A"]["id_projeto"] == "0" and boxes["CTO-B"]["id_projeto"] == "0"
        assert result.counts["box"]["create"] == 2 and result.counts["box"]["update"] == 1
        assert boxes["CTO-001"]["id"] == "1"  # adopted by name alone


@pytest.mark.parametrize("consider", [True, False])
def test_consider_olt(env: Env, consider: bool) -> None:
    env.options(consider_olt=consider)
    env.box("CTO-A", olt="olt2")
    env.run()
    assert env.ixc_boxes()["CTO-A"]["id_transmissor"] == ("2" if consider else "0")


@pytest.mark.parametrize("required", [True, False])
def test_transmitter_required(env: Env, required: bool) -> None:
    env.options(transmitter_required=required)
    env.box("CTO-NOIP", olt="olt9")  # its OLT's IP is no IXC transmitter's
    env.box("CTO-NOOLT", olt=None)
    result = env.run()
    boxes = env.ixc_boxes()
    if required:
        assert "CTO-NOIP" not in boxes and "CTO-NOOLT" not in boxes
        assert result.counts["box"]["skipped"] == 2
    else:
        assert boxes["CTO-NOIP"]["id_transmissor"] == "0" == boxes["CTO-NOOLT"]["id_transmissor"]


def test_the_olt_is_found_up_a_cascade_of_splitters(env: Env) -> None:
    a = env.box("CTO-A", drops=(), others=(2,), olt="olt2")
    first = next(s for s in env.ozmap.store["splitters"].values() if s["parent"] == a)
    second = env.splitter(a, 8, olt=None)
    with env.ozmap._lock:
        env.ozmap.store["splitters"][second]["connectables"]["input"] = [first["id"]]
    env.run()
    assert env.ixc_boxes()["CTO-A"]["id_transmissor"] == "2"


@pytest.mark.parametrize("on", [True, False])
def test_splitter_as_box(env: Env, on: bool) -> None:
    env.options(splitter_as_box=on)
    a = env.box("CTO-A", drops=(8, 16), others=(4,))
    env.run()
    boxes = env.ixc_boxes()
    if on:
        names = sorted(name for name in boxes if name.startswith("CTO-A"))
        assert len(names) == 2 and all(name.startswith("CTO-A-SPL-") for name in names)
        assert sorted(boxes[n]["capacidade"] for n in names) == ["16", "8"]
        with env.database.transaction() as session:
            assert {link.source for link in state.box_links(session).of_box(a)} == {"splitter"}
    else:
        assert boxes["CTO-A"]["capacidade"] == "24"


def test_turning_splitter_as_box_on_deactivates_the_whole_box(env: Env) -> None:
    a = env.box("CTO-A", drops=(8, 8))
    env.run()
    whole = env.ixc_boxes()["CTO-A"]["id"]
    env.options(splitter_as_box=True)
    env.edit("boxes", a, observation="x")
    result = env.run()
    assert result.counts["box"]["create"] == 2 and result.counts["box"]["delete"] == 1
    assert env.ixc.row("rad_caixa_ftth", whole)["status"] == "I"


@pytest.mark.parametrize("on", [True, False])
def test_condominiums(env: Env, on: bool) -> None:
    env.options(condominiums=on)
    building = env.ozmap.add(
        "buildings", name="Ed. Aurora", project=env.projects["Centro"], coords=[-49.2, -25.4]
    )
    env.splitter(building["id"], 8, name="S1")
    env.splitter(building["id"], 4, drop=False, name="S2")
    env.ozmap.add(
        "horizontal-condominiums",
        name="Cond. Verde",
        project=env.projects["Centro"],
        coords=[[-49.0, -25.0], [-48.0, -25.0], [-48.0, -24.0], [-49.0, -24.0]],
    )
    inside = env.box("CTO-IN", coords=(-48.5, -24.5), drops=(8,))
    env.ozmap.store["splitters"][
        next(s["id"] for s in env.ozmap.store["splitters"].values() if s["parent"] == inside)
    ]["name"] = "S9"
    env.box("CTO-OUT")
    env.run()
    boxes = env.ixc_boxes()
    if on:
        assert {"Ed. Aurora-S1", "Ed. Aurora-S2", "Cond. Verde-S9", "CTO-OUT"} <= set(boxes)
        assert "CTO-IN" not in boxes
        assert (
            boxes["Ed. Aurora-S1"]["capacidade"] == "8"
            and boxes["Ed. Aurora-S2"]["capacidade"] == "4"
        )
        with env.database.transaction() as session:
            assert state.box_links(session).get(building["id"], None) is None
            assert {link.source for link in state.box_links(session).of_box(building["id"])} == {
                "building"
            }
    else:
        assert not any(name.startswith(("Ed. Aurora", "Cond. Verde")) for name in boxes)
        assert "CTO-IN" in boxes and "CTO-OUT" in boxes


@pytest.mark.parametrize("on", [True, False])
def test_remove_deleted_boxes(env: Env, on: bool) -> None:
    env.options(remove_deleted_boxes=on, removal_scan_interval=0.001)
    a = env.box("CTO-A")
    env.box("CTO-B")
    env.run()
    caixa = env.ixc_boxes()["CTO-A"]["id"]
    env.ozmap.remove("boxes", a)
    time.sleep(0.01)
    result = env.run()
    row = env.ixc.row("rad_caixa_ftth", caixa)  # never deleted
    if on:
        assert result.counts["box"]["delete"] == 1 and row["status"] == "I"
        assert row["descricao"] == "CTO-A" and row["codigo_estilo_caixa"] == STYLE  # merged
        env.fresh()
        assert env.run().writes == 0 and env.ixc.writes() == 0  # done once
    else:
        assert row["status"] == "A" and result.writes == 0, result.planned


def test_the_removal_scan_waits_for_its_interval(env: Env) -> None:
    env.options(removal_scan_interval=3600)
    a = env.box("CTO-A")
    env.run()
    env.ozmap.remove("boxes", a)
    env.fresh()
    assert env.run().writes == 0 and env.ozmap.count("GET boxes") == 1  # no scan yet
    with env.database.transaction() as session:
        Cursor(state.REMOVAL_SCAN_CURSOR, "2020-01-01T00:00:00.000Z").save(session)
    assert env.run().counts["box"]["delete"] == 1


def test_only_runs_one_box_and_leaves_the_cursors(env: Env) -> None:
    a = env.box("CTO-A")
    env.box("CTO-B")
    result = env.run(only=a)
    assert result.counts["box"]["create"] == 1 and set(env.ixc_boxes()) == {"CTO-001", "CTO-A"}
    with env.database.transaction() as session:
        assert Cursor.load(session, state.BOXES_CURSOR).position is None
    assert env.run().counts["box"]["create"] == 1  # B; A unchanged


def test_a_dry_run_writes_nothing_and_moves_no_cursor(env: Env) -> None:
    env.box("CTO-A")
    result = env.run(dry_run=True)
    assert result.counts["box"]["create"] == 1 and writes(env) == (0, 0)
    with env.database.transaction() as session:
        assert Cursor.load(session, state.BOXES_CURSOR).position is None
    assert env.run().counts["box"]["create"] == 1


# cursors


def test_two_boxes_changed_at_one_instant_across_a_page_boundary_are_both_synced(env: Env) -> None:
    env.ozmap.frozen_time = "2026-12-03T10:00:00.000Z"
    for n in range(5):  # pages of 2: the tie spans three pages
        env.box(f"CTO-{n}")
    result = env.run()
    assert result.counts["box"]["create"] == 5
    # one more at the same instant, after the run: found by the next, the others not rewritten
    env.box("CTO-5")
    env.fresh()
    result = env.run()
    assert result.counts["box"]["create"] == 1 and env.ixc.writes() == 1
    assert {f"CTO-{n}" for n in range(6)} <= set(env.ixc_boxes())


def test_a_failed_write_is_tried_again_without_holding_the_cursor(env: Env) -> None:
    env.box("CTO-A")
    env.box("CTO-B")
    env.ixc.fail(
        'body:{"type": "error", "message": "Estilo inválido"}',
        times=1,
        where=lambda r: r.method == "POST" and "ixcsoft" not in r.headers,
    )
    result = env.run()
    assert result.status == "errors" and result.counts["box"]["create"] == 1
    with env.database.transaction() as session:
        cursor = Cursor.load(session, state.BOXES_CURSOR)
    assert len(cursor.pending) == 1
    result = env.run()
    assert result.status == "ok" and result.counts["box"]["create"] == 1
    assert {"CTO-A", "CTO-B"} <= set(env.ixc_boxes())
    with env.database.transaction() as session:
        assert Cursor.load(session, state.BOXES_CURSOR).pending == frozenset()


def test_a_run_killed_half_way_loses_nothing_and_duplicates_nothing(env: Env) -> None:
    for n in range(30):
        env.box(f"CTO-{n:02d}")
    env.ixc.latency = 0.05
    environ = {
        **os.environ,
        **env.cli_env(),
        "PYTHONPATH": str(REPOSITORY),
        "NGNSERVER_OZMAP_WRITE_CONNECTIONS": "2",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "ngnserver.cli", "sync", "ozmap-ixc"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while env.ixc.count("insert") < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(10)
    made = env.ixc.count("insert")
    assert 10 <= made < 30
    env.ixc.latency = 0
    result = env.run()
    assert result.status == "ok", result.message
    boxes = env.ixc_boxes()  # asserts no name twice
    assert {f"CTO-{n:02d}" for n in range(30)} <= set(boxes) and len(boxes) == 31
    with env.database.transaction() as session:
        assert len(state.box_links(session)) == 30
    env.fresh()
    assert env.run().writes == 0


# clients


def login(env: Env, name: str, **fields: Any) -> str:
    values = {"login": name, "ativo": "S", "tipo_conexao_mapa": "F", "online": "S", **fields}
    return env.ixc.add("radusuarios", **values)


def client_on(env: Env, box: str, port: int, code: str, coords: tuple[float, float]) -> str:
    prop = env.ozmap.add(
        "properties",
        project=env.projects["Centro"],
        box=box,
        port=port,
        auto_connect=True,
        coords=[*coords],
        client={"code": code, "name": code},
    )
    return prop["id"]


def test_a_client_gets_its_box_port_and_coordinates(env: Env) -> None:
    a = env.box("CTO-A")
    ana = login(env, "ana", latitude="-1", longitude="-2")
    fiber = env.ixc.add("radpop_radio_cliente_fibra", id_login=ana, nome="ONU ana", mac="AA")
    radio = login(env, "rui", tipo_conexao_mapa="R")  # not fiber: left alone
    off = login(env, "eva", ativo="N")  # not active: left alone
    client_on(env, a, 3, "ana", (-49.1, -25.1))
    client_on(env, a, 4, "rui", (-49.1, -25.1))
    client_on(env, a, 5, "eva", (-49.1, -25.1))
    result = env.run()
    assert result.status == "ok", result.message
    caixa = env.ixc_boxes()["CTO-A"]["id"]
    row = env.ixc.row("radusuarios", ana)
    assert (row["id_caixa_ftth"], row["ftth_porta"], row["latitude"], row["longitude"]) == (
        caixa,
        "3",
        "-25.1",
        "-49.1",
    )
    assert row["senha"] == "" and row["online"] == "S"  # merged, not blanked
    onu = env.ixc.row("radpop_radio_cliente_fibra", fiber)
    assert (onu["id_caixa_ftth"], onu["porta_ftth"], onu["mac"]) == (caixa, "3", "AA")
    assert env.ixc.row("radusuarios", radio)["id_caixa_ftth"] == ""
    assert env.ixc.row("radusuarios", off)["id_caixa_ftth"] == ""
    with env.database.transaction() as session:
        assert state.client_link(session, ana).login == "ana"
    env.fresh()
    assert env.run().writes == 0 and env.ixc.writes() == 0


def test_a_client_moved_in_ozmap_moves_in_ixc(env: Env) -> None:
    a, b = env.box("CTO-A"), env.box("CTO-B")
    ana = login(env, "ana")
    prop = client_on(env, a, 1, "ana", (-49.1, -25.1))
    env.run()
    env.fresh()
    with env.ozmap._lock:  # the move, as OZmap's UI makes it
        env.ozmap._patch("properties", prop, {"box": b, "port": 6})
    result = env.run()
    assert result.counts["login"]["update"] == 1
    row = env.ixc.row("radusuarios", ana)
    assert (row["id_caixa_ftth"], row["ftth_porta"]) == (env.ixc_boxes()["CTO-B"]["id"], "6")


def test_a_client_on_a_box_ixc_does_not_have_is_left_alone(env: Env) -> None:
    a = env.box("CTO-A", project="Sem IXC")
    ana = login(env, "ana")
    client_on(env, a, 1, "ana", (-49.1, -25.1))
    env.options(update_client_coords=False)
    result = env.run()
    assert env.ixc.row("radusuarios", ana)["id_caixa_ftth"] == "" and result.writes == 0


@pytest.mark.parametrize("on", [True, False])
def test_update_client_port(env: Env, on: bool) -> None:
    env.options(update_client_port=on, update_client_coords=False)
    a = env.box("CTO-A")
    ana = login(env, "ana")
    client_on(env, a, 2, "ana", (-49.1, -25.1))
    env.run()
    row = env.ixc.row("radusuarios", ana)
    assert (row["ftth_porta"] == "2") is on and (row["id_caixa_ftth"] != "") is on


@pytest.mark.parametrize("on", [True, False])
def test_update_client_coords(env: Env, on: bool) -> None:
    env.options(update_client_coords=on, update_client_port=False)
    a = env.box("CTO-A")
    ana = login(env, "ana", latitude="-25.1000", longitude="-49.1")
    bia = login(env, "bia")
    client_on(env, a, 1, "ana", (-49.1, -25.1))  # the same place, written differently
    client_on(env, a, 2, "bia", (-49.2, -25.2))
    env.run()
    assert env.ixc.row("radusuarios", ana)["latitude"] == "-25.1000"  # not rewritten
    assert (env.ixc.row("radusuarios", bia)["latitude"] == "-25.2") is on
    assert env.ixc.count("update") == (1 if on else 0)


# interfaces


def test_the_command_line_runs_it_with_a_summary_and_only(env: Env) -> None:
    a = env.box("CTO-A")
    env.box("CTO-B")
    dry = env.cli("sync", "ozmap-ixc", "--dry-run")
    assert "would create box" in dry.stdout and env.ixc.writes() == 0
    one = env.cli("sync", "ozmap-ixc", "--only", a)
    assert "box" in one.stdout and set(env.ixc_boxes()) == {"CTO-001", "CTO-A"}
    out = env.cli("sync", "ozmap-ixc")
    assert "run " in out.stdout and ": ok" in out.stdout
    assert set(env.ixc_boxes()) == {"CTO-001", "CTO-A", "CTO-B"}
    runs = env.cli("sync", "runs", "--name", "ozmap-ixc")
    assert runs.stdout.count("ozmap-ixc") >= 3


def test_the_worker_schedules_it_once_configured_and_startsync_knows_it(env: Env) -> None:
    assert "ozmap-ixc" in sync.names()
    assert sync_intervals(env.settings)["ozmap-ixc"] == 300
    bare = replace(env.settings, ozmap=OzmapSettings())
    assert sync_intervals(bare)["ozmap-ixc"] is None
    with pytest.raises(ValueError, match="NGNSERVER_OZMAP_URL"):
        sync.create("ozmap-ixc", bare)
    assert sync_intervals(replace(env.settings, sync_ozmap_ixc_interval=None))["ozmap-ixc"] is None


def test_a_key_refused_once_is_mended_by_logging_in(env: Env) -> None:
    env.settings = replace(
        env.settings,
        ozmap=replace(env.settings.ozmap, user=env.ozmap.user, password=env.ozmap.password),
    )
    env.box("CTO-A")
    env.ozmap.expire_keys()
    assert env.run().status == "ok" and env.ozmap.count("POST users/login") == 1


def test_refused_credentials_fail_the_run_in_one_sentence(env: Env) -> None:
    env.settings = replace(env.settings, ozmap=replace(env.settings.ozmap, key="wrong"))
    result = env.run()
    assert result.status == "failed" and "OZmap refused the API key" in result.message


def test_a_generated_plant_syncs_whole_then_writes_nothing(server: Any, tmp_path: Path) -> None:
    """The bulk paths (IXC listed whole for adoption, logins and ONUs): 120 boxes, 360
    splitters, 400 clients."""
    with OzmapSimulator(keep_calls=False) as ozmap, IxcSimulator(keep_calls=False) as ixc:
        generate_plant(ozmap, boxes=120, olts=3, clients=400)
        populate_fiber(ixc, transmitters=3, logins=400)
        ixc.add("rad_caixa_ftth", descricao="CTO-00007", id_projeto="3", status="A")  # adopted
        settings = make_settings(
            tmp_path,
            server.database.url,
            ozmap=OzmapSettings(url=ozmap.url, key=ozmap.key, retries=1, backoff=0),
            ixc=IxcSettings(url=ixc.url, token=ixc.token, retries=1, backoff=0, page_size=400),
            ozmap_ixc=OzmapIxcSettings(box_style=STYLE),
        )
        runner = ozmap_ixc.build(settings)
        result = sync.execute(server.database, runner, connections=4)
        assert result.status == "ok", result.message
        counts = result.counts
        assert (counts["box"]["create"], counts["box"]["update"]) == (119, 1)
        assert counts["login"]["update"] == 400 and counts["fiber"]["update"] == 400
        login = ixc.rows("radusuarios")[0]
        assert login["id_caixa_ftth"] != "" and login["ftth_porta"] == "1" and login["latitude"]
        assert len(ixc.rows("rad_caixa_ftth")) == 120
        ozmap.reset_counts()
        ixc.reset_counts()
        again = sync.execute(server.database, ozmap_ixc.build(settings), connections=4)
        assert again.writes == 0 and ixc.writes() == 0 and ixc.count() == 0
