"""Ids a client holds are never handed out again: a deleted record's id (the newest one
included) does not come back for the next record, on SQLite as on PostgreSQL."""

from __future__ import annotations


def test_a_deleted_customers_id_is_not_reused(server):
    admin = server.admin()
    first = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "one", "password": "x"}))
    admin.call("Customer", "deleteAccount", id=first["id"])
    second = admin.call("Customer", "addAccount", account=("CustomerAccount", {"username": "two", "password": "x"}))
    assert second["id"] == first["id"] + 1
