"""Relayer pieces that need no chain: retry policy, error classification, revert decoding, state."""

import json
import random

import pytest
import requests

from keel.client.rpc import RetryPolicy, is_transient
from oracle.relayer import RelayerState


def test_backoff_is_exponential_jittered_and_capped():
    policy = RetryPolicy(base=0.5, cap=4.0)
    rng = random.Random(1)
    for attempt, full in [(0, 0.5), (1, 1.0), (2, 2.0), (3, 4.0), (10, 4.0)]:
        for _ in range(20):
            d = policy.delay(attempt, rng)
            assert full / 2 <= d <= full


def _http_error(status):
    resp = requests.Response()
    resp.status_code = status
    return requests.HTTPError(response=resp)


@pytest.mark.parametrize(
    "exc, transient",
    [
        (requests.ConnectionError("refused"), True),
        (requests.Timeout("slow"), True),
        (ConnectionResetError(), True),
        (_http_error(502), True),
        (_http_error(503), True),
        (_http_error(429), True),
        (_http_error(400), False),
        (ValueError("execution reverted"), False),
    ],
)
def test_transient_errors(exc, transient):
    assert is_transient(exc) is transient


def test_state_round_trip_is_atomic(tmp_path):
    path = tmp_path / ".keel" / "relayer-state.json"
    st = RelayerState(chain_id=1337, oracle="0xA", sender="0xB", cursor=7)
    st.pending = {"tx": "0x01", "raw": "0x02", "nonce": 3, "rounds": {"1": 4}, "observed_at": 9}
    st.save(path)
    assert RelayerState.load(path) == st
    assert not (tmp_path / ".keel" / "relayer-state.json.tmp").exists()
    assert RelayerState.load(tmp_path / "missing.json") == RelayerState()


def test_state_of_another_version_is_refused(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(Exception, match="unsupported state version"):
        RelayerState.load(path)
