"""Reads accounts and the market off the chain into the reference model's inputs (keel.risk).

Everything is read at one block (`block_identifier`), so that funding accrued "now" and the margin
breakdown see the same block time. Token names in the model are the token addresses. Funding owed
is not read: the reader takes each position's index at entry and each perp market's stored index,
mark and last accrual, and the model accrues the index to the block's time itself
(`keel.risk.chain_inputs.funding_from_chain`).
The shapes are those of `keel.risk.chain_inputs` (see its docstring).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

MARGIN_FIGURES = ("equity", "adjusted_equity", "im", "mm", "scan_risk", "som", "joint_loss")


def _call(fn, *args, block=None):
    return fn.call(*args, block_identifier=block) if block is not None else fn(*args)


def read_account(engine, vault, account_id: int, block=None) -> dict:
    """One account as plain chain integers (positions from the engine, balances from the vault)."""
    acc = {
        "id": int(account_id),
        "cash": int(_call(vault.cashOf, account_id, block=block)),
        "collateral": {},
        "perps": [],
        "options": [],
    }
    for token in _call(vault.accountAssets, account_id, block=block):
        amount = int(_call(vault.collateralBalance, account_id, token, block=block))
        if amount:
            acc["collateral"][str(token)] = amount
    store = None  # the engine's RiskArrayStore holds the series terms
    for feed in _call(engine.accountUnderlyings, account_id, block=block):
        feed = int(feed)
        size, entry, index_at_entry = _call(engine.perpPosition, account_id, feed, block=block)
        if size != 0:
            acc["perps"].append(
                {
                    "feedId": feed,
                    "size": int(size),
                    "entryPrice": int(entry),
                    "fundingIndexAtEntry": int(index_at_entry),
                }
            )
        for sid in _call(engine.accountSeries, account_id, feed, block=block):
            if store is None:
                from keel.chain import project

                store = project().RiskArrayStore.at(engine.store())
            s = _call(store.series, sid, block=block)
            acc["options"].append(
                {
                    "feedId": int(s[0]),
                    "expiry": int(s[1]),
                    "isCall": bool(s[2]),
                    "strike": int(s[3]),
                    "size": int(_call(engine.optionPosition, account_id, sid, block=block)),
                }
            )
    return acc


def read_market(engine, vault, oracle, accounts: Sequence[dict], feeds: Iterable[int], block=None):
    """(feeds, tokens, settlement haircut, settlement prices, params, correlations) as chain
    integers; feeds carry the raw σ and σ_floor medians ([v2] `volInputs`), correlations every
    reported pair of those feeds ([v2] `correlation`)."""
    feed_ids = set(int(f) for f in feeds)
    tokens = []
    settlement = str(_call(vault.settlementAsset, block=block))
    for token in _call(vault.listedAssets, block=block):
        if str(token) == settlement:
            continue
        cfg = _call(vault.assetConfig, token, block=block)
        tokens.append(
            {
                "token": str(token),
                "decimals": int(_call(vault.assetDecimals, token, block=block)),
                "priceFeed": int(cfg[0]),
                "linkedUnderlying": int(cfg[1]),
                "baseHaircut": int(cfg[2]),
                "maxHaircut": int(cfg[3]),
                "refVol": int(cfg[4]),
            }
        )
        feed_ids |= {int(cfg[0]), int(cfg[1])} - {0}
    for acc in accounts:
        feed_ids |= {p["feedId"] for p in acc["perps"]} | {o["feedId"] for o in acc["options"]}
    feeds_out = {}
    for f in sorted(feed_ids):
        st = _call(oracle.feed, f, block=block)
        vol, floor = (int(x) for x in _call(oracle.volInputs, f, block=block))
        feeds_out[f] = {
            "price": int(st[0]),
            "vol": vol,
            "volFloor": floor,
            "observedAt": int(st[2]),
        }
    correlations = {}
    for a in sorted(feed_ids):
        for b in sorted(feed_ids):
            if a < b:
                rho, _, round_ = _call(oracle.correlation, a, b, block=block)
                if round_:
                    correlations[a, b] = int(rho)
    settlement_prices = {}
    for acc in accounts:
        for o in acc["options"]:
            key = (o["feedId"], o["expiry"])
            price = int(_call(oracle.settlementPrice, *key, block=block))
            if price:
                settlement_prices[key] = price
    params = {
        "som_rate": int(_call(engine.somRate, block=block)),
        "mm_ratio": int(_call(engine.mmRatio, block=block)),
    }
    haircut = int(_call(vault.assetConfig, settlement, block=block)[2])
    return feeds_out, tokens, haircut, settlement_prices, params, correlations


def read_funding(engine, accounts: Sequence[dict], block=None):
    """(perp markets, funding cap [wad per hour], block time [unix s]) for the perps of `accounts`:
    the funding index inputs of SPEC §4 as chain integers (`keel.risk.chain_inputs` shapes)."""
    from brownie import web3

    markets = {}
    for f in sorted({p["feedId"] for acc in accounts for p in acc["perps"]}):
        _, last_accrual, _, mark, index = _call(engine.perpMarkets, f, block=block)
        markets[f] = {
            "fundingIndex": int(index),
            "lastAccrual": int(last_accrual),
            "mark": int(mark),
        }
    cap = int(_call(engine.fundingCapPerHour, block=block))
    now = int(web3.eth.get_block(block if block is not None else "latest").timestamp)
    return markets, cap, now


def reference_inputs(
    engine, vault, oracle, account_ids: Sequence[int], block=None, feeds: Iterable[int] = ()
):
    """(MarketState, Portfolios) of the reference model for `account_ids`, read at `block`; the
    market also carries `feeds` (e.g. those of proposed trades)."""
    from keel.risk.chain_inputs import funding_from_chain, market_from_reader, portfolios_from_chain

    if block is None:  # one block for every read, the funding clock included
        from brownie import web3

        block = web3.eth.block_number
    accounts = [read_account(engine, vault, a, block) for a in account_ids]
    market = market_from_reader(read_market(engine, vault, oracle, accounts, feeds, block))
    funding = funding_from_chain(*read_funding(engine, accounts, block), market)
    return market, portfolios_from_chain(accounts, market, funding)


def chain_breakdown(engine, account_id: int, block=None) -> dict:
    """marginBreakdown as wad ints keyed like keel.risk's AccountMargin."""
    b = _call(engine.marginBreakdown, account_id, block=block)
    out = dict(zip(MARGIN_FIGURES, (int(x) for x in b[:7]), strict=True))
    out["joint_worst"] = int(b[7])
    out["underlyings"] = {int(u[0]): (int(u[2]), int(u[3])) for u in b[8]}
    out["scan_ranges"] = {int(u[0]): int(u[1]) for u in b[8]}
    out["correlated_loss"] = int(b[9])
    return out
