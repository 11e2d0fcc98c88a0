"""The stepped keeper: `keel-keeper run --stepped` and `keel-keeper settle --stepped`.

The real-time loop (`Keeper.run`) cycles every `--poll-interval` seconds on the wall clock. A driver
that owns the chain's clock (the market simulation's lockstep mode, keel.sim) needs the keeper to
act at the points it chooses instead, and only then, like the stepped relayer (oracle/stepped.py).
The same process, the same key, state file and code then read one command per line on stdin and
answer one JSON line on stdout:

- `step`: one cycle, exactly the `Keeper.step` (or `Settler.step`) the real-time loop runs. Every
  transaction it sends is waited for (Sender: up to `receipt_timeout`) before it answers:
  {"cycle": cycles so far, "block": the head it processed, "sent": [{"kind", "account", "status",
  "tx", "block", "gas_used", "error"}, ...] in the order sent, "pending": the transaction still
  unmined or null, "stats": the keeper's counters}. A cycle that failed (an RPC outage, a read
  that reverted) answers {"error": "...", "cycle": .., "stats": ..}: nothing is retried, the driver
  decides (the next `step` starts from the last completed block, as the loop would).
- `quit`, or the end of stdin: exit 0.
Anything else answers {"error": "unknown command ..."}.

Full scans count `--scan-interval` in chain seconds (the head block's timestamp, KeeperConfig.
scan_clock), so what a cycle does is a function of the chain alone, never of when it ran. The
keeper's logs go to stderr; stdout carries only the replies.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict
from typing import TextIO

from keel.client.chain import CallReverted, Sent
from keel.client.logs import event
from keel.client.rpc import RpcUnavailable

from .keeper import Keeper

COMMANDS = ("step", "quit")


def sent_record(sent: Sent) -> dict:
    """One transaction of a cycle, as the reply lists it."""
    action = sent.action or {}
    return {
        "kind": action.get("kind"),
        "account": action.get("account"),
        "status": sent.status,
        "tx": sent.tx,
        "block": sent.block,
        "gas_used": sent.gas_used,
        "error": sent.error,
    }


def cycle(keeper: Keeper) -> dict:
    """Runs one `keeper.step()` and says what it did (module docstring)."""
    keeper.sent = []
    try:
        keeper.step()
    except (RpcUnavailable, CallReverted, ValueError) as exc:  # what the loop would retry
        keeper.stats.failures += 1
        error = f"{type(exc).__name__}: {str(exc)[:200]}"
        event(keeper.log, "cycle-failed", 40, error=error)
        return {"error": error, "cycle": keeper.stats.cycles, "stats": asdict(keeper.stats)}
    finally:
        sent, keeper.sent = keeper.sent, None
    pending = keeper.state.pending
    return {
        "cycle": keeper.stats.cycles,
        "block": keeper.state.last_block,
        "sent": [sent_record(s) for s in sent],
        "pending": pending["tx"] if pending else None,
        "stats": asdict(keeper.stats),
    }


def serve(keeper: Keeper, commands: Iterable[str], out: TextIO) -> int:
    """Answers `commands` (lines) one JSON line each on `out` until `quit` or their end. The keeper
    starts first (contracts checked, index built), so a configuration error stops it before the
    first command is read."""
    keeper.start()
    for line in commands:
        words = line.split()
        if not words:
            continue
        if words == ["quit"]:
            break
        if words == ["step"]:
            reply = cycle(keeper)
        else:
            reply = {"error": f"unknown command {line.strip()!r} (one of: {', '.join(COMMANDS)})"}
        out.write(json.dumps(reply) + "\n")
        out.flush()
    event(keeper.log, "finished", **asdict(keeper.stats))
    return 0
