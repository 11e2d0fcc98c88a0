"""Governance actions of the attacker test, in one place (the timelock hook).

SPEC §8b: parameter changes, signer-set changes and listing go through a timelock. Until branch
`gov` (keel/governance.py) is merged, the deployment's owner is the governance EOA and `govern`
calls the contract directly. Once a timelock owns the contracts, `govern` is the only function to
change: schedule the call, let the delay pass (a market step: time moves, funding accrues, feeds
may need a fresh report), execute; it returns every receipt it produced, the last one being the
governed call's (or the execution's).
"""

from __future__ import annotations


def govern(world, contract: str, fn: str, *args) -> list:
    """Governance calls `contract.fn(*args)`; returns the receipts (the last one is the call's)."""
    return [world.send(world.eoa["gov"], contract, fn, *args)]


def uses_timelock(world) -> bool:
    """True when governance goes through a timelock (time passes on every governed call)."""
    return False
