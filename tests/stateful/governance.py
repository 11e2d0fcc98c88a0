"""Governance actions of the attacker test, in one place (the timelock hook).

SPEC §8b: parameter changes, signer-set changes and listing go through a timelock. When the
deployment has one (keel.governance and KeelTimelock, branch `gov`), `build_world` hands every owner
power to a KeelTimelock with a short delay (GOV_DELAY) after naming the governance EOA lister and
guardian, and `govern` schedules the call from the proposer (the governance EOA), lets the delay
pass (time moves: a market step, funding accrues, the relayer may have to report again) and
executes it. Without a timelock (the protocol before branch `gov`), the owner calls directly.
"""

from __future__ import annotations

import itertools

GOV_DELAY = 600  # the test timelock's delay (SPEC §8b allows a short one in tests)   [s]
_SALTS = itertools.count(1)


def has_timelock(project) -> bool:
    try:
        import keel.governance  # noqa: F401
    except ImportError:
        return False
    return "KeelTimelock" in project.keys()


def hand_over_to_timelock(stack, gov) -> object:
    """Lister and guardian first (owner powers), then every owner power to a new timelock.
    Returns the KeelTimelock (brownie contract). Setup only: brownie transactions."""
    from keel.governance import ANYONE, deploy_timelock, hand_over

    tx = {"from": gov}
    stack.engine.setLister(gov, True, tx)
    stack.engine.setGuardian(gov, tx)
    timelock = deploy_timelock(gov, GOV_DELAY, [gov], [ANYONE])
    owned = [stack.vault, stack.oracle, stack.engine, stack.liquidator]
    hand_over(timelock, owned, gov, owner=gov)
    return timelock


def govern(world, contract: str, fn: str, *args) -> list:
    """Governance calls `contract.fn(*args)`; returns the receipts (the last one is the call's,
    or the timelock's execution of it)."""
    if world.timelock is None:
        return [world.send(world.eoa["gov"], contract, fn, *args)]
    from keel.governance import Call, operation_args

    gov = world.eoa["gov"]
    target = world.c[contract]
    call = Call(target.address, target.fn(fn).data(*args), 0)
    args_ = list(operation_args([call], salt=next(_SALTS)))
    args_[2] = bytes.fromhex(args_[2].removeprefix("0x"))  # calldata: bytes for eth_abi
    scheduled = world.rpc.send(gov, world.timelock.fn("schedule"), *args_, GOV_DELAY)
    if not scheduled.ok:
        return [scheduled]
    world.rpc.next_block_at(world.rpc.now() + GOV_DELAY)
    return [scheduled, world.rpc.send(gov, world.timelock.fn("execute"), *args_)]


def uses_timelock(world) -> bool:
    """True when governance goes through a timelock (time passes on every governed call)."""
    return world.timelock is not None
