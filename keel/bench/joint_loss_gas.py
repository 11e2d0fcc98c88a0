"""Gas of the v2 joint loss library (`python -m keel.bench.joint_loss_gas`), for docs/CORRELATION.md §8.

This isolates the library's part of a margin check: `JointLossLib.scanRisk` (the pure rule the
engine's `scanRiskOf` runs once it has read ρ from the Oracle, about 2.6k–5k per pair more) called
from a harness that times it with gasleft() (the caller's side of the call included: argument encoding, the DELEGATECALL to the
linked library, decoding the result; the first call of a transaction also pays 2,600 for the cold
library address, which the figures include). Inputs are the scenario P&Ls the reference model gives
for:
- PM-4 (1 underlying), PM-16 and PM-32 (2) of bench/portfolios.json at its snapshot;
- the maximal account of keel.bench.max_account (4 underlyings, each: 16 short options over 4
  expiries, a long perp and two linked collateral tokens), and its first 3 underlyings;
at ρ = 0.74 for every pair (the 2016–19 median: ρ_s 0.555, PSD, no repair) and ρ = −0.5 (ρ_s −0.625:
for 3 and 4 underlyings not PSD, so the repair runs).
Prints a table and writes reports/joint_loss_gas.json.
"""

from __future__ import annotations

import itertools
import json
from decimal import Decimal
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
WAD = 10**18
RHOS = (0.74, -0.5)  # every pair: no repair / repair (n ≥ 3)                            [1]


def _wad(x: float) -> int:
    return int(Decimal(repr(float(x))) * WAD)


def max_account_market_and_book():
    """The maximal account A of keel.bench.max_account, in the reference model."""
    from keel.bench.max_account import (
        COLLATERAL,
        COLLATERAL_USD,
        EXPIRY_DAYS,
        LEG_NOTIONAL,
        STRIKES,
        UNDERLYINGS,
    )
    from keel.risk import Account, CollateralToken, MarketState, Option, Perp, Portfolios
    from keel.risk.bench_portfolios import DEFAULT_SNAPSHOT as T0

    feeds = {f: (float(spot), float(vol), T0) for f, (_, spot, vol) in UNDERLYINGS.items()}
    tokens = [
        CollateralToken(name, float(UNDERLYINGS[f][1]), dec, f, 0.05, 0.25, 0.80)
        for name, dec, f in COLLATERAL
    ]
    m = MarketState.build(feeds, tokens)
    acc = Account(account_id=1, cash=3e6)
    for f, (_, spot, _) in UNDERLYINGS.items():
        size = LEG_NOTIONAL / spot
        acc.perps.append(Perp(f, size, float(spot)))
        for days in EXPIRY_DAYS:
            for moneyness, is_call in STRIKES:
                strike = float(moneyness) * spot
                acc.options.append(Option(f, strike, T0 + days * 86_400, is_call, -size))
    for name, _, f in COLLATERAL:
        acc.collateral[name] = COLLATERAL_USD["A"] / float(UNDERLYINGS[f][1])
    return m, Portfolios.from_accounts([acc], m)


def shapes() -> dict[str, np.ndarray]:
    """name → (n, 31) scenario P&L [USD] of the held underlyings, from the reference model."""
    from keel.risk import compute_margin
    from keel.risk.bench_portfolios import load_bench

    out = {}
    bench = load_bench(["PM-4", "PM-16", "PM-32"])
    res = compute_margin(bench.market, bench.portfolios)
    for i, name in enumerate(bench.names):
        out[name] = res.scenario_pnl[i][res.exposed[i]]
    m, book = max_account_market_and_book()
    res = compute_margin(m, book)
    pnl = res.scenario_pnl[0][res.exposed[0]]
    out["max account, 3 underlyings"] = pnl[:3]
    out["max account"] = pnl
    return out


def call_inputs(pnl_usd: np.ndarray, rho: float):
    """(pnl, ρ, Σ L_u, L_J) in wad for JointLossLib.scanRisk."""
    pnl = [[_wad(x) for x in row] for row in pnl_usd]
    n = len(pnl)
    sum_loss = sum(max(0, -min(p)) for p in pnl)
    joint = max(0, -min(sum(p[j] for p in pnl) for j in range(31)))
    return pnl, [_wad(rho)] * len(list(itertools.combinations(range(n), 2))), sum_loss, joint


def measure(verbose: bool = True) -> list[dict]:
    """Deploys JointLossLib and its harness on the connected chain; one row per shape and ρ."""
    import brownie

    p = brownie.project.get_loaded_projects()[0]
    tx = {"from": brownie.accounts[0]}
    lib = p.JointLossLib.deploy(tx)
    harness = p.JointLossHarness.deploy(tx)  # brownie links the latest JointLossLib
    rows = []
    for name, pnl_usd in shapes().items():
        n = len(pnl_usd)
        for rho in RHOS if n > 1 else RHOS[:1]:
            args = call_inputs(pnl_usd, rho)
            sr, loss_rho, gas = harness.scanRiskGas(*args)
            (lo, hi) = harness.repairShift(args[1]) if n >= 3 else (0, 0)
            row = {
                "shape": name,
                "underlyings": n,
                "rho": rho if n > 1 else None,
                "repair": bool(hi),
                "gas": int(gas),
                "loss_rho_usd": int(loss_rho) / WAD,
                "scan_risk_usd": int(sr) / WAD,
            }
            rows.append(row)
            if verbose:
                rho_s = "-" if row["rho"] is None else f"{rho:+.2f}"
                print(f"{name:<28}{n:>3}  ρ {rho_s:>6}  repair {row['repair']!s:<6}{gas:>10,}")
    size = len(lib.bytecode) // 2 if isinstance(lib.bytecode, str) else len(lib.bytecode)
    rows.append({"library_bytecode_bytes": size})
    return rows


def main() -> int:
    from keel.chain import connect

    connect()
    rows = measure()
    out = ROOT / "reports"
    out.mkdir(exist_ok=True)
    (out / "joint_loss_gas.json").write_text(json.dumps({"rows": rows}, indent=2) + "\n")
    print(f"wrote {out / 'joint_loss_gas.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
