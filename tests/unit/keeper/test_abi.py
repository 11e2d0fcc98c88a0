"""The keeper's hand-written ABIs (keeper/abi.py) equal the compiled contracts' entries."""

import pytest
from brownie import project

from keeper.abi import (
    ENGINE_ABI,
    LIQUIDATOR_ABI,
    ORACLE_ABI,
    OTHER_ERRORS,
    STORE_ABI,
    VAULT_ABI,
)


def _canon(entry: dict):
    def param(p):
        out = (p["type"], p.get("indexed", False))
        if "components" in p:
            out += (tuple(param(c) for c in p["components"]),)
        return out

    return (
        entry["type"],
        entry["name"],
        tuple(param(p) for p in entry.get("inputs", [])),
        tuple(param(p) for p in entry.get("outputs", [])),
        entry.get("stateMutability"),
    )


@pytest.mark.parametrize(
    "contract, ours",
    [
        ("MarginEngine", ENGINE_ABI),
        ("Vault", VAULT_ABI),
        ("Oracle", ORACLE_ABI),
        ("Liquidator", LIQUIDATOR_ABI),
        ("RiskArrayStore", STORE_ABI),
    ],
)
def test_every_entry_matches_the_compiled_abi(contract, ours):
    built = project.get_loaded_projects()[0][contract].abi
    compiled = {_canon(e) for e in built if "name" in e}
    for entry in ours:
        assert _canon(entry) in compiled, f"{contract}: {entry['name']} differs from build/"


def test_other_errors_exist_in_some_contract():
    p = project.get_loaded_projects()[0]
    compiled = {_canon(e) for c in ("MarginEngine", "Oracle") for e in p[c].abi if "name" in e}
    for entry in OTHER_ERRORS:
        assert _canon(entry) in compiled, entry["name"]
