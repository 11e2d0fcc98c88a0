"""Triage of slither's results: which High/Medium findings are explained, which are new.

Pure Python (PyYAML only, no slither import), so the project's test suite can check the matching.

A finding is keyed by (detector, contract, name), never by line numbers, so the triage survives
edits around it:
  - detector  slither's check name (`uninitialized-state`, `divide-before-multiply`, ...)
  - contract  the contract (or library / interface) the finding's first element belongs to
  - name      what the first element is: a function's name (a finding on a statement is keyed by
              the function that holds it), a state variable's name, `function.variable` for a
              local variable, the contract's own name for a contract-level finding.
A triage entry matches every finding with its key; an optional `match` substring (searched in
slither's description) narrows it when one function holds findings that deserve different answers.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

# Findings at these impacts must be triaged; the rest are only counted.
TRIAGED_IMPACTS = ("High", "Medium")
IMPACT_ORDER = {"High": 0, "Medium": 1, "Low": 2, "Informational": 3, "Optimization": 4}
# false-positive: the code does not do what the detector fears; intended: it does, on purpose;
# tool-limit: slither could not analyse the code (a blind spot, covered by tests instead).
VERDICTS = ("false-positive", "intended", "tool-limit")
ENTRY_FIELDS = {"detector", "contract", "name", "verdict", "reason", "match"}


class TriageError(ValueError):
    """The triage file is malformed (missing field, unknown verdict, duplicate key, ...)."""


@dataclass(frozen=True)
class Finding:
    """One slither result, reduced to its triage key and what a reader needs to find it."""

    detector: str
    impact: str
    confidence: str
    contract: str
    name: str
    description: str  # slither's text, with file#lines

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.detector, self.contract, self.name)

    @property
    def headline(self) -> str:
        """The description's first line, without the trailing colon slither leaves on it."""
        first = self.description.strip().splitlines()[0] if self.description.strip() else ""
        return first.rstrip(":").strip()


@dataclass(frozen=True)
class TriageEntry:
    """One explained finding (or family of findings sharing a key) in the triage file."""

    detector: str
    contract: str
    name: str
    verdict: str
    reason: str
    match: str | None = None

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.detector, self.contract, self.name)

    def matches(self, finding: Finding) -> bool:
        if finding.key != self.key:
            return False
        return self.match is None or self.match in finding.description

    def label(self) -> str:
        suffix = f" [match: {self.match!r}]" if self.match else ""
        return f"{self.detector} {self.contract}.{self.name}{suffix}"


@dataclass
class Outcome:
    """The triage of one run: what fails the run, what is explained, what is only counted."""

    untriaged: list[Finding] = field(default_factory=list)
    triaged: list[tuple[Finding, TriageEntry]] = field(default_factory=list)
    stale: list[TriageEntry] = field(default_factory=list)
    counted: Counter = field(default_factory=Counter)  # (impact, detector) -> count, Low and below

    @property
    def ok(self) -> bool:
        return not self.untriaged


# --- Findings from slither's JSON results ---


def _parent(element: dict) -> dict | None:
    return (element.get("type_specific_fields") or {}).get("parent")


def _enclosing(element: dict, kind: str) -> dict | None:
    """The nearest element of type `kind` among `element` and its parents."""
    e: dict | None = element
    while e is not None:
        if e.get("type") == kind:
            return e
        e = _parent(e)
    return None


def key_of(element: dict) -> tuple[str, str]:
    """(contract, name) of a slither result element; see the module docstring."""
    kind = element.get("type")
    contract = _enclosing(element, "contract")
    contract_name = contract["name"] if contract else ""
    if kind == "contract":
        return element["name"], element["name"]
    if kind == "node":
        function = _enclosing(element, "function")
        return contract_name, function["name"] if function else element.get("name", "")
    if kind == "variable":
        parent = _parent(element)
        if parent is not None and parent.get("type") == "function":
            return contract_name, f"{parent['name']}.{element['name']}"
        return contract_name, element["name"]
    return contract_name, element.get("name", "")


def finding_from_result(result: dict) -> Finding:
    """A Finding from one of slither's result dicts (`Slither.run_detectors()` or `--json`)."""
    elements = result.get("elements") or []
    contract, name = key_of(elements[0]) if elements else ("", "")
    return Finding(
        detector=result["check"],
        impact=result["impact"],
        confidence=result.get("confidence", ""),
        contract=contract,
        name=name,
        description=result.get("description", ""),
    )


# --- The triage file ---


def parse_triage(data: object, source: str = "triage") -> list[TriageEntry]:
    """Validated entries from the triage file's parsed YAML (`{"findings": [...]}`)."""
    if data is None:
        return []
    if not isinstance(data, dict) or not isinstance(data.get("findings", []), list):
        raise TriageError(f"{source}: expected a mapping with a list under `findings`")
    entries: list[TriageEntry] = []
    seen: set[tuple[str, str, str, str | None]] = set()
    for i, raw in enumerate(data.get("findings") or []):
        where = f"{source}: findings[{i}]"
        if not isinstance(raw, dict):
            raise TriageError(f"{where}: expected a mapping")
        unknown = set(raw) - ENTRY_FIELDS
        if unknown:
            raise TriageError(f"{where}: unknown field(s) {sorted(unknown)}")
        for name in ("detector", "contract", "name", "verdict", "reason"):
            value = raw.get(name)
            if not isinstance(value, str) or not value.strip():
                raise TriageError(f"{where}: `{name}` must be a non-empty string")
        if raw["verdict"] not in VERDICTS:
            raise TriageError(f"{where}: verdict {raw['verdict']!r} is not one of {VERDICTS}")
        if raw["reason"].strip().upper().startswith("TODO"):
            raise TriageError(f"{where}: the reason is still a TODO")
        match = raw.get("match")
        if match is not None and (not isinstance(match, str) or not match):
            raise TriageError(f"{where}: `match` must be a non-empty string when given")
        entry = TriageEntry(
            detector=raw["detector"].strip(),
            contract=raw["contract"].strip(),
            name=raw["name"].strip(),
            verdict=raw["verdict"],
            reason=" ".join(raw["reason"].split()),
            match=match,
        )
        ident = (*entry.key, entry.match)
        if ident in seen:
            raise TriageError(f"{where}: duplicate entry for {entry.label()}")
        seen.add(ident)
        entries.append(entry)
    return entries


def load_triage(path: str | Path) -> list[TriageEntry]:
    path = Path(path)
    if not path.exists():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise TriageError(f"{path}: not valid YAML: {e}") from e
    return parse_triage(data, str(path))


# --- Matching ---


def sort_key(finding: Finding) -> tuple:
    return (IMPACT_ORDER.get(finding.impact, 9), finding.detector, finding.contract, finding.name)


def triage(findings: list[Finding], entries: list[TriageEntry]) -> Outcome:
    """Split findings into untriaged / triaged High+Medium and counted lower ones; find stale entries.

    A finding takes the first entry that matches it (entries with a `match` are tried first, so a
    narrow entry wins over a broad one with the same key). An entry that matched nothing is stale.
    """
    outcome = Outcome()
    ordered = sorted(entries, key=lambda e: e.match is None)
    used: set[int] = set()
    for finding in sorted(findings, key=sort_key):
        if finding.impact not in TRIAGED_IMPACTS:
            outcome.counted[(finding.impact, finding.detector)] += 1
            continue
        entry = next((e for e in ordered if e.matches(finding)), None)
        if entry is None:
            outcome.untriaged.append(finding)
        else:
            used.add(id(entry))
            outcome.triaged.append((finding, entry))
    outcome.stale = [e for e in entries if id(e) not in used]
    return outcome


# --- Text for people ---


def _yaml_str(text: str) -> str:
    """A one-line YAML scalar (always quoted: names like `on` or `null` stay strings)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def template(findings: list[Finding]) -> str:
    """Triage entries, in the file's format, for the given (untriaged) findings: one per key.

    The verdict and reason are left as TODO, which the loader rejects, so a pasted template cannot
    pass until someone has read each finding.
    """
    groups: dict[tuple[str, str, str], list[Finding]] = {}
    for f in sorted(findings, key=sort_key):
        groups.setdefault(f.key, []).append(f)
    lines: list[str] = []
    for (detector, contract, name), group in groups.items():
        impact = group[0].impact
        lines.append(f"  # {impact}, {len(group)} finding(s): {group[0].headline}")
        lines.append(f"  - detector: {detector}")
        lines.append(f"    contract: {_yaml_str(contract)}")
        lines.append(f"    name: {_yaml_str(name)}")
        lines.append("    verdict: TODO  # false-positive | intended | tool-limit")
        lines.append('    reason: "TODO: one line: why this is not a bug"')
    return "\n".join(lines) + ("\n" if lines else "")


def report(outcome: Outcome) -> str:
    """The run's summary: new findings in full, stale entries, counts."""
    out: list[str] = []
    if outcome.untriaged:
        out.append(
            f"slither: {len(outcome.untriaged)} High/Medium finding(s) not in the triage file "
            "(explain each in tools/slither/triage.yaml, or fix it):"
        )
        for f in outcome.untriaged:
            out.append("")
            out.append(f"  [{f.impact}/{f.confidence}] {f.detector}  key: {f.contract} / {f.name}")
            out.extend("    " + line for line in f.description.strip().splitlines())
        out.append("")
    if outcome.stale:
        n = len(outcome.stale)
        out.append(
            f"slither: warning: {n} triage {'entry' if n == 1 else 'entries'} matched no finding "
            "(the code changed; delete them if the finding is gone for good):"
        )
        out.extend(f"  {e.label()}" for e in outcome.stale)
    triaged = Counter((f.impact, e.verdict) for f, e in outcome.triaged)
    for impact in TRIAGED_IMPACTS:
        parts = [f"{n} {v}" for (i, v), n in sorted(triaged.items()) if i == impact]
        new = sum(1 for f in outcome.untriaged if f.impact == impact)
        out.append(
            f"slither: {impact}: {sum(n for (i, _), n in triaged.items() if i == impact)} triaged"
            + (f" ({', '.join(parts)})" if parts else "")
            + f", {new} new"
        )
    by_impact: dict[str, list[str]] = {}
    for (impact, detector), n in sorted(outcome.counted.items(), key=lambda kv: kv[0]):
        by_impact.setdefault(impact, []).append(f"{detector} {n}")
    for impact in sorted(by_impact, key=lambda i: IMPACT_ORDER.get(i, 9)):
        total = sum(n for (i, _), n in outcome.counted.items() if i == impact)
        out.append(f"slither: {impact}: {total} (not triaged): {', '.join(by_impact[impact])}")
    return "\n".join(out)
