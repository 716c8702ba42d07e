"""NetworkPort: CDRTool json_decodes both answers, so each is a JSON document in an
xsd:string: server status for any caller, record statistics within the caller's scope (per
reseller for admin). The captured requests replay."""

from __future__ import annotations

import json

from ngnserver import __version__
from tests.support.wire import read_response, replay
from tests.test_customer_rules import add


def test_get_status_capture_is_a_json_string(server):
    response = read_response(replay(server.url, "network-getStatus"), "Network", "getStatus")
    assert b'<getStatusResult xsi:type="xsd:string">' in response.http.body
    (node,) = json.loads(response.value).values()
    assert node["version"] == __version__ and node["roles"] == ["provisioning_server"]
    assert node["database"] == "ok" and node["database_backend"] == server.backend
    assert isinstance(node["uptime"], int) and node["ip"]


def test_get_statistics_capture_counts_per_kind_domain_and_reseller(server):
    admin = server.admin()
    r1 = add(admin, username="r1", resellerActive=True)["id"]
    r2 = add(admin, username="r2", resellerActive=True)["id"]
    c1 = add(admin, username="c1", reseller=r1)["id"]
    admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": "a.example", "customer": c1}))
    admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": "b.example", "customer": r2}))
    for name in ("x", "y"):
        admin.call("Sip", "addAccount", account=("SipAccount", {"id": {"username": name, "domain": "a.example"}}))

    raw = read_response(replay(server.url, "network-getStatistics"), "Network", "getStatistics").value
    stats = json.loads(raw)
    assert stats["summary"] == {"sip_proxy": {"total_accounts": {"a.example": 2}}}
    (sections,) = (roles["provisioning_server"] for ip, roles in stats.items() if ip != "summary")
    assert sections["records"]["customers"] == 3 and sections["records"]["resellers"] == 2
    assert sections["records"]["sipDomains"] == 2 and sections["records"]["sipAccounts"] == 2
    assert sections["sip_accounts"] == {"a.example": 2}
    assert sections[f"reseller {r1}"] == {"customers": 2, "sipDomains": 1, "sipAccounts": 2}
    assert sections[f"reseller {r2}"] == {"customers": 1, "sipDomains": 1}

    own = json.loads(server.login("r2", "pw-r2").call("Network", "getStatistics"))
    (own_sections,) = (roles["provisioning_server"] for ip, roles in own.items() if ip != "summary")
    assert own_sections["records"]["sipDomains"] == 1 and own_sections["records"]["sipAccounts"] == 0
    assert not [name for name in own_sections if name.startswith("reseller")]
    c1_stats = json.loads(server.login("c1", "pw-c1").call("Network", "getStatistics"))
    assert c1_stats["summary"]["sip_proxy"]["total_accounts"] == {"a.example": 2}
