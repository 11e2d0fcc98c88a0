"""What the command-line tools accept from a user, checked before anything starts.

Every entry point (`python -m keel.sim`, `python -m keel.demo`, `python -m keel.reports`,
`keel-relayer`, `keel-keeper`) answers bad input the same way: one line on stderr naming what was
wrong and why, exit code 2, and nothing launched, written or created. The pieces here make that the
default:

- `Parser`: an `argparse.ArgumentParser` whose usage errors are one line
  (`prog: error: argument --days: must be >= 1, got 0 (see prog --help)`), subcommands included;
- `number(...)`: argparse types for bounded numbers (a float must also be finite), each bound with
  its reason, usable on a config file's value as on a flag's;
- `address`, `rpc_url`: argparse types for a contract address and a JSON-RPC URL;
- `InputError`: what a check raises when the input is not a single flag (a file's content);
- `add_rpc_wait`, `add_log_level`, `chain_exit`: the options and the last words shared by the
  processes that talk to a chain.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable
from urllib.parse import urlparse


class InputError(ValueError):
    """Bad user input; the message is the whole one-line explanation."""


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors (the usage itself stays behind `--help`)."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def fail(prog: str, message: str, code: int = 2):
    """Prints `prog: error: message` on stderr and exits with `code`."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def reason(exc: Exception) -> str:
    """One line for an input a tool cannot use: a file named with what is wrong with it (not an
    errno), a JSON error with its line, else the exception's own message."""
    import json

    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"{exc.filename}: no such file"
    if isinstance(exc, OSError) and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, json.JSONDecodeError):
        return f"not valid JSON ({exc.msg} at line {exc.lineno})"
    return str(exc)


def _shown(x: float) -> str:
    return f"{x:g}" if isinstance(x, float) else str(x)


def number(
    kind: type = float,
    *,
    min: float | None = None,
    above: float | None = None,
    max: float | None = None,
    below: float | None = None,
    why: str = "",
) -> Callable[[object], int | float]:
    """An argparse type (also callable on a config file's value) for an int or a finite float
    within bounds: `min <= x`, `above < x`, `x <= max`, `x < below`. `why` is the bounds'
    reason, appended to the error in parentheses."""
    reason = f" ({why})" if why else ""

    def convert(value):
        text = str(value).strip()
        if isinstance(value, bool):  # YAML's `yes` is not 1
            x = None
        elif kind is int:
            try:
                x = int(text)
            except ValueError:
                x = None
        else:
            try:
                x = float(text)
            except ValueError:
                x = None
            if x is not None and not math.isfinite(x):
                x = None
        if x is None:
            what = "an integer" if kind is int else "a finite number"
            raise argparse.ArgumentTypeError(f"{text!r} is not {what}")
        if min is not None and x < min:
            raise argparse.ArgumentTypeError(f"must be >= {_shown(min)}{reason}, got {text}")
        if above is not None and x <= above:
            raise argparse.ArgumentTypeError(f"must be > {_shown(above)}{reason}, got {text}")
        if max is not None and x > max:
            raise argparse.ArgumentTypeError(f"must be <= {_shown(max)}{reason}, got {text}")
        if below is not None and x >= below:
            raise argparse.ArgumentTypeError(f"must be < {_shown(below)}{reason}, got {text}")
        return x

    convert.__name__ = kind.__name__
    return convert


def address(text: str) -> str:
    """An argparse type: a 20-byte hex address (0x + 40 hex digits), returned checksummed."""
    from eth_utils import is_hex_address, to_checksum_address

    if not is_hex_address(text):
        raise argparse.ArgumentTypeError(f"{text!r} is not an address (0x and 40 hex digits)")
    return to_checksum_address(text)


def rpc_url(text: str) -> str:
    """An argparse type: an http(s) JSON-RPC URL with a host (`http://127.0.0.1:8545`)."""
    parsed = urlparse(text)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an http(s) URL, e.g. http://127.0.0.1:8545"
        )
    try:
        parsed.port  # noqa: B018 - raises on a port that is not a number or out of range
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r}: {exc}") from None
    return text


def choice(*options: str) -> Callable[[object], str]:
    """An argparse-style type for one of `options` (for a config file's value; flags use
    argparse's own `choices`)."""

    def convert(value):
        if value not in options:
            raise argparse.ArgumentTypeError(f"{value!r} is not one of {', '.join(options)}")
        return value

    return convert


def boolean(value) -> bool:
    """A config file's true/false (YAML `true`/`false`, JSON `true`/`false`), nothing else."""
    if not isinstance(value, bool):
        raise argparse.ArgumentTypeError(f"{value!r} is not true or false")
    return value


def day(text) -> str:
    """An argparse type: a YYYY-MM-DD date (returned as that text)."""
    from keel.pricefile import parse_day

    try:
        return parse_day(text).isoformat()
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


# --- Options shared by the processes that talk to a chain (keel-relayer, keel-keeper) ---

RPC_WAIT = 60.0  # [s] default of --rpc-wait
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def add_log_level(group) -> None:
    """`--log-level`, one of LOG_LEVELS (any case)."""
    group.add_argument("--log-level", type=str.upper, choices=LOG_LEVELS, default="INFO")


def add_rpc_wait(group) -> None:
    """`--rpc-wait`: how long a process rides out an unreachable RPC (`Rpc.max_outage`)."""
    group.add_argument(
        "--rpc-wait",
        type=number(float, min=0.0),
        default=RPC_WAIT,
        metavar="SECONDS",
        help="give up (exit 1) once the RPC has been unreachable this long in a row; "
        f"0 = wait forever ({RPC_WAIT:g})",
    )


def chain_exit(prog: str, exc: Exception, rpc_wait: float) -> int:
    """The last words of a process that talks to a chain and stopped on `exc`, one line on stderr,
    and its exit code: 1 when it gave up on an unreachable RPC (`keel.client.rpc.RpcUnavailable`,
    a condition that may pass), 2 when the chain is not what it was told (`Misconfigured`: a wrong
    chain id, no contract at an address; retrying cannot help)."""
    from keel.client.rpc import RpcUnavailable

    if not isinstance(exc, RpcUnavailable):
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    if exc.down is None:  # a single call's retries ran out (--max-failures reached first)
        print(f"{prog}: {exc}", file=sys.stderr)
    else:
        print(f"{prog}: {exc}; gave up (--rpc-wait {rpc_wait:g})", file=sys.stderr)
    return 1
