"""SPEC v2 §6 on chain: which accounts the correlation rule applies to (docs/CORRELATION.md §8).

An account with more than 4 underlyings (4 held, a fifth through linked collateral) gets no
correlation credit, SR = Σ L_u, and needs no ρ, so no margin check reverts for it; back at 4
underlyings the rule applies and needs every held pair's ρ fresh. Figures against the reference
model (keel.risk) read off the same block.
"""

from __future__ import annotations

import brownie
import pytest
from brownie import chain

from keel.deploy_engine import WAD, deploy_stack, deposit, open_account, push_prices, trade
from keel.deploy_vault import list_asset, volatile_config
from keel.risk.chain_inputs import agrees
from keel.risk.margin import compute_margin
from keel.risk_chain import chain_breakdown, reference_inputs

SPOTS = {1: 60_000, 2: 3_000, 3: 150, 4: 15, 5: 50}  # five underlyings [USD]
VOL = 6 * WAD // 10
F5 = 5  # the fifth underlying, reached through collateral only
HEARTBEAT = 3_600  # [s]


@pytest.fixture(scope="module")
def five(deployer, alice, bob):
    stack = deploy_stack(deployer, feeds={f: (s * WAD, VOL) for f, s in SPOTS.items()})
    token = brownie.project.get_loaded_projects()[0].MockERC20.deploy(
        "Five", "FIVE", 18, {"from": deployer}
    )
    list_asset(stack.vault, token, volatile_config(F5))
    stack.tokens["FIVE"] = token
    me = (open_account(stack, alice, {"USDC": 5_000_000}), alice)
    cp = (open_account(stack, bob, {"USDC": 50_000_000}), bob)
    # a hedged book on 4 underlyings: long 1 and 3, short 2 and 4, $60k of each
    for f, sign in ((1, 1), (2, -1), (3, 1), (4, -1)):
        trade(stack, me, cp, f, sign * 60_000 * WAD // SPOTS[f], SPOTS[f] * WAD)
    return stack, me


def figures(stack, account):
    got = chain_breakdown(stack.engine, account)
    market, books = reference_inputs(stack.engine, stack.vault, stack.oracle, [account])
    return got, compute_margin(market, books).account(0)


def test_five_underlyings_get_no_credit_and_need_no_correlation(five):
    stack, me = five
    deposit(stack, me[0], me[1], "FIVE", 100)  # $5,000 of collateral linked to underlying 5
    got, ref = figures(stack, me[0])
    losses = [loss for loss, _ in got["underlyings"].values()]
    assert sorted(got["underlyings"]) == [1, 2, 3, 4, F5]
    assert got["joint_loss"] < sum(losses)  # a hedge: v2 would credit it at 4 underlyings
    assert got["scan_risk"] == sum(losses) and got["correlated_loss"] == 0
    assert agrees(ref.scan_risk, got["scan_risk"] / WAD) and ref.correlated_loss == 0.0
    # no ρ is read: the breakdown stands with every correlation stale
    stack_corr, stack.correlations = stack.correlations, None
    try:
        chain.sleep(HEARTBEAT + 1)
        push_prices(stack, {f: (s * WAD, VOL) for f, s in SPOTS.items()})
        assert stack.oracle.isStale(1) is False
        with brownie.reverts(revert_pattern=r"StaleCorrelation: 1, 2, \d+, \d+"):
            stack.oracle.freshCorrelation(1, 2)
        assert chain_breakdown(stack.engine, me[0])["scan_risk"] == sum(losses)
        # back at 4 underlyings the rule applies and needs the held pairs' ρ: withdrawing the
        # fifth underlying's collateral waits for them
        units = stack.vault.collateralBalance(me[0], stack.tokens["FIVE"])
        with brownie.reverts(revert_pattern=r"StaleCorrelation: 1, 2, \d+, \d+"):
            stack.vault.withdraw(me[0], stack.tokens["FIVE"], units, me[1], {"from": me[1]})
    finally:
        stack.correlations = stack_corr
    push_prices(stack, {f: (s * WAD, VOL) for f, s in SPOTS.items()})
    stack.vault.withdraw(me[0], stack.tokens["FIVE"], units, me[1], {"from": me[1]})
    got, ref = figures(stack, me[0])
    losses = [loss for loss, _ in got["underlyings"].values()]
    assert sorted(got["underlyings"]) == [1, 2, 3, 4]
    assert got["correlated_loss"] > 0 and got["scan_risk"] < sum(losses)
    assert agrees(ref.scan_risk, got["scan_risk"] / WAD)
    assert agrees(ref.correlated_loss, got["correlated_loss"] / WAD)
