"""The brake on password guessing: failed logins counted per username and per address, in
the database, so every worker and host sees the same counts.

A key (``user:<name>``, ``admin:<name>``, ``addr:<address>``) that failed ``max_failures``
times (``max_failures_per_address`` for an address) within ``window`` seconds may not log in
for ``backoff`` seconds, doubled with each further failure up to ``max_backoff``; the
right password does not help meanwhile. A login refused by the brake writes nothing (a
guesser cannot keep the database busy), and failures older than the window are forgotten.
The check costs no statement of its own for customers and impersonation: the account's
read carries it (see ``callers``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from ngnserver.core.errors import E, NGNError
from ngnserver.db import insert_skipping_duplicates, read_first
from ngnserver.models.base import utcnow
from ngnserver.models.login import LoginFailure


@dataclass(frozen=True)
class Brake:
    max_failures: int = 10
    max_failures_per_address: int = 50
    backoff: float = 30.0
    max_backoff: float = 900.0
    window: float = 900.0

    def limit(self, key: str) -> int:
        return self.max_failures_per_address if key.startswith("addr:") else self.max_failures


def keys(username: str, address: str | None, admin: bool) -> list[str]:
    """The keys a login attempt counts against: its username's, and its address's."""
    found = [f"{'admin' if admin else 'user'}:{username[:150]}"]
    if address:
        found.append(f"addr:{address}")
    return found


def bound(login_keys: Sequence[str]) -> dict[str, str]:
    """``BLOCKED_UNTIL``'s values for ``keys()`` ("" matches no key)."""
    return {"brake_user": login_keys[0], "brake_address": login_keys[1] if len(login_keys) > 1 else ""}


BLOCKED_UNTIL = select(func.max(LoginFailure.blocked_until)).where(
    LoginFailure.key.in_([bindparam("brake_user"), bindparam("brake_address")])
)
"""Until when the username or the address may not log in (NULL: neither is blocked)."""


def blocked_until(session: Session, login_keys: Sequence[str]) -> datetime | None:
    row = read_first(session, BLOCKED_UNTIL, bound(login_keys))
    return row[0] if row is not None else None


def refuse_if_blocked(until: datetime | None, now: datetime | None = None) -> None:
    now = now or utcnow()
    if until is not None and until > now:
        raise _blocked((until - now).total_seconds())


def note_failure(session: Session, brake: Brake, login_keys: Sequence[str]) -> NGNError | None:
    """Count a failed login against ``login_keys`` (in a write transaction of its own: the
    request's was read-only or rolled back); the fault to answer when that blocks a key."""
    now = utcnow()
    ordered = sorted(set(login_keys))  # locked in one order: two failures never deadlock
    table = LoginFailure.__table__
    insert_skipping_duplicates(session, table, [{"key": k, "failures": 0, "last_failure": now} for k in ordered])
    rows = session.execute(
        select(LoginFailure).where(LoginFailure.key.in_(ordered)).order_by(LoginFailure.key).with_for_update()
    ).scalars()
    longest = 0.0
    for row in rows:
        if row.last_failure < now - timedelta(seconds=brake.window):
            row.failures, row.blocked_until = 0, None
        row.failures += 1
        row.last_failure = now
        over = row.failures - brake.limit(row.key)
        if over >= 0:
            seconds = min(brake.backoff * 2 ** min(over, 30), brake.max_backoff)
            row.blocked_until = now + timedelta(seconds=seconds)
            longest = max(longest, seconds)
    session.execute(
        delete(LoginFailure).where(
            LoginFailure.last_failure < now - timedelta(seconds=brake.window),
            func.coalesce(LoginFailure.blocked_until, LoginFailure.last_failure) < now,
        )
    )
    return _blocked(longest) if longest else None


def _blocked(seconds: float) -> NGNError:
    return NGNError(
        E.LOGIN_BLOCKED,
        f"Too many failed logins for this username or address; try again in {max(1, round(seconds))} seconds.",
    )
