"""The IXC -> OZmap sync against the IXC and OZmap simulators over real HTTP and a real
database (SQLite and PostgreSQL): creation on the linked box and port (and the first free
port, by option), the name from IXC, activation, withdrawal versus cancellation (and the
disconnection option), port moves, status and power in batches, each option on and off, an
occupied port as a conflict that does not stop the run, a second run that writes nothing, a
run stopped half-way that loses and duplicates nothing, one login with --only, the command
line and the worker's schedule."""

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
from sqlalchemy import select

from ngnserver.app import NGNProApp
from ngnserver.cli import main
from ngnserver.config import IxcSettings, OzmapIxcSettings, OzmapSettings, Settings
from ngnserver.core import sync
from ngnserver.core.sync import ixc_ozmap
from ngnserver.core.sync import ozmap_state as state_db
from ngnserver.models.sync import SyncRun
from ngnserver.worker import make_worker, sync_intervals
from tests.conftest import ADMIN, make_settings, serve_app
from tests.support.ixc_simulator import IxcSimulator
from tests.support.ozmap_simulator import OzmapSimulator
from tests.support.wire import Client, SoapFault


@dataclass
class Env:
    ixc: IxcSimulator
    ozmap: OzmapSimulator
    settings: Settings
    database: Any
    tmp_path: Path
    box: str = ""
    box2: str = ""
    splitter: str = ""
    splitter2: str = ""
    project: str = ""

    def run(
        self, only: str | None = None, connections_one: bool = False, **options: Any
    ) -> sync.RunResult:
        runner = ixc_ozmap.build(self.settings, only=only)
        try:
            connections = 1 if connections_one else 4
            return sync.execute(self.database, runner, connections=connections, **options)
        finally:
            runner.close()

    def option(self, **changes: Any) -> None:
        self.settings = replace(
            self.settings, ozmap_ixc=replace(self.settings.ozmap_ixc, **changes)
        )

    def fresh(self) -> None:
        self.ozmap.reset_counts()
        self.ixc.reset_counts()

    def property_of(self, code: str) -> dict[str, Any] | None:
        clients = [c for c in self.ozmap.store["ftth-clients"].values() if c.get("code") == code]
        for prop in self.ozmap.store["properties"].values():
            if clients and prop.get("client") == clients[0]["id"]:
                return prop
        return None

    def client_of(self, code: str) -> dict[str, Any] | None:
        found = [c for c in self.ozmap.store["ftth-clients"].values() if c.get("code") == code]
        assert len(found) <= 1, f"client {code} is in OZmap {len(found)} times"
        return found[0] if found else None

    def outputs(self, splitter: str | None = None) -> list[Any]:
        return self.ozmap.store["splitters"][splitter or self.splitter]["connectables"]["output"]

    def link(self, login_id: str) -> state_db.ClientLink | None:
        with self.database.transaction(write=False) as session:
            return state_db.client_link(session, login_id)

    def writes(self) -> list[str]:
        return sorted(
            f"{c.method} {'/'.join(c.segments)}" for c in self.ozmap.calls if c.method != "GET"
        )

    def cli(self, *args: str, exit_code: int = 0) -> Result:
        ixc, ozmap = self.settings.ixc, self.settings.ozmap
        env = {
            "NGNSERVER_DATABASE_URL": self.database.url,
            "NGNSERVER_STATE_DIR": str(self.tmp_path),
            "NGNSERVER_ADMIN_USERNAME": "admin",
            "NGNSERVER_ADMIN_PASSWORD": "secret",
            "NGNSERVER_IXC_URL": ixc.url,
            "NGNSERVER_IXC_TOKEN": ixc.token,
            "NGNSERVER_IXC_BACKOFF": "0",
            "NGNSERVER_OZMAP_URL": ozmap.url,
            "NGNSERVER_OZMAP_KEY": ozmap.key,
            "NGNSERVER_OZMAP_BACKOFF": "0",
        }
        handlers = logging.getLogger().handlers[:]
        try:
            result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        finally:
            logging.getLogger().handlers[:] = handlers
        assert result.exit_code == exit_code, result.output
        assert "Traceback" not in result.output
        return result


def add_login(ixc: IxcSimulator, login_id: str, login: str, *, contract: str = "A", online: str = "S",
              caixa: str = "10", port: str = "", signal: str = "", ativo: str = "S",
              fiber: str = "F", name: str = "") -> None:  # fmt: skip
    ixc.add("cliente", id=login_id, razao=name or f"Cliente {login.title()}")
    ixc.add("cliente_contrato", id=login_id, id_cliente=login_id, status=contract)
    ixc.add(
        "radusuarios", id=login_id, login=login, ativo=ativo, online=online, id_cliente=login_id,
        id_contrato=login_id, id_caixa_ftth=caixa, ftth_porta=port, tipo_conexao_mapa=fiber,
        sinal_ultimo_atendimento=signal, latitude="-25.43", longitude="-49.27",
    )  # fmt: skip


@pytest.fixture
def env(server: Any, tmp_path: Path) -> Iterator[Env]:
    with IxcSimulator(timeout_sleep=3) as ixc, OzmapSimulator(timeout_sleep=3) as ozmap:
        settings = make_settings(
            tmp_path,
            server.database.url,
            ixc=IxcSettings(
                url=ixc.url, token=ixc.token, retries=1, backoff=0, read_timeout=2, page_size=2
            ),
            ozmap=OzmapSettings(url=ozmap.url, key=ozmap.key, retries=0, backoff=0, read_timeout=2),
            ozmap_ixc=OzmapIxcSettings(),
        )
        e = Env(ixc, ozmap, settings, server.database, tmp_path)
        e.project = ozmap.add("projects", name="Centro")["id"]
        e.box = ozmap.add("boxes", name="CTO-01", project=e.project, coords=[-49.2, -25.4])["id"]
        e.splitter = ozmap.add_splitter(e.box, outputs=8)["id"]
        e.box2 = ozmap.add("boxes", name="CTO-02", project=e.project, coords=[-49.3, -25.5])["id"]
        e.splitter2 = ozmap.add_splitter(e.box2, outputs=4)["id"]
        ixc.add("rad_caixa_ftth", id="10", descricao="CTO-01", status="A")
        ixc.add("rad_caixa_ftth", id="11", descricao="CTO-02", status="A")
        ixc.add("rad_caixa_ftth", id="12", descricao="CTO-sem-link", status="A")
        with server.database.transaction() as session:
            for caixa, box in (("10", e.box), ("11", e.box2)):
                state_db.save_box_link(
                    session,
                    state_db.BoxLink(
                        box, None, "box", caixa, ozmap_project_id=e.project, name=caixa
                    ),
                )
        yield e


def seed_clients(env: Env) -> None:
    add_login(env.ixc, "1", "ana", contract="A", online="S", port="1", signal="-20.5")
    add_login(env.ixc, "2", "bruno", contract="P", online="N", port="2", signal="-27.1")
    add_login(env.ixc, "3", "radio", fiber="R", port="3")  # not fiber: never in OZmap
    add_login(env.ixc, "4", "longe", caixa="12", port="1")  # its box is not linked
    add_login(env.ixc, "5", "semporta", port="")  # no port, first_free_port off


def test_first_run_creates_fiber_logins_on_their_box_and_port_and_a_second_writes_nothing(env):
    seed_clients(env)
    result = env.run()
    assert result.status == "ok", result.message
    assert result.counts["property"]["create"] == 2
    assert result.counts["login"]["skipped"] == 2  # longe, semporta (radio is not read)
    ana, bruno = env.client_of("ana"), env.client_of("bruno")
    assert (ana["name"], ana["implanted"], ana["status"]) == ("Cliente Ana", True, 0)
    assert (bruno["name"], bruno["implanted"], bruno["status"]) == ("Cliente Bruno", False, 1)
    assert env.client_of("radio") is None and env.client_of("longe") is None
    prop = env.property_of("ana")
    assert (prop["box"], prop["project"], prop["potencyRead"]) == (env.box, env.project, -20.5)
    assert prop["connections"][0]["port"] == 1 and prop["coords"] == [-49.27, -25.43]
    assert env.outputs()[0] == prop["drop"] and env.outputs()[1] is not None
    link = env.link("1")
    assert (link.ozmap_property_id, link.ozmap_client_id) == (prop["id"], ana["id"])
    assert link.to_ozmap_hash and link.state["port"] == 1
    env.fresh()
    again = env.run()
    assert again.status == "ok" and again.writes == 0
    assert env.ozmap.writes() == 0
    assert again.counts["login"]["unchanged"] == 2
    # IXC is read whole (no change time for online, signal, contracts): pages, no OZmap read
    assert env.ozmap.count() == 0


def test_the_first_free_port_option(env):
    add_login(env.ixc, "1", "ana", port="1")
    add_login(env.ixc, "2", "semporta", port="")
    add_login(env.ixc, "3", "depois", port="2")  # asks for port 2 by number: not given away
    env.run()
    assert env.client_of("semporta") is None
    env.option(first_free_port=True)
    assert env.run().status == "ok"
    assert env.property_of("semporta")["connections"][0]["port"] == 3
    assert env.link("2").state["port"] == 3
    env.fresh()
    assert env.run().writes == 0


def test_an_occupied_port_is_a_logged_conflict_and_the_run_goes_on(env, caplog):
    env.ozmap.add("properties", project=env.project, box=env.box, port=1, auto_connect=True,
                  client={"code": "manual", "name": "Feito a mao"})  # fmt: skip
    add_login(env.ixc, "1", "ana", port="1")
    add_login(env.ixc, "2", "bruno", port="2")
    with caplog.at_level(logging.WARNING, "ngnserver"):
        result = env.run()
    assert result.status == "errors" and result.error_count == 1
    assert result.counts["property"] == {"create": 1, "failed": 1}
    [error] = result.errors
    assert error.key == "ana" and "port 1" in error.message and "occupied" in error.message
    assert "conflict" in caplog.text
    assert env.client_of("ana") is None and env.client_of("bruno") is not None
    assert env.link("1") is None
    # freed in OZmap: the next run creates it there
    manual = env.property_of("manual")
    env.ozmap.remove("properties", manual["id"])
    assert env.run().status == "ok"
    assert env.property_of("ana")["connections"][0]["port"] == 1


def test_the_name_always_comes_from_ixc(env):
    add_login(env.ixc, "1", "ana", port="1", name="Ana Souza")
    env.run()
    env.ixc.change("cliente", "1", razao="Ana Souza Lima")
    env.fresh()
    assert env.run().writes == 1
    assert env.writes() == [f"PATCH ftth-clients/{env.client_of('ana')['id']}"]
    assert env.client_of("ana")["name"] == "Ana Souza Lima"


def test_activation_marks_implanted_in_a_batch_and_only_with_the_option(env):
    for n in (1, 2, 3):
        add_login(env.ixc, str(n), f"c{n}", contract="P", port=str(n))
    env.run()
    env.option(implant_clients=False)
    env.ixc.change("cliente_contrato", "1", status="A")
    env.fresh()
    assert env.run().writes == 0
    env.option(implant_clients=True)
    env.ixc.change("cliente_contrato", "2", status="A")
    env.fresh()
    result = env.run()
    assert result.counts["batch"]["update"] == 1 and env.ozmap.writes() == 1
    [call] = [c for c in env.ozmap.calls if c.method == "POST"]
    body = call.body
    assert list(call.segments) == ["ftth-clients", "batch-update"] and body["update"] == {
        "implanted": True
    }
    ids = {env.client_of("c1")["id"], env.client_of("c2")["id"]}
    assert body["filter"][0]["operator"] == "in" and set(body["filter"][0]["value"]) == ids
    assert [env.client_of(f"c{n}")["implanted"] for n in (1, 2, 3)] == [True, True, False]
    env.fresh()
    assert env.run().writes == 0


def test_status_and_power_go_in_batches_one_per_value_and_only_with_the_options(env):
    for n in (1, 2, 3):
        add_login(env.ixc, str(n), f"c{n}", online="S", port=str(n), signal="-20")
    env.run()
    for n in (1, 2, 3):
        env.ixc.change("radusuarios", str(n), online="N")
    env.ixc.change("radusuarios", "1", sinal_ultimo_atendimento="-24.5")
    env.ixc.change("radusuarios", "2", sinal_ultimo_atendimento="-24.5")
    env.option(update_client_status=False, update_client_power=False)
    env.fresh()
    assert env.run().writes == 0
    env.option(update_client_status=True, update_client_power=True)
    env.fresh()
    assert env.run().writes == 2
    assert env.writes() == ["POST ftth-clients/batch-update", "POST properties/batch-update"]
    assert [env.client_of(f"c{n}")["status"] for n in (1, 2, 3)] == [1, 1, 1]
    assert [env.property_of(f"c{n}")["potencyRead"] for n in (1, 2, 3)] == [-24.5, -24.5, -20.0]
    env.fresh()
    assert env.run().writes == 0


def test_withdrawal_removes_the_client_and_the_property_and_frees_the_port(env):
    add_login(env.ixc, "1", "ana", contract="P", port="1")
    env.run()
    prop = env.property_of("ana")
    env.ixc.change("cliente_contrato", "1", status="D")
    env.ixc.change("radusuarios", "1", ativo="N")
    env.fresh()
    result = env.run()
    assert result.status == "ok" and result.counts["property"]["delete"] == 1
    assert env.client_of("ana") is None and env.ozmap.object("properties", prop["id"]) is None
    assert env.outputs()[0] is None
    link = env.link("1")
    assert (link.ozmap_property_id, link.ozmap_client_id, link.state["removed"]) == (
        None,
        None,
        "D",
    )
    env.fresh()
    assert env.run().writes == 0


@pytest.mark.parametrize("disconnect", [False, True])
def test_cancellation_removes_the_client_keeps_the_property_and_disconnects_by_option(
    env, disconnect
):
    env.option(disconnect_clients=disconnect)
    add_login(env.ixc, "1", "ana", contract="A", port="4")
    env.run()
    prop = env.property_of("ana")
    env.ixc.change("cliente_contrato", "1", status="I")
    env.fresh()
    result = env.run()
    assert result.status == "ok" and result.counts["client"]["delete"] == 1
    assert env.client_of("ana") is None
    kept = env.ozmap.object("properties", prop["id"])
    assert kept is not None and kept["client"] is None
    assert "ana" in kept["observation"] and "port 4" in kept["observation"]
    assert (env.outputs()[3] is None) is disconnect
    assert (kept["drop"] is None) is disconnect
    env.fresh()
    assert env.run().writes == 0
    # the login comes back: a new client on the kept property, connected again
    env.ixc.change("cliente_contrato", "1", status="A")
    assert env.run().status == "ok"
    back = env.ozmap.object("properties", prop["id"])
    assert env.client_of("ana")["id"] == back["client"] and back["connections"][0]["port"] == 4
    env.fresh()
    assert env.run().writes == 0


def test_a_port_move_in_ixc_moves_the_property_and_only_with_the_option(env):
    add_login(env.ixc, "1", "ana", port="1")
    env.run()
    env.option(update_client_port=False)
    env.ixc.change("radusuarios", "1", ftth_porta="5")
    env.fresh()
    assert env.run().writes == 0
    env.option(update_client_port=True)
    assert env.run().writes == 1
    assert env.property_of("ana")["connections"][0]["port"] == 5
    assert env.outputs()[0] is None and env.outputs()[4] is not None
    env.ixc.change("radusuarios", "1", id_caixa_ftth="11", ftth_porta="2")
    assert env.run().writes == 1
    prop = env.property_of("ana")
    assert prop["box"] == env.box2 and prop["connections"][0]["id"] == env.splitter2
    assert env.outputs()[4] is None and env.outputs(env.splitter2)[1] is not None
    env.fresh()
    assert env.run().writes == 0


def test_no_client_is_created_with_the_creation_option_off(env):
    env.option(create_clients=False)
    add_login(env.ixc, "1", "ana", port="1")
    result = env.run()
    assert result.writes == 0 and env.ozmap.writes() == 0 and result.counts["login"]["skipped"] == 1


def test_an_existing_ozmap_client_is_adopted_not_duplicated(env):
    env.ozmap.add("properties", project=env.project, box=env.box, port=6, auto_connect=True,
                  client={"code": "ana", "name": "nome antigo"})  # fmt: skip
    add_login(env.ixc, "1", "ana", port="6", name="Ana Nova", signal="-19")
    assert env.run().status == "ok"
    assert env.client_of("ana")["name"] == "Ana Nova"
    assert len(env.ozmap.store["properties"]) == 1
    env.fresh()
    assert env.run().writes == 0


def test_a_run_stopped_half_way_loses_nothing_and_duplicates_nothing(env):
    for n in range(1, 7):
        add_login(env.ixc, str(n), f"c{n}", port=str(n), contract="A", signal="-21")
    # the 2nd create reaches OZmap but its answer is lost; from the 4th OZmap refuses the key,
    # which stops the run (a process killed there leaves the same state)
    creates = [0]

    def fault(request: Any) -> str | None:
        if request.method == "POST" and list(request.segments) == ["properties"]:
            creates[0] += 1
            return {2: "timeout"}.get(creates[0], "status:401" if creates[0] >= 4 else None)
        return None

    env.ozmap.fail("timeout", None, where=lambda r: fault(r) == "timeout")  # counts every create
    env.ozmap.fail("status:401", None, where=lambda r: creates[0] >= 4 and r.method == "POST")
    first = env.run(connections_one=True)
    assert first.status == "failed" and "refused the key" in first.message
    made = len(env.ozmap.store["properties"])
    assert 2 <= made < 6
    env.ozmap.clear_faults()
    second = env.run()
    assert second.status == "ok", second.message
    assert sorted(c["code"] for c in env.ozmap.store["ftth-clients"].values()) == [
        f"c{n}" for n in range(1, 7)
    ]
    assert len(env.ozmap.store["properties"]) == 6
    for n in range(1, 7):
        link = env.link(str(n))
        assert link.ozmap_property_id == env.property_of(f"c{n}")["id"]
    env.fresh()
    assert env.run().writes == 0


def test_only_one_login(env):
    add_login(env.ixc, "1", "ana", port="1")
    add_login(env.ixc, "2", "bruno", port="2")
    result = env.run(only="2")
    assert result.writes == 1 and env.client_of("ana") is None and env.client_of("bruno")
    out = env.cli("sync", "ixc-ozmap", "--only", "1")
    assert "property" in out.stdout and env.client_of("ana") is not None
    env.cli("sync", "ixc-ozmap", "--only", "ana", exit_code=1)


def test_the_command_dry_run_summary_and_runs(env):
    add_login(env.ixc, "1", "ana", port="1")
    dry = env.cli("sync", "ixc-ozmap", "--dry-run")
    assert "would create property ana" in dry.stdout and env.ozmap.writes() == 0
    out = env.cli("sync", "ixc-ozmap")
    assert out.stdout.splitlines()[0].split()[:2] == ["object", "create"]
    assert "ok, 1 writes made" in out.stdout
    assert "ixc-ozmap" in env.cli("sync", "runs", "--name", "ixc-ozmap").stdout


def test_the_worker_schedules_it_once_both_ends_are_configured(env):
    assert sync_intervals(env.settings)[ixc_ozmap.NAME] == 300.0
    assert sync_intervals(replace(env.settings, ozmap=OzmapSettings()))[ixc_ozmap.NAME] is None
    off = replace(env.settings, sync_ixc_ozmap_interval=None)
    assert sync_intervals(off)[ixc_ozmap.NAME] is None
    add_login(env.ixc, "1", "ana", port="1")
    worker = make_worker(env.settings, env.database, "test-worker")
    worker.tick()
    while worker.run_one():
        pass
    with env.database.transaction(write=False) as session:
        names = session.execute(select(SyncRun.sync_name, SyncRun.status)).all()
    assert (ixc_ozmap.NAME, "ok") in [tuple(n) for n in names]
    assert env.client_of("ana") is not None


def test_start_sync_and_get_sync_runs_take_its_name_over_soap(env, server):
    add_login(env.ixc, "1", "ana", port="1")
    base, httpd = serve_app(NGNProApp(env.settings, env.database))
    try:
        admin = Client(base + env.settings.endpoint_path, *ADMIN)
        run_id = admin.call("Network", "startSync", name="ixc-ozmap", dryRun=False)
        assert env.ozmap.writes() == 0  # queued only
        worker = make_worker(env.settings, env.database, "test-worker")
        assert worker.run_one()
        listed = admin.call(
            "Network", "getSyncRuns", query=("SyncRunQuery", {"filter": {"name": "ixc-ozmap"}})
        )
        (run,) = listed["runs"]
        assert (run["id"], run["name"], run["status"], run["writes"]) == (
            run_id,
            "ixc-ozmap",
            "ok",
            1,
        )
        assert env.client_of("ana") is not None
    finally:
        httpd.shutdown()
    # the test server names no OZmap: refused with the settings to set
    with pytest.raises(SoapFault) as info:
        server.admin().call("Network", "startSync", name="ixc-ozmap", dryRun=False)
    assert info.value.errorcode == 11002 and "NGNSERVER_OZMAP_URL" in info.value.errorstring


def test_splitter_and_condominium_links_connect_to_their_own_splitter(env):
    second = env.ozmap.add_splitter(env.box, outputs=4, name="SPL-B")["id"]
    building = env.ozmap.add("buildings", name="Edificio Sol", project=env.project)["id"]
    floor = env.ozmap.add_splitter(building, outputs=4, name="SPL-Andar-1")["id"]
    env.ixc.add("rad_caixa_ftth", id="20", descricao="CTO-01-B", status="A")
    env.ixc.add("rad_caixa_ftth", id="21", descricao="Edificio Sol-SPL-Andar-1", status="A")
    with env.database.transaction() as session:
        for caixa, box, splitter, source in (
            ("20", env.box, second, "splitter"),
            ("21", building, floor, "building"),
        ):
            state_db.save_box_link(
                session,
                state_db.BoxLink(box, splitter, source, caixa, ozmap_project_id=env.project),
            )
    add_login(env.ixc, "1", "ana", caixa="20", port="2")
    add_login(env.ixc, "2", "bruno", caixa="21", port="3")
    assert env.run().status == "ok"
    assert env.property_of("ana")["connections"][0]["id"] == second
    assert env.outputs(second)[1] is not None and env.outputs()[1] is None
    assert env.property_of("bruno")["connections"][0]["id"] == floor
    assert env.outputs(floor)[2] is not None
    env.fresh()
    assert env.run().writes == 0


def test_a_command_killed_half_way_and_run_again_loses_and_duplicates_nothing(env):
    for n in range(1, 13):
        add_login(
            env.ixc, str(n), f"k{n}", port=str(1 + (n - 1) % 8), caixa="10" if n <= 8 else "11"
        )
    env.ozmap.latency = 0.1
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NGNSERVER_")}
    environ.update(
        PYTHONPATH=str(Path(__file__).resolve().parent.parent),
        NGNSERVER_DATABASE_URL=env.database.url,
        NGNSERVER_STATE_DIR=str(env.tmp_path),
        NGNSERVER_ADMIN_USERNAME="admin",
        NGNSERVER_ADMIN_PASSWORD="secret",
        NGNSERVER_IXC_URL=env.settings.ixc.url,
        NGNSERVER_IXC_TOKEN=env.settings.ixc.token,
        NGNSERVER_OZMAP_URL=env.settings.ozmap.url,
        NGNSERVER_OZMAP_KEY=env.settings.ozmap.key,
        NGNSERVER_OZMAP_WRITE_CONNECTIONS="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "ngnserver.cli", "sync", "ixc-ozmap"],
        env=environ,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while len(env.ozmap.store["properties"]) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait(10)
    finally:
        if process.poll() is None:
            process.kill()
    made = len(env.ozmap.store["properties"])
    assert 3 <= made < 12, "the command was not stopped half-way"
    env.ozmap.latency = 0.0
    result = env.run()
    assert result.status == "ok", result.message
    codes = sorted(c["code"] for c in env.ozmap.store["ftth-clients"].values())
    assert codes == sorted(f"k{n}" for n in range(1, 13))
    assert len(env.ozmap.store["properties"]) == 12
    with env.database.transaction(write=False) as session:
        statuses = session.execute(select(SyncRun.status).order_by(SyncRun.id)).scalars().all()
    assert statuses == ["interrupted", "ok"]
    env.fresh()
    assert env.run().writes == 0
