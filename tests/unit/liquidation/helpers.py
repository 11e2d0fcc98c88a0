"""Chain helpers of the liquidation tests: exact block times, whole-state snapshots, prices that
put an account exactly on a margin boundary, transactions mined in one block."""

from __future__ import annotations

import brownie
from brownie import chain, web3

USDC = 10**6


def next_block_at(ts: int) -> None:
    """The next block (the next transaction's) is mined at exactly `ts`."""
    web3.provider.make_request("evm_setNextBlockTimestamp", [ts])


def now() -> int:
    return chain[-1].timestamp


def account_state(stack, account_id: int) -> dict:
    """Everything the Vault and the engine hold for one account: cash (and its principal), every
    listed collateral balance, every perp (size, entry, funding index at entry) and option
    position. Two equal states mean nothing of the account moved."""
    from keel.deploy_engine import BTC, ETH

    vault, engine = stack.vault, stack.engine
    options = {}
    for feed in engine.accountUnderlyings(account_id):
        for sid in engine.accountSeries(account_id, feed):
            options[int(sid)] = int(engine.optionPosition(account_id, sid))
    return {
        "cash": int(vault.cashOf(account_id)),
        "principal": int(vault.cashPrincipal(account_id)),
        "collateral": {
            str(t): int(vault.collateralBalance(account_id, t)) for t in vault.listedAssets()
        },
        "assets": [str(t) for t in vault.accountAssets(account_id)],
        "perps": {f: [int(x) for x in engine.perpPosition(account_id, f)] for f in (BTC, ETH)},
        "underlyings": sorted(int(f) for f in engine.accountUnderlyings(account_id)),
        "options": options,
    }


def protocol_state(stack, account_ids) -> dict:
    """account_state of each account, plus the insurance fund and the cash index."""
    return {
        "accounts": {a: account_state(stack, a) for a in account_ids},
        "fund": int(stack.vault.insuranceFund()),
        "cashIndex": int(stack.vault.cashIndex()),
    }


def btc_price_where(stack, account_id: int, figure, target: int, guess: int) -> int:
    """Reports BTC prices (fresh, ETH unchanged) until `figure(breakdown)` equals `target` exactly,
    and returns that price. `figure` of a long-BTC account (e.g. AE − IM) must rise with the price
    by 0 or 1 wei per wei (AE by 1, the margin by a fraction): secant steps get close, then steps
    of the remaining gap, which cannot overshoot."""
    from tests.fixtures.liquidation import breakdown, set_btc

    def gap(price):
        set_btc(stack, price)
        return figure(breakdown(stack, account_id)) - target

    p0, p1 = guess, guess + 10**21
    g0, g1 = gap(p0), gap(p1)
    for _ in range(40):
        if g1 == 0:
            return p1
        if abs(g1) > 10**6 and g1 != g0:
            step = -g1 * (p1 - p0) // (g1 - g0)
        else:
            step = -g1
        p0, g0 = p1, g1
        p1 = p1 + step
        g1 = gap(p1)
    raise AssertionError(f"no BTC price found with figure == {target} (last gap {g1})")


def fund_insurance(liq_stack, amount_usd: int):
    usdc, d = liq_stack.usdc, liq_stack.deployer
    usdc.mint(d, amount_usd * USDC, {"from": d})
    usdc.approve(liq_stack.vault, amount_usd * USDC, {"from": d})
    liq_stack.vault.fundInsurance(amount_usd * USDC, {"from": d})


def start_and_bid_in_one_block(liq_stack, liquidator, acct, starter, bidder):
    """startAuction (starter) then bidInsolvent (bidder, minReceipt 0) mined in one block, in that
    order: the bid runs at t = 0 since the start, where the insolvency bonus is 0."""
    auction_id = liquidator.auctionCount() + 1
    web3 = brownie.web3
    gas_price = web3.eth.gas_price
    web3.provider.make_request("evm_setAutomine", [False])
    try:
        opts = {"gas_limit": 3_000_000, "required_confs": 0, "allow_revert": True}
        tx_start = liquidator.startAuction(
            acct, starter[0], dict(opts, **{"from": starter[1], "gas_price": 3 * gas_price})
        )
        tx_bid = liquidator.bidInsolvent(
            acct,
            auction_id,
            bidder[0],
            0,
            dict(opts, **{"from": bidder[1], "gas_price": gas_price}),
        )
        web3.provider.make_request("evm_mine", [])
    finally:
        web3.provider.make_request("evm_setAutomine", [True])
    tx_start.wait(1)
    tx_bid.wait(1)
    assert tx_start.block_number == tx_bid.block_number and tx_start.txindex < tx_bid.txindex
    assert tx_start.status == 1 and tx_bid.status == 1
    return tx_start, tx_bid
