"""The main job (`make demo`): Keel's Vault and Oracle at work on the embedded anvil chain.

1. launch anvil (brownie's embedded network) and deploy Oracle, Vault and test tokens;
2. start the oracle relayer as a separate process, replaying real BTC/ETH daily closes (one day per
   round, in accelerated chain time) through 5 signing keys with a 3-of-5 quorum;
3. while prices move, a few accounts deposit and withdraw collateral;
4. print a summary: feeds, accounts with haircut values, and the conservation check (INV-1).

Run `python -m keel.demo --help` for the options.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from keel.chain import network_name
from keel.deploy import WAD, DeployConfig, GovernanceSpec, deploy
from keel.pricefile import DEFAULT_PRICE_FILE, PriceFileError, replay_start
from keel.userinput import Parser, day, fail, number

CONFIG = DeployConfig.load()  # config/deploy.yaml: the deployment `keel deploy` makes
SETTLEMENT, COLLATERAL = CONFIG.settlement, CONFIG.collateral
FEED_NAMES = {f.id: f.symbol for f in CONFIG.feeds}

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CSV = DEFAULT_PRICE_FILE
N_SIGNERS = 5
QUORUM = 3
KEY_SEED = 0  # the relayer's --dev-keys seed: TEST KEYS ONLY (derived, public)
DAY = 86_400

# What each demo account starts with (whole tokens).
STARTING_DEPOSITS = [
    {"USDC": 50_000, "WETH": 20},
    {"USDC": 10_000, "WBTC": 1},
    {"WETH": 5, "WBTC": 0.5},
    {"USDC": 250_000},
]


def parse_args(argv=None) -> argparse.Namespace:
    """The options, checked before anything starts (a bad one exits 2 with one line); sets
    `csv_start`, the CSV row the replay starts on."""
    ap = Parser(prog="python -m keel.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument(
        "--rounds",
        type=number(int, min=1, why="at least one oracle round"),
        default=30,
        help="oracle rounds (days) to replay (30)",
    )
    ap.add_argument(
        "--start", type=day, default="2017-11-20", help="first CSV date to replay (2017-11-20)"
    )
    ap.add_argument(
        "--csv", type=Path, default=DEFAULT_CSV, help="price file (date,btc_usd,eth_usd)"
    )
    ap.add_argument("--source", choices=["csv", "gbm"], default="csv", help="price source (csv)")
    ap.add_argument(
        "--accounts",
        type=number(int, min=1, max=len(STARTING_DEPOSITS), why="the demo's funded accounts"),
        default=3,
        help=f"trader accounts, 1-{len(STARTING_DEPOSITS)} (3)",
    )
    ap.add_argument(
        "--seed",
        type=number(int, min=0, why="numpy's generators take seeds >= 0"),
        default=7,
        help="seed of the account activity (7)",
    )
    ap.add_argument(
        "--network", type=network_name, default=None, help="brownie network (embedded anvil)"
    )
    ap.add_argument(
        "--timeout",
        type=number(float, above=0.0),
        default=300,
        help="relayer time limit [s] (300)",
    )
    args = ap.parse_args(argv)
    args.csv_start = 0
    if args.source == "csv":
        try:
            why = f"--start {args.start}, --rounds {args.rounds}"
            args.csv_start = replay_start(args.csv, args.start, args.rounds, why)
        except PriceFileError as exc:
            fail(ap.prog, str(exc))
        args.csv = args.csv.resolve()  # the relayer process runs from the repository
    return args


def silenced():
    """Hide brownie's per-transaction lines (contract calls print them unconditionally)."""
    return contextlib.redirect_stdout(io.StringIO())


def fmt_units(symbol: str, units: int) -> str:
    decimals = next(s.decimals for s in (SETTLEMENT, *COLLATERAL) if s.symbol == symbol)
    return f"{units / 10**decimals:,.4f} {symbol}"


@dataclass
class Activity:
    deposits: int = 0
    withdrawals: int = 0
    log: list[str] = field(default_factory=list)


def account_activity(system, owners, account_ids, rng: random.Random, act: Activity) -> None:
    """One random deposit or withdrawal by one account (neither needs prices, SPEC §2)."""
    i = rng.randrange(len(account_ids))
    owner, acct = owners[i], account_ids[i]
    vault = system.vault
    held = [s.symbol for s in COLLATERAL if vault.collateralBalance(acct, system.tokens[s.symbol])]
    cash = vault.cashOf(acct)
    if rng.random() < 0.5 or (not held and cash <= 0):
        spec = rng.choice([SETTLEMENT, *COLLATERAL])
        amount = {"USDC": 5_000, "WETH": 2, "WBTC": 0.1}[spec.symbol]
        units = system.units(spec.symbol, amount)
        token = system.tokens[spec.symbol]
        token.mint(owner, units, {"from": owner})
        token.approve(vault, units, {"from": owner})
        vault.deposit(acct, token, units, {"from": owner})
        act.deposits += 1
        act.log.append(f"account {acct} deposited {fmt_units(spec.symbol, units)}")
    else:
        if held and (cash <= 0 or rng.random() < 0.6):
            symbol = rng.choice(held)
            balance = vault.collateralBalance(acct, system.tokens[symbol])
            units = balance // 4 or balance
        else:
            symbol = SETTLEMENT.symbol
            units = (cash // 4) // 10 ** (18 - SETTLEMENT.decimals)
        vault.withdraw(acct, system.tokens[symbol], units, owner, {"from": owner})
        act.withdrawals += 1
        act.log.append(f"account {acct} withdrew {fmt_units(symbol, units)}")


def open_funded_account(system, owner, deposits) -> int:
    """Open an account for `owner`, mint it test tokens and deposit them ({symbol: whole tokens})."""
    tx = {"from": owner}
    account_id = system.vault.openAccount(tx).return_value
    for symbol, amount in deposits.items():
        units = system.units(symbol, amount)
        token = system.tokens[symbol]
        token.mint(owner, units, tx)
        token.approve(system.vault, units, tx)
        system.vault.deposit(account_id, token, units, tx)
    return account_id


def start_relayer(system, args, csv_start: int, log_path: Path) -> subprocess.Popen:
    from keel.chain import rpc_url

    cmd = [
        sys.executable, "-m", "oracle", "run",
        "--rpc", rpc_url(),
        "--oracle", system.oracle.address,
        "--dev-keys", str(N_SIGNERS), "--key-seed", str(KEY_SEED),
        "--source", args.source, "--csv", str(args.csv), "--csv-start", str(csv_start),
        "--seed", str(args.seed),
        "--rounds", str(args.rounds),
        "--advance-time", str(DAY),
        "--interval", "0",
        "--no-state-file",
    ]  # fmt: skip
    log = open(log_path, "w")  # noqa: SIM115 - closed when the process is reaped
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)


def fmt_usd(wad: int) -> str:
    return f"${wad / WAD:,.2f}"


def summary(system, owners, account_ids, act: Activity, relayer_rc: int, elapsed: float) -> bool:
    oracle, vault = system.oracle, system.vault
    print("\n== Feeds (medians of 3-of-5 signed observations) ==")
    print(f"{'feed':<5}{'price':>14}{'vol':>9}{'round':>7}{'reduce-only':>13}")
    for feed_id, name in FEED_NAMES.items():
        price, vol, _observed_at, round_ = oracle.feed(feed_id)
        ro = "yes" if oracle.isReduceOnly(feed_id) else "no"
        print(f"{name:<5}{fmt_usd(price):>14}{vol / WAD:>9.1%}{round_:>7}{ro:>13}")

    print("\n== Accounts ==")
    print(f"{'id':<4}{'cash':>14}{'WETH':>10}{'WBTC':>9}{'collateral':>15}{'haircut':>12}")
    for acct in account_ids:
        cash, collateral, cash_haircut = vault.valuation(acct)
        amounts = {c[0]: c[1] for c in collateral}
        value = sum(c[4] for c in collateral)
        haircut = sum(c[5] for c in collateral) + cash_haircut
        weth = amounts.get(system.tokens["WETH"].address, 0) / 10**18
        wbtc = amounts.get(system.tokens["WBTC"].address, 0) / 10**8
        print(
            f"{acct:<4}{fmt_usd(cash):>14}{weth:>10.3f}{wbtc:>9.4f}"
            f"{fmt_usd(value):>15}{fmt_usd(haircut):>12}"
        )
    print(
        "haircuts now: "
        + ", ".join(
            f"{s.symbol} {vault.haircut(system.tokens[s.symbol]) / WAD:.2%}" for s in COLLATERAL
        )
    )

    print("\n== Conservation (INV-1): vault token balance = what accounts and the fund own ==")
    ok = True
    for spec in (SETTLEMENT, *COLLATERAL):
        token = system.tokens[spec.symbol]
        held = token.balanceOf(vault)
        if spec is SETTLEMENT:
            owed_wad = sum(vault.cashOf(a) for a in account_ids) + vault.insuranceFund()
            owed = owed_wad // 10 ** (18 - spec.decimals)
        else:
            owed = sum(vault.collateralBalance(a, token) for a in account_ids)
        good = held == owed
        ok &= good
        print(
            f"{spec.symbol:<5} vault {held:>28,}  owed {owed:>28,}  {'ok' if good else 'MISMATCH'}"
        )

    print(
        f"\nactivity: {act.deposits} deposits, {act.withdrawals} withdrawals; "
        f"relayer exit code {relayer_rc}; {elapsed:.1f} s"
    )
    return ok and relayer_rc == 0


def main(argv=None) -> int:
    args = parse_args(argv)
    t0 = time.time()
    from keel.chain import connect

    print("compiling and launching the embedded chain ...", flush=True)
    with silenced():
        connect(args.network)
    import brownie

    from keel.client.keys import derive_keys

    print(f"Keel demo on '{brownie.network.show_active()}' (chain id {brownie.chain.id})")
    deployer, *traders = brownie.accounts[: 1 + args.accounts]
    signers = derive_keys(N_SIGNERS, KEY_SEED)
    with silenced():
        config = replace(
            CONFIG,
            signers=tuple(s.address for s in signers),
            quorum=QUORUM,
            governance=GovernanceSpec(timelock=False),  # this walkthrough keeps the deployer owner
        )
        system = deploy(config, deployer)
        account_ids = [
            open_funded_account(system, owner, STARTING_DEPOSITS[i])
            for i, owner in enumerate(traders)
        ]
    addresses = system.addresses()
    for name, address in addresses["contracts"].items():
        print(f"  {name:<11}{address}")
    for name, token in addresses["tokens"].items():
        print(f"  {name:<11}{token['address']}")
    for acct, deposits in zip(account_ids, STARTING_DEPOSITS, strict=False):
        print(f"account {acct} opened with " + ", ".join(f"{v:,} {k}" for k, v in deposits.items()))

    state_dir = ROOT / ".keel"
    state_dir.mkdir(exist_ok=True)
    log_path = state_dir / "demo-relayer.log"
    relayer = start_relayer(system, args, args.csv_start, log_path)
    print(f"relayer started (pid {relayer.pid}, log {log_path.relative_to(ROOT)})")

    from tqdm import tqdm

    rng = random.Random(args.seed)
    act = Activity()
    last_round = 0
    deadline = time.time() + args.timeout
    with tqdm(total=args.rounds, desc="oracle rounds", unit="round") as bar:
        while relayer.poll() is None and time.time() < deadline:
            round_ = system.oracle.feed(1)[3]
            if round_ > last_round:
                bar.update(round_ - last_round)
                last_round = round_
                with silenced():
                    account_activity(system, traders, account_ids, rng, act)
            time.sleep(0.2)
        if relayer.poll() is None:
            relayer.kill()
        bar.update(system.oracle.feed(1)[3] - last_round)
    rc = relayer.wait()
    if rc != 0:
        print(f"relayer failed (exit {rc}); last lines of its log:")
        print("".join(log_path.read_text().splitlines(keepends=True)[-15:]))
    print("\n== Account activity while prices moved ==")
    for line in act.log:
        print("  " + line)
    ok = summary(system, traders, account_ids, act, rc, time.time() - t0)
    return 0 if ok else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
