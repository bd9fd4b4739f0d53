"""The approval state machine as the store enforces it: every move TRANSITIONS lists
works exactly once (compare-and-set), every other move raises and changes nothing, and
final states have no way out."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from bot.store.approvals import (
    TRANSITIONS,
    ApprovalRecord,
    ApprovalStore,
    IllegalTransitionError,
    State,
)
from bot.store.db import Database
from bot.store.models import Approval
from checks.errors import StoreError

T0 = datetime(2026, 11, 25, 8, tzinfo=UTC)
ALLOWED = sorted((a, b) for a, moves in TRANSITIONS.items() for b in moves)
ILLEGAL = sorted((a, b) for a, b in itertools.product(State, State) if b not in TRANSITIONS[a])
FINAL = {
    State.SUCCEEDED,
    State.FAILED,
    State.DENIED,
    State.EXPIRED,
    State.INTERRUPTED,
    State.OUTCOME_UNKNOWN,
}


def pair_id(pair: tuple[State, State]) -> str:
    return f"{pair[0].value}->{pair[1].value}"


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    # one database for the module: every case makes its own approval row
    path: Path = tmp_path_factory.mktemp("approval_states") / "wsusbot.sqlite"
    database = Database(f"sqlite:///{path}")
    database.migrate()
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def store(db: Database) -> ApprovalStore:
    return ApprovalStore(db)


def row_in(store: ApprovalStore, db: Database, state: State) -> ApprovalRecord:
    """A fresh approval already in ``state`` (set directly, not through the machine)."""
    created = store.create(
        host="xp01",
        fix_id="client.restart_wuauserv",
        requested_by="U0OPER",
        now=T0,
        expires_at=T0 + timedelta(hours=1),
        channel="C0WSUS",
        thread_ts="1.000001",
        run_id=None,
        context={"services.wuauserv.state": "Stopped"},
    )
    with db.session() as session:
        session.execute(update(Approval).where(Approval.id == created.id).values(state=state.value))
    record = store.get(created.id)
    assert record is not None
    assert record.state is state
    return record


def test_the_machine_is_the_documented_one() -> None:
    assert set(TRANSITIONS) == set(State)
    assert len(ALLOWED) + len(ILLEGAL) == len(State) ** 2
    assert {s for s in State if s.final} == FINAL | {State.WITHDRAWN}
    # nothing goes back to requested, and nothing stays where it is
    assert all(State.REQUESTED not in moves for moves in TRANSITIONS.values())
    assert all(state not in TRANSITIONS[state] for state in State)


def test_illegal_transition_error_is_a_store_error() -> None:
    assert issubclass(IllegalTransitionError, StoreError)


@pytest.mark.parametrize("pair", ILLEGAL, ids=pair_id)
def test_a_move_not_listed_raises_and_changes_nothing(
    store: ApprovalStore, db: Database, pair: tuple[State, State]
) -> None:
    old, new = pair
    before = row_in(store, db, old)
    with pytest.raises(IllegalTransitionError, match=f"{old.value} -> {new.value}"):
        store.transition(
            before.id, old, new, decided_by="U0APPR", finished_at=T0, error="must not be written"
        )
    assert store.get(before.id) == before


@pytest.mark.parametrize("pair", ALLOWED, ids=pair_id)
def test_a_listed_move_works_once(
    store: ApprovalStore, db: Database, pair: tuple[State, State]
) -> None:
    old, new = pair
    before = row_in(store, db, old)
    assert store.transition(before.id, old, new, decided_by="U0APPR", decided_at=T0) is True
    moved = store.get(before.id)
    assert moved is not None
    assert moved.state is new
    assert (moved.decided_by, moved.decided_at) == ("U0APPR", T0)
    # the same compare-and-set again: the row is no longer in ``old``, nobody wins
    assert store.transition(before.id, old, new, decided_by="U0OTHER") is False
    assert store.get(before.id) == moved


@pytest.mark.parametrize("pair", ALLOWED, ids=pair_id)
def test_a_listed_move_from_the_wrong_state_does_nothing(
    store: ApprovalStore, db: Database, pair: tuple[State, State]
) -> None:
    old, new = pair
    # the move is legal, but the row is not in ``old``: the compare-and-set misses
    other = next(s for s in State if s is not old)
    before = row_in(store, db, other)
    assert store.transition(before.id, old, new, error="lost") is False
    assert store.get(before.id) == before


@pytest.mark.parametrize("final", sorted(FINAL | {State.WITHDRAWN}))
def test_final_states_have_no_way_out(store: ApprovalStore, db: Database, final: State) -> None:
    assert final.final
    assert TRANSITIONS[final] == frozenset()
    before = row_in(store, db, final)
    for new in State:
        with pytest.raises(IllegalTransitionError):
            store.transition(before.id, final, new)
    assert store.get(before.id) == before


def test_expected_states_must_all_allow_the_move(store: ApprovalStore, db: Database) -> None:
    # requested -> approved is allowed, succeeded -> approved is not: the whole call is refused
    before = row_in(store, db, State.REQUESTED)
    with pytest.raises(IllegalTransitionError, match="succeeded -> approved"):
        store.transition(before.id, (State.REQUESTED, State.SUCCEEDED), State.APPROVED)
    assert store.get(before.id) == before


def test_a_tuple_of_expected_states_moves_from_any_of_them(
    store: ApprovalStore, db: Database
) -> None:
    # recovery interrupts approved and running rows with one call
    approved = row_in(store, db, State.APPROVED)
    running = row_in(store, db, State.RUNNING)
    requested = row_in(store, db, State.REQUESTED)
    expected = (State.APPROVED, State.RUNNING)
    for record in (approved, running):
        assert store.transition(record.id, expected, State.INTERRUPTED) is True
        assert store.transition(record.id, expected, State.INTERRUPTED) is False
    assert store.transition(requested.id, expected, State.INTERRUPTED) is False
    assert store.get(requested.id) == requested


def test_the_happy_paths_end_in_final_states(store: ApprovalStore, db: Database) -> None:
    paths = [
        [State.APPROVED, State.RUNNING, State.SUCCEEDED],
        [State.APPROVED, State.RUNNING, State.FAILED],
        [State.APPROVED, State.RUNNING, State.OUTCOME_UNKNOWN],
        [State.APPROVED, State.RUNNING, State.INTERRUPTED],
        [State.APPROVED, State.INTERRUPTED],
        [State.DENIED],
        [State.EXPIRED],
        [State.WITHDRAWN],
        [State.SUCCEEDED],
    ]
    for path in paths:
        record = row_in(store, db, State.REQUESTED)
        state = State.REQUESTED
        for new in path:
            assert store.transition(record.id, state, new) is True
            state = new
        assert state.final


def test_unknown_approval_moves_nothing(store: ApprovalStore) -> None:
    assert store.transition("apr_missing", State.REQUESTED, State.APPROVED) is False
