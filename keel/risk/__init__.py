"""Keel reference risk model: an independent float64 implementation of SPEC §6, vectorised.

Build inputs with `MarketState.build` / `Portfolios.from_accounts` (USD floats), or from chain
integers with `keel.risk.chain_inputs` (`market_from_chain`, `portfolios_from_chain`). Then:

    result = compute_margin(market, portfolios)   # arrays over accounts
    print(result.account(0))                      # one account's breakdown

Comparisons: `isolated_margin`, `simple_cross_margin`, `what_if` (of one trade or a list of `Fill`s,
settled as the engine settles them: `apply_fills`); market risk: `historical_var`; the insurance
fund's cover-2 requirement (PFMI principle 4): `keel.risk.cover2`.

Choices where SPEC §6 / DESIGN.md "Margin" leave room (the chain must make the same ones):
  - "Expired" means expiry ≤ the feed's observedAt (τ = 0). With a fixed settlement price the series
    is worth q·payoff(settlement price) in E, has zero scenario P&L and is left out of SOM. Without
    one it is worth its intrinsic value at S and its scenario P&L is the change of intrinsic value
    at S(1 + x_j) (BS at τ = 0), and a short one still counts in SOM (it still carries spot risk).
  - Linked collateral moves with its own price: a·P_c·x_j (SPEC), where P_c is the token price the
    Vault uses (by default the price of its price feed), not the underlying's spot.
  - Positive cash is the effective cash after the socialisation index; its 1% haircut applies to
    max(cash, 0) only. Funding owed is an input per perp: from the chain, `chain_inputs` computes
    it with `keel.risk.funding` (SPEC §4) from the funding index inputs (stored index, mark, last
    accrual, cap, block time, index at entry), never from the engine's `fundingOwed` view.
  - Worst scenario index: the first index attaining the minimum (DESIGN.md). Exact ties in exact
    arithmetic can round differently in float64 and in wad integers; the reference does not try to
    reproduce the integer tie-break, and `compare_breakdown` checks an index only where its loss
    is non-zero. Values below zero by rounding are clamped: a BS value is never negative.
  - The per-account view lists an underlying only when the account holds something moving with it.
  - σ_floor (SPEC v2 §6 anti-procyclicality) is an optional per-underlying input
    (`MarketState.vol_floor`, `MarketState.build(vol_floors=...)`); `MarketState.vol_eff` =
    max(σ, σ_floor) sets the scan ranges and the dynamic haircuts, while option values and the
    scenario vol states keep the feed's σ (the SPEC names scan ranges and haircuts only).
    Without a floor every figure is the v1 one.
"""

from .black_scholes import Greeks, bs_greeks, bs_price, intrinsic
from .chain_inputs import (
    agrees,
    compare_breakdown,
    market_from_chain,
    portfolios_from_chain,
)
from .compare import (
    Fill,
    IsolatedMargin,
    SimpleCrossMargin,
    SimpleCrossParams,
    WhatIf,
    apply_fills,
    isolated_margin,
    simple_cross_margin,
    what_if,
)
from .margin import (
    AccountGreeks,
    AccountMargin,
    MarginResult,
    account_greeks,
    collateral_haircuts,
    compute_margin,
    position_greeks,
    series_table,
)
from .model import (
    Account,
    CollateralToken,
    MarginParams,
    MarketState,
    Option,
    Perp,
    Portfolios,
    time_to_expiry,
)
from .scenarios import (
    market_moves,
    scan_range,
    scenario_vols,
    scenario_weights,
    spot_moves,
    vol_states,
)
from .var import VarResult, historical_var, portfolio_pnl, var_es

__all__ = [
    "Account",
    "AccountGreeks",
    "AccountMargin",
    "CollateralToken",
    "Fill",
    "Greeks",
    "IsolatedMargin",
    "MarginParams",
    "MarginResult",
    "MarketState",
    "Option",
    "Perp",
    "Portfolios",
    "SimpleCrossMargin",
    "SimpleCrossParams",
    "VarResult",
    "WhatIf",
    "account_greeks",
    "agrees",
    "apply_fills",
    "bs_greeks",
    "bs_price",
    "collateral_haircuts",
    "compare_breakdown",
    "compute_margin",
    "historical_var",
    "intrinsic",
    "isolated_margin",
    "market_moves",
    "market_from_chain",
    "portfolio_pnl",
    "portfolios_from_chain",
    "position_greeks",
    "scan_range",
    "scenario_vols",
    "scenario_weights",
    "series_table",
    "simple_cross_margin",
    "spot_moves",
    "time_to_expiry",
    "var_es",
    "vol_states",
    "what_if",
]
