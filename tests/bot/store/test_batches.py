"""The batch store on SQLite and PostgreSQL: the state machine, one claim per host step
under concurrency, steps only start while the batch runs under the claiming executor."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from bot.store.batches import (
    BatchState,
    BatchStore,
    IllegalBatchTransitionError,
    Plan,
    StepState,
)
from bot.store.db import Database
from checks.errors import StoreError

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
PLAN = Plan(
    canary=1, wave_size=3, failure_threshold=1, pause_s=0, concurrency=2, host_deadline_s=60
)
HOSTS = [f"h{i:02d}" for i in range(8)]


def make(store: BatchStore) -> str:
    batch = store.create(
        fix_id="client.reset_au_state",
        source="group lab",
        requested_by="U1",
        now=NOW,
        expires_at=NOW + timedelta(hours=1),
        channel="C1",
        thread_ts=None,
        plan=PLAN,
        hosts=[(h, {"au.LastWaitTimeout": None}) for h in HOSTS],
        left_out=["wsus01"],
    )
    return batch.id


def running(store: BatchStore, owner: str = "r1:a") -> str:
    batch_id = make(store)
    assert store.transition(batch_id, BatchState.REQUESTED, BatchState.APPROVED, lease_owner=owner)
    assert store.transition(batch_id, BatchState.APPROVED, BatchState.RUNNING)
    return batch_id


def test_waves_and_left_out_are_stored(database: Database) -> None:
    store = BatchStore(database)
    batch_id = make(store)
    steps = store.steps(batch_id)
    assert [s.wave for s in steps] == [0, 1, 1, 1, 2, 2, 2, 3]
    record = store.get(batch_id)
    assert record is not None
    assert record.left_out == ("wsus01",)
    assert record.plan == PLAN
    assert store.counts(batch_id)[StepState.PENDING] == 8


def test_a_host_listed_twice_is_refused(database: Database) -> None:
    store = BatchStore(database)
    with pytest.raises(StoreError):
        store.create(
            fix_id="f.x",
            source="s",
            requested_by="U1",
            now=NOW,
            expires_at=NOW,
            channel=None,
            thread_ts=None,
            plan=PLAN,
            hosts=[("A", {}), ("a", {})],
        )


def test_illegal_moves_raise_and_change_nothing(database: Database) -> None:
    store = BatchStore(database)
    batch_id = make(store)
    with pytest.raises(IllegalBatchTransitionError):
        store.transition(batch_id, BatchState.REQUESTED, BatchState.RUNNING)
    with pytest.raises(IllegalBatchTransitionError):
        store.transition(batch_id, BatchState.COMPLETED, BatchState.RUNNING)
    record = store.get(batch_id)
    assert record is not None
    assert record.state is BatchState.REQUESTED


def test_only_one_of_many_approvals_wins(database: Database) -> None:
    store = BatchStore(database)
    batch_id = make(store)
    with ThreadPoolExecutor(10) as pool:
        won = list(
            pool.map(
                lambda i: store.transition(
                    batch_id, BatchState.REQUESTED, BatchState.APPROVED, decided_by=f"U{i}"
                ),
                range(20),
            )
        )
    assert won.count(True) == 1


def test_a_step_is_claimed_once_and_only_by_the_lease_owner(database: Database) -> None:
    store = BatchStore(database)
    batch_id = running(store)
    assert not store.claim_step(batch_id, "h00", "r2:b", NOW)
    with ThreadPoolExecutor(10) as pool:
        won = list(pool.map(lambda _: store.claim_step(batch_id, "h00", "r1:a", NOW), range(20)))
    assert won.count(True) == 1
    assert store.finish_step(batch_id, "h00", StepState.FIXED, now=NOW, detail="ok")
    # finished once: a second finish and a second claim both lose
    assert not store.finish_step(batch_id, "h00", StepState.FAILED, now=NOW, detail="no")
    assert not store.claim_step(batch_id, "h00", "r1:a", NOW)
    with pytest.raises(StoreError):
        store.finish_step(batch_id, "h01", StepState.SKIPPED, now=NOW, detail="x")


def test_no_step_starts_while_paused_and_started_steps_are_never_rerun(
    database: Database,
) -> None:
    store = BatchStore(database)
    batch_id = running(store)
    assert store.claim_step(batch_id, "h01", "r1:a", NOW)
    assert store.transition(batch_id, BatchState.RUNNING, BatchState.PAUSED)
    assert not store.claim_step(batch_id, "h02", "r1:a", NOW)
    # the executor died with h01 started: it is unverified, never pending again
    assert store.abandon_started(batch_id, "unknown", now=NOW) == ["h01"]
    assert store.transition(batch_id, BatchState.PAUSED, BatchState.RUNNING, lease_owner="r2:c")
    assert not store.claim_step(batch_id, "h01", "r2:c", NOW)
    assert not store.claim_step(batch_id, "h02", "r1:a", NOW)
    assert store.claim_step(batch_id, "h02", "r2:c", NOW)
    skipped = store.skip_pending(batch_id, "aborted", now=NOW)
    assert "h02" not in skipped
    assert len(skipped) == 6


def test_leases_are_renewed_by_their_owner_and_never_shortened(database: Database) -> None:
    store = BatchStore(database)
    batch_id = running(store)
    assert store.renew_lease(batch_id, "r1:a", NOW + timedelta(minutes=10))
    assert store.renew_lease(batch_id, "r1:a", NOW + timedelta(seconds=30))
    assert not store.renew_lease(batch_id, "r2:b", NOW + timedelta(hours=1))
    record = store.get(batch_id)
    assert record is not None
    assert record.lease_until == NOW + timedelta(minutes=10)


def test_follow_ups_are_claimed_once_and_flags_post_once(database: Database) -> None:
    store = BatchStore(database)
    batch_id = running(store)
    for host in ("h00", "h01"):
        assert store.claim_step(batch_id, host, "r1:a", NOW)
        assert store.finish_step(
            batch_id,
            host,
            StepState.FIXED,
            now=NOW,
            detail="ok",
            followup_due_at=NOW + timedelta(minutes=10),
        )
    assert store.claim_due_followups(NOW) == []
    later = NOW + timedelta(minutes=11)
    due = store.claim_due_followups(later)
    assert sorted(s.host for s in due) == ["h00", "h01"]
    assert store.claim_due_followups(later) == []
    assert not store.followups_done(batch_id)
    for step in due:
        store.finish_followup(step.id, "recovered", "ok")
    assert store.followups_done(batch_id)
    assert store.claim_flag(batch_id, "followups_posted")
    assert not store.claim_flag(batch_id, "followups_posted")
    with pytest.raises(StoreError):
        store.claim_flag(batch_id, "state")
