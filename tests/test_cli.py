"""The ``ngnserver`` command's database tools: the change history and the schema."""

from __future__ import annotations

import json

from click.testing import CliRunner

from ngnserver.cli import main


def run(server, tmp_path, *args: str) -> str:
    env = {"NGNSERVER_DATABASE_URL": server.database.url, "NGNSERVER_STATE_DIR": str(tmp_path),
           "NGNSERVER_ADMIN_USERNAME": "admin", "NGNSERVER_ADMIN_PASSWORD": "secret"}  # fmt: skip
    result = CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_audit_lists_who_changed_what_newest_first_without_secrets(server, tmp_path):
    admin = server.admin()
    created = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "aud", "password": "hush-123"}))
    admin.as_customer(created["id"]).call(
        "Customer", "updateAccount", account=("CustomerAccount", {"id": created["id"], "city": "Leiden"})
    )
    lines = run(server, tmp_path, "audit", "--json").splitlines()
    entries = [json.loads(line) for line in lines]
    assert [(e["action"], e["kind"], e["key"], e["login"], e["acting_as"]) for e in entries] == [
        ("update", "customer", str(created["id"]), "admin", created["id"]),
        ("create", "customer", str(created["id"]), "admin", None),
    ]
    assert entries[0]["changes"] == {"city": "Leiden"}
    assert entries[1]["changes"]["password"] == "(changed)"
    assert "hush-123" not in "\n".join(lines)
    text_output = run(server, tmp_path, "audit", "--kind", "customer", "--limit", "1")
    assert "admin admin as" in text_output and "update customer" in text_output


def test_audit_since_lists_only_the_changes_from_then_on(server, tmp_path):
    from sqlalchemy import text

    admin = server.admin()
    old = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "aud-old", "password": "pw-1234"}))
    new = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "aud-new", "password": "pw-1234"}))
    with server.database.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET at = '2020-01-01 00:00:00' WHERE record_key = :k"), {"k": str(old["id"])})
        if server.backend == "postgresql":  # the index migration 0008 made
            kind = conn.execute(text(
                "SELECT am.amname FROM pg_class i JOIN pg_am am ON am.oid = i.relam WHERE i.relname = 'ix_audit_log_at'"
            )).scalar_one()  # fmt: skip
            assert kind == "brin"
    keys = [json.loads(line)["key"] for line in run(server, tmp_path, "audit", "--json", "--since", "2021-01-01").splitlines()]
    assert str(new["id"]) in keys and str(old["id"]) not in keys
    keys = [json.loads(line)["key"] for line in run(server, tmp_path, "audit", "--json", "--since", "2019-12-31").splitlines()]
    assert str(new["id"]) in keys and str(old["id"]) in keys


def test_db_upgrade_is_idempotent(server, tmp_path):
    assert "newest revision" in run(server, tmp_path, "db", "upgrade")


def test_db_recount_rebuilds_credit_usage_exactly_as_the_server_counted_it(server, tmp_path):
    from sqlalchemy import text

    from tests.test_customer_rules import add

    admin = server.admin()
    r = add(admin, username="r", resellerActive=True)["id"]
    c1 = add(admin, username="c1", reseller=r)["id"]
    c2 = add(admin, username="c2", reseller=r)["id"]
    admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": "x.example", "customer": c1}))
    admin.call("Sip", "addDomain", domain=("SipDomain", {"domain": "r.example", "customer": r}))
    for name, owner, domain in (("a", 0, "x.example"), ("b", c2, "x.example"), ("c", c1, "x.example"),
                                ("d", 0, "r.example"), ("e", c2, "r.example")):  # fmt: skip
        admin.call("Sip", "addAccount", account=("SipAccount", {"id": {"username": name, "domain": domain}, "owner": owner}))
    admin.call("Sip", "addAlias", alias=("SipAlias", {"id": {"username": "al", "domain": "x.example"},
                                                      "target": {"username": "a", "domain": "x.example"}, "owner": c2}))  # fmt: skip
    admin.call("Sip", "deleteAccount", sipId=("SipId", {"username": "a", "domain": "x.example"}))

    def usage() -> set[tuple]:
        with server.database.engine.connect() as conn:
            return set(conn.execute(text("SELECT scope, holder, credit, used FROM credit_usage WHERE used > 0")).all())

    counted = usage()
    assert ("reseller", r, "sip_credit", 4) in counted and ("customer", c2, "sip_credit", 2) in counted
    assert "credit usage counters" in run(server, tmp_path, "db", "recount")
    assert usage() == counted
