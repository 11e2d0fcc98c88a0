"""Builders shared by the report tests: tiny price files in the shared data format."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import numpy as np


def write_prices(path: Path, btc, eth, start: date = date(2020, 1, 1)) -> Path:
    """A CSV `date,btc_usd,eth_usd` with one row per day from `start`."""
    lines = ["date,btc_usd,eth_usd"]
    for i, (b, e) in enumerate(zip(btc, eth, strict=True)):
        lines.append(f"{(start + timedelta(days=i)).isoformat()},{float(b)!r},{float(e)!r}")
    path.write_text("\n".join(lines) + "\n")
    return path


def random_walk(n: int, seed: int = 7) -> tuple[list[float], list[float]]:
    """Seeded correlated daily closes around $60,000 and $3,000."""
    rng = np.random.default_rng(seed)
    z = rng.multivariate_normal(
        [0, 0], [[0.04**2, 0.6 * 0.04 * 0.06], [0.6 * 0.04 * 0.06, 0.06**2]], n
    )
    btc = 60000.0 * np.exp(np.cumsum(z[:, 0]))
    eth = 3000.0 * np.exp(np.cumsum(z[:, 1]))
    return [float(x) for x in btc], [float(x) for x in eth]
