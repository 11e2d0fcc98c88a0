"""Margin-engine gas benchmark (`python -m keel.bench.engine_gas`): writes reports/engine_gas.json.

On the embedded anvil chain, for the benchmark portfolios PM-4, PM-16 and PM-32 of
bench/portfolios.json (each mirrored in a counterparty account funded with ample USDC):
- the IM check: `marginBreakdown` and `checkWithdrawal` via eth_estimateGas (includes the 21,000
  base cost and calldata), with every risk array current ("keeper refreshed") and with every array
  stale (computed in memory: the full-revaluation cost the risk arrays avoid);
- a trade: a fill of 0.01 BTC perp between the two accounts (both sides margin-checked);
- the one-off risk-array refresh per series (`refreshRiskArrays` after a new oracle round);
- gas per (option × scenario) of the IM check, with current and with stale arrays.
`measure()` returns (rows, notes) for keel.bench.gas (the lead's combined report).
"""

from __future__ import annotations

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WAD = 10**18
FEED_OF = {"BTC": 1, "ETH": 2}
# Issue 9's goals on PM-32 [gas]
GOAL_IM_CHECK = 550_000  # IM check, risk arrays current
GOAL_FILL = 800_000  # perp fill, both sides checked
GOAL_REFRESH = 200_000  # refresh of one series


def _load():
    return json.loads((ROOT / "bench" / "portfolios.json").read_text())


def _wad(x) -> int:
    from decimal import Decimal

    return int(Decimal(str(x)) * WAD)


def build_portfolio(stack, name, owner, cp, bench):
    """Open portfolio `name` for `owner` against counterparty (id, owner); returns (id, series)."""
    from keel.deploy_engine import model_price, open_account, trade
    from keel.orders import option_instrument

    pf = bench["portfolios"][name]
    market = bench["market"]["underlyings"]
    acct = open_account(stack, owner, pf["collateral"])
    me = (acct, owner)
    series = []
    for pos in pf["positions"]:
        feed = FEED_OF[pos["underlying"]]
        spot = _wad(market[pos["underlying"]]["spot"])
        if pos["type"] == "perp":
            trade(stack, me, cp, feed, _wad(pos["size"]), spot)
            continue
        strike = spot * _wad(pos["strike"]) // WAD
        expiry = stack.oracle.feed(feed)[2] + int(pos["expiry_days"]) * 86_400
        is_call = pos["kind"] == "call"
        sid = stack.store.seriesIdOf(feed, strike, expiry, is_call)
        if sid == 0:
            sid = stack.engine.createSeries(
                feed, strike, expiry, is_call, {"from": stack.deployer}
            ).return_value
        series.append(sid)
        inst = option_instrument(sid)
        # at the model value: the centre of the SPEC v2 §5 price band
        trade(stack, me, cp, inst, _wad(pos["size"]), model_price(stack, inst))
    return acct, series


def measure(verbose: bool = True):
    """Deploy a fresh stack and measure; returns (rows, notes) for keel.bench.gas."""
    rows, notes, _ = measure_all(verbose)
    return rows, notes


def measure_all(verbose: bool = True):
    """Deploy a fresh stack and measure; returns (rows, notes, raw figures)."""
    import brownie

    from keel.deploy_engine import deploy_stack, open_account, refresh_feeds, trade

    bench = _load()
    und = bench["market"]["underlyings"]
    accts = brownie.accounts
    deployer, whale = accts[0], accts[9]
    stack = deploy_stack(
        deployer,
        feeds={FEED_OF[u]: (_wad(v["spot"]), _wad(v["vol"])) for u, v in und.items()},
    )
    rows, notes, raw = [], [], {}

    def row(op, workload, gas, goal=None):
        rows.append(
            {
                "section": "Engine",
                "operation": op,
                "workload": workload,
                "gas": int(gas),
                "goal": goal,
            }
        )
        if verbose:
            print(f"{op:<22}{workload:<52}{int(gas):>12,}")

    for i, name in enumerate(("PM-4", "PM-16", "PM-32")):
        owner = accts[1 + i]
        cp = (open_account(stack, whale, {"USDC": 10**11}), whale)  # the mirror book
        acct, series = build_portfolio(stack, name, owner, cp, bench)
        n_opt = len(series)
        # new oracle round: every array is stale; measure the in-memory (full revaluation) check
        refresh_feeds(stack, tuple(FEED_OF.values()))
        stale_bd = stack.engine.marginBreakdown.estimate_gas(acct)
        # keepers refresh: one-off cost per series
        tx = stack.store.refreshRiskArrays(series, {"from": whale})
        per_series = (tx.gas_used - 21_000) / max(1, n_opt)
        bd = stack.engine.marginBreakdown.estimate_gas(acct)
        cw = stack.engine.checkWithdrawal.estimate_gas(acct)
        goal = GOAL_IM_CHECK if name == "PM-32" else None
        row("IM check", f"{name}: marginBreakdown, risk arrays current", bd, goal)
        row("IM check", f"{name}: checkWithdrawal, risk arrays current", cw, goal)
        row("IM check", f"{name}: marginBreakdown, all arrays stale (in memory)", stale_bd)
        fill = trade(stack, (acct, owner), cp, 1, WAD // 100, _wad(und["BTC"]["spot"]))
        pm32 = name == "PM-32"
        row(
            "trade",
            f"{name}: 0.01 BTC perp fill, both sides checked",
            fill.gas_used,
            GOAL_FILL if pm32 else None,
        )
        if n_opt:
            row(
                "refresh",
                f"{name}: risk arrays, per series ({n_opt} series batch)",
                per_series,
                GOAL_REFRESH if pm32 else None,
            )
            row(
                "opt×scenario",
                f"{name}: IM check with current arrays / ({n_opt}×31)",
                bd / (n_opt * 31),
            )
            row(
                "opt×scenario",
                f"{name}: in-memory revaluation (stale − current) / ({n_opt}×31)",
                (stale_bd - bd) / (n_opt * 31),
            )
        raw[name] = {
            "options": n_opt,
            "margin_breakdown": bd,
            "check_withdrawal": cw,
            "margin_breakdown_stale": stale_bd,
            "trade": fill.gas_used,
            "refresh_per_series": per_series,
            "breakdown": [str(x) for x in stack.engine.marginBreakdown(acct)[:8]],
        }
    notes.append(
        "Engine IM check = eth_estimateGas of marginBreakdown / checkWithdrawal (21,000 base and "
        "calldata included). 'Current' arrays: keepers ran refreshRiskArrays after the oracle "
        "round; 'stale': the view revalues every series in memory (31 Black-Scholes each)."
    )
    return rows, notes, raw


def main() -> int:
    from keel.chain import connect

    connect()
    rows, notes, raw = measure_all()
    out = ROOT / "reports"
    out.mkdir(exist_ok=True)
    (out / "engine_gas.json").write_text(
        json.dumps({"rows": rows, "notes": notes, "raw": raw}, indent=2) + "\n"
    )
    print(f"wrote {out / 'engine_gas.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
