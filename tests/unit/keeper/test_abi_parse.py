"""The keeper's signature parser (keeper/abi.py) and its error decoding."""

from eth_abi import encode
from eth_utils import keccak

from keeper.abi import ENGINE_ABI, abi, decode_error, topic


def test_parser_expands_nested_tuples_and_arrays():
    (entry,) = abi("function f(uint256 a, (int256 x, (uint8 y)[] z) t) view returns (bool ok)")
    assert entry["stateMutability"] == "view"
    t = entry["inputs"][1]
    assert t["type"] == "tuple" and t["name"] == "t"
    assert t["components"][1]["type"] == "tuple[]"
    assert t["components"][1]["components"] == [{"type": "uint8", "name": "y"}]
    assert entry["outputs"] == [{"type": "bool", "name": "ok"}]


def test_event_topic_matches_the_canonical_signature():
    expected = keccak(text="Traded(uint256,uint256,uint256,int256,uint256,uint256,uint256)").hex()
    assert topic(ENGINE_ABI, "Traded").removeprefix("0x") == expected.removeprefix("0x")


def test_custom_errors_decode_from_raw_and_wrapped_revert_data():
    data = keccak(text="StaleAuction(uint256,uint256,uint256)")[:4] + encode(
        ["uint256"] * 3, [7, 2, 3]
    )
    assert decode_error("0x" + data.hex()) == "StaleAuction(7, 2, 3)"
    assert decode_error(f"('execution reverted', '0x{data.hex()}')") == "StaleAuction(7, 2, 3)"
    assert decode_error("0xdeadbeef").startswith("0xdeadbeef")
