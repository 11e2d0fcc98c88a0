"""The relayer's N independent oracle signers: loading, generating and signing observations.

Keys come from a key file (a JSON list of 0x-hex private keys, kept in a gitignored folder such as
`.keel/`, mode 0600) or are derived deterministically from a seed for local chains. Derived keys and
anvil's well-known dev keys are TEST KEYS ONLY: anyone can recompute them, so they must never be
authorised on a chain holding real value.

Each signer may observe the price with a small multiplicative noise, seeded by
(seed, feed, round, signer), so that the on-chain median has something to do and a restarted relayer
re-signs a round with the same numbers.
"""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from eth_account import Account
from eth_utils import keccak

from keel.eip712 import SECP256K1_N, Domain, Signature
from keel.observations import NO_VOL_FLOOR, Observation

# anvil / hardhat default mnemonic: its accounts are public knowledge (test keys only)
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"


@dataclass(frozen=True)
class Signer:
    key: str  # 0x-hex private key
    address: str  # checksummed

    @classmethod
    def from_key(cls, key: str | bytes) -> Signer:
        acct = Account.from_key(key)
        return cls("0x" + bytes(acct.key).hex(), acct.address)

    def sign(self, obs: Observation, domain: Domain) -> Signature:
        return obs.sign(self.key, domain)

    def __repr__(self) -> str:  # never print a key by accident
        return f"Signer({self.address})"


def derive_keys(n: int, seed: int | str) -> list[Signer]:
    """`n` deterministic test keys: keccak("keel-relayer-test-key" | seed | i) reduced into [1, n-1]."""
    out = []
    for i in range(n):
        h = int.from_bytes(keccak(f"keel-relayer-test-key:{seed}:{i}".encode()), "big")
        out.append(Signer.from_key((h % (SECP256K1_N - 1) + 1).to_bytes(32, "big")))
    return out


def anvil_dev_keys(n: int, offset: int = 0) -> list[Signer]:
    """anvil's well-known dev accounts offset..offset+n-1 (funded on a fresh anvil; test keys only)."""
    Account.enable_unaudited_hdwallet_features()
    return [
        Signer.from_key(
            Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{i}").key
        )
        for i in range(offset, offset + n)
    ]


def random_keys(n: int) -> list[Signer]:
    return [Signer.from_key(secrets.token_bytes(32)) for _ in range(n)]


def load_key_file(path: str | Path) -> list[Signer]:
    """Keys from a JSON list of hex private keys (or of {"key": ...} objects)."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if not isinstance(data, list) or not data:
        raise ValueError(f"{path}: expected a non-empty JSON list of private keys")
    try:
        keys = [d["key"] if isinstance(d, dict) else d for d in data]
        signers = [Signer.from_key(k) for k in keys]
    except (KeyError, TypeError, ValueError) as exc:  # the key itself is never shown
        raise ValueError(f"{path}: not a list of private keys ({type(exc).__name__})") from None
    if len({s.address for s in signers}) != len(signers):
        raise ValueError(f"{path}: duplicate keys")
    return signers


def write_key_file(path: str | Path, signers: Sequence[Signer]) -> Path:
    """Writes keys as a JSON list of {"address", "key"} with mode 0600 (creating the folder)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    body = json.dumps([{"address": s.address, "key": s.key} for s in signers], indent=2) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(body)
    return path


def noisy(value: int, noise: float, seed: int, feed_id: int, round_: int, index: int) -> int:
    """`value` (wad) times (1 + eps), eps ~ Normal(0, noise), seeded by (seed, feed, round, signer).

    Never returns less than 1: a signer's noise must not turn a price into a zero the Oracle rejects.
    """
    if noise <= 0:
        return value
    rng = np.random.default_rng([seed & 0xFFFFFFFF, feed_id, round_, index])
    eps = float(rng.normal(0.0, noise))
    eps = max(-0.5, min(0.5, eps))  # a signer's view never differs by half
    return max(1, int(value * (1.0 + eps)))


@dataclass(frozen=True)
class SignedObs:
    signer: str  # address
    price: int  # [wad USD]
    vol: int  # [wad]
    signature: Signature
    vol_floor: int = NO_VOL_FLOOR  # [wad] σ_floor (SPEC §6 [v2])


def sign_report(
    signers: Sequence[Signer],
    domain: Domain,
    feed_id: int,
    round_: int,
    observed_at: int,
    price: int,
    vol: int,
    *,
    vol_floor: int = NO_VOL_FLOOR,
    noise: float = 0.0,
    noise_seed: int = 0,
) -> list[SignedObs]:
    """Every signer's signed observation of (feed, round, observedAt) with its own noisy price/vol
    and the common `vol_floor` [wad]."""
    out = []
    for i, s in enumerate(signers):
        p = noisy(price, noise, noise_seed, feed_id, round_, 2 * i)
        v = noisy(vol, noise, noise_seed, feed_id, round_, 2 * i + 1)
        obs = Observation(feed_id, round_, observed_at, p, v, vol_floor)
        out.append(SignedObs(s.address, p, v, s.sign(obs, domain), vol_floor))
    return out
