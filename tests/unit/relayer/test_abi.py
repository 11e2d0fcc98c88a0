"""The relayer's hand-written ABI (oracle/abi.py) matches the compiled Oracle.

The relayer does not read build/ at run time, so this test is what keeps it in step with
contracts/Oracle.sol: every function, event and error it uses must exist in the compiled ABI with the
same canonical signature, outputs, mutability and indexed flags.
"""

import json
from pathlib import Path

import pytest

from oracle.abi import ERRORS, EVENTS, FUNCTIONS, signature

BUILD = Path(__file__).resolve().parents[3] / "build" / "contracts" / "Oracle.json"


@pytest.fixture(scope="module")
def compiled(relayer_oracle):
    """The compiled ABI (requesting the deployment makes sure brownie compiled the project)."""
    return json.loads(BUILD.read_text())["abi"]


def _by_signature(abi, kind):
    return {signature(e): e for e in abi if e["type"] == kind}


def _out_types(entry):
    return [signature({"name": "", "inputs": [o]})[2:-1] for o in entry.get("outputs", [])]


@pytest.mark.parametrize("entry", FUNCTIONS, ids=lambda e: e["name"])
def test_function_matches_compiled_abi(compiled, entry):
    theirs = _by_signature(compiled, "function").get(signature(entry))
    assert theirs is not None, f"{signature(entry)} not in Oracle.json"
    assert theirs["stateMutability"] == entry["stateMutability"]
    assert _out_types(theirs) == _out_types(entry)


@pytest.mark.parametrize("entry", EVENTS, ids=lambda e: e["name"])
def test_event_matches_compiled_abi(compiled, entry):
    theirs = _by_signature(compiled, "event").get(signature(entry))
    assert theirs is not None, f"{signature(entry)} not in Oracle.json"
    assert [i["indexed"] for i in theirs["inputs"]] == [i["indexed"] for i in entry["inputs"]]


@pytest.mark.parametrize("entry", ERRORS, ids=lambda e: e["name"])
def test_error_matches_compiled_abi(compiled, entry):
    assert signature(entry) in _by_signature(compiled, "error")


def test_submission_errors_are_all_known(compiled):
    """Every error `submit` can raise is decodable by the relayer (oracle.relayer.decode_revert)."""
    ours = {e["name"] for e in ERRORS}
    submission = {
        "UnknownFeed",
        "WrongRound",
        "ObservationNotNewer",
        "ObservationInFuture",
        "QuorumNotMet",
        "UnknownSigner",
        "DuplicateSigner",
        "MalleableSignature",
        "InvalidSignature",
        "PriceOutOfBounds",
        "VolOutOfBounds",
        "ObservationSpread",
    }
    assert submission <= ours
    assert submission <= {e["name"] for e in compiled if e["type"] == "error"}
