"""Two-step ownership everywhere (SPEC §8b): Vault, Oracle, MarginEngine and Liquidator are
Ownable2Step: a transfer only names a pending owner, who alone can accept it."""

import pytest
from brownie import ZERO_ADDRESS

from tests.fixtures.governance import owned
from tests.support import reverts

NAMES = ["vault", "oracle", "engine", "liquidator"]


@pytest.fixture(params=NAMES)
def target(request, stack):
    return owned(stack)[request.param]


def test_every_owner_starts_as_the_deployer(stack, deployer):
    for c in owned(stack).values():
        assert c.owner() == deployer
        assert c.pendingOwner() == ZERO_ADDRESS


def test_transfer_alone_does_not_change_the_owner(target, deployer, alice):
    tx = target.transferOwnership(alice, {"from": deployer})
    assert tx.events["OwnershipTransferStarted"] == {"previousOwner": deployer, "newOwner": alice}
    assert "OwnershipTransferred" not in tx.events
    assert target.owner() == deployer
    assert target.pendingOwner() == alice


def test_a_third_party_cannot_accept(target, deployer, alice, mallory):
    target.transferOwnership(alice, {"from": deployer})
    with reverts("OwnableUnauthorizedAccount", mallory.address):
        target.acceptOwnership({"from": mallory})
    with reverts("OwnableUnauthorizedAccount", deployer.address):
        target.acceptOwnership({"from": deployer})  # not even the current owner
    assert target.owner() == deployer
    assert target.pendingOwner() == alice


def test_the_pending_owner_accepts(target, deployer, alice):
    target.transferOwnership(alice, {"from": deployer})
    tx = target.acceptOwnership({"from": alice})
    assert tx.events["OwnershipTransferred"] == {"previousOwner": deployer, "newOwner": alice}
    assert target.owner() == alice
    assert target.pendingOwner() == ZERO_ADDRESS
    with reverts("OwnableUnauthorizedAccount", deployer.address):
        target.transferOwnership(deployer, {"from": deployer})


def test_a_new_transfer_replaces_the_pending_one(target, deployer, alice, bob):
    target.transferOwnership(alice, {"from": deployer})
    target.transferOwnership(bob, {"from": deployer})
    with reverts("OwnableUnauthorizedAccount", alice.address):
        target.acceptOwnership({"from": alice})
    target.acceptOwnership({"from": bob})
    assert target.owner() == bob


def test_only_the_owner_starts_a_transfer(target, deployer, mallory):
    with reverts("OwnableUnauthorizedAccount", mallory.address):
        target.transferOwnership(mallory, {"from": mallory})
    assert target.pendingOwner() == ZERO_ADDRESS
    assert target.owner() == deployer


def test_store_and_exchange_have_no_owner(stack):
    """RiskArrayStore and Exchange hold no owner power (their links are immutable)."""
    for c in (stack.store, stack.exchange):
        names = {f["name"] for f in c.abi if f["type"] == "function"}
        assert not names & {"owner", "transferOwnership", "acceptOwnership", "setParam"}
    assert stack.store.engine() == stack.engine
    assert stack.exchange.engine() == stack.engine
