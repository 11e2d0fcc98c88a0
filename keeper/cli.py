"""`keel-keeper` / `python -m keeper`: run the liquidation keeper.

    keel-keeper run --rpc http://127.0.0.1:8545 --engine 0x.. --liquidator 0x.. --vault 0x.. \\
        --oracle 0x.. --account 7 --key-file .keel/keeper-key.json [--scan-interval 30] \\
        [--min-profit 1] [--state-file .keel/keeper-state.json] [--log-level INFO] [--once]

    keel-keeper settle --rpc ... --engine 0x.. --vault 0x.. --oracle 0x.. --key-file F2

    keel-keeper cover2 --rpc ... --engine 0x.. --vault 0x.. --oracle 0x.. [--block N] [--json]
        [--prices data/btc_eth_daily_2016_2019.csv]      # read only: no key

The loop runs in real time (a cycle every --poll-interval s) unless `--stepped`: then it runs one
cycle per `step` line on stdin and answers one JSON line each (keeper/stepped.py), for a driver
that owns the chain's clock (the market simulation's lockstep mode).

The key file is a JSON list holding one private key (or {"key": ...}), as `keel-relayer keys`
writes; `--anvil-index I` uses anvil's well-known dev account I instead (TEST keys only).
Exit codes: 0 done, 1 RPC unavailable for too long (`--rpc-wait`, 60 s by default) or a read
failing `--max-failures` cycles in a row, 2 usage or configuration error (one line on stderr;
nothing is sent or written).
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

from keel.chain import TX_GAS_CAP
from keel.client.rpc import Misconfigured, RetryPolicy, RpcUnavailable
from keel.pricefile import DEFAULT_PRICE_FILE
from keel.userinput import (
    Parser,
    add_log_level,
    add_rpc_wait,
    address,
    chain_exit,
    number,
    reason,
    rpc_url,
)

from .logs import configure
from .rules import BidParams

PROG = "keel-keeper"
DEFAULT_STATE_FILE = ".keel/keeper-state.json"
DEFAULT_SETTLE_STATE_FILE = ".keel/settler-state.json"
ZERO = "0x" + "00" * 20
NONNEG = number(float, min=0.0)
SECONDS = number(float, above=0.0)
GAS = number(int, min=1, max=TX_GAS_CAP, why=f"EIP-7825 caps a transaction at {TX_GAS_CAP:,} gas")


def _contracts(c) -> None:
    """--rpc, --engine, --vault, --oracle, --rpc-timeout and --rpc-wait of every command."""
    c.add_argument(
        "--rpc", required=True, type=rpc_url, help="JSON-RPC URL, e.g. http://127.0.0.1:8545"
    )
    c.add_argument("--engine", required=True, type=address, help="MarginEngine address")
    c.add_argument("--vault", required=True, type=address, help="Vault address")
    c.add_argument("--oracle", required=True, type=address, help="Oracle address")
    c.add_argument("--rpc-timeout", type=SECONDS, default=10.0, help="per request [s] (10)")
    add_rpc_wait(c)


def _common(sp: argparse.ArgumentParser, settle: bool) -> None:
    c = sp.add_argument_group("chain")
    _contracts(c)
    c.add_argument(
        "--liquidator",
        required=not settle,
        type=address,
        default=ZERO,
        help="Liquidator address",
    )
    c.add_argument(
        "--from-block",
        type=number(int, min=0),
        default=0,
        help="first block searched for accounts (0)",
    )
    c.add_argument(
        "--max-failures",
        type=number(int, min=0),
        default=30,
        help="consecutive failed cycles before exiting with code 1, whichever of this and "
        "--rpc-wait comes first; 0 = no count (30)",
    )
    k = sp.add_argument_group("keeper account")
    k.add_argument(
        "--account",
        type=number(int, min=0) if settle else number(int, min=1, why="account ids start at 1"),
        required=not settle,
        default=0,
        help="the keeper's own account id (receives start fees, holds what it buys)",
    )
    key = k.add_mutually_exclusive_group(required=True)
    key.add_argument("--key-file", type=Path, help="JSON list with the sender's private key")
    key.add_argument(
        "--anvil-index",
        type=number(int, min=0, max=9, why="anvil's ten dev accounts"),
        metavar="I",
        help="anvil dev account I (TEST keys only)",
    )
    r = sp.add_argument_group("loop")
    r.add_argument("--scan-interval", type=NONNEG, default=30.0, help="full scan every s (30)")
    r.add_argument("--poll-interval", type=NONNEG, default=1.0, help="pause between cycles (1)")
    r.add_argument("--max-runtime", type=SECONDS, help="stop after this many seconds")
    how = r.add_mutually_exclusive_group()
    how.add_argument("--once", action="store_true", help="one cycle (a full scan), then exit")
    how.add_argument(
        "--stepped",
        action="store_true",
        help="one cycle per 'step' line on stdin, one JSON reply line each; full scans every "
        "--scan-interval s of chain time (keeper/stepped.py)",
    )
    r.add_argument(
        "--state-file",
        type=Path,
        default=Path(DEFAULT_SETTLE_STATE_FILE if settle else DEFAULT_STATE_FILE),
    )
    add_log_level(r)
    r.add_argument("--log-format", choices=("json", "text"), default="json")
    r.add_argument(
        "--audit-size",
        type=number(int, min=0),
        default=50,
        help="accounts re-read and chain-checked per full scan against the index (50)",
    )
    r.add_argument("--dry-run", action="store_true", help="decide and log, send no transaction")
    g = sp.add_argument_group("gas")
    g.add_argument(
        "--tx-gas-cap",
        type=GAS,
        default=TX_GAS_CAP,
        help=f"never send a transaction estimated above this (EIP-7825: {TX_GAS_CAP:,})",
    )
    g.add_argument(
        "--refresh-gas-budget",
        type=GAS,
        default=TX_GAS_CAP // 2,
        help=f"gas per refreshRiskArrays transaction ({TX_GAS_CAP // 2:,})",
    )


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog=PROG,
        description="Keel liquidation keeper: starts, bids on and ends Dutch auctions (SPEC §7).",
    )
    sub = p.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the keeper loop", description="Run the keeper loop.")
    _common(run, settle=False)
    b = run.add_argument_group("bidding (keeper/rules.py)")
    b.add_argument("--min-profit", type=NONNEG, default=1.0, help="USD net of gas and risk (1)")
    b.add_argument(
        "--risk-charge", type=NONNEG, default=0.01, help="charge per USD of extra IM (0.01)"
    )
    b.add_argument(
        "--im-buffer", type=NONNEG, default=0.10, help="keep AE >= (1+b)·IM after bids (0.10)"
    )
    b.add_argument(
        "--slippage",
        type=number(float, min=0.0, below=1.0, why="a fraction of the price"),
        default=0.01,
        help="price-guard tolerance (0.01)",
    )
    b.add_argument(
        "--max-subsidy", type=NONNEG, default=5.0, help="USD loss accepted to clear dust (5)"
    )
    b.add_argument(
        "--native-feed", type=number(int, min=1), default=2, help="feed pricing gas (2 = ETH)"
    )
    settle = sub.add_parser(
        "settle",
        help="settle expired options and refresh risk arrays",
        description="Settle expired option positions and refresh the engine's risk arrays after "
        "oracle rounds (keeper/settle.py). Use a key of its own.",
    )
    _common(settle, settle=True)
    c2 = sub.add_parser(
        "cover2",
        help="cover-2 fund requirement beside the insurance fund",
        description="Read every account at one block and print the fund that covers the two "
        "largest losses beyond equity under ±3R moves (together and alone) and the price file's "
        "worst joint days (keel/risk/cover2.py), beside the insurance fund. Sends nothing.",
    )
    _contracts(c2.add_argument_group("chain"))
    c2.add_argument("--block", type=number(int, min=0), help="block to read (the head)")
    c2.add_argument(
        "--prices",
        type=Path,
        default=DEFAULT_PRICE_FILE,
        help="price file whose worst joint fall and rise are scenarios "
        "(data/btc_eth_daily_2016_2019.csv)",
    )
    c2.add_argument("--json", action="store_true", help="machine-readable output")
    return p


def _key(args) -> str:
    if args.anvil_index is not None:
        from keel.client.keys import anvil_dev_keys

        return anvil_dev_keys(1, offset=args.anvil_index)[0].key
    from keel.client.keys import load_key_file

    signers = load_key_file(args.key_file)
    if len(signers) != 1:
        raise ValueError(f"{args.key_file}: expected exactly one key")
    return signers[0].key


def _bid_params(args) -> BidParams:
    if args.command != "run":
        return BidParams()
    return BidParams(
        min_profit=args.min_profit,
        risk_charge=args.risk_charge,
        im_buffer=args.im_buffer,
        slippage=args.slippage,
        max_subsidy=args.max_subsidy,
    )


def config_from_args(args):
    from .keeper import KeeperConfig

    return KeeperConfig(
        rpc_url=args.rpc,
        engine=args.engine,
        liquidator=args.liquidator,
        vault=args.vault,
        oracle=args.oracle,
        account=args.account,
        key=_key(args),
        scan_interval=0.0 if args.once else args.scan_interval,
        poll_interval=args.poll_interval,
        bid=_bid_params(args),
        native_feed=getattr(args, "native_feed", 2),
        from_block=args.from_block,
        state_file=args.state_file,
        rpc_timeout=args.rpc_timeout,
        retry=RetryPolicy(max_elapsed=max(5.0, 3 * args.rpc_timeout)),
        max_failures=args.max_failures or None,
        max_outage=args.rpc_wait or None,
        max_cycles=1 if args.once else None,
        max_runtime=args.max_runtime,
        tx_gas_cap=args.tx_gas_cap,
        refresh_gas_budget=args.refresh_gas_budget,
        audit_size=args.audit_size,
        dry_run=args.dry_run,
        scan_clock="chain" if args.stepped else "wall",
    )


def _stop_on_signals() -> None:
    """SIGINT and SIGTERM end the loop cleanly (exit 0). Installed explicitly: a process started in
    the background by a non-interactive shell inherits SIGINT as *ignored*, and then Python never
    raises KeyboardInterrupt, so a supervisor's Ctrl-C or terminate would go unheard."""

    def stop(signum, frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)


def _cover2(args) -> int:
    """`cover2`: one read, one report on stdout; 0 whether or not the fund meets it."""
    import json

    from keel.client.chain import Addresses, Batch, Reader
    from keel.client.cover2 import measure, text
    from keel.client.rpc import Rpc
    from keel.pricefile import PriceFileError
    from keel.risk.cover2 import file_joint_days

    try:
        days = file_joint_days(args.prices)
    except PriceFileError as exc:
        print(f"{PROG} cover2: error: {exc}", file=sys.stderr)
        return 2
    configure("WARNING", "text")  # retries and outages, one line each on stderr
    rpc = Rpc(
        args.rpc,
        args.rpc_timeout,
        RetryPolicy(max_elapsed=max(5.0, 3 * args.rpc_timeout)),
        max_outage=args.rpc_wait or None,
    )
    reader = Reader(
        rpc,
        Batch(rpc, args.rpc, args.rpc_timeout),
        Addresses.of(args.engine, args.vault, args.oracle, ZERO),
    )
    failures = 0
    while True:  # the read is retried until it succeeds or the RPC was down --rpc-wait s
        try:
            rpc.require_code(
                {"MarginEngine": args.engine, "Vault": args.vault, "Oracle": args.oracle}
            )
            head = reader.block()["number"]
            if args.block is not None and args.block > head:
                print(f"{PROG} cover2: error: --block {args.block} is above the head {head}",
                      file=sys.stderr)  # fmt: skip
                return 2
            report = measure(reader, head if args.block is None else args.block, days)
            break
        except RpcUnavailable:
            failures += 1
            try:
                rpc.pause(failures)
            except RpcUnavailable as exc:
                return chain_exit(PROG, exc, args.rpc_wait)
        except Misconfigured as exc:
            return chain_exit(PROG, exc, args.rpc_wait)
    if args.json:
        print(json.dumps(report | {"prices": str(args.prices)}, indent=1))
    else:
        print(text(report, args.prices))
    return 0


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "cover2":
        return _cover2(args)
    if args.refresh_gas_budget > args.tx_gas_cap:  # a refresh must fit in one transaction
        print(
            f"{PROG} {args.command}: error: --refresh-gas-budget {args.refresh_gas_budget:,} is "
            f"above --tx-gas-cap {args.tx_gas_cap:,}",
            file=sys.stderr,
        )
        return 2
    configure(args.log_level, args.log_format)
    _stop_on_signals()
    try:
        cfg = config_from_args(args)
    except (OSError, ValueError) as exc:
        print(f"{PROG}: error: {reason(exc)}", file=sys.stderr)
        return 2
    from keel.client.chain import KeeperError

    from .keeper import Keeper
    from .settle import Settler
    from .stepped import serve

    try:
        keeper = (Settler if args.command == "settle" else Keeper)(cfg)
        if args.stepped:
            return serve(keeper, sys.stdin, sys.stdout)
        keeper.run()
    except (RpcUnavailable, Misconfigured) as exc:
        return chain_exit(PROG, exc, args.rpc_wait)
    except (KeeperError, ValueError) as exc:  # a read kept failing max_failures cycles in a row
        print(f"{PROG}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
