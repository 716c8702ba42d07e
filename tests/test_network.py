"""NetworkPort: server status for any caller, record statistics within the caller's scope
(per reseller for admin); the captured requests replay."""

from __future__ import annotations

from ngnserver import __version__
from tests.support.wire import read_response, replay
from tests.test_customer_rules import add


def test_get_status_capture(server):
    status = read_response(replay(server.url, "network-getStatus"), "Network", "getStatus").value
    assert status["status"] == "ok" and status["database"] == "ok"
    assert status["version"] == __version__ and isinstance(status["uptime"], int)
    assert status["databaseBackend"] == server.backend


def test_get_statistics_capture_counts_per_kind_and_per_reseller(server):
    admin = server.admin()
    r1 = add(admin, username="r1", resellerActive=True)["id"]
    r2 = add(admin, username="r2", resellerActive=True)["id"]
    c1 = add(admin, username="c1", reseller=r1)["id"]
    admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": "a.example", "customer": c1}))
    admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": "b.example", "customer": r2}))
    for name in ("x", "y"):
        admin.call("Sip", "addAccount", account=("SipAccount", {"id": {"username": name, "domain": "a.example"}}))

    stats = read_response(replay(server.url, "network-getStatistics"), "Network", "getStatistics").value
    assert stats["total"]["customers"] == 3 and stats["total"]["resellers"] == 2
    assert stats["total"]["sipDomains"] == 2 and stats["total"]["sipAccounts"] == 2
    per = {row["reseller"]: row for row in stats["resellers"]}
    assert per[r1]["customers"] == 2 and per[r1]["sipAccounts"] == 2 and per[r1]["sipDomains"] == 1
    assert per[r2]["customers"] == 1 and per[r2]["sipAccounts"] == 0

    own = server.login("r2", "pw-r2").call("Network", "getStatistics")
    assert own["total"]["sipDomains"] == 1 and own["total"]["sipAccounts"] == 0 and own["resellers"] == []
    assert server.login("c1", "pw-c1").call("Network", "getStatistics")["total"]["customers"] == 1
