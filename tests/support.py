"""Small helpers shared by tests: exact custom-error matching, fixed-point conversions, and the
tools run as a user runs them."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import brownie

WAD = 10**18
ROOT = Path(__file__).resolve().parents[1]


def error_msg(name: str, *args) -> str:
    """The revert string brownie shows for custom error `name(args...)`.

    brownie renders a decoded custom error as `Name: a, b, c` with addresses in lower case and
    integers in decimal; an error without arguments renders as `Name: `.
    """
    if not args:
        return f"{name}: "  # brownie 1.22 renders an argument-less custom error as `Name: `
    return f"{name}: " + ", ".join(_fmt(a) for a in args)


def _fmt(a) -> str:
    if isinstance(a, bool):
        return str(a)
    if isinstance(a, int):
        return str(a)
    if isinstance(a, (bytes, bytearray)):
        return str(bytes(a))  # brownie renders bytesN arguments as Python bytes literals
    s = str(a)
    return s.lower() if s.startswith("0x") else s


def reverts(name: str, *args):
    """Context manager: the call must revert with exactly custom error `name(args...)`."""
    return brownie.reverts(error_msg(name, *args))


def wad(x) -> int:
    """Decimal or string number -> wad integer (exact for decimal literals)."""
    return int(Decimal(str(x)) * WAD)


def console_script(name: str) -> str:
    """The installed console script `name` (keel-relayer, keel-keeper) beside this Python."""
    return str(Path(sys.executable).parent / name)


def run_tool(argv: list[str], cwd: Path, timeout: float = 60.0) -> subprocess.CompletedProcess:
    """Runs a user's command line (`[sys.executable, "-m", "keel.sim", ...]` or a console
    script) from `cwd` with this checkout importable; stdout and stderr captured as text."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def assert_gave_up_on_rpc(proc: subprocess.CompletedProcess, prog: str, url: str, wait: int):
    """A chain process (`--log-format json`) that gave up on an unreachable RPC after
    `--rpc-wait wait`: JSON log records, then one line naming the URL, the cause and how long it
    waited (measured: `wait` or one more second), exit code 1."""
    *logs, last = proc.stderr.splitlines()
    m = re.fullmatch(
        rf"{prog}: RPC {re.escape(url)} unreachable for (\d+) s \(connection refused\); "
        rf"gave up \(--rpc-wait {wait}\)",
        last,
    )
    assert m and int(m[1]) in (wait, wait + 1), last
    assert proc.returncode == 1 and proc.stdout == ""
    assert all(json.loads(line)["event"] for line in logs)  # log records only: no traceback
