"""The slither triage (tools/slither/triage.py): keys, matching, stale entries, the file's checks.

Pure Python on hand-made dicts shaped like slither's JSON results: no slither import, no compile.
"""

import re

import pytest
import yaml

from tools.slither.triage import (
    Finding,
    TriageEntry,
    TriageError,
    finding_from_result,
    key_of,
    parse_triage,
    report,
    template,
    triage,
)

# --- slither-shaped elements ---


def contract(name):
    return {"type": "contract", "name": name}


def function(name, parent="Vault"):
    return {"type": "function", "name": name, "type_specific_fields": {"parent": contract(parent)}}


def node(expression, fn="withdraw", parent="Vault"):
    return {
        "type": "node",
        "name": expression,
        "type_specific_fields": {"parent": function(fn, parent)},
    }


def state_variable(name, parent="Vault"):
    return {"type": "variable", "name": name, "type_specific_fields": {"parent": contract(parent)}}


def local_variable(name, fn, parent="Vault"):
    return {
        "type": "variable",
        "name": name,
        "type_specific_fields": {"parent": function(fn, parent)},
    }


def result(check, impact, *elements, description=None):
    return {
        "check": check,
        "impact": impact,
        "confidence": "Medium",
        "elements": list(elements),
        "description": description or f"{check} finding (contracts/X.sol#10-20)\n\t- detail\n",
    }


def finding(detector="unused-return", contract="Vault", name="_value", impact="Medium", text=""):
    return Finding(detector, impact, "Medium", contract, name, text or f"{detector} in {name}")


def entry(detector="unused-return", contract="Vault", name="_value", match=None):
    return TriageEntry(detector, contract, name, "intended", "why", match)


# --- keys ---


def test_key_of_a_function_is_its_contract_and_name():
    assert key_of(function("bid", "Liquidator")) == ("Liquidator", "bid")


def test_key_of_a_statement_is_the_function_that_holds_it():
    assert key_of(node("x = a / b * c", "ln36", "WadMath")) == ("WadMath", "ln36")


def test_key_of_a_state_variable_is_its_name():
    assert key_of(state_variable("assets")) == ("Vault", "assets")


def test_key_of_a_local_variable_is_function_dot_variable():
    assert key_of(local_variable("vol", "_value")) == ("Vault", "_value.vol")


def test_key_of_a_contract_is_its_name_twice():
    assert key_of(contract("RiskArrayStore")) == ("RiskArrayStore", "RiskArrayStore")


def test_finding_from_result_keys_on_the_first_element_only():
    r = result(
        "uninitialized-state",
        "High",
        state_variable("_options", "MarginEngine"),
        function("_setOption", "MarginEngine"),
    )
    f = finding_from_result(r)
    assert (f.detector, f.impact, f.contract, f.name) == (
        "uninitialized-state",
        "High",
        "MarginEngine",
        "_options",
    )


def test_the_key_ignores_line_numbers():
    """The same finding after an edit above it (other lines in the description) keeps its key."""
    before = result("unused-return", "Medium", function("_value"), description="V (X.sol#467)")
    after = result("unused-return", "Medium", function("_value"), description="V (X.sol#501)")
    assert finding_from_result(before).key == finding_from_result(after).key


# --- matching ---


def test_a_matching_entry_triages_a_finding():
    out = triage([finding()], [entry()])
    assert out.ok
    assert [(f.name, e.name) for f, e in out.triaged] == [("_value", "_value")]
    assert out.untriaged == [] and out.stale == []


@pytest.mark.parametrize(
    "other",
    [
        {"detector": "unused-return", "contract": "Vault", "name": "_value2"},
        {"detector": "unused-return", "contract": "Oracle", "name": "_value"},
        {"detector": "divide-before-multiply", "contract": "Vault", "name": "_value"},
    ],
)
def test_an_entry_differing_in_any_key_part_does_not_match(other):
    out = triage([finding()], [entry(**other)])
    assert not out.ok
    assert out.untriaged == [finding()]
    assert [e.key for e in out.stale] == [tuple(other.values())]


@pytest.mark.parametrize("impact", ["High", "Medium"])
def test_an_untriaged_high_or_medium_finding_fails(impact):
    out = triage([finding(impact=impact)], [])
    assert not out.ok
    assert [f.impact for f in out.untriaged] == [impact]


@pytest.mark.parametrize("impact", ["Low", "Informational", "Optimization"])
def test_low_and_informational_findings_are_only_counted(impact):
    out = triage([finding(impact=impact), finding(impact=impact)], [])
    assert out.ok
    assert out.untriaged == [] and out.triaged == []
    assert dict(out.counted) == {(impact, "unused-return"): 2}


def test_an_entry_for_a_low_finding_is_stale():
    """Only High/Medium findings are matched, so triaging a Low one is reported as stale."""
    out = triage([finding(impact="Low")], [entry()])
    assert out.ok and [e.key for e in out.stale] == [entry().key]


def test_one_entry_covers_every_finding_with_its_key():
    findings = [finding(text="first"), finding(text="second")]
    out = triage(findings, [entry()])
    assert out.ok and len(out.triaged) == 2 and out.stale == []


def test_match_narrows_an_entry_to_findings_whose_description_contains_it():
    a = finding(text="ignores (price,vol,None) = ORACLE.freshFeed(a.priceFeed)")
    b = finding(text="ignores (None,vol,None) = ORACLE.freshFeed(a.linkedUnderlying)")
    out = triage([a, b], [entry(match="a.priceFeed")])
    assert out.untriaged == [b]
    assert [f for f, _ in out.triaged] == [a]


def test_a_narrow_entry_wins_over_a_broad_one_and_both_can_be_used():
    a = finding(text="x a.priceFeed")
    b = finding(text="x a.linkedUnderlying")
    broad, narrow = entry(), entry(match="a.priceFeed")
    out = triage([a, b], [broad, narrow])
    assert out.ok and out.stale == []
    assert {(f.description, e.match) for f, e in out.triaged} == {
        ("x a.priceFeed", "a.priceFeed"),
        ("x a.linkedUnderlying", None),
    }


# --- the triage file ---


def good(**overrides):
    raw = {
        "detector": "unused-return",
        "contract": "Vault",
        "name": "_value",
        "verdict": "intended",
        "reason": "freshFeed reverts on a stale feed",
    }
    raw.update(overrides)
    return {"findings": [raw]}


def test_parse_reads_a_valid_entry():
    assert parse_triage(good()) == [
        TriageEntry(
            "unused-return", "Vault", "_value", "intended", "freshFeed reverts on a stale feed"
        )
    ]


def test_parse_accepts_an_empty_file():
    assert parse_triage(None) == [] and parse_triage({"findings": []}) == []


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"reason": ""}, "`reason` must be a non-empty string"),
        ({"name": None}, "`name` must be a non-empty string"),
        ({"verdict": "fine"}, "verdict 'fine' is not one of"),
        ({"verdict": "TODO"}, "verdict 'TODO' is not one of"),
        ({"reason": "TODO: explain"}, "the reason is still a TODO"),
        ({"line": 12}, "unknown field(s) ['line']"),
        ({"match": ""}, "`match` must be a non-empty string"),
    ],
)
def test_parse_rejects_a_malformed_entry(overrides, message):
    with pytest.raises(TriageError, match=re.escape(message)):
        parse_triage(good(**overrides))


def test_parse_rejects_a_duplicate_key():
    data = {"findings": good()["findings"] * 2}
    with pytest.raises(TriageError, match="duplicate entry for unused-return Vault._value"):
        parse_triage(data)


def test_parse_allows_the_same_key_with_different_matches():
    data = {"findings": good()["findings"] + good(match="a.priceFeed")["findings"]}
    assert [e.match for e in parse_triage(data)] == [None, "a.priceFeed"]


# --- the template and the report ---


def test_the_template_is_rejected_until_filled_in_and_then_triages_its_findings():
    findings = [
        finding("uninitialized-state", "MarginEngine", "_options", impact="High"),
        finding("uninitialized-local", "Vault", "_value.vol"),
        finding("uninitialized-local", "Vault", "_value.vol", text="again"),
    ]
    text = template(findings)
    data = yaml.safe_load("findings:\n" + text)
    assert len(data["findings"]) == 2  # one entry per key
    with pytest.raises(TriageError):
        parse_triage(data)
    for raw in data["findings"]:
        raw["verdict"], raw["reason"] = "false-positive", "checked by hand"
    out = triage(findings, parse_triage(data))
    assert out.ok and len(out.triaged) == 3 and out.stale == []


def test_the_report_names_new_findings_by_key_and_lists_stale_entries():
    out = triage([finding(text="Vault._value ignores (X.sol#471)")], [entry(name="gone")])
    text = report(out)
    assert "1 High/Medium finding(s) not in the triage file" in text
    assert "unused-return  key: Vault / _value" in text
    assert "Vault._value ignores (X.sol#471)" in text
    assert "1 triage entry matched no finding" in text
    assert "unused-return Vault.gone" in text
    assert "slither: Medium: 0 triaged, 1 new" in text
