"""Price sources for the relayer: where spot prices (and, optionally, implied vols) come from.

A source is an iterator of `Tick`s. The relayer takes one tick per cycle, updates its vol estimate
with it and decides whether to push. Two sources ship with Keel, neither touches the network:

- `CsvReplaySource`: the shared-data CSV format (`date,btc_usd,eth_usd`), one row per tick;
- `GbmJumpSource`: correlated geometric Brownian motion with Poisson jumps, seeded.

A live source (an exchange feed, a price aggregator) implements the same `PriceSource` contract;
see its docstring.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from keel.pricefile import PriceFileError, read_price_file

BTC = 1
ETH = 2
DEFAULT_CSV_COLUMNS: dict[int, str] = {BTC: "btc_usd", ETH: "eth_usd"}
DAYS_PER_YEAR = 365  # SPEC §1: year = 365 days


@dataclass(frozen=True)
class Tick:
    """One observation step of a source.

    `prices` maps feed id -> spot price in USD (float, > 0). `vols` maps feed id -> annualised
    implied vol as a fraction (0.8 = 80%) for the feeds whose vol the source supplies; a feed missing
    from `vols` gets the relayer's EWMA realised vol instead. `label` is free text for logs
    (a CSV row's date, a simulation step).
    """

    index: int
    prices: Mapping[int, float]
    vols: Mapping[int, float] = field(default_factory=dict)
    label: str = ""


class PriceSource(ABC):
    """Where the relayer's prices come from.

    Contract (every implementation, live or replayed, must keep it):

    - `feed_ids` lists the feeds the source prices; every tick prices all of them.
    - `ticks()` returns an iterator of `Tick`s with `index` 0, 1, 2, ... Each `next()` is one step.
      A replay or simulation yields immediately; a live source may block for the next update but
      for a bounded time (it raises `TimeoutError` rather than hang), so the relayer keeps its
      heartbeat. The iterator ends (`StopIteration`) when the source is exhausted.
    - Prices are finite, strictly positive USD floats. A live source must drop a venue's bad print
      itself (the on-chain median only protects against a minority of bad signers).
    - Implied vols, when given, are annualised fractions; the relayer clamps them to the feed's
      bounds like its own estimates.
    - `periods_per_year` is how many ticks make a year (365 for daily rows); the relayer's EWMA
      annualises with it. A live source with irregular ticks should report its nominal rate.
    - Deterministic sources (`deterministic = True`) yield the same ticks on every call to
      `ticks()`: a restarted relayer skips the ticks it already replayed and rebuilds its vol state
      from them. A live source sets it False and is simply resumed at "now".
    """

    feed_ids: tuple[int, ...]
    periods_per_year: float
    deterministic: bool = True

    @abstractmethod
    def ticks(self) -> Iterator[Tick]:
        """A fresh iterator over the source's ticks (from the start for a deterministic source)."""

    def history(self) -> Mapping[int, Sequence[float]] | None:
        """[v2] feedId -> the source's whole price history [USD], oldest first, for the relayer's
        default vol floor (the mean of the EWMA vol over it, SPEC §6); None when the source has no
        history beyond its ticks (the relayer then averages over the ticks it folds in)."""
        return None


class CsvReplaySource(PriceSource):
    """Replays a CSV of prices, one row per tick (`date,btc_usd,eth_usd` by default).

    `columns` maps feed id -> CSV column (default 1 = BTC `btc_usd`, 2 = ETH `eth_usd`); each
    tick's label is its row's date. The file is read and checked whole at construction by
    `keel.pricefile` (dates parsed and increasing, every price finite and > 0: replaying a gap as a
    zero price would push a report the Oracle refuses); `PriceFileError` (a ValueError) otherwise.
    `start` is the first row replayed and must be a row of the file.
    """

    def __init__(
        self,
        path: str | Path,
        columns: Mapping[int, str] | None = None,
        *,
        periods_per_year: float = DAYS_PER_YEAR,
        start: int = 0,
        limit: int | None = None,
    ) -> None:
        self.path = Path(path)
        self.columns = dict(columns or DEFAULT_CSV_COLUMNS)
        self.feed_ids = tuple(self.columns)
        self.periods_per_year = periods_per_year
        f = read_price_file(self.path, tuple(self.columns.values()))
        # the file's whole history, whatever `start` and `limit` replay (the vol floor's default)
        self._history = {
            feed: [float(row[k]) for row in f.prices] for k, feed in enumerate(self.feed_ids)
        }
        if not 0 <= start < len(f):  # a start past the end would replay nothing, silently
            raise PriceFileError(f"{self.path}: start row {start} is not one of its {len(f)} rows")
        end = None if limit is None else start + limit
        self.rows: list[tuple[str, dict[int, float]]] = [
            (day.isoformat(), dict(zip(self.feed_ids, closes, strict=True)))
            for day, closes in zip(f.dates[start:end], f.prices[start:end], strict=True)
        ]

    def __len__(self) -> int:
        return len(self.rows)

    def ticks(self) -> Iterator[Tick]:
        for i, (label, prices) in enumerate(self.rows):
            yield Tick(index=i, prices=dict(prices), label=label)

    def history(self) -> Mapping[int, Sequence[float]]:
        """Every row of the file, `start` and `limit` notwithstanding."""
        return self._history


@dataclass(frozen=True)
class GbmParams:
    """One feed's process: dS/S = mu dt + sigma dW + (e^J - 1) dN, N ~ Poisson(jump_intensity)."""

    s0: float  # initial price                              [USD]
    mu: float = 0.0  # drift of the expected price             [1/yr]
    sigma: float = 0.8  # diffusion vol                         [1/sqrt(yr)]
    jump_intensity: float = 4.0  # expected jumps per year        [1/yr]
    jump_mean: float = -0.05  # mean log jump size J            [log]
    jump_std: float = 0.08  # std of the log jump size          [log]

    def total_vol(self) -> float:
        """Annualised vol of log returns including jumps: sqrt(sigma^2 + lambda (m^2 + s^2))."""
        return math.sqrt(
            self.sigma**2 + self.jump_intensity * (self.jump_mean**2 + self.jump_std**2)
        )


DEFAULT_GBM: dict[int, GbmParams] = {
    BTC: GbmParams(s0=30_000.0, sigma=0.75),
    ETH: GbmParams(s0=2_000.0, sigma=0.95),
}


class GbmJumpSource(PriceSource):
    """Seeded Merton jump-diffusion for several feeds with correlated diffusions.

    Per step of length dt = 1 / periods_per_year, for each feed:
        log S += (mu - sigma^2/2 - lambda k) dt + sigma sqrt(dt) Z + sum of N jumps J_i,
    with k = E[e^J] - 1 (so mu is the drift of E[S]), Z jointly normal with correlation `correlation`
    between every pair of feeds, N ~ Poisson(lambda dt) and J_i ~ Normal(jump_mean, jump_std), both
    independent per feed. `steps` bounds the run (None = unbounded). The same seed gives the same
    path. With `supply_vol=True` each tick carries the model's total vol as "implied" vol, which
    exercises the implied-vol path of the relayer.
    """

    def __init__(
        self,
        seed: int,
        params: Mapping[int, GbmParams] | None = None,
        *,
        correlation: float = 0.8,
        periods_per_year: float = DAYS_PER_YEAR,
        steps: int | None = None,
        supply_vol: bool = False,
    ) -> None:
        self.seed = seed
        self.params = dict(params or DEFAULT_GBM)
        self.feed_ids = tuple(self.params)
        self.correlation = correlation
        self.periods_per_year = periods_per_year
        self.steps = steps
        self.supply_vol = supply_vol
        n = len(self.feed_ids)
        corr = np.full((n, n), correlation) + (1.0 - correlation) * np.eye(n)
        try:
            self._chol = np.linalg.cholesky(corr)
        except np.linalg.LinAlgError as exc:
            raise ValueError(f"correlation {correlation} is not valid for {n} feeds") from exc

    def ticks(self) -> Iterator[Tick]:
        rng = np.random.default_rng(self.seed)
        dt = 1.0 / self.periods_per_year
        ps = [self.params[f] for f in self.feed_ids]
        sigma = np.array([p.sigma for p in ps])
        lam = np.array([p.jump_intensity for p in ps])
        jm = np.array([p.jump_mean for p in ps])
        js = np.array([p.jump_std for p in ps])
        mu = np.array([p.mu for p in ps])
        k = np.exp(jm + 0.5 * js**2) - 1.0
        drift = (mu - 0.5 * sigma**2 - lam * k) * dt
        log_s = np.log([p.s0 for p in ps])
        vols = (
            {f: p.total_vol() for f, p in zip(self.feed_ids, ps, strict=False)}
            if self.supply_vol
            else {}
        )
        i = 0
        while self.steps is None or i < self.steps:
            if i > 0:  # tick 0 is the initial price
                z = self._chol @ rng.standard_normal(len(ps))
                n_jumps = rng.poisson(lam * dt)
                # the sum of n iid normal jumps is normal(n m, sqrt(n) s): one draw per feed
                jumps = n_jumps * jm + np.sqrt(n_jumps) * js * rng.standard_normal(len(ps))
                log_s = log_s + drift + sigma * math.sqrt(dt) * z + jumps
            if i == 0:  # exactly s0, not exp(log(s0))
                prices = {f: float(p.s0) for f, p in zip(self.feed_ids, ps, strict=True)}
            else:
                prices = {f: float(math.exp(x)) for f, x in zip(self.feed_ids, log_s, strict=True)}
            yield Tick(index=i, prices=prices, vols=dict(vols), label=f"gbm[{self.seed}]#{i}")
            i += 1
