"""The one ABI source (keel.abi) is the compiled build, and its one revert decoder.

The relayer, the keepers and the SDK run from the bundled ABIs without compiling; this test is what
keeps them equal to what the compiler produces from contracts/ (`python -m keel.abi` rewrites them).
"""

import json
from pathlib import Path

import pytest
from brownie import project
from eth_abi import encode
from eth_utils import keccak

from keel.abi import (
    CONTRACTS,
    decode_revert,
    describe_revert,
    error_name,
    load,
    selector,
    topic,
)


@pytest.mark.parametrize("contract", CONTRACTS)
def test_the_bundle_is_the_compiled_abi(contract):
    build = Path(project.get_loaded_projects()[0]._path) / "build" / "contracts"  # compiled now
    built = json.loads((build / f"{contract}.json").read_text())["abi"]
    assert load(contract) == built, f"keel/abi/{contract}.json is stale: run python -m keel.abi"


def test_unknown_contracts_are_refused():
    with pytest.raises(KeyError, match="no bundled ABI for 'Nope'"):
        load("Nope")


def test_topics_and_selectors_are_the_canonical_ones():
    traded = "Traded(uint256,uint256,uint256,int256,uint256,uint256,uint256)"
    assert topic(load("MarginEngine"), "Traded") == "0x" + keccak(text=traded).hex()
    bid = "bid(uint256,uint256,uint256,uint256,uint256)"
    assert selector(load("Liquidator"), "bid") == keccak(text=bid)[:4]
    # two contracts, one event name, two signatures: the ABI given decides
    vault_loss = "LossSocialised(uint256,uint256,uint256,uint256)"
    assert topic(load("Vault"), "LossSocialised") == "0x" + keccak(text=vault_loss).hex()


def _error(sig: str, types: list[str], values: list) -> bytes:
    return keccak(text=sig)[:4] + encode(types, values)


def test_every_contracts_errors_decode():
    stale = _error("StaleAuction(uint256,uint256,uint256)", ["uint256"] * 3, [7, 2, 3])
    assert decode_revert(stale) == ("StaleAuction", (7, 2, 3))
    assert decode_revert("0x" + stale.hex()) == ("StaleAuction", (7, 2, 3))
    # wrapped the way web3 and brownie hand it over
    assert decode_revert(("execution reverted", "0x" + stale.hex())) == ("StaleAuction", (7, 2, 3))
    assert describe_revert(f"('execution reverted', '0x{stale.hex()}')") == "StaleAuction(7, 2, 3)"
    addr = "0x00000000000000000000000000000000000000a1"
    signer = _error("UnknownSigner(uint256,address)", ["uint256", "address"], [2, addr])
    assert decode_revert(signer) == (
        "UnknownSigner",
        (2, "0x00000000000000000000000000000000000000A1"),
    )
    band = _error(
        "PriceOutsideBand(uint256,uint256,uint256,uint256)", ["uint256"] * 4, [1, 5, 2, 4]
    )
    assert error_name(band) == "PriceOutsideBand"
    owner = _error("OwnableUnauthorizedAccount(address)", ["address"], [addr])
    assert error_name(owner) == "OwnableUnauthorizedAccount"  # inherited from OpenZeppelin


@pytest.mark.parametrize("data", [None, "0x", "0x12345678", b"\x00", "nothex", ("x",)])
def test_anything_else_is_not_ours(data):
    assert decode_revert(data) is None
    assert error_name(data) == ""


def test_describe_keeps_unknown_data_short():
    assert describe_revert("0xdeadbeef") == "0xdeadbeef"
    assert describe_revert(None) == "reverted without data"
    assert describe_revert("boom\nsecond line") == "boom"
