"""Signed orders (SPEC §5): authentication, fill tracking, cancellation, nonce floors. INV-7."""

import re

import brownie
import pytest
from brownie import chain

from keel.deploy_engine import signing_key
from keel.eip712 import to_high_s
from keel.orders import Order, fill_args
from tests.fixtures.engine import BTC
from tests.support import reverts
from tests.unit.engine.helpers import WAD, b32

S = 60_000 * WAD


@pytest.fixture
def order(alice_pm):
    return Order(alice_pm[0], BTC, 2 * WAD, S, nonce=1, salt=7)


def fill(stack, order, signer, taker, amount, sig=None):
    sig = sig or order.sign(signing_key(signer), stack.domain())
    return stack.exchange.fill(*fill_args(order, sig, taker[0], amount), {"from": taker[1]})


def test_order_hash_matches_python(stack, order):
    assert stack.exchange.orderHash(order.as_tuple()) == "0x" + order.digest(stack.domain()).hex()


def test_partial_fills_then_overfill_reverts(stack, order, alice, bob_pm):
    fill(stack, order, alice, bob_pm, WAD)
    fill(stack, order, alice, bob_pm, WAD // 2)
    h = stack.exchange.orderHash(order.as_tuple())
    assert stack.exchange.filled(h) == 3 * WAD // 2
    with reverts("OrderOverfilled", b32(h), 3 * WAD // 2, WAD, 2 * WAD):
        fill(stack, order, alice, bob_pm, WAD)


def test_replayed_order_reverts(stack, order, alice, bob_pm):
    """INV-7: a fully filled order cannot be replayed."""
    fill(stack, order, alice, bob_pm, 2 * WAD)
    h = stack.exchange.orderHash(order.as_tuple())
    with reverts("OrderOverfilled", b32(h), 2 * WAD, 2 * WAD, 2 * WAD):
        fill(stack, order, alice, bob_pm, 2 * WAD)


def test_signature_of_stranger_reverts(stack, order, mallory, bob_pm, alice_pm):
    """INV-7: only the maker's owner or a RIGHT_TRADE operator may sign for it."""
    with reverts("UnauthorisedSigner", alice_pm[0], mallory.address):
        fill(stack, order, mallory, bob_pm, WAD)


def test_high_s_signature_reverts(stack, order, alice, bob_pm):
    sig = to_high_s(order.sign(signing_key(alice), stack.domain()))
    h = stack.exchange.orderHash(order.as_tuple())
    with reverts("InvalidSignature", b32(h)):
        fill(stack, order, alice, bob_pm, WAD, sig=sig)


def test_tampered_order_reverts(stack, order, alice, bob_pm, alice_pm):
    """A signature over other terms recovers to another address."""
    sig = order.sign(signing_key(alice), stack.domain())
    bigger = order.replace(size=20 * WAD)
    with brownie.reverts(revert_pattern=rf"UnauthorisedSigner: {alice_pm[0]}, 0x[0-9a-f]{{40}}"):
        fill(stack, bigger, alice, bob_pm, WAD, sig=sig)


def test_trade_operator_signs_and_fills(stack, order, alice, carol, bob, alice_pm, bob_pm):
    stack.vault.setOperator(alice_pm[0], carol, 1, {"from": alice})
    stack.vault.setOperator(bob_pm[0], carol, 1, {"from": bob})
    fill(stack, order, carol, (bob_pm[0], carol), WAD)
    assert stack.engine.perpPosition(alice_pm[0], BTC)[0] == WAD


def test_withdraw_operator_cannot_trade(stack, order, alice, carol, alice_pm, bob_pm):
    stack.vault.setOperator(alice_pm[0], carol, 2, {"from": alice})
    with reverts("UnauthorisedSigner", alice_pm[0], carol.address):
        fill(stack, order, carol, bob_pm, WAD)


def test_taker_must_be_authorised(stack, order, alice, mallory, bob_pm):
    """INV-7: nobody fills for an account they do not control."""
    with reverts("NotAuthorised", bob_pm[0], mallory.address):
        fill(stack, order, alice, (bob_pm[0], mallory), WAD)


def test_zero_fill_reverts(stack, order, alice, bob_pm):
    with brownie.reverts("ZeroFill: "):
        fill(stack, order, alice, bob_pm, 0)


def test_self_trade_reverts(stack, order, alice, alice_pm):
    with reverts("SelfTrade", alice_pm[0]):
        fill(stack, order, alice, alice_pm, WAD)


def test_cancelled_order_reverts(stack, order, alice, bob_pm):
    stack.exchange.cancel(order.as_tuple(), {"from": alice})
    h = stack.exchange.orderHash(order.as_tuple())
    assert stack.exchange.cancelled(h)
    with reverts("OrderIsCancelled", b32(h)):
        fill(stack, order, alice, bob_pm, WAD)


def test_stranger_cannot_cancel(stack, order, mallory, alice_pm):
    with reverts("NotAuthorised", alice_pm[0], mallory.address):
        stack.exchange.cancel(order.as_tuple(), {"from": mallory})


def test_nonce_floor_invalidates_older_orders(stack, order, alice, bob_pm, alice_pm):
    stack.exchange.raiseNonceFloor(alice_pm[0], 2, {"from": alice})
    h = stack.exchange.orderHash(order.as_tuple())
    with reverts("NonceBelowFloor", b32(h), 1, 2):
        fill(stack, order, alice, bob_pm, WAD)
    fill(stack, order.replace(nonce=2), alice, bob_pm, WAD)


def test_nonce_floor_only_rises(stack, alice, alice_pm, mallory):
    stack.exchange.raiseNonceFloor(alice_pm[0], 5, {"from": alice})
    with reverts("NonceFloorNotRaised", alice_pm[0], 5, 5):
        stack.exchange.raiseNonceFloor(alice_pm[0], 5, {"from": alice})
    with reverts("NotAuthorised", alice_pm[0], mallory.address):
        stack.exchange.raiseNonceFloor(alice_pm[0], 9, {"from": mallory})


def test_expired_order_reverts(stack, order, alice, bob_pm):
    expired = order.replace(expiry=chain[-1].timestamp - 1)
    h = stack.exchange.orderHash(expired.as_tuple())
    with brownie.reverts(
        revert_pattern=rf"OrderExpired: {re.escape(b32(h))}, {expired.expiry}, \d+"
    ):
        fill(stack, expired, alice, bob_pm, WAD)


def test_engine_fill_only_from_exchange(stack, mallory, alice_pm, bob_pm):
    """INV-7: executeFill is the exchange's alone."""
    with reverts("Unauthorised", mallory.address):
        stack.engine.executeFill(
            (alice_pm[0], bob_pm[0], BTC, WAD, S, False, False), {"from": mallory}
        )
