"""EIP-712 digests and signatures for orders, oracle observations and correlations, without eth_account's
typed-data encoder (which costs more than the signature itself).

The digests equal keel.orders.Order.digest and keel.observations.Observation.digest; a test in
test_attacker.py checks both against those reference encoders once per session.
"""

from __future__ import annotations

from eth_abi import encode
from eth_keys import keys
from eth_utils import keccak

from keel.eip712 import SECP256K1_N, Signature

DOMAIN_TYPEHASH = keccak(
    text="EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"
)
ORDER_TYPEHASH = keccak(
    text="Order(uint256 makerAccount,uint256 instrument,int256 size,uint256 limitPrice,"
    "uint256 nonce,uint256 expiry,uint256 salt)"
)
OBSERVATION_TYPEHASH = keccak(
    text="Observation(uint256 feedId,uint256 round,uint256 observedAt,uint256 price,uint256 vol,"
    "uint256 volFloor)"
)

CORRELATION_TYPEHASH = keccak(
    text="Correlation(uint256 feedA,uint256 feedB,uint256 round,uint256 observedAt,int256 rho)"
)


def domain_separator(name: str, version: str, chain_id: int, verifying_contract: str) -> bytes:
    return keccak(
        encode(
            ["bytes32", "bytes32", "bytes32", "uint256", "address"],
            [
                DOMAIN_TYPEHASH,
                keccak(text=name),
                keccak(text=version),
                chain_id,
                verifying_contract,
            ],
        )
    )


def _digest(separator: bytes, struct_hash: bytes) -> bytes:
    return keccak(b"\x19\x01" + separator + struct_hash)


def order_digest(separator: bytes, order: tuple) -> bytes:
    """order = (makerAccount, instrument, size, limitPrice, nonce, expiry, salt)."""
    types = ["bytes32", "uint256", "uint256", "int256", "uint256", "uint256", "uint256", "uint256"]
    return _digest(separator, keccak(encode(types, [ORDER_TYPEHASH, *order])))


def observation_digest(
    separator: bytes,
    feed_id: int,
    round_: int,
    observed_at: int,
    price: int,
    vol: int,
    vol_floor: int = 1,
) -> bytes:
    """vol_floor [wad]: 1, the least the Oracle accepts, leaves σ_eff = σ."""
    types = ["bytes32"] + ["uint256"] * 6
    return _digest(
        separator,
        keccak(
            encode(
                types, [OBSERVATION_TYPEHASH, feed_id, round_, observed_at, price, vol, vol_floor]
            )
        ),
    )


def correlation_digest(
    separator: bytes, feed_a: int, feed_b: int, round_: int, observed_at: int, rho: int
) -> bytes:
    """[v2] A signer's correlation ρ [wad] of the pair feed_a < feed_b."""
    types = ["bytes32", "uint256", "uint256", "uint256", "uint256", "int256"]
    return _digest(
        separator,
        keccak(encode(types, [CORRELATION_TYPEHASH, feed_a, feed_b, round_, observed_at, rho])),
    )


class Signer:
    """A private key that signs 32-byte digests (low-s, v in {27, 28})."""

    def __init__(self, private_key: str | bytes):
        if isinstance(private_key, str):
            raw = bytes.fromhex(private_key.removeprefix("0x"))
        else:
            raw = bytes(private_key)
        self.key = keys.PrivateKey(raw)
        self.address = self.key.public_key.to_checksum_address()

    def sign(self, digest: bytes) -> Signature:
        sig = self.key.sign_msg_hash(digest)
        v, r, s = sig.v, sig.r, sig.s
        if s > SECP256K1_N // 2:  # the contracts reject high-s (malleable) signatures
            s, v = SECP256K1_N - s, v ^ 1
        return Signature(v + 27, r.to_bytes(32, "big"), s.to_bytes(32, "big"))
