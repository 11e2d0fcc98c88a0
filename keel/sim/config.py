"""The simulation's parameters: defaults, `--config FILE` (JSON or YAML) and command-line flags.

Precedence: flags given on the command line > the config file > the defaults below.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_CSV = ROOT / "data" / "btc_eth_daily_2016_2019.csv"


@dataclass
class SimConfig:
    days: int = 40  # simulated trading days (one oracle round each)
    accounts: int = 30  # trader accounts (strategy books + directional traders)
    seed: int = 7  # population, trading and GBM path seed
    path: str = "csv"  # price path: "csv" (replay data/) or "gbm" (seeded GBM with jumps)
    csv: str = str(DEFAULT_CSV)
    start: str = "2019-02-01"  # first CSV date
    crash_day: int | None = None  # day of the crash (default: days - 5; 0 = no crash)
    crash_eth: float = -0.40
    crash_btc: float = -0.35
    out: str = "reports"
    insurance_fund: float = 250_000.0  # initial insurance fund [USD]
    book_share: float = 0.4  # share of trader accounts that hold a strategy book
    trade_prob: float = 0.35  # daily chance that a directional trader trades
    liquidation_hours: float = 6.0  # chain time the keepers get after the crash [h]
    report: bool = True  # run the report builder at the end
    quick: bool = False

    def crash_at(self) -> int:
        if self.crash_day is None:
            return max(1, self.days - 5)
        return self.crash_day


QUICK = {"days": 10, "accounts": 10, "liquidation_hours": 4.0}


def parse_args(argv=None) -> SimConfig:
    ap = argparse.ArgumentParser(
        prog="python -m keel.sim",
        description="Keel market simulation on the embedded anvil chain: deploy, trade for N days "
        "with the relayer and keepers as separate processes, crash, liquidate, report.",
    )
    ap.add_argument("--config", type=Path, help="JSON or YAML file with any of the options below")
    d = SimConfig()
    ap.add_argument("--days", type=int, help=f"simulated days ({d.days})")
    ap.add_argument("--accounts", type=int, help=f"trader accounts ({d.accounts})")
    ap.add_argument("--seed", type=int, help=f"seed ({d.seed})")
    ap.add_argument("--path", choices=["csv", "gbm"], help=f"price path ({d.path})")
    ap.add_argument(
        "--csv", help="price file date,btc_usd,eth_usd (data/btc_eth_daily_2016_2019.csv)"
    )
    ap.add_argument("--start", help=f"first CSV date ({d.start})")
    ap.add_argument("--crash-day", type=int, help="day of the crash (days - 5; 0 = none)")
    ap.add_argument("--crash-eth", type=float, help=f"ETH move of the crash ({d.crash_eth})")
    ap.add_argument("--crash-btc", type=float, help=f"BTC move of the crash ({d.crash_btc})")
    ap.add_argument("--out", help=f"report folder ({d.out})")
    ap.add_argument(
        "--insurance-fund", type=float, help=f"initial fund, USD ({d.insurance_fund:,.0f})"
    )
    ap.add_argument("--liquidation-hours", type=float, help="chain hours after the crash (6)")
    ap.add_argument("--no-report", action="store_true", help="skip the report builder")
    ap.add_argument(
        "--quick", action="store_true", help="smoke run: 10 days, 10 accounts (1-2 minutes)"
    )
    args = ap.parse_args(argv)
    values: dict = {}
    if args.quick:
        values.update(QUICK, quick=True)
    if args.config:
        values.update(load_config(args.config))
    for f in fields(SimConfig):
        v = getattr(args, f.name, None)
        if v is not None and f.name != "quick":
            values[f.name] = v
    if args.no_report:
        values["report"] = False
    unknown = set(values) - {f.name for f in fields(SimConfig)}
    if unknown:
        ap.error(f"unknown option(s) in {args.config}: {sorted(unknown)}")
    cfg = SimConfig(**values)
    if cfg.days < 1 or cfg.accounts < 1:
        ap.error("--days and --accounts must be >= 1")
    if not 0 <= cfg.crash_at() <= cfg.days:
        ap.error("--crash-day must be within 0..days")
    return cfg


def load_config(path: Path) -> dict:
    text = path.read_text()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        data = yaml.safe_load(text) or {}
    else:
        data = json.loads(text)
    if not isinstance(data, dict):
        raise SystemExit(f"{path}: expected a mapping of options")
    return {k.replace("-", "_"): v for k, v in data.items()}


def as_dict(cfg: SimConfig) -> dict:
    return asdict(cfg) | {"crash_day": cfg.crash_at()}
