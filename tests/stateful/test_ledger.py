"""The attacker's fair-P&L ledger (checks.Checker.check_attacker_pnl) on hand-made snapshots: it
flags each attack it is meant to catch, by the amount the attack took, and stays quiet on the
legitimate version of the same move (no chain: the snapshots and events are built here).
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.stateful.checks import Checker, Step, Violation
from tests.stateful.rpc import Event, Receipt
from tests.stateful.snapshot import AccountState, Snapshot
from tests.stateful.world import WAD, Account

A0, A1, VICTIM, X0 = 8, 9, 3, "0xattacker"
USDC = "0x" + "11" * 20


def usd(x) -> int:
    return int(x * WAD)


class FakeWorld:
    def __init__(self):
        self.accounts = {
            "A0": Account(A0, X0, "A0", True),
            "A1": Account(A1, X0, "A1", True),
            "T2": Account(VICTIM, "0xvictim", "T2", False),
        }
        self.c = {"usdc": SimpleNamespace(address=USDC)}

    def attacker_ids(self):
        return {a.id for a in self.accounts.values() if a.attacker}

    def by_id(self, account_id):
        return next(a for a in self.accounts.values() if a.id == account_id)


def state(acct: int, E, AE=None, IM=0, auction=0) -> AccountState:  # noqa: N803 - SPEC names
    E = usd(E)
    AE = E if AE is None else usd(AE)
    return AccountState(
        acct, (E, AE, usd(IM), usd(IM) * 8 // 10), 0, 0, 0, {}, {}, {}, (auction, 0, 0)
    )


def snap(*states: AccountState) -> Snapshot:
    return Snapshot(
        0, {s.id: s for s in states}, {}, 0, WAD, 0, {}, {}, {}, {}, {}, {}, 0, {}, {}, 3600
    )


def step(rule: str, *events: Event, kind: str = "action", actor: str = "attacker") -> Step:
    r = Receipt("0x", X0, "0x", rule, 1, 100_000, 16_777_216, list(events))
    return Step(rule, actor, kind, [r])


def traded(maker, taker, maker_fee=0, taker_fee=0) -> Event:
    args = dict(makerAccount=maker, takerAccount=taker, makerFee=usd(maker_fee))
    args.update(takerFee=usd(taker_fee), instrument=1, makerSize=WAD, price=usd(60_000))
    return Event("MarginEngine", "Traded", "0x", args)


def solvent_bid(target, bidder, fraction, equity, discount, penalty_rate=0.02) -> Event:
    f, e = int(fraction * WAD), usd(equity)
    payment = f * e // WAD * int((1 - discount) * 10**6) // 10**6
    args = dict(accountId=target, bidderAccount=bidder, fraction=f, discount=int(discount * WAD))
    args.update(equity=e, payment=payment, penalty=int(f * e // WAD * penalty_rate))
    return Event("Liquidator", "SolventBid", "0x", args)


def started(target, starter) -> Event:
    args = dict(accountId=target, starterAccount=starter, auctionId=1, keeperFee=usd(5))
    return Event("Liquidator", "AuctionStarted", "0x", args)


def run(steps) -> Checker:
    """Feeds (step, snapshot) pairs to a strict checker after a first snapshot."""
    checker = Checker(FakeWorld(), "strict")
    checker.prev = steps[0]
    for st_, sn in steps[1:]:
        checker.check_attacker_pnl(st_, checker.prev, sn)
        checker.prev = sn
    return checker


def test_moving_value_out_of_an_own_account_that_stays_above_im_is_a_withdrawal():
    """An off-market fill A0 → A1 of $8,000 that leaves A0 at/above IM (fees $10 each) is what a
    withdrawal down to IM and a deposit could do: a later gap that makes A0 insolvent is the
    market's, as it would be after the withdrawal."""
    run(
        [
            snap(state(A0, 10_000, IM=1_000), state(A1, 50_000)),
            (
                step("atk_offmarket", traded(A0, A1, 10, 10)),
                snap(state(A0, 1_990, IM=1_000), state(A1, 57_990)),
            ),
            (step("market_move", kind="market"), snap(state(A0, -1_010), state(A1, 60_990))),
        ]
    )


def test_a_drain_below_im_that_later_becomes_bad_debt_is_caught_by_the_bad_debt_it_caused():
    """Attack 1: A0 gives A1 $8,000 off-market and ends below IM; a $3,000 move later makes A0
    insolvent (E −1,010). Without the drain A0 would still have E 6,990: the whole −1,010 is the
    drain's doing. While A0 stays solvent the check is quiet."""
    steps = [
        snap(state(A0, 10_000, IM=5_000), state(A1, 50_000)),
        (
            step("atk_offmarket", traded(A0, A1, 10, 10)),
            snap(state(A0, 1_990, IM=5_000), state(A1, 57_990)),
        ),
        (step("market_move", kind="market"), snap(state(A0, 990, IM=5_000), state(A1, 58_990))),
    ]
    run(steps)
    crash = (step("market_move", kind="market"), snap(state(A0, -1_010), state(A1, 60_990)))
    with pytest.raises(Violation, match=r"exceeds its fair P&L by 1010\.0"):
        run(steps + [crash])


def test_the_same_move_without_the_drain_is_the_market():
    """The same accounts and move, fills at the model price only: an insolvency from a price gap
    alone is the protocol's risk, not an attacker's gain."""
    run(
        [
            snap(state(A0, 2_000), state(A1, 50_000)),
            (step("market_move", kind="market"), snap(state(A0, -1_000), state(A1, 53_000))),
        ]
    )


def test_an_operator_fill_at_the_victims_expense_is_caught():
    """Attack 7: through the trade-only right, the victim sells to A1 $2,000 below the model
    price; the attacker's fair change is its fee only."""
    with pytest.raises(Violation, match=r"exceeds its fair P&L by 2000\.0"):
        run(
            [
                snap(state(A1, 50_000), state(VICTIM, 200_000)),
                (
                    step("atk_operator_drain", traded(VICTIM, A1, 10, 10)),
                    snap(state(A1, 51_990), state(VICTIM, 197_990)),
                ),
            ]
        )


@pytest.mark.parametrize(
    ("ae", "im", "flagged"),
    [(90_000, 100_000, False), (100_000, 100_000, True), (110_000, 100_000, True)],
)
def test_a_discount_is_earned_only_below_im(ae, im, flagged):
    """Attack 2: a bid of half the account at a 30% discount earns f·E·(d − p) = $14,000 on an
    account below IM; on an account at or above IM (cured) it earns nothing but the penalty."""
    bid = solvent_bid(VICTIM, A1, 0.5, 100_000, 0.30)
    gain = 50_000 * 0.30 - 1_000
    steps = [
        snap(state(A1, 500_000), state(VICTIM, 100_000, AE=ae, IM=im, auction=1)),
        (
            step("atk_bid", bid),
            snap(state(A1, 500_000 + gain), state(VICTIM, 65_000, auction=1)),
        ),
    ]
    if flagged:
        with pytest.raises(Violation, match=r"exceeds its fair P&L by 15000\.0"):
            run(steps)
    else:
        run(steps)


@pytest.mark.parametrize(("equity", "flagged"), [(5, False), (3.2, True)])
def test_a_keeper_fee_on_an_own_dust_account_is_caught_beyond_its_equity(equity, flagged):
    """Attack 10: A0 starts an auction on its own dust account A1 and takes the $5 fee; beyond
    A1's positive equity the fee is the insurance fund's money."""
    steps = [
        snap(state(A0, 1_000), state(A1, equity, IM=10)),
        (step("atk_start_auction", started(A1, A0)), snap(state(A0, 1_005), state(A1, equity - 5))),
    ]
    if flagged:
        with pytest.raises(Violation, match=r"exceeds its fair P&L by 1\.8"):
            run(steps)
    else:
        run(steps)


def test_withdrawn_taint_still_counts():
    """The victim's $2,000 taken through the operator right and withdrawn is still excess (the
    ledger is strict only from the first flag, so this runs in survey mode)."""
    checker = Checker(FakeWorld(), "survey")
    checker.prev = snap(state(A1, 1_000), state(VICTIM, 200_000))
    s1 = snap(state(A1, 3_000), state(VICTIM, 198_000))
    checker.check_attacker_pnl(step("atk_operator_drain", traded(VICTIM, A1)), checker.prev, s1)
    assert checker.counts["ATTACKER-PNL"] == 1
    checker.taint = {A1: usd(2_000)}  # as before the flag reset the ledger
    w = Event(
        "Vault", "Withdrawn", "0x", dict(accountId=A1, token=USDC, to=X0, amount=3_000 * 10**6)
    )
    s2 = snap(state(A1, 0), state(VICTIM, 198_000))
    checker.check_attacker_pnl(step("atk_withdraw", w), s1, s2)
    assert checker.counts["ATTACKER-PNL"] == 2
