"""The timelock (SPEC §8b): roles, the delay and its bound, operations that wait out the delay.

The sample operations call the timelock itself (`updateDelay`, which only an operation may call)
and a MockERC20 (`mint`, permissionless), so that these tests need no stack.
"""

import pytest
from brownie import MockERC20

from keel.governance import (
    ANYONE,
    DEFAULT_DELAY,
    call,
    cancel,
    deploy_timelock,
    execute,
    operation_args,
    operation_id,
    schedule,
    wait,
)
from tests.fixtures.governance import GOV_DELAY
from tests.support import reverts
from tests.unit.governance.helpers import READY, UNSET, b32, next_block_at, state_bitmap

MAX_DELAY = 30 * 86_400  # KeelTimelock.MAX_DELAY [s]


@pytest.fixture(scope="module")
def token(deployer):
    return MockERC20.deploy("Token", "TOK", 18, {"from": deployer})


def test_deploy_sets_delay_and_roles(gov_timelock, gov_proposer, deployer, mallory):
    tl = gov_timelock
    assert tl.getMinDelay() == GOV_DELAY
    assert tl.hasRole(tl.PROPOSER_ROLE(), gov_proposer)
    assert tl.hasRole(tl.CANCELLER_ROLE(), gov_proposer)
    assert tl.hasRole(tl.EXECUTOR_ROLE(), ANYONE)
    # the timelock administers itself: no account can grant roles without the delay
    assert tl.hasRole(tl.DEFAULT_ADMIN_ROLE(), tl)
    for who in (deployer, mallory):
        for role in (tl.DEFAULT_ADMIN_ROLE(), tl.PROPOSER_ROLE(), tl.CANCELLER_ROLE()):
            assert not tl.hasRole(role, who)


def test_default_delay_is_24_hours(deployer, gov_proposer):
    tl = deploy_timelock(deployer, proposers=[gov_proposer], executors=[gov_proposer])
    assert tl.getMinDelay() == DEFAULT_DELAY == tl.DEFAULT_DELAY() == 86_400


def test_delay_bound_at_deployment(deployer, gov_proposer):
    assert tl_delay(deploy_timelock(deployer, MAX_DELAY, [gov_proposer])) == MAX_DELAY
    with reverts("KeelTimelockDelayTooLong", MAX_DELAY + 1, MAX_DELAY):
        deploy_timelock(deployer, MAX_DELAY + 1, [gov_proposer])


def tl_delay(tl) -> int:
    assert tl.MAX_DELAY() == MAX_DELAY
    return tl.getMinDelay()


def test_only_a_proposer_schedules(gov_timelock, mallory, gov_guardian):
    tl = gov_timelock
    for who in (mallory, gov_guardian):
        with reverts("AccessControlUnauthorizedAccount", who.address, b32(tl.PROPOSER_ROLE())):
            schedule(tl, call(tl.updateDelay, 1), who)


def test_schedule_below_the_delay_reverts(gov_timelock, gov_proposer):
    tl = gov_timelock
    with reverts("TimelockInsufficientDelay", GOV_DELAY - 1, GOV_DELAY):
        schedule(tl, call(tl.updateDelay, 1), gov_proposer, delay=GOV_DELAY - 1)
    op = schedule(tl, call(tl.updateDelay, 1), gov_proposer, delay=GOV_DELAY)
    assert tl.isOperationPending(op.id)


def test_execute_waits_for_the_delay(gov_timelock, gov_proposer):
    """One second before `ready_at` the operation reverts and the delay is unchanged; at `ready_at`
    it runs."""
    tl = gov_timelock
    op = schedule(tl, call(tl.updateDelay, 2 * GOV_DELAY), gov_proposer)
    with reverts("TimelockUnexpectedOperationState", b32(op.id), state_bitmap(READY)):
        execute(tl, op, gov_proposer)  # at once
    next_block_at(op.ready_at - 1)
    with reverts("TimelockUnexpectedOperationState", b32(op.id), state_bitmap(READY)):
        execute(tl, op, gov_proposer)
    assert tl.getMinDelay() == GOV_DELAY
    next_block_at(op.ready_at)
    tx = execute(tl, op, gov_proposer)
    assert tx.timestamp == op.ready_at
    assert tx.events["MinDelayChange"] == {"oldDuration": GOV_DELAY, "newDuration": 2 * GOV_DELAY}
    assert tl.getMinDelay() == 2 * GOV_DELAY
    assert tl.isOperationDone(op.id)


def test_executed_operation_cannot_run_again(gov_timelock, gov_proposer):
    tl = gov_timelock
    op = schedule(tl, call(tl.updateDelay, 1_000), gov_proposer)
    wait(op)
    execute(tl, op, gov_proposer)
    with reverts("TimelockUnexpectedOperationState", b32(op.id), state_bitmap(READY)):
        execute(tl, op, gov_proposer)


def test_update_delay_only_through_the_timelock(gov_timelock, gov_proposer):
    with reverts("TimelockUnauthorizedCaller", gov_proposer.address):
        gov_timelock.updateDelay(1, {"from": gov_proposer})
    assert gov_timelock.getMinDelay() == GOV_DELAY


def test_cancelled_operation_never_runs(gov_timelock, gov_proposer, mallory):
    tl = gov_timelock
    op = schedule(tl, call(tl.updateDelay, 1), gov_proposer)
    with reverts("AccessControlUnauthorizedAccount", mallory.address, b32(tl.CANCELLER_ROLE())):
        cancel(tl, op, mallory)
    tx = cancel(tl, op, gov_proposer)
    assert tx.events["Cancelled"]["id"] == op.id
    wait(op)
    with reverts("TimelockUnexpectedOperationState", b32(op.id), state_bitmap(READY)):
        execute(tl, op, gov_proposer)
    assert tl.getMinDelay() == GOV_DELAY


def test_same_calls_scheduled_again_get_a_fresh_salt(gov_timelock, gov_proposer):
    """keel.governance picks the first unused salt: a change scheduled twice (a parameter set back
    and forth) never collides with the first operation (TimelockUnexpectedOperationState Unset)."""
    tl = gov_timelock
    c = call(tl.updateDelay, 1)
    first = schedule(tl, c, gov_proposer)
    second = schedule(tl, c, gov_proposer)
    assert first.salt == (0).to_bytes(32, "big")
    assert second.salt == (1).to_bytes(32, "big")
    assert first.id != second.id
    assert tl.isOperationPending(first.id) and tl.isOperationPending(second.id)
    # the same salt again is refused by the timelock itself
    with reverts("TimelockUnexpectedOperationState", b32(first.id), state_bitmap(UNSET)):
        schedule(tl, c, gov_proposer, salt=0)


def test_batch_runs_every_call_in_order(gov_timelock, gov_proposer, token, alice):
    tl = gov_timelock
    op = schedule(
        tl, [call(token.mint, alice, 5 * 10**18), call(tl.updateDelay, 900)], gov_proposer
    )
    assert op.batch
    wait(op)
    tx = execute(tl, op, gov_proposer)
    assert [e["index"] for e in tx.events["CallExecuted"]] == [0, 1]
    assert token.balanceOf(alice) == 5 * 10**18
    assert tl.getMinDelay() == 900


def test_anyone_executes_when_the_executor_role_is_open(gov_timelock, gov_proposer, mallory):
    tl = gov_timelock
    op = schedule(tl, call(tl.updateDelay, 700), gov_proposer)
    wait(op)
    execute(tl, op, mallory)
    assert tl.getMinDelay() == 700


def test_closed_executor_role(deployer, gov_proposer, mallory):
    tl = deploy_timelock(deployer, GOV_DELAY, [gov_proposer], [gov_proposer])
    op = schedule(tl, call(tl.updateDelay, 700), gov_proposer)
    wait(op)
    with reverts("AccessControlUnauthorizedAccount", mallory.address, b32(tl.EXECUTOR_ROLE())):
        execute(tl, op, mallory)
    execute(tl, op, gov_proposer)
    assert tl.getMinDelay() == 700


def test_operation_ids_are_computed_as_the_timelock_does(gov_timelock, gov_proposer, token, alice):
    """keel.governance.operation_id is pure (clients with their own RPC layer use it) and agrees
    with hashOperation / hashOperationBatch and with the id the timelock schedules under."""
    tl = gov_timelock
    one = [call(tl.updateDelay, 5)]
    two = [call(token.mint, alice, 7), call(tl.updateDelay, 5)]
    pred, salt = b"\x01" * 32, 9
    assert operation_id(one, pred, salt) == tl.hashOperation(*operation_args(one, pred, salt))
    assert operation_id(two, pred, salt) == tl.hashOperationBatch(*operation_args(two, pred, salt))
    op = schedule(tl, two, gov_proposer)
    assert tl.getTimestamp(op.id) == op.ready_at > 0
    assert tl.getOperationState(op.id) == 1  # Waiting
