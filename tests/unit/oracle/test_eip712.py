"""The contract's EIP-712 digest equals keel/observations.py's byte for byte (DESIGN "Oracle")."""

from brownie import chain
from eth_account.messages import encode_typed_data
from eth_utils import keccak

from keel.observations import OBSERVATION_TYPES, Observation, oracle_domain
from tests.fixtures.oracle import BTC, WAD, plain


def test_observation_typehash(oracle):
    expected = keccak(
        text="Observation(uint256 feedId,uint256 round,uint256 observedAt,uint256 price,uint256 vol,"
        "uint256 volFloor)"
    )
    assert plain(oracle.OBSERVATION_TYPEHASH()) == expected


def test_domain_is_keel_oracle_version_1_on_this_chain_and_contract(oracle):
    _, name, version, chain_id, verifying, _, _ = oracle.eip712Domain()
    assert (name, version, chain_id, verifying) == ("Keel Oracle", "1", chain.id, oracle.address)


def test_domain_separator_matches_python(oracle):
    d = oracle_domain(chain.id, oracle.address)
    # eth_account's encoder: header = domain separator, body = struct hash.
    msg = Observation(BTC, 1, 2, 3, 4).message()
    signable = encode_typed_data(
        full_message={
            "types": {
                "EIP712Domain": [
                    {"name": "name", "type": "string"},
                    {"name": "version", "type": "string"},
                    {"name": "chainId", "type": "uint256"},
                    {"name": "verifyingContract", "type": "address"},
                ],
                **OBSERVATION_TYPES,
            },
            "primaryType": "Observation",
            "domain": d.as_dict(),
            "message": msg,
        }
    )
    assert plain(oracle.domainSeparator()) == bytes(signable.header)


def test_observation_digest_matches_python(oracle):
    d = oracle_domain(chain.id, oracle.address)
    for feed_id, rnd, t, price, vol, floor in [
        (BTC, 1, 1_700_000_000, 60_000 * WAD, WAD // 2, 7 * WAD // 10),
        (2, 2**32 - 1, 2**32 - 1, 2**128 - 1, 2**64 - 1, 2**64 - 1),
        (2**256 - 1, 0, 0, 0, 0, 0),
    ]:
        expected = Observation(feed_id, rnd, t, price, vol, floor).digest(d)
        assert plain(oracle.observationDigest(feed_id, rnd, t, price, vol, floor)) == expected


def test_digest_depends_on_the_domain(oracle, alice):
    obs = Observation(BTC, 1, 100, WAD, WAD)
    own = obs.digest(oracle_domain(chain.id, oracle.address))
    assert obs.digest(oracle_domain(chain.id + 1, oracle.address)) != own
    assert obs.digest(oracle_domain(chain.id, alice.address)) != own
