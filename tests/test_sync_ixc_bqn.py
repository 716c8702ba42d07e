"""The IXC -> BQN sync against both simulators over real HTTP and a real database (SQLite and
PostgreSQL): what a first run creates, that a second run writes nothing, the exact writes
each change in IXC causes, the rules of vendors.md 6.2 (kbps, duplicates, blocks, dual stack,
normalisation, the ``rules`` case, protected objects), failures (one object, a listing that
keeps failing, a run stopped half-way), one run at a time, dry runs, the command line and the
worker's periodic runs."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select, update

from ngnserver.cli import main
from ngnserver.config import BqnSettings, IxcSettings, Settings
from ngnserver.core import sync
from ngnserver.core.sync import ixc_bqn
from ngnserver.db import AlreadyRunning
from ngnserver.models.base import utcnow
from ngnserver.models.sync import SyncRun, SyncRunError
from ngnserver.worker import make_worker
from tests.conftest import make_settings
from tests.support.bqn_simulator import BURST_EXTRAS, BqnSimulator
from tests.support.ixc_simulator import IxcSimulator

ANA, BRUNO = "100.64.0.1", "100.64.0.2"
SEEDED_POLICIES = {
    "Plano_100M": {
        "policyId": "1",
        "rateLimitUplink": {"rate": 50_000},
        "rateLimitDownlink": {"rate": 100_000},
    },
    "Plano_512k": {
        "policyId": "2",
        "rateLimitUplink": {"rate": 256},
        "rateLimitDownlink": {"rate": 512},
    },
    "Plano_1G": {
        "policyId": "3",
        "rateLimitUplink": {"rate": 500_000},
        "rateLimitDownlink": {"rate": 1_000_000},
    },
    "Billing-Block": {
        "policyId": "block",
        "rateLimitUplink": {"rate": 0},
        "rateLimitDownlink": {"rate": 0},
    },
}


@dataclass
class Env:
    """The simulators with the seeded small ISP, settings pointing at them, and the test
    server's database."""

    ixc: IxcSimulator
    bqn: BqnSimulator
    settings: Settings
    database: Any
    tmp_path: Path

    def run(self, **options: Any) -> sync.RunResult:
        runner = ixc_bqn.from_settings(self.settings)
        try:
            return sync.execute(
                self.database, runner, connections=self.settings.bqn.write_connections, **options
            )
        finally:
            runner.close()

    def configure(self, **bqn: Any) -> None:
        self.settings = replace(self.settings, bqn=replace(self.settings.bqn, **bqn))

    def writes(self) -> list[tuple[str, str]]:
        """The BQN writes received since the last reset: (method, path as sent)."""
        return sorted((c.method, c.raw_path) for c in self.bqn.calls if c.method != "GET")

    def fresh(self) -> None:
        self.bqn.reset_counts()
        self.ixc.reset_counts()

    def cli(self, *args: str, exit_code: int = 0) -> Result:
        """The command's result: ``stdout`` what it prints, ``output`` with its errors and
        log lines (stderr) too."""
        ixc, bqn = self.settings.ixc, self.settings.bqn
        env = {
            "NGNSERVER_DATABASE_URL": self.database.url,
            "NGNSERVER_STATE_DIR": str(self.tmp_path),
            "NGNSERVER_ADMIN_USERNAME": "admin",
            "NGNSERVER_ADMIN_PASSWORD": "secret",
            "NGNSERVER_IXC_URL": ixc.url,
            "NGNSERVER_IXC_TOKEN": ixc.token,
            "NGNSERVER_IXC_BACKOFF": "0",
            "NGNSERVER_BQN_URL": bqn.url,
            "NGNSERVER_BQN_USER": bqn.user,
            "NGNSERVER_BQN_PASSWORD": bqn.password,
            "NGNSERVER_BQN_BACKOFF": "0",
            "NGNSERVER_BQN_DUAL_STACK": "true" if bqn.dual_stack else "false",
        }
        handlers = logging.getLogger().handlers[:]
        try:
            result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
        finally:
            logging.getLogger().handlers[:] = handlers  # the command logs to its own stderr
        assert result.exit_code == exit_code, result.output
        assert "Traceback" not in result.output
        return result


@pytest.fixture
def env(server: Any, tmp_path: Path) -> Iterator[Env]:
    with IxcSimulator(seed=True, timeout_sleep=3) as ixc, BqnSimulator(timeout_sleep=3) as bqn:
        settings = make_settings(
            tmp_path,
            server.database.url,
            ixc=IxcSettings(
                url=ixc.url, token=ixc.token, retries=2, backoff=0, read_timeout=2, page_size=2
            ),
            bqn=BqnSettings(
                url=bqn.url,
                user=bqn.user,
                password=bqn.password,
                retries=1,
                backoff=0,
                read_timeout=2,
            ),
        )
        yield Env(ixc, bqn, settings, server.database, tmp_path)


def bqn_policies(bqn: BqnSimulator) -> dict[str, dict[str, Any]]:
    """The policies as written (without the policy name and the BQN's own fields)."""
    return {
        name: {
            "policyId": p["policyId"],
            "rateLimitUplink": {"rate": p["rateLimitUplink"]["rate"]},
            "rateLimitDownlink": {"rate": p["rateLimitDownlink"]["rate"]},
        }
        for name, p in bqn.policies.items()
    }


def subscribers(bqn: BqnSimulator) -> dict[str, tuple[str, str]]:
    return {
        ip: (s.get("subscriberId", ""), s.get("policyRate", ""))
        for ip, s in bqn.subscribers.items()
    }


def test_first_run_creates_the_plans_as_policies_in_kbps_and_the_online_logins_as_subscribers(env):
    result = env.run()
    assert result.status == "ok", result.message
    assert bqn_policies(env.bqn) == SEEDED_POLICIES  # the telephony plan is not a policy
    # online logins only (carla is offline, davi "SS"); bruno's contract is overdue (FA): allowed
    assert subscribers(env.bqn) == {ANA: ("ana", "Plano_100M"), BRUNO: ("bruno", "Plano_512k")}
    assert env.bqn.count("POST policies/rate") == 4 and env.bqn.count("POST subscribers") == 2
    assert env.bqn.writes() == result.writes == 6
    assert env.bqn.groups.keys() == {"all-subscribers"}  # no dual stack
    with env.database.transaction(write=False) as session:
        run = session.get(SyncRun, result.run_id)
        assert (run.sync_name, run.status, run.writes, run.error_count) == ("ixc-bqn", "ok", 6, 0)
        assert run.counts == {"policy": {"create": 4}, "subscriber": {"create": 2}}
        assert run.started_at is not None and run.finished_at is not None


def test_a_second_run_without_change_in_ixc_writes_nothing_despite_the_bqns_own_fields(
    server, tmp_path
):
    with (
        IxcSimulator(seed=True) as ixc,
        BqnSimulator(rate_extras={"congestionMgmt": True, **BURST_EXTRAS}) as bqn,
    ):
        ixc.change("radusuarios", 3, online="S")  # carla: blocked (CM), with her own policy
        ixc.add(
            "radusuarios", login="eva", online="S", id_grupo="4", id_contrato="1", ip="100.64.0.5"
        )
        settings = make_settings(
            tmp_path,
            server.database.url,
            ixc=IxcSettings(url=ixc.url, token=ixc.token),
            bqn=BqnSettings(url=bqn.url, user=bqn.user, password=bqn.password, dual_stack=True),
        )
        env = Env(ixc, bqn, settings, server.database, tmp_path)
        first = env.run()
        assert first.status == "ok" and first.writes == 4 + 4 + 1  # policies, subscribers, DS-ana
        assert "policyAssignedBy" in bqn.state()["subscribers"][ANA]
        assert bqn.state()["policies/rate"]["Plano_1G"]["rateLimitUplink"]["burstRate"] == 0
        before = bqn.state()
        env.fresh()
        second = env.run()
        assert (second.status, second.writes, bqn.writes()) == ("ok", 0, 0)
        assert bqn.verb("GET") == 3 and bqn.state() == before
        assert second.counts["subscriber"]["unchanged"] == 4
        assert second.counts["policy"]["unchanged"] == 4


def test_each_change_in_ixc_makes_exactly_its_writes(env):
    # (an IXC without any login for the BQN deletes nothing: zeca keeps the list non-empty)
    env.ixc.add(
        "radusuarios", login="zeca", online="S", id_grupo="1", id_contrato="1", ip="100.64.0.99"
    )
    env.run()

    def after_change() -> list[tuple[str, str]]:
        env.fresh()
        assert env.run().status == "ok"
        return env.writes()

    env.ixc.change("radgrupos", 1, download="200 M")  # plan speed
    assert after_change() == [("PUT", "policies/rate/Plano_100M")]
    assert env.bqn.policies["Plano_100M"]["rateLimitDownlink"] == {"rate": 200_000}

    env.ixc.change("cliente_contrato", 2, status_internet="CA")  # bruno's contract blocked
    assert after_change() == [("PUT", "subscribers/100.64.0.2")]
    assert subscribers(env.bqn)[BRUNO] == ("bruno", "Billing-Block")

    env.ixc.change("cliente_contrato", 2, status_internet="A")  # paid
    assert after_change() == [("PUT", "subscribers/100.64.0.2")]
    assert subscribers(env.bqn)[BRUNO] == ("bruno", "Plano_512k")

    env.ixc.change("radusuarios", 1, online="N")  # ana offline
    assert after_change() == [("DELETE", "subscribers/100.64.0.1")]

    env.ixc.change("radusuarios", 2, ip="100.64.0.20")  # bruno's IP moved
    assert after_change() == [
        ("DELETE", "subscribers/100.64.0.2"),
        ("POST", "subscribers/100.64.0.20"),
    ]
    assert (
        subscribers(env.bqn)["100.64.0.20"] == ("bruno", "Plano_512k")
        and BRUNO not in env.bqn.subscribers
    )

    env.ixc.change("radusuarios", 1, online="S", ip="100.64.0.20")  # ana back, on bruno's IP
    assert after_change() == [("DELETE", "subscribers/100.64.0.20")]  # both left out
    env.ixc.change("radusuarios", 1, ip=ANA)
    assert after_change() == [
        ("POST", "subscribers/100.64.0.1"),
        ("POST", "subscribers/100.64.0.20"),
    ]

    env.ixc.remove("radgrupos", 3)  # a plan gone from IXC
    assert after_change() == [("DELETE", "policies/rate/Plano_1G")]


def test_a_login_is_blocked_by_every_internet_status_but_active_and_overdue(env):
    for contract in range(1, 10):
        env.ixc.add("radusuarios", login=f"c{contract}", online="S", id_grupo="1", id_contrato=str(contract),
                    ip=f"100.64.1.{contract}")  # fmt: skip
    env.ixc.add(
        "radusuarios",
        login="nocontract",
        online="S",
        id_grupo="1",
        id_contrato="99",
        ip="100.64.1.99",
    )
    assert env.run().status == "ok"
    policy = {sid: rate for sid, rate in subscribers(env.bqn).values()}
    statuses = {row["id"]: row["status_internet"] for row in env.ixc.rows("cliente_contrato")}
    for contract in range(1, 10):
        blocked = statuses[str(contract)] not in ("A", "FA")
        assert policy[f"c{contract}"] == ("Billing-Block" if blocked else "Plano_100M"), statuses[
            str(contract)
        ]
    assert {statuses[str(c)] for c in range(1, 10)} == {"A", "FA", "CM", "CA", "AA", "D"}
    assert policy["nocontract"] == "Plano_100M"  # an unknown contract blocks nothing


def test_a_login_on_a_plan_that_is_not_internet_gets_no_policy_and_the_rules_decide(env):
    env.ixc.add(
        "radusuarios", login="fone", online="S", id_grupo="4", id_contrato="1", ip="100.64.0.7"
    )
    env.ixc.add(
        "radusuarios", login="semplano", online="S", id_grupo="0", id_contrato="1", ip="100.64.0.8"
    )
    assert env.run().status == "ok"
    assert "Telefonia" not in env.bqn.policies
    shown = env.bqn.state()["subscribers"]
    assert [
        (shown[ip]["policyRate"], shown[ip]["policyAssignedBy"])
        for ip in ("100.64.0.7", "100.64.0.8")
    ] == [
        ("rules-default", "rules"),
        ("rules-default", "rules"),
    ]
    env.fresh()
    assert env.run().writes == 0  # the rules' policy is not ours to change
    env.ixc.change("radusuarios", 5, login="fone2")  # but the id is
    env.fresh()
    env.run()
    assert env.writes() == [("PUT", "subscribers/100.64.0.7")]


def test_subscribers_the_bqns_rules_assigned_are_never_deleted_and_protected_objects_stay(env):
    env.configure(dual_stack=True)
    env.bqn.add_rules_subscriber("100.64.9.9", "seen-in-traffic")
    env.run()
    env.bqn.policies["Old_plan"] = {"policyName": "Old_plan", "policyId": "77"}
    env.bqn.groups["DS-old"] = {
        "subscriberGroupName": "DS-old",
        "subscriberMembers": ["100.64.9.1"],
    }
    env.bqn.subscribers["100.64.9.1"] = {
        "subscriberIp": "100.64.9.1",
        "subscriberId": "old",
        "policyRate": "Plano_1G",
    }
    env.bqn.policies["Billing-Block"]["rateLimitDownlink"] = {"rate": 5}  # an operator's change
    env.fresh()
    env.run()
    assert env.writes() == [
        ("DELETE", "policies/rate/Old_plan"),
        ("DELETE", "subscriberGroups/DS-old"),
        ("DELETE", "subscribers/100.64.9.1"),
    ]
    assert "100.64.9.9" in env.bqn.subscribers  # assigned by rules: not ours
    assert "all-subscribers" in env.bqn.groups and "Billing-Block" in env.bqn.policies


def test_an_ixc_that_lists_nothing_empties_nothing(env):
    env.run()
    for table in ("radusuarios", "radgrupos"):
        for row in env.ixc.rows(table):
            env.ixc.remove(table, row["id"])
    env.fresh()
    assert env.run().status == "ok"
    assert env.writes() == []
    assert len(env.bqn.subscribers) == 2 and len(env.bqn.policies) == 4


def test_dual_stack_groups_and_spaces_normalised(env):
    env.configure(dual_stack=True)
    env.ixc.change("radusuarios", 2, login="bruno silva", pd_ipv6="2001:db8:2::/56")
    env.ixc.change("cliente_contrato", 2, status_internet="CM")
    env.ixc.change("radgrupos", 1, grupo="Plano  Fibra 100M")
    assert env.run().status == "ok"
    groups = {name: g for name, g in env.bqn.groups.items() if name != "all-subscribers"}
    assert groups == {
        "DS-ana": {"subscriberGroupName": "DS-ana", "policyRate": "Plano__Fibra_100M",
                   "subscriberMembers": [ANA], "subscriberRanges": ["2001:db8:1::/56"]},
        "DS-bruno_silva": {"subscriberGroupName": "DS-bruno_silva", "policyRate": "Billing-Block",
                           "subscriberMembers": [BRUNO], "subscriberRanges": ["2001:db8:2::/56"]},
    }  # fmt: skip
    assert subscribers(env.bqn)[BRUNO] == ("bruno_silva", "Billing-Block")
    env.ixc.change("radusuarios", 1, pd_ipv6="2001:db8:11::/56")
    env.fresh()
    env.run()
    assert env.writes() == [("PUT", "subscriberGroups/DS-ana")]


def test_writes_go_in_an_order_that_never_names_a_missing_policy(env):
    env.configure(dual_stack=True, write_connections=8)
    for n in range(40):
        env.ixc.add(
            "radgrupos", id=str(100 + n), grupo=f"Plano {n}", upload="1M", download="2M", tipo="I"
        )
        env.ixc.add("radusuarios", login=f"u{n}", online="S", id_grupo=str(100 + n), id_contrato="1",
                    ip=f"100.65.0.{n}", pd_ipv6=f"2001:db8:{n:x}::/56")  # fmt: skip
    env.bqn.latency = 0.002
    result = env.run()  # the simulator refuses (400) an object naming a missing policy
    assert (result.status, result.error_count) == ("ok", 0)
    methods = [(c.method, c.segments[0]) for c in env.bqn.calls if c.method != "GET"]
    last_policy = max(i for i, m in enumerate(methods) if m[1] == "policies")
    first_other = min(i for i, m in enumerate(methods) if m[1] != "policies")
    assert last_policy < first_other


def test_an_object_that_fails_is_logged_and_the_run_goes_on_then_converges(env):
    env.bqn.fail(
        "status:400",
        times=1,
        where=lambda r: r.method == "POST" and r.segments == ["subscribers", ANA],
    )
    env.bqn.fail(
        "status:503",
        times=None,
        where=lambda r: r.method == "POST" and r.raw_path.endswith("Plano_512k"),
    )
    result = env.run()
    assert result.status == "errors" and result.error_count == 3
    with env.database.transaction(write=False) as session:
        errors = session.execute(
            select(SyncRunError).where(SyncRunError.run_id == result.run_id)
        ).scalars()
        logged = {(e.object_kind, e.object_key, e.action): e.message for e in errors}
    assert logged.keys() == {("subscriber", ANA, "create"), ("policy", "Plano_512k", "create"),
                             ("subscriber", BRUNO, "create")}  # fmt: skip
    assert "HTTP 400" in logged[("subscriber", ANA, "create")]
    assert "after 2 tries" in logged[("policy", "Plano_512k", "create")]
    assert logged[("subscriber", BRUNO, "create")].startswith("not sent: the policy Plano_512k")
    assert env.bqn.count("POST subscribers") == 1  # bruno's was not sent
    assert {"Plano_100M", "Plano_1G", "Billing-Block"} <= env.bqn.policies.keys()
    env.bqn.clear_faults()
    assert env.run().status == "ok"
    assert subscribers(env.bqn) == {ANA: ("ana", "Plano_100M"), BRUNO: ("bruno", "Plano_512k")}


def test_a_listing_page_that_keeps_failing_fails_the_run_after_bounded_retries(env):
    env.ixc.fail_page("radusuarios", 2)  # forever; 2 rows a page: ana, bruno on page 1
    env.ixc.change("radusuarios", 3, online="S")
    began = time.monotonic()
    result = env.run()
    assert result.status == "failed"
    assert "cannot read IXC" in result.message and "radusuarios page 2" in result.message
    assert time.monotonic() - began < 10
    pages = [
        c for c in env.ixc.calls if c.segments == ("radusuarios",) and c.body.get("page") == "2"
    ]
    assert len(pages) == 3  # the first try and 2 retries
    assert env.bqn.writes() == 0
    with env.database.transaction(write=False) as session:
        assert session.get(SyncRun, result.run_id).status == "failed"


def test_refused_bqn_credentials_stop_the_run_at_once(env):
    env.bqn.fail("status:401", times=None, where=lambda r: r.method == "POST")
    result = env.run()
    assert result.status == "failed" and "refused the REST user" in result.message
    assert env.bqn.writes() < 8 + 4  # stopped: not every object tried


def test_a_run_stopped_half_way_is_marked_interrupted_and_the_next_converges(env, tmp_path):
    env.configure(dual_stack=True)
    env.bqn.fail("status:401", times=None, where=lambda r: r.segments[0] == "subscriberGroups")
    assert env.run().status == "failed"  # policies and subscribers written, groups not
    with env.database.transaction() as session:
        session.add(
            SyncRun(sync_name="ixc-bqn", status="running", started_at=utcnow(), started_by="dead")
        )
    env.bqn.clear_faults()
    assert env.run().status == "ok"
    with env.database.transaction(write=False) as session:
        dead = session.execute(select(SyncRun).where(SyncRun.started_by == "dead")).scalar_one()
        assert dead.status == "interrupted" and dead.finished_at is not None
    with IxcSimulator(seed=True) as ixc, BqnSimulator() as bqn:  # a clean run, for comparison
        clean = replace(env, ixc=ixc, bqn=bqn)
        clean.settings = replace(
            env.settings,
            ixc=replace(env.settings.ixc, url=ixc.url),
            bqn=replace(env.settings.bqn, url=bqn.url),
        )
        clean.run()
        assert bqn.state() == env.bqn.state()


def test_two_runs_at_once_one_runs_and_the_other_does_nothing(env):
    env.bqn.latency = 0.3
    first: list[sync.RunResult] = []
    thread = threading.Thread(target=lambda: first.append(env.run()))
    thread.start()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with env.database.transaction(write=False) as session:
            if session.execute(select(SyncRun.id).where(SyncRun.status == "running")).first():
                break
        time.sleep(0.02)
    with pytest.raises(AlreadyRunning, match="another sync-ixc-bqn is running"):
        env.run()
    assert "is running; nothing done" in env.cli("sync", "ixc-bqn").stdout
    thread.join()
    assert first[0].status == "ok" and env.bqn.writes() == 6
    with env.database.transaction(write=False) as session:
        assert session.execute(select(SyncRun.status)).scalars().all() == ["ok"]


def test_a_dry_run_prints_the_planned_writes_and_makes_none(env):
    output = env.cli("sync", "ixc-bqn", "--dry-run").stdout
    assert env.bqn.writes() == 0
    assert 'would create policy Plano_100M {"policyId": "1", "policyName": "Plano_100M"' in output
    assert "would create subscriber 100.64.0.1" in output
    assert "6 writes planned" in output
    with env.database.transaction(write=False) as session:
        run = session.execute(select(SyncRun)).scalar_one()
        assert run.dry_run and run.status == "ok" and run.writes == 0
        assert run.counts == {"policy": {"create": 4}, "subscriber": {"create": 2}}


def test_the_command_runs_the_sync_prints_a_summary_and_lists_the_runs(env):
    output = env.cli("sync", "ixc-bqn").stdout
    assert output.splitlines()[0].split() == ["object", "create", "update", "delete", "failed", "unchanged",
                                              "skipped"]  # fmt: skip
    assert output.splitlines()[1].split() == ["policy", "4", "0", "0", "0", "0", "0"]
    ended = re.search(r"run 1: ok, (\d+) writes made in ([\d.]+) s \(([\d.]+) s reading and planning\)", output)
    assert ended and int(ended[1]) > 4 and float(ended[3]) <= float(ended[2]), output
    env.bqn.fail("status:400", times=1, where=lambda r: r.method == "PUT")
    env.ixc.change("radgrupos", 1, download="1G")
    failed = env.cli("sync", "ixc-bqn", "--verbose", exit_code=1).output
    assert "failed update policy Plano_100M: " in failed
    assert "1 objects could not be written (ngnserver sync runs --errors 2)" in failed
    runs = env.cli("sync", "runs").stdout.splitlines()
    assert runs[0].split()[:7] == [
        "ID",
        "SYNC",
        "STATUS",
        "STARTED",
        "FINISHED",
        "WRITES",
        "ERRORS",
    ]
    assert runs[1].split()[:3] == ["2", "ixc-bqn", "errors"] and runs[2].split()[:3] == [
        "1",
        "ixc-bqn",
        "ok",
    ]
    errors = env.cli("sync", "runs", "--errors", "2").stdout.splitlines()
    assert errors[0].split() == ["KIND", "KEY", "ACTION", "AT", "ERROR"]
    assert errors[1].split()[:3] == ["policy", "Plano_100M", "update"]


def test_the_command_says_in_one_sentence_what_is_missing(env):
    result = CliRunner().invoke(main, ["sync", "ixc-bqn"], env={
        "NGNSERVER_DATABASE_URL": env.database.url, "NGNSERVER_STATE_DIR": str(env.tmp_path),
        "NGNSERVER_IXC_URL": env.settings.ixc.url, "NGNSERVER_IXC_TOKEN": "", "NGNSERVER_BQN_URL": "",
        "NGNSERVER_BQN_USER": "", "NGNSERVER_BQN_PASSWORD": ""})  # fmt: skip
    assert result.exit_code == 1
    assert result.output.strip() == (
        "Error: the IXC -> BQN sync is not configured: set NGNSERVER_IXC_TOKEN, NGNSERVER_BQN_URL, "
        "NGNSERVER_BQN_USER, NGNSERVER_BQN_PASSWORD"
    )
    env.ixc.fail_listing("radgrupos", times=None)
    failed = env.cli("sync", "ixc-bqn", exit_code=1).output
    assert failed.splitlines()[-1].startswith(
        "Error: sync ixc-bqn failed: cannot read IXC: IXC list radgrupos"
    )


def test_the_worker_queues_a_run_at_the_interval_and_runs_it(env):
    env.settings = replace(env.settings, sync_ixc_bqn_interval=300.0)
    worker = make_worker(env.settings, env.database, "test-worker")
    worker.tick()
    assert worker.run_one() and not worker.run_one()
    assert subscribers(env.bqn) == {ANA: ("ana", "Plano_100M"), BRUNO: ("bruno", "Plano_512k")}
    with env.database.transaction(write=False) as session:
        run = session.execute(select(SyncRun)).scalar_one()
        assert (run.status, run.started_by.split()[0]) == ("ok", "worker")
    worker._periodic_at = 0.0
    worker.tick()  # five minutes have not passed
    assert not worker.run_one()
    with env.database.transaction() as session:
        session.execute(update(SyncRun).values(started_at=utcnow() - timedelta(seconds=301)))
    worker._periodic_at = 0.0
    worker.tick()
    worker._periodic_at = 0.0
    worker.tick()  # one queued run is enough
    env.fresh()
    assert worker.run_one() and not worker.run_one()
    assert env.bqn.writes() == 0
    with env.database.transaction(write=False) as session:
        assert session.execute(select(SyncRun.status).order_by(SyncRun.id)).scalars().all() == [
            "ok",
            "ok",
        ]


def test_the_worker_queues_nothing_when_the_sync_is_off_or_not_configured(env):
    off = replace(env.settings, sync_ixc_bqn_interval=None)
    assert make_worker(off, env.database).periodic is None
    unconfigured = replace(env.settings, bqn=BqnSettings())
    assert make_worker(unconfigured, env.database).periodic is None


def test_a_queued_run_that_finds_another_going_is_skipped(env):
    with env.database.transaction() as session:
        queued = sync.queue(session, "ixc-bqn").id
    with env.database.exclusive(sync.lock_name("ixc-bqn")):
        assert make_worker(env.settings, env.database, "w").run_one()
    with env.database.transaction(write=False) as session:
        run = session.get(SyncRun, queued)
        assert run.status == "skipped" and "another sync-ixc-bqn is running" in run.message
    assert env.bqn.writes() == 0


def test_the_settings_name_the_interval_the_clients_and_refuse_nonsense(tmp_path):
    from ngnserver.config import ConfigError, load

    certificate = tmp_path / "bqn.pem"
    certificate.write_text("-----BEGIN CERTIFICATE-----\n")
    settings = load({
        "NGNSERVER_IXC_URL": "https://ixc.example", "NGNSERVER_IXC_TOKEN": "6:abc",
        "NGNSERVER_IXC_VERIFY_TLS": "false", "NGNSERVER_BQN_URL": "https://192.0.2.10",
        "NGNSERVER_BQN_USER": "u", "NGNSERVER_BQN_PASSWORD": "pw-Hush-77", "NGNSERVER_BQN_VERIFY_TLS": str(certificate),
        "NGNSERVER_BQN_WRITE_CONNECTIONS": "16", "NGNSERVER_BQN_DUAL_STACK": "yes",
    })  # fmt: skip
    assert (settings.ixc.verify_tls, settings.bqn.verify_tls) == (False, str(certificate))
    assert (settings.bqn.write_connections, settings.bqn.dual_stack) == (16, True)
    assert settings.sync_ixc_bqn_interval == 300  # the default, once configured
    assert "pw-Hush-77" not in repr(settings.bqn) and "abc" not in repr(settings.ixc)
    for text, seconds in (
        ("off", None),
        ("0", None),
        ("90s", 90),
        ("5m", 300),
        ("1h", 3600),
        ("120", 120),
    ):
        assert load({"NGNSERVER_SYNC_IXC_BQN_INTERVAL": text}).sync_ixc_bqn_interval == seconds
    for bad in ({"NGNSERVER_SYNC_IXC_BQN_INTERVAL": "soon"}, {"NGNSERVER_SYNC_IXC_BQN_INTERVAL": "-5m"},
                {"NGNSERVER_BQN_VERIFY_TLS": "/no/such/file"}):  # fmt: skip
        with pytest.raises(ConfigError):
            load(bad)
