"""The stepped relayer: `oracle.relayer.Relayer` in its own process, one tick per command on stdin.

    python -m oracle.stepped --rpc URL --oracle 0x.. --key-seed S --source csv|gbm
        [--csv FILE --csv-start ROW] [--seed N]
    python -m oracle.stepped --peek --source csv|gbm [--csv FILE --csv-start ROW] [--seed N]

The market simulation (`keel.sim`) drives it; `--peek` prints the source's first tick as one JSON
line (`{"label": .., "prices": {feed: price}}`) and exits, without a chain.

The relayer is the one that signs (N deterministic TEST keys, k of them per report) and pushes; the
simulation only decides *when*, so that trading days and oracle rounds stay in lockstep on any
machine. It reads one command per line on stdin and answers one JSON line on stdout:

- `day`: the next tick of the source (a CSV row or a GBM step), times the crash factor if the
  crash happened (a crash persists: the path continues from the crashed level);
- `crash ETH_MOVE BTC_MOVE`: one tick at the last prices moved by those fractions (-0.4 = -40%);
  the EWMA vol sees the move like any other return;
- `hold`: the last prices again, with the vol estimate left as it is (a re-report that keeps the
  feeds fresh while chain time moves in minutes); the push policy decides whether it is sent;
- `quit`.
The chain's clock is moved by the simulation before each command (keel.sim.clock in lockstep, anvil
`evm_increaseTime` with `--realtime`).
Logs go to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from oracle.relayer import LOGGER_NAME as RELAYER_LOGGER
from oracle.relayer import Relayer, dev_config
from oracle.sources import BTC, ETH, CsvReplaySource, GbmJumpSource, PriceSource, Tick

N_SIGNERS = 5
SENDER_INDEX = 9  # anvil dev account that pays the relayer's gas (TEST key)


class ScriptedSource(PriceSource):
    """Wraps a source; `command` (set before each tick is taken) chooses what the next tick is."""

    def __init__(self, base: PriceSource, skip: int = 0):
        self.base = base
        self.feed_ids = base.feed_ids
        self.periods_per_year = base.periods_per_year
        self.deterministic = False
        self.skip = skip
        self.command: tuple = ("day",)
        self.factor = dict.fromkeys(base.feed_ids, 1.0)
        self.last: dict[int, float] = {}
        self.label = ""

    def ticks(self) -> Iterator[Tick]:
        it = self.base.ticks()
        for _ in range(self.skip):
            self.last = dict(next(it).prices)
        i = 0
        while True:
            kind = self.command[0]
            if kind == "day":
                tick = next(it, None)
                if tick is None:
                    return
                prices = {f: p * self.factor[f] for f, p in tick.prices.items()}
                label = tick.label
            elif kind == "crash":
                moves = self.command[1]
                for f, m in moves.items():
                    self.factor[f] *= 1.0 + m
                prices = {f: p * (1.0 + moves.get(f, 0.0)) for f, p in self.last.items()}
                label = "crash " + " ".join(f"{f}:{m:+.0%}" for f, m in moves.items())
            else:
                prices, label = dict(self.last), "hold"
            self.last, self.label = prices, label
            yield Tick(index=i, prices=prices, label=label)
            i += 1


class SimRelayer(Relayer):
    def _update_vol(self, tick: Tick) -> None:
        if tick.label != "hold":  # a re-report is not a new daily return
            super()._update_vol(tick)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m oracle.stepped", description=__doc__)
    p.add_argument("--rpc")
    p.add_argument("--oracle")
    p.add_argument("--peek", action="store_true", help="print the first tick and exit")
    p.add_argument("--key-seed", default="0")
    p.add_argument("--source", choices=["csv", "gbm"], default="csv")
    p.add_argument("--csv", type=Path)
    p.add_argument("--csv-start", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--skip", type=int, default=1, help="source ticks already reported (1)")
    p.add_argument("--log-level", default="INFO")
    return p


def make_source(kind: str, csv_path: Path | None, csv_start: int, seed: int) -> PriceSource:
    if kind == "csv":
        return CsvReplaySource(csv_path, start=csv_start)
    return GbmJumpSource(seed)


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.peek:
        tick = next(make_source(args.source, args.csv, args.csv_start, args.seed).ticks())
        print(json.dumps({"label": tick.label, "prices": tick.prices}), flush=True)
        return 0
    if not (args.rpc and args.oracle):
        parser.error("--rpc and --oracle are required (unless --peek)")
    from keel.client.logs import configure

    configure(args.log_level, "json", logger_name=RELAYER_LOGGER)
    source = ScriptedSource(
        make_source(args.source, args.csv, args.csv_start, args.seed), args.skip
    )
    cfg = dev_config(
        args.rpc,
        args.oracle,
        source,
        n_signers=N_SIGNERS,
        key_seed=args.key_seed,
        sender_index=SENDER_INDEX,
        state_file=None,
    )
    relayer = SimRelayer(cfg)
    relayer.start()
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        if words[0] == "quit":
            break
        if words[0] == "crash":
            source.command = ("crash", {ETH: float(words[1]), BTC: float(words[2])})
        else:
            source.command = (words[0],)
        result = relayer.step()
        out = (
            {"done": True}
            if result is None
            else {
                "tick": result.tick,
                "pushed": result.pushed,
                "held": result.held,
                "rejected": result.rejected,
                "tx": result.tx_hash,
                "label": source.label,
                "prices": source.last,
                "vols": {f: relayer.vol[f].vol for f in source.feed_ids},
            }
        )
        print(json.dumps(out, default=str), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
