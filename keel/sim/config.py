"""The simulation's parameters: defaults, `--config FILE` (JSON or YAML) and command-line flags.

Precedence: flags given on the command line > the config file > the defaults below.
"""

from __future__ import annotations

import argparse
import difflib
import json
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from keel.pricefile import DEFAULT_PRICE_FILE, ROOT, PriceFileError, replay_start
from keel.userinput import InputError, Parser, boolean, choice, day, fail, number

DEFAULT_CSV = DEFAULT_PRICE_FILE


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
    realtime: bool = False  # keepers loop on the wall clock (else lockstep, keel.sim.clock)

    def crash_at(self) -> int:
        if self.crash_day is None:
            return max(1, self.days - 5)
        return self.crash_day


QUICK = {"days": 10, "accounts": 10, "liquidation_hours": 4.0}
# A quick run's folder unless --out names one: the default folder (SimConfig.out) holds the committed
# report, which a smoke run must never overwrite (`check` refuses --quick with it).
QUICK_OUT = "reports/quick"

# What each option accepts, for a flag and a config file's value alike (keel.userinput), with the
# reason of each bound. Cross-option rules (crash day, the CSV covering the run) are in `check`.
MOVE = number(float, above=-1.0, why="a move of -100% or more leaves no positive price")
RULES: dict[str, Callable] = {
    "days": number(int, min=1, why="at least one trading day"),
    "accounts": number(int, min=1, why="at least one trader"),
    "seed": number(int, min=0, why="numpy's generators take seeds >= 0"),
    "path": choice("csv", "gbm"),
    "csv": str,
    "start": day,
    "crash_day": number(int, min=0, why="0 = no crash"),
    "crash_eth": MOVE,
    "crash_btc": MOVE,
    "out": str,
    "insurance_fund": number(float, min=0.0, why="USD paid into the fund"),
    "book_share": number(float, min=0.0, max=1.0, why="a share of the trader accounts"),
    "trade_prob": number(float, min=0.0, max=1.0, why="a probability"),
    "liquidation_hours": number(float, min=0.0, why="chain time after the crash"),
    "report": boolean,
    "quick": boolean,
    "realtime": boolean,
}


def parse_args(argv=None) -> SimConfig:
    """The run's options from the command line and `--config`, checked whole before anything
    starts: a bad value exits 2 with one line naming it (nothing launched, nothing written)."""
    ap = Parser(
        prog="python -m keel.sim",
        description="Keel market simulation on the embedded anvil chain: deploy, trade for N days "
        "with the relayer and keepers as separate processes, crash, liquidate, report.",
    )
    ap.add_argument("--config", type=Path, help="JSON or YAML file with any of the options below")
    d = SimConfig()
    r = RULES
    ap.add_argument("--days", type=r["days"], help=f"simulated days ({d.days})")
    ap.add_argument("--accounts", type=r["accounts"], help=f"trader accounts ({d.accounts})")
    ap.add_argument("--seed", type=r["seed"], help=f"seed, >= 0 ({d.seed})")
    ap.add_argument("--path", choices=["csv", "gbm"], help=f"price path ({d.path})")
    ap.add_argument(
        "--csv", help="price file date,btc_usd,eth_usd (data/btc_eth_daily_2016_2019.csv)"
    )
    ap.add_argument("--start", type=r["start"], help=f"first CSV date, YYYY-MM-DD ({d.start})")
    ap.add_argument(
        "--crash-day", type=r["crash_day"], help="day of the crash (days - 5; 0 = none)"
    )
    ap.add_argument("--crash-eth", type=MOVE, help=f"ETH move of the crash, > -1 ({d.crash_eth})")
    ap.add_argument("--crash-btc", type=MOVE, help=f"BTC move of the crash, > -1 ({d.crash_btc})")
    ap.add_argument("--out", help=f"report folder ({d.out})")
    ap.add_argument(
        "--insurance-fund",
        type=r["insurance_fund"],
        help=f"initial fund, USD ({d.insurance_fund:,.0f})",
    )
    ap.add_argument(
        "--liquidation-hours", type=r["liquidation_hours"], help="chain hours after the crash (6)"
    )
    ap.add_argument("--no-report", action="store_true", help="skip the report builder")
    ap.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: 10 days, 10 accounts (1-2 minutes), written to {QUICK_OUT}/ (never to "
        "the default report folder)",
    )
    ap.add_argument(
        "--realtime",
        action="store_true",
        default=None,  # not given: the config file's value, else lockstep
        help="the keepers run their real-time loops on the wall clock, and anvil stamps blocks "
        "with it: liquidation figures then vary from run to run (default: lockstep, the same "
        "seed gives the same simulation.json)",
    )
    args = ap.parse_args(argv)
    values: dict = {}
    if args.quick:
        values.update(QUICK, quick=True, out=QUICK_OUT)
    try:
        if args.config:
            values.update(load_config(args.config))
        for f in fields(SimConfig):
            v = getattr(args, f.name, None)
            if v is not None and f.name != "quick":
                values[f.name] = v
        if args.no_report:
            values["report"] = False
        cfg = SimConfig(**values)
        check(cfg)
    except InputError as exc:
        fail(ap.prog, str(exc))
    cfg.csv = str(Path(cfg.csv).resolve())  # the relayer process reads it from the repository
    return cfg


def check(cfg: SimConfig) -> None:
    """The rules between options; InputError naming the first one broken."""
    if not 0 <= cfg.crash_at() <= cfg.days:
        raise InputError(f"--crash-day {cfg.crash_day} is after the last day (--days {cfg.days})")
    if cfg.path == "csv":
        csv_start(cfg)
    out = out_dir(cfg)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {cfg.out}: {out} exists and is not a folder")
    if cfg.quick and out.resolve() == out_dir(SimConfig()).resolve():
        raise InputError(
            f"--out {cfg.out}: a --quick run never writes the default report folder "
            f"(leave --out out for {QUICK_OUT}, or name another folder)"
        )


def csv_start(cfg: SimConfig) -> int:
    """The CSV row the run starts on: the first dated `start` or later, followed by one row per
    simulated day (the first row prices the deployment). InputError if the file cannot cover it."""
    why = f"--start {cfg.start}, --days {cfg.days}: a row to deploy on, then one a day"
    try:
        return replay_start(cfg.csv, cfg.start, cfg.days + 1, why)
    except PriceFileError as exc:
        raise InputError(str(exc)) from None


def out_dir(cfg: SimConfig) -> Path:
    """The report folder: `out`, relative to the repository unless absolute."""
    out = Path(cfg.out)
    return out if out.is_absolute() else ROOT / out


def load_config(path: Path) -> dict:
    """The options of a JSON or YAML file (dashes or underscores), each checked by its rule."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise InputError(f"--config {path}: no such file") from None
    except OSError as exc:
        raise InputError(f"--config {path}: cannot read it ({exc.strerror})") from None
    if path.suffix in (".yaml", ".yml"):
        import yaml

        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            where = getattr(exc, "problem_mark", None)
            line = f" at line {where.line + 1}" if where else ""
            raise InputError(f"{path}: not valid YAML{line}") from None
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of options, got {type(data).__name__}")
    values = {str(k).replace("-", "_"): v for k, v in data.items()}
    known = [f.name for f in fields(SimConfig)]
    for key, value in values.items():
        if key not in known:
            near = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean {near[0]}?)" if near else f"; options: {', '.join(known)}"
            raise InputError(f"{path}: unknown option {key!r}{hint}")
        if key == "crash_day" and value is None:
            continue
        try:
            values[key] = RULES[key](value)
        except argparse.ArgumentTypeError as exc:
            raise InputError(f"{path}: {key}: {exc}") from None
    return values


def as_dict(cfg: SimConfig) -> dict:
    return asdict(cfg) | {"crash_day": cfg.crash_at()}
