"""The state the incremental syncs keep (both backends): cursors (ties at one instant, the
settled prefix, failed objects kept pending, positions compared as times) and the OZmap <->
IXC links (one per box and splitter, the whole box's with no splitter, one per IXC box;
client links changed field by field)."""

from __future__ import annotations

import random
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError

from ngnserver.core.sync import Cursor, CursorWalk, fingerprint
from ngnserver.core.sync import ozmap_state as state
from ngnserver.models.ozmap import OzmapBoxLink

T1, T2, T3 = "2026-12-03T10:00:00.100Z", "2026-12-03T10:00:00.200Z", "2026-12-03T10:00:01.000Z"


def test_a_cursor_never_saved_is_at_the_start_and_is_saved_and_loaded(server: Any) -> None:
    db = server.database
    with db.transaction() as session:
        cursor = Cursor.load(session, "test:a")
    assert cursor == Cursor("test:a") and cursor.is_new("x", T1)
    with db.transaction() as session:
        Cursor("test:a", T2, frozenset({"b", "a"}), frozenset({"z"})).save(session)
    with db.transaction() as session:
        loaded = Cursor.load(session, "test:a")
        assert loaded == Cursor("test:a", T2, frozenset({"a", "b"}), frozenset({"z"}))
        loaded.reset(session)
    with db.transaction() as session:
        assert Cursor.load(session, "test:a").position is None


def test_ties_at_the_cursor_instant_are_new_unless_seen() -> None:
    cursor = Cursor("c", T2, frozenset({"a"}))
    assert not cursor.is_new("a", T2)
    assert cursor.is_new("b", T2)  # same instant, not done yet
    assert cursor.is_new("a", T3)  # changed again later
    assert not cursor.is_new("c", T1)
    # the same instant written with another offset is the same instant
    assert not cursor.is_new("a", "2026-12-03T07:00:00.200-03:00")


def test_the_cursor_moves_over_the_settled_prefix_only() -> None:
    walk = CursorWalk(Cursor("c"))
    walk.read("a", T1, [("box", "a")])
    walk.read("b", T2, [("box", "b")])
    walk.read("c", T2, [])  # nothing to write for it
    walk.read("d", T3, [("box", "d"), ("fiber", "d")])
    # nothing ended yet: no move
    assert walk.settled(set(), set()) == Cursor("c")
    # a ended, b not yet: the cursor stops after a, though c and d's first write are done
    assert walk.settled({("box", "a"), ("box", "d")}, set()).position == T1
    # b failed: it goes pending and the cursor moves on; d is half done
    moved = walk.settled({("box", "a"), ("box", "d")}, {("box", "b")})
    assert moved == Cursor("c", T2, frozenset({"b", "c"}), frozenset({"b"}))
    # all done
    done = walk.settled({("box", "a"), ("box", "d"), ("fiber", "d")}, {("box", "b")})
    assert done == Cursor("c", T3, frozenset({"d"}), frozenset({"b"}))


def test_settling_often_gives_the_cursor_settling_once_gives() -> None:
    """The walk folds in the reads that ended once; settled again and again as writes end
    (in any order, some failing), it still gives what one look at the final sets gives."""
    rng = random.Random(7)
    times = [f"2026-12-03T10:00:{second:02d}.000Z" for second in range(10)]
    for _ in range(50):
        reads = [(f"o{n}", rng.choice(times), rng.randint(0, 2), rng.random() < 0.2)
                 for n in range(40)]  # fmt: skip
        reads.sort(key=lambda read: read[1])
        start = Cursor("c", times[0], frozenset({"o1"}), frozenset({"o3", "x"}))
        often, once = CursorWalk(start), CursorWalk(start)
        writes: list[tuple[str, str]] = []
        for object_id, at, count, retry in reads:
            planned = [(f"w{i}", object_id) for i in range(count)]
            writes += planned
            for walk in (often, once):
                if retry:
                    walk.retry(object_id, planned)
                else:
                    walk.read(object_id, at, planned)
        rng.shuffle(writes)
        done: set[tuple[str, str]] = set()
        failed: set[tuple[str, str]] = set()
        for write in writes[: rng.randint(0, len(writes))]:
            (failed if rng.random() < 0.1 else done).add(write)
            often.settled(done, failed)
        expected = _settled_by_definition(start, reads, done, failed)
        assert often.settled(done, failed) == expected
        assert once.settled(set(done), set(failed)) == expected


def _settled_by_definition(
    cursor: Cursor,
    reads: list[tuple[str, str, int, bool]],
    done: set[tuple[str, str]],
    failed: set[tuple[str, str]],
) -> Cursor:
    """The rule of cursor.py's docstring, written the plain way: the position moves over the
    leading reads whose writes all ended; a read whose writes failed is pending; a retry
    leaves pending once its writes succeeded, wherever it stands."""
    position, seen, pending = cursor.position, set(cursor.seen), set(cursor.pending)
    blocked = False
    for object_id, at, count, retry in reads:
        writes = [(f"w{i}", object_id) for i in range(count)]
        if not all(write in done or write in failed for write in writes):
            blocked = blocked or not retry
            continue
        broken = any(write in failed for write in writes)
        if retry:
            if not broken:
                pending.discard(object_id)
            continue
        if blocked:
            continue
        (pending.add if broken else pending.discard)(object_id)
        if position is None or at > position:
            position, seen = at, {object_id}
        elif at == position:
            seen.add(object_id)
    return Cursor(cursor.name, position, frozenset(seen), frozenset(pending))


def test_a_pending_object_leaves_pending_once_its_writes_succeed() -> None:
    walk = CursorWalk(Cursor("c", T1, frozenset({"a"}), frozenset({"p", "q"})))
    walk.retry("p", [("box", "p")])
    walk.retry("q", [("box", "q")])
    walk.read("r", T2, [("box", "r")])
    cursor = walk.settled({("box", "p")}, {("box", "q")})
    assert cursor.pending == frozenset({"q"})
    assert cursor.position == T1  # r not ended
    assert walk.settled({("box", "p"), ("box", "r")}, {("box", "q")}).position == T2


def test_ties_continue_the_seen_set_of_the_saved_cursor() -> None:
    walk = CursorWalk(Cursor("c", T2, frozenset({"a"})))
    walk.read("b", T2, [])
    assert walk.settled(set(), set()) == Cursor("c", T2, frozenset({"a", "b"}))


def test_fingerprints_ignore_key_order() -> None:
    assert fingerprint({"a": 1, "b": [1, "x"]}) == fingerprint({"b": [1, "x"], "a": 1})
    assert fingerprint({"a": 1}) != fingerprint({"a": "1"})
    assert len(fingerprint({})) == 64


def test_box_links_one_per_box_and_splitter_and_per_ixc_box(server: Any) -> None:
    db = server.database
    whole = state.BoxLink("box1", None, "box", "10", "p1", "CTO-1", "h1")
    with db.transaction() as session:
        state.save_box_link(session, whole)
        state.save_box_link(session, state.BoxLink("box1", "s1", "splitter", "11", "p1", "S1"))
        state.save_box_link(session, state.BoxLink("box1", "s2", "splitter", "12", "p1", "S2"))
    with db.transaction() as session:  # saved again: replaced, not doubled
        state.save_box_link(session, state.BoxLink("box1", None, "box", "10", "p1", "CTO-1b", "h2"))
    with db.transaction() as session:
        links = state.box_links(session)
        assert len(links) == 3
        assert links.get("box1").name == "CTO-1b" and links.get("box1").last_hash == "h2"
        assert links.by_caixa["11"].ozmap_splitter_id == "s1"
        assert {link.ixc_caixa_id for link in links.of_box("box1")} == {"10", "11", "12"}
        assert state.box_link_of_caixa(session, "12").ozmap_splitter_id == "s2"
        assert state.box_link_of_caixa(session, "99") is None
    # an IXC box named by another link moves to the new one
    with db.transaction() as session:
        state.save_box_link(session, state.BoxLink("box2", None, "box", "12", "p1", "CTO-2"))
    with db.transaction() as session:
        links = state.box_links(session)
        assert links.by_caixa["12"].ozmap_box_id == "box2" and links.get("box1", "s2") is None
    # the database itself refuses a second whole-box link (the partial unique index)
    with pytest.raises(IntegrityError), db.transaction() as session:
        session.add(OzmapBoxLink(ozmap_box_id="box1", ozmap_splitter_id=None, source="box",
                                 ixc_caixa_id="50", ozmap_project_id="", name="", last_hash="",
                                 removed=False))  # fmt: skip
        session.flush()


def test_client_links_change_only_the_fields_given(server: Any) -> None:
    db = server.database
    with db.transaction() as session:
        state.save_client_link(session, "7", login="ana", to_ixc_hash="x")
    with db.transaction() as session:
        state.save_client_link(session, "7", ozmap_property_id="p", ozmap_client_id="c",
                               state={"implanted": True})  # fmt: skip
    with db.transaction() as session:
        link = state.client_link(session, "7")
        assert link == state.ClientLink("7", "ana", "p", "c", "x", "", {"implanted": True})
        assert state.client_links(session, ["7", "8"]) == {"7": link}
        assert set(state.client_links(session)) == {"7"}
        with pytest.raises(ValueError, match="no field"):
            state.save_client_link(session, "7", nonsense=1)
        state.delete_client_link(session, "7")
    with db.transaction() as session:
        assert state.client_link(session, "7") is None
