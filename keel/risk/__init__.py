"""Keel reference risk model: an independent float64 implementation of SPEC §6, vectorised.

Build inputs with `MarketState.build` / `Portfolios.from_accounts` (USD floats), or from chain
integers with `keel.risk.chain_inputs` (`market_from_chain`, `portfolios_from_chain`). Then:

    result = compute_margin(market, portfolios)   # arrays over accounts
    print(result.account(0))                      # one account's breakdown

Comparisons: `isolated_margin`, `simple_cross_margin`, `what_if`; market risk: `historical_var`.
"""

from .black_scholes import Greeks, bs_greeks, bs_price, intrinsic
from .chain_inputs import (
    agrees,
    compare_breakdown,
    market_from_chain,
    portfolios_from_chain,
)
from .compare import (
    IsolatedMargin,
    SimpleCrossMargin,
    SimpleCrossParams,
    WhatIf,
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
from .scenarios import scan_range, scenario_vols, scenario_weights, spot_moves, vol_states
from .var import VarResult, historical_var, portfolio_pnl, var_es

__all__ = [
    "Account",
    "AccountGreeks",
    "AccountMargin",
    "CollateralToken",
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
    "bs_greeks",
    "bs_price",
    "collateral_haircuts",
    "compare_breakdown",
    "compute_margin",
    "historical_var",
    "intrinsic",
    "isolated_margin",
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
