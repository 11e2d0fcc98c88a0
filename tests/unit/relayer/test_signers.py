"""Signer keys (keel/client/keys.py): key files, deterministic test keys, noise, signing."""

import json
import stat

import pytest

from keel.client.keys import (
    Signer,
    anvil_dev_keys,
    derive_keys,
    load_key_file,
    noisy,
    sign_report,
    write_key_file,
)
from keel.observations import Observation, oracle_domain
from oracle import rules

WAD = 10**18


def test_derived_keys_are_deterministic_and_distinct():
    a, b = derive_keys(5, 42), derive_keys(5, 42)
    assert a == b
    assert len({s.address for s in a}) == 5
    assert derive_keys(5, 43) != a


def test_anvil_dev_keys_are_the_well_known_accounts():
    keys = anvil_dev_keys(2)
    assert keys[0].address == "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
    assert anvil_dev_keys(1, offset=1)[0] == keys[1]


def test_key_file_round_trip_is_private(tmp_path):
    path = tmp_path / ".keel" / "signers.json"
    keys = derive_keys(3, "x")
    write_key_file(path, keys)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_key_file(path) == keys
    plain = tmp_path / "plain.json"
    plain.write_text(json.dumps([k.key for k in keys]))
    assert load_key_file(plain) == keys


@pytest.mark.parametrize("body", ["{}", "[]", '["0x01", "0x01"]'])
def test_bad_key_files_are_refused(tmp_path, body):
    path = tmp_path / "k.json"
    path.write_text(body)
    with pytest.raises(ValueError):
        load_key_file(path)


def test_repr_never_shows_the_key():
    s = derive_keys(1, 0)[0]
    assert s.key[2:] not in repr(s)


def test_noise_is_seeded_and_small():
    v = 1000 * WAD
    assert noisy(v, 0.0, 1, 1, 1, 0) == v
    a = [noisy(v, 0.001, 1, 1, 7, i) for i in range(5)]
    assert a == [noisy(v, 0.001, 1, 1, 7, i) for i in range(5)]
    assert len(set(a)) == 5
    assert all(abs(x - v) < v // 100 for x in a)
    assert noisy(1, 0.4, 3, 1, 1, 0) >= 1


def test_sign_report_signatures_recover_to_each_signer():
    signers = derive_keys(3, "s")
    domain = oracle_domain(1337, "0x00000000000000000000000000000000000000A1")
    signed = sign_report(signers, domain, 2, 5, 1000, 50 * WAD, WAD // 2, noise=0.001, noise_seed=9)
    for s, o in zip(signers, signed, strict=True):
        digest = Observation(2, 5, 1000, o.price, o.vol).digest(domain)
        assert rules.recover(digest, o.signature.v, o.signature.r, o.signature.s) == s.address
        assert o.signer == s.address


def test_signer_from_key_normalises():
    s = derive_keys(1, 0)[0]
    assert Signer.from_key(s.key[2:]) == s
