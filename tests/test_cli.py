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


def test_db_upgrade_is_idempotent(server, tmp_path):
    assert "newest revision" in run(server, tmp_path, "db", "upgrade")
