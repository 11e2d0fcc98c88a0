"""Capital efficiency: IM of every book under isolated, simple fixed-rate cross and portfolio margin.

All three regimes are the reference model's (`keel.risk`), on the bench market snapshot:
  - isolated: every position and every risky collateral holding margined alone under the same SPEC §6
    scenario model (a held WETH is a long spot ETH position); the book's IM is the sum of the parts;
  - simple fixed-rate cross margin: the classic additive rule set (`SIMPLE_CROSS_RULES`);
  - portfolio margin: SPEC §6, IM = max(SR, SOM), SR by the market's rule (the report's snapshot
    market carries the BTC/ETH ρ, so SR is SPEC v2 §6's correlation-aware scan risk).
Ratios are to isolated IM. Haircuts are not part of any IM: they lower AE alike under every regime.

Goals (the issue): portfolio ≤ isolated for every book, and ≤ 35% of isolated for the books in
`TIGHT_GOAL_BOOKS`.
"""

from __future__ import annotations

from dataclasses import dataclass

from keel.risk import (
    MarketState,
    Portfolios,
    SimpleCrossParams,
    compute_margin,
    isolated_margin,
    simple_cross_margin,
)
from keel.risk.compare import DEFAULT_SIMPLE_RATES

TIGHT_GOAL_BOOKS = ("calendar_spread", "bull_call_spread", "basis_trade", "hedged_risk_reversal")
TIGHT_GOAL_RATIO = 0.35  # portfolio IM at most this share of isolated IM for TIGHT_GOAL_BOOKS

SIMPLE_CROSS_RULES = (
    "perpetual: {perp:.0%} of notional |q|·S",
    "short option: |q|·(V + max({a:.0%}·S − OTM amount, {b:.0%}·S)), OTM = max(0, K − S) for a call,"
    " max(0, S − K) for a put (CBOE-style: premium plus a % of spot less the out-of-the-money amount,"
    " floored)",
    "long option: its premium q·V (paid in full, no margin credit)",
    "collateral: no requirement; WETH/WBTC count in equity with their haircut, as under every regime",
    "no offsets between positions: requirements add up",
)


def simple_cross_rules(rates: SimpleCrossParams = DEFAULT_SIMPLE_RATES) -> list[str]:
    """The rule set in words, with the rates used."""
    return [
        r.format(perp=rates.perp_rate, a=rates.short_option_rate, b=rates.short_option_floor)
        for r in SIMPLE_CROSS_RULES
    ]


@dataclass(frozen=True)
class BookCapital:
    """One book's IM under the three regimes (USD) and the parts behind each."""

    name: str
    isolated: float
    isolated_options: float
    isolated_perps: float
    isolated_collateral: float
    simple_cross: float
    simple_perps: float
    simple_short_options: float
    simple_long_options: float
    portfolio: float
    scan_risk: float
    som: float
    joint_loss: float
    underlying_loss: dict[str, float]
    adjusted_equity: float

    @property
    def portfolio_to_isolated(self) -> float | None:
        return self.portfolio / self.isolated if self.isolated > 0 else None

    @property
    def simple_to_isolated(self) -> float | None:
        return self.simple_cross / self.isolated if self.isolated > 0 else None

    def to_json(self) -> dict:
        return {
            "isolated_im": self.isolated,
            "isolated_parts": {
                "options": self.isolated_options,
                "perps": self.isolated_perps,
                "collateral": self.isolated_collateral,
            },
            "simple_cross_im": self.simple_cross,
            "simple_cross_parts": {
                "perps": self.simple_perps,
                "short_options": self.simple_short_options,
                "long_options": self.simple_long_options,
            },
            "portfolio_im": self.portfolio,
            "portfolio_parts": {
                "scan_risk": self.scan_risk,
                "short_option_minimum": self.som,
                "joint_loss": self.joint_loss,
                "standalone_loss": self.underlying_loss,
            },
            "adjusted_equity": self.adjusted_equity,
            "portfolio_to_isolated": self.portfolio_to_isolated,
            "simple_cross_to_isolated": self.simple_to_isolated,
        }


def capital_efficiency(
    market: MarketState,
    portfolios: Portfolios,
    names: list[str],
    feed_names: dict[int, str] | None = None,
    rates: SimpleCrossParams = DEFAULT_SIMPLE_RATES,
) -> list[BookCapital]:
    """The three margins of every account of `portfolios` (account a is the book `names[a]`)."""
    feed_names = feed_names or {1: "BTC", 2: "ETH"}
    pm = compute_margin(market, portfolios)
    iso = isolated_margin(market, portfolios)
    sc = simple_cross_margin(market, portfolios, rates)
    out = []
    for a, name in enumerate(names):
        out.append(
            BookCapital(
                name=name,
                isolated=float(iso.im[a]),
                isolated_options=float(iso.options[a]),
                isolated_perps=float(iso.perps[a]),
                isolated_collateral=float(iso.collateral[a]),
                simple_cross=float(sc.im[a]),
                simple_perps=float(sc.perps[a]),
                simple_short_options=float(sc.short_options[a]),
                simple_long_options=float(sc.long_options[a]),
                portfolio=float(pm.im[a]),
                scan_risk=float(pm.scan_risk[a]),
                som=float(pm.som[a]),
                joint_loss=float(pm.joint_loss[a]),
                underlying_loss={
                    feed_names.get(int(f), str(int(f))): float(pm.underlying_loss[a, u])
                    for u, f in enumerate(pm.feed_ids)
                    if pm.exposed[a, u]
                },
                adjusted_equity=float(pm.adjusted_equity[a]),
            )
        )
    return out


@dataclass(frozen=True)
class GoalCheck:
    """One goal of the issue: what was measured and whether it was met."""

    goal: str
    met: bool | None  # None: not measured by this report
    measured: str
    detail: str = ""

    def to_json(self) -> dict:
        return {
            "goal": self.goal,
            "met": self.met,
            "measured": self.measured,
            "detail": self.detail,
        }


def capital_goals(books: list[BookCapital]) -> list[GoalCheck]:
    """Portfolio ≤ isolated for every book; ≤ 35% of isolated for the TIGHT_GOAL_BOOKS present."""
    worse = [b.name for b in books if b.portfolio > b.isolated * (1 + 1e-12)]
    worst = max(books, key=lambda b: b.portfolio_to_isolated or 0.0) if books else None
    checks = [
        GoalCheck(
            goal="portfolio margin ≤ isolated margin for every book",
            met=not worse,
            measured=(
                f"highest ratio {worst.portfolio_to_isolated:.1%} ({worst.name})"
                if worst and worst.portfolio_to_isolated is not None
                else "no book with isolated IM > 0"
            ),
            detail=f"above isolated: {', '.join(worse)}" if worse else "",
        )
    ]
    for b in books:
        if b.name not in TIGHT_GOAL_BOOKS:
            continue
        r = b.portfolio_to_isolated
        checks.append(
            GoalCheck(
                goal=f"{b.name}: portfolio margin ≤ {TIGHT_GOAL_RATIO:.0%} of isolated",
                met=r is not None and r <= TIGHT_GOAL_RATIO,
                measured=(
                    f"{r:.1%} (${b.portfolio:,.0f} vs ${b.isolated:,.0f})"
                    if r is not None
                    else "isolated IM is 0"
                ),
            )
        )
    return checks
