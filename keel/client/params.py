"""Every risk parameter of a deployment, read off the chain: Keel's published risk-parameter file.

Like an exchange's daily margin file: one JSON document a risk team can diff from day to day,
every value in the contract's own unit (wad fractions as decimals, seconds, USD), with the block
it was read at. `keel params` prints it; `keel.client.Keel.params()` returns it.
"""

from __future__ import annotations

from decimal import Decimal

WAD = 10**18
# name -> unit of each setParam parameter (the contracts' own docs); "wad": a fraction in wad,
# "usd": wad USD, "s": seconds, "n": a count, "units": wad contracts
ENGINE = {
    "somRate": "wad", "mmRatio": "wad", "makerFeeRate": "wad",
    "takerFeeRate": "wad", "optionFeeCap": "wad", "fundingCapPerHour": "wad", "markHalfLife": "s",
    "maxUnderlyings": "n", "maxSeriesPerUnderlying": "n", "maxExpiriesPerUnderlying": "n",
    "defaultSeriesOiCap": "units", "bandPerp": "wad", "bandOptAbs": "wad", "bandOptRel": "wad",
    "markReferenceNotional": "usd", "expiryTimeOfDay": "s", "maxHorizon": "s",
}  # fmt: skip
LIQUIDATOR = {
    "keeperFee": "usd", "startDiscount": "wad", "midDiscount": "wad", "fastDuration": "s",
    "slowDuration": "s", "penaltyRate": "wad", "buffer": "wad", "bonusRate": "wad",
    "bonusDuration": "s",
}  # fmt: skip
ORACLE = {
    "heartbeat": "s", "maxFutureDrift": "s", "jumpThreshold": "wad", "coolDown": "s",
    "maxSpread": "wad", "maxVolSpread": "wad", "settlementWindow": "s", "quorum": "n",
    "signerCount": "n",
}  # fmt: skip


def _human(value: int, unit: str):
    """wad and USD figures as exact decimal strings; counts and seconds as ints."""
    if unit in ("wad", "usd", "units"):
        return str(Decimal(int(value)) / WAD)
    return int(value)


def read_params(k) -> dict:
    """The risk-parameter file of the deployment `k` (a keel.client.Keel) at the latest block."""
    r = k.reader
    block = r.block()
    calls = (
        [r.c("engine", n) for n in ENGINE]
        + [r.c("liquidator", n) for n in LIQUIDATOR]
        + [r.c("oracle", n) for n in ORACLE]
    )
    vals = k.batch.values(calls, block["number"])
    e, rest = vals[: len(ENGINE)], vals[len(ENGINE) :]
    lq, orc = rest[: len(LIQUIDATOR)], rest[len(LIQUIDATOR) :]
    feeds = k.deployment["feeds"]
    tokens = k.deployment["tokens"]
    fv = k.batch.values(
        [r.c("oracle", "feedConfig", f) for f in feeds.values()]
        + [r.c("oracle", "feed", f) for f in feeds.values()]
        + [r.c("engine", "openInterest", f) for f in feeds.values()]
        + [r.c("vault", "assetConfig", t["address"]) for t in tokens.values()]
        + [r.c("vault", "haircut", t["address"]) for t in tokens.values()],
        block["number"],
    )
    n, m = len(feeds), len(tokens)
    cfgs, states, ois = fv[:n], fv[n : 2 * n], fv[2 * n : 3 * n]
    assets, haircuts = fv[3 * n : 3 * n + m], fv[3 * n + m :]
    return {
        "version": 1,
        "chain_id": k.chain_id,
        "block": block["number"],
        "timestamp": block["timestamp"],
        "contracts": k.addresses,
        "margin": {name: _human(v, ENGINE[name]) for name, v in zip(ENGINE, e, strict=True)},
        "liquidation": {
            name: _human(v, LIQUIDATOR[name]) for name, v in zip(LIQUIDATOR, lq, strict=True)
        },
        "oracle": {name: _human(v, ORACLE[name]) for name, v in zip(ORACLE, orc, strict=True)},
        "underlyings": {
            sym: {
                "feed_id": fid,
                "min_price": _human(cfg[0], "usd"),
                "max_price": _human(cfg[1], "usd"),
                "max_vol": _human(cfg[2], "wad"),
                "price": _human(st[0], "usd"),
                "vol": _human(st[1], "wad"),
                "observed_at": int(st[2]),
                "round": int(st[3]),
                "perp_long_open_interest": _human(oi[0], "units"),
                "perp_open_interest_cap": _human(oi[1], "units"),
            }
            for (sym, fid), cfg, st, oi in zip(feeds.items(), cfgs, states, ois, strict=True)
        },
        "collateral": {
            sym: {
                "address": t["address"],
                "decimals": int(t["decimals"]),
                "price_feed": int(a[0]),
                "linked_underlying": int(a[1]),
                "base_haircut": _human(a[2], "wad"),
                "max_haircut": _human(a[3], "wad"),
                "ref_vol": _human(a[4], "wad"),
                "cap": str(Decimal(int(a[5])) / 10 ** int(t["decimals"])),
                "enabled": bool(a[6]),
                "haircut_now": _human(h, "wad"),
            }
            for (sym, t), a, h in zip(tokens.items(), assets, haircuts, strict=True)
        },
    }
