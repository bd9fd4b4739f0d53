"""Fix leases: a replica renews the lease of the fix it runs; due work interrupts a fix
whose lease lapsed (its replica is gone) within a minute, and never a live one's."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from bot.store.approvals import State
from bot.usecases.approvals import common
from bot.usecases.approvals.common import LEASE, lease_kept
from bot.usecases.approvals.decide import Decision
from bot.usecases.approvals.recovery import orphan_age, recover_after_restart
from tests.bot.usecases.test_approvals import APPR, Env, press, requested


def approved(env: Env) -> str:
    view = requested(env)
    assert press(env, view, Decision.APPROVE, APPR) is None
    return view.approval_id


def test_approval_takes_a_lease_for_this_replica(env: Env) -> None:
    record = env.stored(approved(env))
    assert record.state is State.APPROVED
    assert record.lease_owner == env.ctx.replica
    assert record.lease_until == env.clock() + LEASE


def test_a_renewed_lease_is_never_interrupted_however_long_the_fix(env: Env) -> None:
    approval_id = approved(env)
    env.services.approvals.transition(approval_id, State.APPROVED, State.RUNNING)
    # an hour of running, renewed every ten seconds: far past the old orphan age
    for _ in range(360):
        env.clock.advance(timedelta(seconds=10))
        assert env.services.approvals.renew_lease(approval_id, env.ctx.replica, env.clock() + LEASE)
        recover_after_restart(env.ctx)
    assert env.clock() - env.stored(approval_id).decided_at > orphan_age(env.ctx)  # type: ignore[operator]
    assert env.stored(approval_id).state is State.RUNNING
    assert "fix_interrupted" not in env.actions()


@pytest.mark.parametrize("state", [State.APPROVED, State.RUNNING])
def test_a_lapsed_lease_is_interrupted_within_a_minute(env: Env, state: State) -> None:
    approval_id = approved(env)
    if state is State.RUNNING:
        env.services.approvals.transition(approval_id, State.APPROVED, State.RUNNING)
    env.clock.advance(LEASE - timedelta(seconds=1))
    recover_after_restart(env.ctx)
    assert env.stored(approval_id).state is state, "the lease has not lapsed yet"
    env.clock.advance(timedelta(seconds=2))
    recover_after_restart(env.ctx)
    record = env.stored(approval_id)
    assert record.state is State.INTERRUPTED
    assert env.actions().count("fix_interrupted") == 1
    assert env.card_updates()[-1].state == "interrupted"
    assert env.card_updates()[-1].token is None


def test_another_replicas_live_lease_is_left_alone(env: Env) -> None:
    approval_id = approved(env)
    env.services.approvals.transition(
        approval_id,
        State.APPROVED,
        State.RUNNING,
        lease_owner="replica-other",
        lease_until=env.clock() + LEASE,
    )
    env.clock.advance(timedelta(seconds=20))
    recover_after_restart(env.ctx)
    assert env.stored(approval_id).state is State.RUNNING
    # this replica cannot renew a lease it does not hold
    assert not env.services.approvals.renew_lease(approval_id, env.ctx.replica, env.clock() + LEASE)
    env.clock.advance(LEASE)
    recover_after_restart(env.ctx)
    assert env.stored(approval_id).state is State.INTERRUPTED


def test_lease_kept_renews_while_the_block_runs(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "RENEW_EVERY_S", 0.02)
    approval_id = approved(env)
    first = env.stored(approval_id).lease_until
    assert first is not None

    async def long_fix() -> None:
        async with lease_kept(env.ctx, approval_id):
            for _ in range(10):
                env.clock.advance(timedelta(seconds=10))
                await asyncio.sleep(0.03)

    asyncio.run(long_fix())
    renewed = env.stored(approval_id).lease_until
    assert renewed is not None
    assert renewed > first + timedelta(seconds=60)
    # after the block, nothing renews any more
    env.clock.advance(LEASE + timedelta(seconds=1))
    recover_after_restart(env.ctx)
    assert env.stored(approval_id).state is State.INTERRUPTED
