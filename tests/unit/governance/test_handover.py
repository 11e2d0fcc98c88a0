"""The timelock in front of every owner power (SPEC §8b).

After `keel.governance.hand_over` the timelock owns Vault, Oracle, MarginEngine and Liquidator:
every owner-only function reverts for the old owner and for an attacker with its exact error, and a
change scheduled through the timelock cannot run before the delay and does run after it. Every
state-changing function of every contract is classified below (owner power or not), so a new
owner function that is not behind the timelock fails `test_every_function_is_classified`.
"""

import pytest
from brownie import ZERO_ADDRESS, chain

from keel.deploy_vault import volatile_config
from keel.governance import call, execute, govern, hand_over, param_key, schedule
from tests.fixtures.governance import GOV_DELAY, owned
from tests.support import reverts
from tests.unit.governance.helpers import (
    OWNER,
    PUBLIC,
    READY,
    RESTRICTED,
    b32,
    next_block_at,
    state_bitmap,
    state_changing,
)

RESTRICTED_CALLS = [(c, fn) for c in RESTRICTED for fn in sorted(RESTRICTED[c])]


def contracts(stack) -> dict:
    return {**owned(stack), "store": stack.store, "exchange": stack.exchange}


@pytest.fixture(scope="module")
def handed(stack, gov_timelock, gov_proposer):
    """The engine fixture's stack, every owner power handed to the timelock."""
    hand_over(gov_timelock, owned(stack).values(), gov_proposer, owner=stack.deployer)
    return stack


@pytest.mark.parametrize("name", sorted(RESTRICTED))
def test_every_function_is_classified(stack, name):
    """Every state-changing function is either an owner power (tested below) or public; a new
    function fails here until it is classified."""
    fns = set(state_changing(contracts(stack)[name]))
    assert not set(RESTRICTED[name]) & PUBLIC[name]
    assert fns - set(RESTRICTED[name]) - PUBLIC[name] == set()


def test_the_timelock_owns_every_owned_contract(handed, gov_timelock):
    for c in owned(handed).values():
        assert c.owner() == gov_timelock
        assert c.pendingOwner() == ZERO_ADDRESS


@pytest.mark.parametrize("name,fn", RESTRICTED_CALLS)
def test_old_owner_and_attacker_lose_every_owner_power(handed, name, fn, deployer, mallory):
    c = contracts(handed)[name]
    if fn not in state_changing(c):
        pytest.skip(f"{name}.{fn} is not on this branch")
    args = state_changing(c)[fn]
    for who in (deployer, mallory):
        with reverts(RESTRICTED[name][fn], who.address):
            getattr(c, fn)(*args, {"from": who})


def test_the_proposer_holds_no_owner_power_directly(handed, gov_proposer):
    """Governance itself acts only through the timelock: its own account is refused as well."""
    e = handed.engine
    with reverts(OWNER, gov_proposer.address):
        e.setParam(param_key("somRate"), 2 * 10**16, {"from": gov_proposer})
    with reverts(OWNER, gov_proposer.address):
        handed.oracle.setParam(param_key("heartbeat"), 7_200, {"from": gov_proposer})


def _changes(stack):
    """Per contract: (the call of one parameter change, a reader of the parameter, old, new)."""
    weth_cap = lambda: int(stack.vault.assetConfig(stack.weth)[5])  # noqa: E731
    return {
        "vault": (
            call(stack.vault.setAssetConfig, stack.weth, volatile_config(2, cap=10**24).as_tuple()),
            weth_cap,
            2**128 - 1,
            10**24,
        ),
        "oracle": (
            call(stack.oracle.setParam, param_key("heartbeat"), 7_200),
            stack.oracle.heartbeat,
            3_600,
            7_200,
        ),
        "engine": (
            call(stack.engine.setParam, param_key("somRate"), 2 * 10**16),
            stack.engine.somRate,
            10**16,
            2 * 10**16,
        ),
        "liquidator": (
            call(stack.liquidator.setParam, param_key("fastDuration"), 1_200),
            stack.liquidator.fastDuration,
            900,
            1_200,
        ),
    }


@pytest.mark.parametrize("name", ["vault", "oracle", "engine", "liquidator"])
def test_a_change_waits_for_the_delay(handed, gov_timelock, gov_proposer, name):
    """Scheduled: nothing changes at once, nor one second before the delay has run; at the delay
    it takes effect."""
    change, read, old, new = _changes(handed)[name]
    assert read() == old
    op = schedule(gov_timelock, change, gov_proposer)
    assert op.ready_at == gov_timelock.getTimestamp(op.id) == chain[-1].timestamp + GOV_DELAY
    with reverts("TimelockUnexpectedOperationState", b32(op.id), state_bitmap(READY)):
        execute(gov_timelock, op, gov_proposer)
    next_block_at(op.ready_at - 1)
    with reverts("TimelockUnexpectedOperationState", b32(op.id), state_bitmap(READY)):
        execute(gov_timelock, op, gov_proposer)
    assert read() == old
    next_block_at(op.ready_at)
    tx = execute(gov_timelock, op, gov_proposer)
    assert tx.events["CallExecuted"]["target"] == change.target
    assert read() == new


def test_ownership_leaves_the_timelock_in_two_steps(handed, gov_timelock, gov_proposer, alice):
    """The timelock's own transfer is an operation too, and still needs the new owner's accept."""
    govern(gov_timelock, call(handed.oracle.transferOwnership, alice), gov_proposer)
    assert handed.oracle.owner() == gov_timelock
    assert handed.oracle.pendingOwner() == alice
    handed.oracle.acceptOwnership({"from": alice})
    assert handed.oracle.owner() == alice


def test_the_correlation_spread_changes_only_through_the_timelock(
    handed, gov_timelock, gov_proposer, deployer
):
    """[v2] maxCorrelationSpread (SPEC §3 correlation feed) is an owner parameter like the others:
    the old owner is refused, and a scheduled change lands at the delay, not one second before."""
    oracle = handed.oracle
    key = param_key("maxCorrelationSpread")
    with reverts(OWNER, deployer.address):
        oracle.setParam(key, 2 * 10**17, {"from": deployer})
    op = schedule(gov_timelock, call(oracle.setParam, key, 2 * 10**17), gov_proposer)
    next_block_at(op.ready_at - 1)
    with reverts("TimelockUnexpectedOperationState", b32(op.id), state_bitmap(READY)):
        execute(gov_timelock, op, gov_proposer)
    assert oracle.maxCorrelationSpread() == 10**17
    next_block_at(op.ready_at)
    execute(gov_timelock, op, gov_proposer)
    assert oracle.maxCorrelationSpread() == 2 * 10**17
