"""Mutation runs: apply one named contract mutation, run a test command, restore the contract.

    python -m tools.mutate list
    python -m tools.mutate show NAME
    python -m tools.mutate run NAME -- COMMAND...

`run` exits 0 when the command fails on the mutated contract (the mutation is killed: the tests see
it) and 1 when it passes (the mutation survives: a blind spot). The file is restored byte for byte
whatever happens (also on Ctrl-C); a mutation whose text no longer occurs exactly once is refused
with a one-line error, so a contract edit never turns a mutation into a silent no-op.

Each mutation is an exact text replacement in one file; docs/INVARIANTS.md (INV-4) records which
test kills which mutation, with the command.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Mutation:
    path: str  # relative to the repository root
    old: str  # text that must occur exactly once
    new: str
    what: str  # one line: what the mutation breaks


MUTATIONS = {
    "funding-rate-x2": Mutation(
        "contracts/MarginEngine.sol",
        "idx += rate * int256(dt) * int256(spot) / WAD;",
        "idx += 2 * rate * int256(dt) * int256(spot) / WAD;",
        "funding accrues at twice the SPEC §4 rate",
    ),
    "negative-cash-haircut": Mutation(
        "contracts/Vault.sol",
        "if (cash > 0) cashHaircut = Math.mulDiv(uint256(cash),",
        "if (cash != 0) cashHaircut = Math.mulDiv(uint256(cash > 0 ? cash : -cash),",
        "the settlement haircut also applies to a debt (negative cash)",
    ),
    "v1-fixed-credit": Mutation(
        "contracts/libraries/MarginLib.sol",
        "(r.scanRisk, r.correlatedLoss) = JointLossLib.scanRiskOf(t.pnl, feeds, oracle, t.sumLoss, r.jointLoss);",
        "r.scanRisk = r.jointLoss + (t.sumLoss - r.jointLoss) / 2;",
        "the scan risk ignores the correlation feed (v1's fixed credit c = 0.5)",
    ),
    "rho-of-wrong-pair": Mutation(
        "contracts/libraries/JointLossLib.sol",
        "(rho[p++],) = oracle.freshCorrelation(feeds[u], feeds[w]);",
        "(rho[p++],) = oracle.freshCorrelation(feeds[0], feeds[w == 0 ? 1 : w]);",
        "every pair of an account's underlyings takes the first underlying's ρ with the other",
    ),
    "credit-cap-90": Mutation(
        "contracts/libraries/JointLossLib.sol",
        "uint256 internal constant CREDIT_CAP = 0.8e18;",
        "uint256 internal constant CREDIT_CAP = 0.9e18;",
        "up to 90% of Σ L_u − L_J is credited (SPEC v2 §6 (c): at most 80%)",
    ),
    "som-rate-default": Mutation(
        "contracts/MarginEngine.sol",
        "ML.finish(t, r, feeds, oracle, somRate, mmRatio);",
        "ML.finish(t, r, feeds, oracle, 0.01e18, mmRatio);",
        "the margin ignores governance's short-option minimum rate (uses the default 1%)",
    ),
    "mm-ratio-default": Mutation(
        "contracts/MarginEngine.sol",
        "ML.finish(t, r, feeds, oracle, somRate, mmRatio);",
        "ML.finish(t, r, feeds, oracle, somRate, 0.8e18);",
        "the margin ignores governance's MM ratio (uses the default 0.8)",
    ),
}


class MutationError(Exception):
    """A mutation that cannot be applied as written."""


def mutated_text(m: Mutation, text: str) -> str:
    """`text` with the mutation applied; MutationError unless `m.old` occurs exactly once."""
    n = text.count(m.old)
    if n != 1:
        raise MutationError(f"{m.path}: the mutated text occurs {n} times, not once: {m.old!r}")
    return text.replace(m.old, m.new)


def run(name: str, command: list[str], root: Path = ROOT) -> int:
    """Apply mutation `name`, run `command` in `root`, restore; 0 if killed, 1 if it survived."""
    m = MUTATIONS[name]
    path = root / m.path
    original = path.read_bytes()
    path.write_text(mutated_text(m, original.decode()))
    try:
        rc = subprocess.call(command, cwd=root)
    finally:
        path.write_bytes(original)
    verdict = "killed" if rc != 0 else "SURVIVED"
    print(f"mutation {name} ({m.what}): {verdict} (exit {rc})", flush=True)
    return 0 if rc != 0 else 1


def main(argv: list[str]) -> int:
    if argv[:1] == ["list"]:
        for name, m in MUTATIONS.items():
            print(f"{name:28} {m.path}: {m.what}")
        return 0
    if len(argv) == 2 and argv[0] == "show":
        m = MUTATIONS.get(argv[1])
        if m is None:
            raise SystemExit(f"unknown mutation {argv[1]!r} (python -m tools.mutate list)")
        print(f"{m.path}\n- {m.old}\n+ {m.new}")
        return 0
    if len(argv) >= 4 and argv[0] == "run" and argv[2] == "--":
        if argv[1] not in MUTATIONS:
            raise SystemExit(f"unknown mutation {argv[1]!r} (python -m tools.mutate list)")
        try:
            return run(argv[1], argv[3:])
        except MutationError as e:
            raise SystemExit(f"mutation {argv[1]}: {e}") from None
    raise SystemExit("usage: python -m tools.mutate list | show NAME | run NAME -- COMMAND...")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
