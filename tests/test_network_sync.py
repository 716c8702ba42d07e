"""NetworkPort's syncs over real HTTP (SQLite and PostgreSQL): admin queues a run with
startSync and the worker then runs it against the IXC and BQN simulators; getSyncRuns lists
the runs with filter, order, range and total, in NGNPro's date format, as PEAR reads them and
as zeep reads them from the served WSDL; unknown and unconfigured syncs and other callers are
refused with their errorcodes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zeep
from zeep.exceptions import Fault

from ngnserver.app import NGNProApp
from ngnserver.config import BqnSettings, IxcSettings, Settings
from ngnserver.db import Database
from ngnserver.worker import make_worker
from tests.conftest import ADMIN, make_settings, serve_app
from tests.support.bqn_simulator import BqnSimulator
from tests.support.ixc_simulator import IxcSimulator
from tests.support.wire import Client, SoapFault
from tests.test_customer_rules import add

DATE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
SEEDED_WRITES = 6  # the seeded ISP: 4 policies (Billing-Block among them) and 2 subscribers


@dataclass
class Synced:
    """A server (on the test server's database) whose settings point at the simulators."""

    url: str
    settings: Settings
    database: Database
    ixc: IxcSimulator
    bqn: BqnSimulator

    def admin(self) -> Client:
        return Client(self.url, *ADMIN)

    def work(self) -> int:
        """Let a worker run every queued job; how many it ran."""
        worker = make_worker(self.settings, self.database, "test-worker")
        ran = 0
        while worker.run_one():
            ran += 1
        return ran


@pytest.fixture
def synced(server: Any, tmp_path: Path) -> Iterator[Synced]:
    with IxcSimulator(seed=True) as ixc, BqnSimulator() as bqn:
        settings = make_settings(
            tmp_path,
            server.database.url,
            secret_key=server.app.settings.secret_key,
            ixc=IxcSettings(url=ixc.url, token=ixc.token, retries=1, backoff=0),
            bqn=BqnSettings(
                url=bqn.url, user=bqn.user, password=bqn.password, retries=1, backoff=0
            ),
        )
        database = Database(settings.effective_database_url)
        base, httpd = serve_app(NGNProApp(settings, database))
        try:
            yield Synced(base + settings.endpoint_path, settings, database, ixc, bqn)
        finally:
            httpd.shutdown()
            database.dispose()


def runs(client: Client, **query: Any) -> dict[str, Any]:
    return client.call("Network", "getSyncRuns", query=("SyncRunQuery", query))


def refused(errorcode: int, client: Client, operation: str, **params: Any) -> SoapFault:
    with pytest.raises(SoapFault) as info:
        client.call("Network", operation, **params)
    assert info.value.errorcode == errorcode, info.value
    return info.value


def counts(run: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(c["kind"], c["outcome"]): c["count"] for c in run["counts"]}


def test_admin_queues_a_run_that_the_worker_then_runs_against_the_simulators(synced):
    admin = synced.admin()
    run_id = admin.call("Network", "startSync", name="ixc-bqn", dryRun=False)
    assert isinstance(run_id, int) and run_id > 0
    assert synced.bqn.writes() == 0  # queued, not run by the SOAP call
    listed = runs(admin)
    assert listed["total"] == 1
    (queued,) = listed["runs"]
    assert (queued["id"], queued["name"], queued["status"], queued["dryRun"]) == (
        run_id,
        "ixc-bqn",
        "queued",
        False,
    )
    assert (
        DATE.match(queued["queueDate"]) and "startDate" not in queued and "finishDate" not in queued
    )
    assert queued["startedBy"] == "soap admin admin" and queued["counts"] == []

    assert synced.work() == 1
    assert synced.bqn.writes() == SEEDED_WRITES
    assert set(synced.bqn.subscribers) == {"100.64.0.1", "100.64.0.2"}
    (done,) = runs(admin)["runs"]
    assert (done["id"], done["status"], done["writes"], done["errors"]) == (
        run_id,
        "ok",
        SEEDED_WRITES,
        0,
    )
    assert DATE.match(done["startDate"]) and DATE.match(done["finishDate"])
    assert done["queueDate"] <= done["startDate"] <= done["finishDate"]
    assert counts(done) == {("policy", "create"): 4, ("subscriber", "create"): 2}

    # nothing changed in IXC: the next run writes nothing
    again = admin.call("Network", "startSync", name="ixc-bqn", dryRun=False)
    assert again != run_id and synced.work() == 1
    assert synced.bqn.writes() == SEEDED_WRITES
    newest = runs(admin)["runs"][0]
    assert (newest["id"], newest["status"], newest["writes"]) == (again, "ok", 0)
    assert counts(newest) == {("policy", "unchanged"): 4, ("subscriber", "unchanged"): 2}


def test_a_dry_run_over_soap_plans_without_writing_and_a_waiting_run_is_not_queued_twice(synced):
    admin = synced.admin()
    dry = admin.call("Network", "startSync", name="ixc-bqn", dryRun=True)
    assert admin.call("Network", "startSync", name="ixc-bqn", dryRun=True) == dry
    real = admin.call("Network", "startSync", name="ixc-bqn")  # dryRun left out: a real run
    assert real != dry
    assert runs(admin)["total"] == 2
    assert synced.work() == 2
    by_id = {run["id"]: run for run in runs(admin)["runs"]}
    assert (by_id[dry]["status"], by_id[dry]["dryRun"], by_id[dry]["writes"]) == ("ok", True, 0)
    assert counts(by_id[dry]) == {("policy", "create"): 4, ("subscriber", "create"): 2}  # planned
    assert (by_id[real]["status"], by_id[real]["writes"]) == ("ok", SEEDED_WRITES)
    assert synced.bqn.writes() == SEEDED_WRITES  # the real run's only


def test_sync_runs_list_with_filter_order_range_and_total(synced):
    admin = synced.admin()
    ids = [admin.call("Network", "startSync", name="ixc-bqn", dryRun=dry) for dry in (False, True)]
    synced.work()
    third = admin.call("Network", "startSync", name="ixc-bqn", dryRun=False)
    everything = runs(admin)
    assert everything["total"] == 3 and [r["id"] for r in everything["runs"]] == [
        third,
        *reversed(ids),
    ]

    page = runs(
        admin, orderBy={"attribute": "id", "direction": "ASC"}, range={"start": 1, "count": 1}
    )
    assert page["total"] == 3 and [r["id"] for r in page["runs"]] == [ids[1]]
    queued = runs(admin, filter={"status": "queued"})
    assert queued["total"] == 1 and [r["id"] for r in queued["runs"]] == [third]
    assert runs(admin, filter={"name": "ixc-bqn", "status": "ok"})["total"] == 2
    assert runs(admin, filter={"name": "ixc-%"})["total"] == 3
    assert runs(admin, filter={"name": "ozmap-ixc"}) == {"total": 0, "runs": []}
    by_status = runs(admin, orderBy={"attribute": "status", "direction": "DESC"})
    assert [r["status"] for r in by_status["runs"]] == ["queued", "ok", "ok"]
    assert refused(
        2008, admin, "getSyncRuns", query=("SyncRunQuery", {"orderBy": {"attribute": "writes"}})
    )


def test_unknown_and_unconfigured_syncs_and_other_callers_are_refused(server, synced):
    admin = synced.admin()
    unknown = refused(11001, admin, "startSync", name="ixc-nowhere", dryRun=False)
    assert unknown.faultcode == "SOAP-ENV:Client" and "ixc-bqn" in unknown.errorstring
    refused(2007, admin, "startSync", name="", dryRun=False)

    # the test server's own settings name neither IXC nor a BQN
    unconfigured = refused(11002, server.admin(), "startSync", name="ixc-bqn", dryRun=False)
    assert unconfigured.faultcode == "SOAP-ENV:Server"
    assert (
        "NGNSERVER_IXC_URL" in unconfigured.errorstring
        and "NGNSERVER_BQN_PASSWORD" in unconfigured.errorstring
    )

    reseller = add(admin, username="r1", resellerActive=True)["id"]
    add(admin, username="c1", reseller=reseller)
    for login in ("r1", "c1"):
        client = Client(synced.url, login, "pw-" + login, admin=False)
        refused(4004, client, "startSync", name="ixc-bqn", dryRun=False)
        refused(4004, client, "getSyncRuns", query=("SyncRunQuery", {}))
    refused(4004, admin.as_customer(reseller), "startSync", name="ixc-bqn", dryRun=False)
    assert runs(admin)["total"] == 0 and synced.work() == 0
    assert synced.bqn.writes() == 0


def test_zeep_from_the_served_wsdl_starts_a_sync_and_reads_typed_runs(synced):
    client = zeep.Client(synced.url + "wsdl")
    client.set_default_soapheaders(
        {"auth": {"username": "admin", "password": "secret", "admin": True}}
    )
    network = client.bind("NGNPro", "NetworkPort")
    run_id = network.startSync(name="ixc-bqn", dryRun=False)
    assert isinstance(run_id, int)
    assert synced.work() == 1
    result = network.getSyncRuns(
        query={"filter": {"name": "ixc-bqn"}, "range": {"start": 0, "count": 10}}
    )
    assert result.total == 1 and isinstance(result.total, int)
    (run,) = result.runs
    assert (run.id, run.name, run.status, run.dryRun, run.writes, run.errors) == (
        run_id, "ixc-bqn", "ok", False, SEEDED_WRITES, 0,
    )  # fmt: skip
    assert DATE.match(run.finishDate)
    assert {(c.kind, c.outcome): c.count for c in run.counts} == {
        ("policy", "create"): 4,
        ("subscriber", "create"): 2,
    }
    with pytest.raises(Fault) as info:
        network.startSync(name="nope", dryRun=False)
    assert info.value.message.startswith("Sync not found: There is no sync named 'nope'")
    assert info.value.detail.findtext(".//errorcode") == "11001"
