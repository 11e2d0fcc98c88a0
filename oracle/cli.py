"""`keel-relayer` / `python -m oracle`: run the oracle relayer, manage its keys, inspect feeds.

    keel-relayer keys --out .keel/signers.json --count 5            # random keys, mode 0600
    keel-relayer keys --out .keel/signers.json --count 5 --seed 7   # deterministic TEST keys
    keel-relayer run --rpc http://127.0.0.1:8545 --oracle 0x... --dev-keys 5 \\
        --source csv --csv data/btc_eth_daily_2016_2019.csv --rounds 100 --advance-time 86400
    keel-relayer status --rpc http://127.0.0.1:8545 --oracle 0x...

Exit codes: 0 done, 1 RPC unavailable for too long (`--rpc-wait`, 60 s by default), 2 usage or
configuration error (one line on stderr; nothing is sent or written).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from fractions import Fraction
from pathlib import Path

from keel.client.logs import configure
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

PROG = "keel-relayer"
DEFAULT_STATE_FILE = ".keel/relayer-state.json"
DEFAULT_CSV = DEFAULT_PRICE_FILE
SENDER_KEY_ENV = "KEEL_RELAYER_SENDER_KEY"
COUNT = number(int, min=1, why="at least one key")
SECONDS = number(float, above=0.0)


def _feeds(text: str) -> tuple[int, ...]:
    try:
        feeds = tuple(int(x) for x in text.split(",") if x.strip())
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"bad feed list {text!r}") from exc
    if not feeds:
        raise argparse.ArgumentTypeError("empty feed list")
    return feeds


def _fraction(text: str) -> Fraction:
    """A push threshold: a fraction >= 0 (0.005 = 0.5%)."""
    try:
        x = Fraction(text)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if x < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return x


def _columns(text: str) -> dict[int, str]:
    """'1=btc_usd,2=eth_usd' -> {1: 'btc_usd', 2: 'eth_usd'}."""
    out = {}
    for part in text.split(","):
        fid, _, col = part.partition("=")
        if not col or not fid.strip().isdigit():
            raise argparse.ArgumentTypeError(f"bad column mapping {part!r} (want FEED=COLUMN)")
        out[int(fid)] = col.strip()
    return out


def build_parser() -> argparse.ArgumentParser:
    p = Parser(
        prog=PROG,
        description="Keel oracle relayer: signs k-of-n price/vol reports and pushes them on chain.",
    )
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="run the relayer loop", description="Run the relayer loop.")
    chain = run.add_argument_group("chain")
    chain.add_argument(
        "--rpc", required=True, type=rpc_url, help="JSON-RPC URL, e.g. http://127.0.0.1:8545"
    )
    chain.add_argument("--oracle", required=True, type=address, help="Oracle contract address")
    chain.add_argument("--rpc-timeout", type=SECONDS, default=10.0, help="per request [s] (10)")
    add_rpc_wait(chain)
    chain.add_argument(
        "--max-failures",
        type=number(int, min=0),
        default=20,
        help="consecutive failed cycles on one tick before exiting with code 1, whichever of "
        "this and --rpc-wait comes first; 0 = no count (20)",
    )
    chain.add_argument(
        "--advance-time",
        type=number(int, min=0),
        default=0,
        metavar="SECONDS",
        help="anvil only: evm_increaseTime + evm_mine before each cycle (accelerated replay); off by default",
    )
    keys = run.add_argument_group("keys")
    k = keys.add_mutually_exclusive_group(required=True)
    k.add_argument("--keys", type=Path, help="signer key file (JSON list; see `keys`)")
    k.add_argument(
        "--dev-keys",
        type=COUNT,
        metavar="N",
        help="N deterministic TEST signer keys from --key-seed (local chains only)",
    )
    keys.add_argument("--key-seed", default="0", help="seed of --dev-keys (0)")
    keys.add_argument(
        "--anvil-signers",
        action="store_true",
        help="with --dev-keys: use anvil's well-known dev accounts 0..N-1 as signers instead",
    )
    s = keys.add_mutually_exclusive_group()
    s.add_argument(
        "--sender-key-file", type=Path, help="key file whose first key sends transactions"
    )
    s.add_argument(
        "--sender-anvil-index",
        type=number(int, min=0, max=9, why="anvil's ten dev accounts"),
        help="send from anvil dev account I (default 9 with --dev-keys; TEST key)",
    )
    keys.add_argument(
        "--sign-with",
        choices=["quorum", "all"],
        default="quorum",
        help="sign with the first `quorum` signers or all of them (quorum)",
    )
    keys.add_argument(
        "--noise", type=number(float, min=0.0), default=0.0, help="per-signer noise std (0)"
    )
    src = run.add_argument_group("source")
    src.add_argument("--source", choices=["csv", "gbm"], default="csv")
    src.add_argument(
        "--csv",
        type=Path,
        default=Path(DEFAULT_CSV),
        help=f"CSV path (the repository's data/{DEFAULT_CSV.name})",
    )
    src.add_argument(
        "--csv-columns",
        type=_columns,
        default=None,
        help="feed-to-column mapping, e.g. 1=btc_usd,2=eth_usd (the default)",
    )
    src.add_argument(
        "--csv-start", type=number(int, min=0), default=0, help="first CSV row to replay (0)"
    )
    src.add_argument(
        "--seed",
        type=number(int, min=0, why="numpy's generators take seeds >= 0"),
        default=0,
        help="GBM and signer-noise seed (0)",
    )
    src.add_argument("--gbm-implied-vol", action="store_true", help="GBM ticks carry implied vol")
    src.add_argument(
        "--periods-per-year", type=SECONDS, default=365.0, help="ticks per year for the EWMA (365)"
    )
    loop = run.add_argument_group("loop")
    loop.add_argument(
        "--feeds", type=_feeds, default=None, help="feed ids, e.g. 1,2 (all of the source)"
    )
    loop.add_argument(
        "--rounds",
        type=number(int, min=1),
        default=None,
        metavar="N",
        help="stop after N source ticks in total (a restart with the same state file resumes the count)",
    )
    loop.add_argument(
        "--interval", type=number(float, min=0.0), default=0.0, help="pause between cycles [s] (0)"
    )
    loop.add_argument(
        "--deviation", type=_fraction, default=Fraction(5, 1000), help="push threshold (0.005)"
    )
    loop.add_argument(
        "--heartbeat", type=number(int, min=1), default=None, help="[s] (default: the Oracle's)"
    )
    loop.add_argument("--state-file", type=Path, default=Path(DEFAULT_STATE_FILE))
    loop.add_argument("--no-state-file", action="store_true", help="keep no state on disk")
    add_log_level(loop)
    loop.add_argument("--log-format", choices=["text", "json"], default="text")

    kg = sub.add_parser(
        "keys", help="generate a signer key file", description="Generate a key file."
    )
    kg.add_argument("--out", type=Path, default=Path(".keel/signers.json"))
    kg.add_argument("--count", type=COUNT, default=5)
    kg.add_argument("--seed", default=None, help="deterministic TEST keys from this seed")
    kg.add_argument("--force", action="store_true", help="overwrite an existing file")

    st = sub.add_parser("status", help="print on-chain feed states", description="Print feeds.")
    st.add_argument("--rpc", required=True, type=rpc_url, help="JSON-RPC URL")
    st.add_argument("--oracle", required=True, type=address, help="Oracle contract address")
    st.add_argument("--feeds", type=_feeds, default=(1, 2))
    st.add_argument("--rpc-timeout", type=SECONDS, default=10.0, help="per request [s] (10)")
    return p


def _signers(args):
    from keel.client.keys import anvil_dev_keys, derive_keys, load_key_file

    if args.keys:
        return load_key_file(args.keys)
    if args.anvil_signers:
        return anvil_dev_keys(args.dev_keys)
    return derive_keys(args.dev_keys, args.key_seed)


def _sender(args):
    from keel.client.keys import Signer, anvil_dev_keys, load_key_file

    if args.sender_key_file:
        return load_key_file(args.sender_key_file)[0]
    if args.sender_anvil_index is not None:
        return anvil_dev_keys(1, offset=args.sender_anvil_index)[0]
    if os.environ.get(SENDER_KEY_ENV):
        return Signer.from_key(os.environ[SENDER_KEY_ENV])
    if args.dev_keys:
        return anvil_dev_keys(1, offset=9)[0]
    raise ValueError(
        f"no sender: give --sender-key-file, --sender-anvil-index or ${SENDER_KEY_ENV}"
    )


def _source(args):
    from oracle.sources import CsvReplaySource, GbmJumpSource

    if args.source == "csv":
        return CsvReplaySource(
            args.csv, args.csv_columns, periods_per_year=args.periods_per_year, start=args.csv_start
        )
    return GbmJumpSource(
        args.seed, periods_per_year=args.periods_per_year, supply_vol=args.gbm_implied_vol
    )


def cmd_run(args) -> int:
    from keel.client.rpc import Misconfigured, RpcUnavailable
    from oracle.relayer import LOGGER_NAME, RelayerConfig, RelayerError, run

    configure(args.log_level, args.log_format, logger_name=LOGGER_NAME)
    try:
        config = RelayerConfig(
            rpc_url=args.rpc,
            oracle=args.oracle,
            signers=_signers(args),
            sender=_sender(args),
            source=_source(args),
            feeds=args.feeds,
            sign_with=args.sign_with,
            deviation=args.deviation,
            heartbeat=args.heartbeat,
            noise=args.noise,
            noise_seed=args.seed,
            rounds=args.rounds,
            interval=args.interval,
            advance_time=args.advance_time,
            state_file=None if args.no_state_file else args.state_file,
            rpc_timeout=args.rpc_timeout,
            max_failures=args.max_failures or None,
            max_outage=args.rpc_wait or None,
        )
        summary = run(config)
    except (RpcUnavailable, Misconfigured) as exc:
        return chain_exit(PROG, exc, args.rpc_wait)
    except (RelayerError, ValueError, OSError) as exc:
        print(f"{PROG}: error: {reason(exc)}", file=sys.stderr)
        return 2
    print(json.dumps({"summary": summary.__dict__}, default=str))
    return 0


def cmd_keys(args) -> int:
    from keel.client.keys import derive_keys, random_keys, write_key_file

    if args.out.is_dir():
        print(f"{PROG} keys: error: --out {args.out} is a folder", file=sys.stderr)
        return 2
    if args.out.exists() and not args.force:
        print(f"{PROG} keys: error: {args.out} exists (use --force)", file=sys.stderr)
        return 2
    signers = (
        derive_keys(args.count, args.seed) if args.seed is not None else random_keys(args.count)
    )
    write_key_file(args.out, signers)
    kind = "deterministic TEST keys" if args.seed is not None else "random keys"
    print(f"wrote {args.count} {kind} to {args.out} (mode 0600); authorise these signers:")
    for s in signers:
        print(s.address)
    return 0


def cmd_status(args) -> int:
    from web3.exceptions import BadFunctionCallOutput, ContractLogicError

    from keel.client.rpc import Misconfigured, RetryPolicy, Rpc, RpcUnavailable
    from oracle.relayer import ORACLE_ABI

    configure("CRITICAL")  # the answer, or one line saying why not: no retry log
    rpc = Rpc(args.rpc, args.rpc_timeout, RetryPolicy(max_attempts=1))  # one look, no retries
    w3 = rpc.w3
    c = w3.eth.contract(address=args.oracle, abi=ORACLE_ABI)
    try:
        now = rpc.call("latest_block", lambda: w3.eth.get_block("latest")["timestamp"])
        rpc.require_code({"Oracle": args.oracle})
        feeds = {f: rpc.call("feed", c.functions.feed(f).call) for f in args.feeds}
    except (RpcUnavailable, Misconfigured) as exc:
        return chain_exit(PROG, exc, rpc_wait=0)
    except (BadFunctionCallOutput, ContractLogicError) as exc:  # code, but not an Oracle's
        print(f"{PROG}: error: {args.oracle} does not answer as an Oracle ({exc})", file=sys.stderr)
        return 2
    for f, (price, vol, observed_at, round_) in feeds.items():
        print(
            json.dumps(
                {
                    "feed": f,
                    "round": round_,
                    "price": price / 1e18,
                    "vol": vol / 1e18,
                    "observedAt": observed_at,
                    "age": now - observed_at,
                }
            )
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return {"run": cmd_run, "keys": cmd_keys, "status": cmd_status}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
