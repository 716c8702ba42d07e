"""Cursors: how far an incremental sync has read a source that stamps each object with the time
it last changed (OZmap's ``updatedAt``), so that a run reads only what changed since the last
one, and neither loses a change nor skips an object when it stops half-way.

The contract:

- a run reads the objects changed **at or after** :attr:`Cursor.position` (``>=``, oldest
  first, ties in a stable order such as the id), and drops those :meth:`Cursor.is_new` says
  it did already: the ids at exactly ``position`` are kept in :attr:`Cursor.seen`, so two
  objects changed at the same instant are both synced even when a page boundary (or the end
  of a run) falls between them;
- the run tells a :class:`CursorWalk` each object it read, in that order, with the writes
  (engine :class:`~ngnserver.core.sync.Write` ``(kind, key)`` pairs) it planned for it, and
  the ids it reads again (:attr:`Cursor.pending`);
- once writes have been made (:meth:`ngnserver.core.sync.Sync.settle`, called by the engine
  after each stage, every few hundred writes and at the end of a run that is not a dry run),
  :meth:`CursorWalk.settled` gives the cursor that may be saved: its position moves over the
  leading objects whose writes have **all** ended (made, or failed), never past one whose
  writes are still to be sent, so a run killed half-way starts again from the first object
  it had not finished. An object a write failed for is put in :attr:`Cursor.pending` (read
  again by id at the next run, until it succeeds) rather than holding the cursor back;
- :meth:`Cursor.save` stores it in the caller's transaction; :meth:`Cursor.load` reads it
  (a cursor never saved is at the start: ``position`` None, every object is new).

Positions are compared as times when they parse as ISO 8601 (``2026-12-03T10:00:00.120Z``),
as text otherwise, and stored as the source wrote them, to be sent back as they were.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from collections.abc import Iterable
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from ngnserver.models.sync import SyncCursor

WriteKey = tuple[str, str]
"""A write as the engine names it: (kind, key)."""


def fingerprint(value: Any) -> str:
    """A stable digest (64 hex digits) of a JSON-able value: the same fields and values,
    whatever the order of the keys, give the same fingerprint. Syncs store it to tell whether
    what they would write now is what they wrote last."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def position_key(position: str) -> tuple[int, Any]:
    """The order of positions: as times when ISO 8601 (any offset), else as text."""
    try:
        moment = datetime.datetime.fromisoformat(position)
    except (TypeError, ValueError):
        return (1, position)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return (0, moment)


@dataclass(frozen=True)
class Cursor:
    """A cursor as stored (see the module docstring). Immutable: :meth:`CursorWalk.settled`
    makes the next one."""

    name: str
    position: str | None = None
    seen: frozenset[str] = frozenset()
    pending: frozenset[str] = frozenset()

    @classmethod
    def load(cls, session: Session, name: str) -> Cursor:
        """The cursor ``name`` as last saved, or a new one (at the start)."""
        row = session.get(SyncCursor, name)
        if row is None:
            return cls(name)
        return cls(name, row.position, frozenset(row.seen or ()), frozenset(row.pending or ()))

    def save(self, session: Session) -> None:
        """Store this cursor (in the caller's transaction), replacing the saved one."""
        row = session.get(SyncCursor, self.name)
        if row is None:
            row = SyncCursor(name=self.name)
            session.add(row)
        row.position = self.position
        row.seen = sorted(self.seen)
        row.pending = sorted(self.pending)

    def reset(self, session: Session) -> None:
        """Forget the cursor: the next run reads everything again."""
        row = session.get(SyncCursor, self.name)
        if row is not None:
            session.delete(row)

    def is_new(self, object_id: str, position: str | None) -> bool:
        """Whether an object read with ``>=`` :attr:`position`, changed at ``position``, is
        still to be synced: changed after the cursor, or at its very instant and not in
        :attr:`seen`. An object without a change time is always new."""
        if self.position is None or position is None:
            return True
        mine, theirs = position_key(self.position), position_key(position)
        if theirs != mine:
            return theirs > mine
        return object_id not in self.seen


@dataclass
class _Read:
    object_id: str
    position: str | None
    writes: tuple[WriteKey, ...]
    retry: bool


@dataclass
class _State:
    position: str | None
    seen: set[str]
    pending: set[str]

    def copy(self) -> _State:
        return _State(self.position, set(self.seen), set(self.pending))

    def take(self, item: _Read, broken: bool) -> None:
        """Fold in an object whose writes all ended, read while the cursor still moves."""
        if item.retry:
            if not broken:
                self.pending.discard(item.object_id)
            return
        if broken:
            self.pending.add(item.object_id)
        else:
            self.pending.discard(item.object_id)
        if item.position is None:
            return
        if self.position is None or position_key(item.position) > position_key(self.position):
            self.position, self.seen = item.position, {item.object_id}
        elif position_key(item.position) == position_key(self.position):
            self.seen.add(item.object_id)


@dataclass
class CursorWalk:
    """What one run read through ``cursor``: :meth:`read` each object, in the order read
    (oldest change first), :meth:`retry` each pending object read again; then
    :meth:`settled` with the writes that ended gives the cursor to save."""

    cursor: Cursor
    _reads: list[_Read] = field(default_factory=list)
    _folded: int = 0  # the leading reads whose writes all ended, folded into _state
    _state: _State = field(init=False)

    def __post_init__(self) -> None:
        cursor = self.cursor
        self._state = _State(cursor.position, set(cursor.seen), set(cursor.pending))

    def read(self, object_id: str, position: str | None, writes: Iterable[WriteKey] = ()) -> None:
        """An object read by change time, and the writes planned for it (none: it needs
        none, or was left out on purpose). Objects must come in the order of their change."""
        self._reads.append(_Read(str(object_id), position, tuple(writes), False))

    def retry(self, object_id: str, writes: Iterable[WriteKey] = ()) -> None:
        """A pending object read again by id (or found gone), with its writes."""
        self._reads.append(_Read(str(object_id), None, tuple(writes), True))

    @property
    def count(self) -> int:
        return len(self._reads)

    def settled(self, done: AbstractSet[WriteKey], failed: AbstractSet[WriteKey]) -> Cursor:
        """The cursor after these writes ended: ``done`` made, ``failed`` tried and failed
        (or not sent because one they needed failed). Every other planned write is still
        to come (or was never sent: the run stopped). ``done`` and ``failed`` only grow
        during a run, so the leading reads that ended are folded in once, not walked again
        at every call."""
        def ended(item: _Read) -> bool:
            return all(write in done or write in failed for write in item.writes)

        def broken(item: _Read) -> bool:
            return any(write in failed for write in item.writes)

        while self._folded < len(self._reads) and ended(self._reads[self._folded]):
            item = self._reads[self._folded]
            self._state.take(item, broken(item))
            self._folded += 1
        state = self._state.copy()
        moving = True
        for item in self._reads[self._folded :]:
            if not ended(item):
                if not item.retry:
                    moving = False  # this object and every later one are read again
                continue
            if item.retry or moving:
                state.take(item, broken(item))
        return Cursor(
            self.cursor.name, state.position, frozenset(state.seen), frozenset(state.pending)
        )
