"""Static analysis: slither over contracts/, checked against the committed triage.

Runs in slither's own virtual environment (`make slither` installs it and runs this):
    .toolchain/slither/bin/python -m tools.slither [--write-template] [--json FILE] [--all]

brownie's framework mode cannot find node_modules imports and the solcjs shim answers only
`--standard-json`, so this drives crytic-compile's standard-json platform itself: every contract
file under contracts/ except the test-only contracts/test/, the project's remappings, optimizer
and EVM version (from brownie-config.yaml) and the `solc-v<version>` shim that `make install`
writes. Then `Slither(..., exclude_dependencies=True)` with every detector slither ships.

Exit status: 0 when every High/Medium finding is in the triage file (stale entries are only a
warning), 1 when one is not, 2 when the analysis could not run.
"""

from __future__ import annotations

import argparse
import inspect
import json
import logging
import re
import sys
import time
from pathlib import Path

import yaml

from tools.slither.triage import (
    Finding,
    TriageError,
    finding_from_result,
    load_triage,
    report,
    sort_key,
    template,
    triage,
)

ROOT = Path(__file__).resolve().parents[2]
TRIAGE_FILE = ROOT / "tools" / "slither" / "triage.yaml"
CONTRACTS = "contracts"
# Test-only contracts (mock and deliberately hostile tokens, a harness, a lens) are never deployed
# outside the embedded chain; their "findings" are what they were written to do.
EXCLUDED = ("contracts/test/",)
IR_FAILURE = "slither-ir-failure"  # a pseudo-detector: a function slither could not analyse


def contract_files(root: Path = ROOT) -> list[str]:
    files = sorted(p.relative_to(root).as_posix() for p in (root / CONTRACTS).rglob("*.sol"))
    return [f for f in files if not f.startswith(EXCLUDED)]


def compiler_settings(root: Path = ROOT) -> dict:
    """Optimizer, EVM version and remappings from brownie-config.yaml: one source for both."""
    config = yaml.safe_load((root / "brownie-config.yaml").read_text(encoding="utf-8")) or {}
    compiler = config.get("compiler") or {}
    solc = compiler.get("solc") or {}
    return {
        "optimizer": solc.get("optimizer") or {"enabled": False},
        "evm_version": compiler.get("evm_version"),
        "remappings": list(solc.get("remappings") or []),
    }


def find_solc(root: Path = ROOT) -> Path:
    shims = sorted((root / ".toolchain" / "solcx").glob("solc-v*"))
    if len(shims) != 1:
        raise RuntimeError(
            f"expected one solc shim in .toolchain/solcx/, found {len(shims)}: run `make install`"
        )
    return shims[0]


class _IrFailures(logging.Handler):
    """Collects slither's "Impossible to generate IR for C.f" errors instead of printing them."""

    PATTERN = re.compile(r"generate IR for (?:top level function )?(?:(\w+)\.)?(\w+) \(([^)]*)\)")

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.findings: list[Finding] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        m = self.PATTERN.search(message)
        if not m:
            print(message, file=sys.stderr)
            return
        contract, function, where = m.group(1) or "", m.group(2), m.group(3)
        cause = message.split("\n", 1)[1].strip() if "\n" in message else ""
        self.findings.append(
            Finding(
                detector=IR_FAILURE,
                impact="Medium",
                confidence="High",
                contract=contract,
                name=function,
                description=(
                    f"slither could not build IR for {contract}.{function} ({where}): {cause}; "
                    "no detector sees this function's body"
                ),
            )
        )


def analyse(root: Path, verbose: bool) -> tuple[list[dict], list[Finding]]:
    """slither's results (dicts, as `--json` writes them) and the functions it could not analyse."""
    from crytic_compile import CryticCompile
    from crytic_compile.platform.solc_standard_json import SolcStandardJson
    from slither import Slither
    from slither.detectors import all_detectors
    from slither.detectors.abstract_detector import AbstractDetector

    class KeelStandardJson(SolcStandardJson):
        """Standard JSON whose dependencies are what sits under node_modules/.

        crytic-compile's solc platforms say "never a dependency", which would make
        `exclude_dependencies` report OpenZeppelin's own code as ours.
        """

        def is_dependency(self, path: str) -> bool:
            return "node_modules" in Path(path).parts

    settings = compiler_settings(root)
    standard_json = KeelStandardJson()
    standard_json.add_source_files(contract_files(root))
    for remapping in settings["remappings"]:
        standard_json.add_remapping(remapping)
    json_settings = standard_json.to_dict()["settings"]
    json_settings["optimizer"] = settings["optimizer"]
    if settings["evm_version"]:
        json_settings["evmVersion"] = settings["evm_version"]

    if not verbose:
        # solc's warnings (brownie shows them on compile) and slither's own chatter
        logging.getLogger("CryticCompile").setLevel(logging.ERROR)
    failures = _IrFailures()
    for name in ("ContractSolcParsing", "FunctionSolc", "SlitherSolcParsing", "Slither"):
        parse_logger = logging.getLogger(name)
        parse_logger.addHandler(failures)
        parse_logger.propagate = False

    compilation = CryticCompile(
        standard_json, solc=str(find_solc(root)), solc_working_dir=str(root)
    )
    slither = Slither(compilation, exclude_dependencies=True)
    for _, detector in inspect.getmembers(all_detectors, inspect.isclass):
        if issubclass(detector, AbstractDetector):
            slither.register_detector(detector)
    results = [r for per_detector in slither.run_detectors() for r in per_detector]
    return results, failures.findings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tools.slither", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--triage", default=str(TRIAGE_FILE), help="triage file (YAML)")
    parser.add_argument(
        "--write-template",
        action="store_true",
        help="print the untriaged High/Medium findings as triage entries (to paste and fill in)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write slither's raw results here")
    parser.add_argument(
        "--all", action="store_true", help="print every finding, Low and informational included"
    )
    parser.add_argument("--verbose", action="store_true", help="show solc and slither logs")
    args = parser.parse_args(argv)

    try:
        entries = load_triage(args.triage)
    except TriageError as e:
        print(f"slither: {e}", file=sys.stderr)
        return 2

    started = time.monotonic()
    try:
        results, ir_failures = analyse(ROOT, args.verbose)
    except Exception as e:  # compile errors, slither crashes: the check did not run
        print(f"slither: the analysis did not run: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    elapsed = time.monotonic() - started

    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, default=str) + "\n")
    findings = [finding_from_result(r) for r in results] + ir_failures
    outcome = triage(findings, entries)

    if args.write_template:
        print("# Untriaged High/Medium findings, in tools/slither/triage.yaml's format:")
        print(template(outcome.untriaged), end="")
        for e in outcome.stale:
            print(f"# stale (matched nothing): {e.label()}")
        return 0

    if args.all:
        for f in sorted(findings, key=sort_key):
            print(f"[{f.impact}] {f.detector} {f.contract}.{f.name}: {f.headline}")
    print(report(outcome))
    print(
        f"slither: {'OK' if outcome.ok else 'FAILED'}: {len(contract_files(ROOT))} files, "
        f"{len(findings)} findings, {len(outcome.triaged)} triaged, "
        f"{len(outcome.untriaged)} new High/Medium, {len(outcome.stale)} stale entries "
        f"({elapsed:.0f} s)"
    )
    return 0 if outcome.ok else 1


if __name__ == "__main__":
    sys.exit(main())
