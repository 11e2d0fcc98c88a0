"""Candidate joint-loss rules on two-underlying books (the table of docs/CORRELATION.md).

For each book and ρ: the brute-force largest loss over the ρ_s ellipse of the piecewise-linear P&L
("exact", the quantity the rule must bound), the chosen rule L_ρ (keel.risk.correlation), the grid
of the 9×9 standard joint moves masked by the ellipse, and the signed-loss aggregation
sqrt(lᵀ ρ_s l) per orthant without intercepts; v1's SR (c = ½), L_J and Σ L_u for reference.

    .venv/bin/python scripts/correlation_candidates.py
"""

from __future__ import annotations

import itertools

import numpy as np

from keel.risk import Account, Option, Perp, Portfolios, compute_margin
from keel.risk.bench_portfolios import DEFAULT_SNAPSHOT, load_bench
from keel.risk.correlation import side_majorants, stressed_correlation

T = DEFAULT_SNAPSHOT
DAY = 86400
GRID = np.arange(-4, 5) / 4.0


def opt(feed, k, days, call, q):
    return Option(feed, k, T + days * DAY, call, q)


BOOKS = {
    "pair perps (long 1 BTC, short 20 ETH)": Account(perps=[Perp(1, 1, 6e4), Perp(2, -20, 3e3)]),
    "short straddles on both": Account(
        options=[
            opt(1, 6e4, 30, True, -1),
            opt(1, 6e4, 30, False, -1),
            opt(2, 3e3, 30, True, -20),
            opt(2, 3e3, 30, False, -20),
        ]
    ),
    "short BTC put vs short ETH call": Account(
        options=[opt(1, 6e4, 30, False, -1), opt(2, 3e3, 30, True, -20)]
    ),
    "BTC risk reversal vs short ETH perp": Account(
        options=[opt(1, 6.6e4, 30, True, 1), opt(1, 5.4e4, 30, False, -1)],
        perps=[Perp(2, -9, 3e3)],
    ),
    "BTC calendar vs short ETH perp": Account(
        options=[opt(1, 6e4, 30, True, -1), opt(1, 6e4, 90, True, 1)], perps=[Perp(2, -2, 3e3)]
    ),
    "long BTC straddle vs long ETH perp": Account(
        options=[opt(1, 6e4, 30, True, 1), opt(1, 6e4, 30, False, 1)], perps=[Perp(2, 20, 3e3)]
    ),
}


def exact(pnl, rs, n=20000):
    th = np.linspace(0, 2 * np.pi, n)
    c = np.linalg.cholesky(np.array([[1, rs], [rs, 1]]) + 1e-15 * np.eye(2))
    pts = np.concatenate(
        [(np.stack([np.cos(th), np.sin(th)], 1) * r) @ c.T for r in np.linspace(0, 1, 41)]
    )
    return max(
        -(
            np.interp(pts[:, 0], GRID, pnl[0, 9 * v : 9 * v + 9])
            + np.interp(pts[:, 1], GRID, pnl[1, 9 * v : 9 * v + 9])
        ).min()
        for v in range(3)
    )


def masked_grid(pnl, rs):
    inv = np.linalg.pinv(np.array([[1, rs], [rs, 1]]))
    best = 0.0
    for i, j in itertools.product(range(9), repeat=2):
        k = np.array([GRID[i], GRID[j]])
        if k @ inv @ k <= 1 + 1e-12:
            best = max(best, max(-(pnl[0, 9 * v + i] + pnl[1, 9 * v + j]) for v in range(3)))
    return best


def signed_no_intercept(pnl, rs):
    a, b = side_majorants(pnl)  # only to reach the side losses y(1) = a + b at the edge
    rho = np.array([[1, rs], [rs, 1]])
    best = 0.0
    for s in itertools.product((0, 1), repeat=2):
        for v in range(3):
            loss = np.array(
                [max(0.0, a[u, v, s[u]] + b[u, v, s[u]]) * (1 if s[u] else -1) for u in range(2)]
            )
            best = max(best, float(np.sqrt(max(loss @ rho @ loss, 0.0))))
    return best


def main():
    bench = load_bench(["naked_long_perp"])
    m = bench.market
    print(
        "| book | ρ | ρ_s | L_J | Σ L_u | v1 SR | exact max loss | L_ρ (chosen) | masked 9×9 grid"
        " | signed, no intercept | v2 SR |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, acc in BOOKS.items():
        book = Portfolios.from_accounts([acc], m)
        v1 = compute_margin(m, book)
        for rho in (0.74, 0.0):
            r = compute_margin(m.with_correlations({(1, 2): rho}), book)
            rs = float(stressed_correlation(rho))
            pnl = r.scenario_pnl[0]
            print(
                f"| {name} | {rho:g} | {rs:.3f} | {v1.joint_loss[0]:,.0f} | "
                f"{v1.underlying_loss[0].sum():,.0f} | {v1.scan_risk[0]:,.0f} | "
                f"{exact(pnl, rs):,.0f} | {r.correlated_loss[0]:,.0f} | "
                f"{masked_grid(pnl, rs):,.0f} | {signed_no_intercept(pnl, rs):,.0f} | "
                f"{r.scan_risk[0]:,.0f} |"
            )


if __name__ == "__main__":
    main()
