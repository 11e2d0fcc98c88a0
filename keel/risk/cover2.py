"""Cover-2 sizing of the insurance fund (PFMI principle 4, CPMI-IOSCO 2012; EMIR art. 43 "cover 2").

The fund must cover the default of the two accounts that would lose most beyond their own equity
under extreme but plausible market conditions. The reference model computes it from every account
read off the chain (`keel.client.cover2` reads them; `cover2` below does the arithmetic).

Scenarios (`cover2_scenarios`), each a spot move x_u per underlying u (S' = S(1 + x_u)):
  - the SPEC §6 extended moves at three scan ranges, +3R_u and −min(3R_u, 90%) (the grid's
    scenarios 28 and 30, so R_u is the scan range the margin uses): every underlying together, then
    each underlying alone (the others keep their spot and vol);
  - the worst historical joint days of a price file (`worst_joint_days`): the day on which all its
    underlyings fell together the most and the day on which they rose together the most, applied with
    that day's own returns. A day's joint move is the move every underlying made at least: the
    smallest of its returns in size when all have one sign, none otherwise (a day on which only ETH
    moved is a one-underlying move, which the ±3R-alone scenarios cover). One day is one row to the
    next, as the relayer replays the file (a gap in the dates is reported by its two dates).
A moved underlying takes the extended scenarios' vol state σ_up (each option's own, from its τ); an
unmoved one keeps σ. τ does not decay (as in SPEC §6's scenarios).

Figures per account a and scenario k [USD]:
  P[a, k] = full-revaluation P&L: perps q·S·x, linked collateral a·P·x, options
            q·(V(S(1 + x), σ_k, τ) − V(S, σ, τ)) (Black–Scholes), settled series 0. Unweighted: the
            0.30 weight of the extended scenarios is a margin credit for how plausible the move
            is; here the move has happened.
  B[a, k] = max(0, −(E_a + P[a, k])), the loss beyond equity, with E the MtM equity of SPEC §6
            (not AE): an account defaults when its equity after the move is negative, and the fund
            then pays −E (SPEC §7 insolvent bid; collateral changes hands in kind at the oracle
            price, so its haircut is no loss to the fund). The insolvent bid's bonus (≤ 5% of MM)
            is not included.
  C[k] = the sum of the two largest B[·, k]; requirement = max_k C[k].
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from keel.pricefile import PRICE_COLUMNS, read_price_file

from .bench_portfolios import FEED_IDS
from .margin import compute_margin
from .model import MarketState, Portfolios
from .scenarios import EXT_DOWN_3R, EXT_UP_3R, VOL_NONE, VOL_UP, market_moves
from .var import portfolio_pnl

DEFAULT_NAMES = {f: name for name, f in FEED_IDS.items()}  # feed id → "BTC", "ETH"


def describe_moves(moves: Mapping) -> str:
    """{feed id: spot fraction} (keys may be JSON strings) as "BTC +48.0%, ETH -20.0%"; the
    unmoved feeds left out."""
    return (
        ", ".join(
            f"{DEFAULT_NAMES.get(int(f), f'feed {f}')} {x:+.1%}" for f, x in moves.items() if x
        )
        or "none"
    )


@dataclass(frozen=True)
class JointDay:
    """One day of a price file: its returns and the move every underlying made together."""

    kind: str  # "fall" or "rise"
    day: str  # the date of the close after the move, YYYY-MM-DD
    previous: str  # the date of the close before it
    returns: dict[int, float]  # feed id → simple return S_day / S_previous − 1   [fraction]
    joint: float  # the joint move (the smallest return in size, signed)      [fraction]


def joint_moves(returns: np.ndarray) -> np.ndarray:
    """(T,) the move all columns of each row of `returns` (T, C) made together: the smallest in
    size when every return has one sign (signed), 0 otherwise."""
    r = np.asarray(returns, float)
    down, up = (r < 0).all(axis=1), (r > 0).all(axis=1)
    return np.where(up, r.min(axis=1), np.where(down, r.max(axis=1), 0.0))


def worst_joint_days(dates: Sequence, closes, feed_ids: Sequence[int]) -> list[JointDay]:
    """The day of the largest joint fall and of the largest joint rise of a price history.

    dates: (T,) row dates; closes: (T, C) prices [USD], column c of feed `feed_ids[c]`. A kind
    that never happened (the columns never fell, or never rose, together) is left out; ties go
    to the first day."""
    closes = np.asarray(closes, float)
    if closes.ndim != 2 or closes.shape[1] != len(feed_ids) or len(dates) != len(closes):
        raise ValueError("closes must be (T, C) with one date per row and one feed per column")
    if len(closes) < 2:
        raise ValueError(f"need at least two closes for a daily return, got {len(closes)}")
    r = closes[1:] / closes[:-1] - 1.0
    joint = joint_moves(r)
    out = []
    for kind, t in (("fall", int(np.argmin(joint))), ("rise", int(np.argmax(joint)))):
        if (joint[t] < 0) if kind == "fall" else (joint[t] > 0):
            out.append(
                JointDay(
                    kind,
                    str(dates[t + 1]),
                    str(dates[t]),
                    {int(f): float(x) for f, x in zip(feed_ids, r[t], strict=True)},
                    float(joint[t]),
                )
            )
    return out


def file_joint_days(path: str | Path) -> list[JointDay]:
    """`worst_joint_days` of a price file of the shared format (keel.pricefile: `btc_usd` is
    feed 1, `eth_usd` feed 2); PriceFileError naming the line at fault otherwise."""
    f = read_price_file(path, PRICE_COLUMNS, min_rows=2)
    feeds = [FEED_IDS[c.split("_")[0].upper()] for c in PRICE_COLUMNS]
    return worst_joint_days([d.isoformat() for d in f.dates], f.prices, feeds)


@dataclass(frozen=True)
class StressScenarios:
    """K named scenarios over a market's underlyings (columns in `MarketState.feed_ids` order)."""

    names: tuple[str, ...]  # (K,)
    moves: np.ndarray  # (K, U) spot fractions x                                 [fraction]
    vol_states: np.ndarray  # (K, U) 0: σ, 1: σ_up (keel.risk.scenarios)


def cover2_scenarios(
    market: MarketState,
    days: Sequence[JointDay] = (),
    names: Mapping[int, str] | None = None,
) -> StressScenarios:
    """±3R together and alone for every underlying of `market`, then each day of `days`."""
    if market.n_underlyings == 0:
        raise ValueError("the market has no underlying to stress")
    names = {**DEFAULT_NAMES, **(names or {})}
    label = [names.get(int(f), f"feed {int(f)}") for f in market.feed_ids]
    n_u = market.n_underlyings
    x = market_moves(market)  # (U, 31) at the scan ranges of σ_eff
    rows: list[tuple[str, np.ndarray, np.ndarray]] = []
    for sign, j in (("+", EXT_UP_3R), ("−", EXT_DOWN_3R)):
        rows.append((f"{sign}3R all", x[:, j], np.ones(n_u, bool)))
    for u in range(n_u):
        alone = np.arange(n_u) == u
        for sign, j in (("+", EXT_UP_3R), ("−", EXT_DOWN_3R)):
            rows.append((f"{sign}3R {label[u]}", np.where(alone, x[:, j], 0.0), alone))
    for d in days:
        moves = np.array([d.returns.get(int(f), 0.0) for f in market.feed_ids])
        moved = np.array([int(f) in d.returns for f in market.feed_ids])
        rows.append((f"{d.day} joint {d.kind}", moves, moved))
    return StressScenarios(
        tuple(r[0] for r in rows),
        np.array([r[1] for r in rows], float),
        np.where(np.array([r[2] for r in rows]), VOL_UP, VOL_NONE).astype(np.int64),
    )


@dataclass(frozen=True)
class Cover2:
    """Losses beyond equity of N accounts in K scenarios and the fund they call for, USD."""

    scenarios: StressScenarios
    feed_ids: np.ndarray  # (U,)
    account_ids: np.ndarray  # (N,)
    equity: np.ndarray  # (N,) E now
    pnl: np.ndarray  # (N, K) P
    beyond: np.ndarray  # (N, K) B = max(0, −(E + P))
    covered: np.ndarray  # (K,) C, the two largest B of each scenario summed
    top: (
        np.ndarray
    )  # (K, 2) account indices of the two largest B (−1 where fewer than two accounts)

    @property
    def requirement(self) -> float:
        """max_k C[k] [USD] (0 for no scenario loss)."""
        return float(self.covered.max(initial=0.0))

    @property
    def binding(self) -> int:
        """Index of the scenario that sets the requirement (the first one on a tie)."""
        return int(np.argmax(self.covered))

    def to_json(self) -> dict:
        sc = self.scenarios
        rows = []
        for k, name in enumerate(sc.names):
            idx = [int(a) for a in self.top[k] if a >= 0 and self.beyond[a, k] > 0]
            rows.append(
                {
                    "scenario": name,
                    "moves": {
                        int(f): round(float(x), 6)
                        for f, x in zip(self.feed_ids, sc.moves[k], strict=True)
                    },
                    "requirement": float(self.covered[k]),
                    "accounts": [int(self.account_ids[a]) for a in idx],
                    "losses_beyond_equity": [float(self.beyond[a, k]) for a in idx],
                }
            )
        return {
            "requirement": self.requirement,
            "binding_scenario": sc.names[self.binding],
            "accounts": int(len(self.account_ids)),
            "scenarios": rows,
        }


def cover2(market: MarketState, portfolios: Portfolios, scenarios: StressScenarios) -> Cover2:
    """Losses beyond equity of every account of `portfolios` and the cover-2 requirement."""
    equity = compute_margin(market, portfolios).equity
    pnl = portfolio_pnl(
        market, portfolios, scenarios.moves, horizon_days=0.0, vol_states=scenarios.vol_states
    )
    beyond = np.maximum(0.0, -(equity[:, None] + pnl)) + 0.0  # `+ 0.0`: no −0.0
    n, k = beyond.shape
    padded = np.vstack([beyond, np.zeros((2, k))])  # two zero rows: fewer than two accounts
    order = np.argsort(-padded, axis=0, kind="stable")[:2].T  # (K, 2) largest first
    covered = np.take_along_axis(padded.T, order, axis=1).sum(axis=1)
    top = np.where(order < n, order, -1)
    return Cover2(
        scenarios, market.feed_ids, portfolios.account_ids, equity, pnl, beyond, covered, top
    )
