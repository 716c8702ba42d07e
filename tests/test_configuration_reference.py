"""docs/configuration.md names every NGNSERVER_* variable the code reads, and no other: the
names are read from the sources (config.py's lookups, gunicorn_conf.py's variables)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).parent.parent
TABLES = ("ikano", "dcim", "ixc", "bqn", "ozmap", "ozmap_ixc")


def read_by_the_code() -> set[str]:
    config = (ROOT / "ngnserver" / "config.py").read_text()
    names = {"NGNSERVER_" + m[1].upper() for m in re.finditer(r'(?<![.\w])get\("([a-z_]+)"', config)}
    for match in re.finditer(r'\bnumber\((?:int|float), "([a-z_]+)", [^,)]+(?:, "([a-z]+)")?\)', config):
        names.add("NGNSERVER_" + (match[2].upper() + "_" if match[2] else "") + match[1].upper())
    for table in TABLES:
        names |= {f"NGNSERVER_{table.upper()}_{m[1].upper()}" for m in re.finditer(rf'\b{table}\("([a-z_]+)"', config)}
    sources = config + (ROOT / "ngnserver" / "gunicorn_conf.py").read_text()
    names |= {m[0] for m in re.finditer(r"NGNSERVER_[A-Z_]*[A-Z]", sources)}
    return names - {"NGNSERVER_ADMINS"} - {f"NGNSERVER_{t.upper()}" for t in TABLES}


def documented() -> set[str]:
    page = (ROOT / "docs" / "configuration.md").read_text()
    return {m[0] for line in page.splitlines() if line.startswith("| `NGNSERVER_") for m in re.finditer(r"NGNSERVER_[A-Z_]*[A-Z]", line.split(" | ")[0])}


def test_the_reference_names_every_variable_the_code_reads():
    assert read_by_the_code() - documented() == set()


def test_the_reference_names_no_variable_the_code_does_not_read():
    assert documented() - read_by_the_code() == set()
