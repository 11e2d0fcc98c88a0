"""EIP-712 typed-data signing shared by every signed message of Keel (oracle reports, orders).

Signatures are returned as (v, r, s) because the contracts take them in that form and reject
malleable high-s signatures (SPEC §3); `to_high_s` builds such a signature for tests.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils import keccak

# Order of the secp256k1 group: s and n - s are both valid for one signature (malleability).
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


@dataclass(frozen=True)
class Domain:
    """An EIP-712 domain: (name, version, chainId, verifyingContract)."""

    name: str
    version: str
    chain_id: int
    verifying_contract: str

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "chainId": self.chain_id,
            "verifyingContract": self.verifying_contract,
        }


@dataclass(frozen=True)
class Signature:
    v: int
    r: bytes
    s: bytes

    def as_tuple(self) -> tuple[int, bytes, bytes]:
        return (self.v, self.r, self.s)


def typed_digest(domain: Domain, types: dict, primary_type: str, message: dict) -> bytes:
    """The 32-byte EIP-712 digest (keccak of 0x1901 ‖ domainSeparator ‖ structHash)."""
    signable = encode_typed_data(
        full_message={
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                **types,
            },
            "primaryType": primary_type,
            "domain": domain.as_dict(),
            "message": message,
        }
    )
    return keccak(b"\x19" + signable.version + signable.header + signable.body)


def sign_digest(private_key: str | bytes, digest: bytes) -> Signature:
    """Signs a 32-byte digest; the result always has a low s (eth_account canonicalises)."""
    signed = Account._sign_hash(digest, private_key)  # noqa: SLF001 - raw-hash signing on purpose
    return Signature(signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big"))


def sign_typed(
    private_key: str | bytes, domain: Domain, types: dict, primary_type: str, message: dict
) -> Signature:
    return sign_digest(private_key, typed_digest(domain, types, primary_type, message))


def to_high_s(sig: Signature) -> Signature:
    """The malleable twin of a signature: same signer, s' = n - s, v flipped (27 <-> 28)."""
    s = int.from_bytes(sig.s, "big")
    return Signature(55 - sig.v, sig.r, (SECP256K1_N - s).to_bytes(32, "big"))
