"""Relayer pieces that need no chain: retry policy, error classification, revert decoding, state."""

import json
import random
import socket
import time

import pytest
import requests

from keel.chain import free_port
from keel.client.rpc import RetryPolicy, Rpc, RpcUnavailable, is_transient, rpc_cause
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
    st = RelayerState(path, chain_id=1337, oracle="0xA", sender="0xB", cursor=7, sent=2)
    st.pending = {"tx": "0x01", "raw": "0x02", "nonce": 3, "to": "0xC", "data": "0x03",
                  "action": {"rounds": {"1": 4}, "observed_at": 9}}  # fmt: skip
    st.save()
    assert RelayerState.load(path) == st
    assert not (tmp_path / ".keel" / "relayer-state.json.tmp").exists()
    missing = tmp_path / "missing.json"
    assert RelayerState.load(missing) == RelayerState(missing)


def test_the_relayer_state_is_the_senders_state_file_format(tmp_path):
    """One state-file format (keel.client.state): the relayer's file is a TxState file with the
    relayer's fields beside the sender's, so a TxState reader sees its pending transaction."""
    from keel.client.state import TxState

    path = tmp_path / "relayer-state.json"
    st = RelayerState(path, pending={"tx": "0x01", "nonce": 3}, sent=4, cursor=7)
    st.save()
    assert json.loads(path.read_text()) == {
        "version": 1, "pending": {"tx": "0x01", "nonce": 3}, "sent": 4, "chain_id": 0,
        "oracle": "", "sender": "", "cursor": 7, "last": {}, "submissions": 0,
    }  # fmt: skip
    tx = TxState.load(path)
    assert (tx.pending, tx.sent, tx.extra["cursor"]) == ({"tx": "0x01", "nonce": 3}, 4, 7)
    tx.save()  # a TxState writer keeps what it does not know
    assert RelayerState.load(path) == st


def test_state_of_another_version_is_refused(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(Exception, match="unsupported state version"):
        RelayerState.load(path)


# --- Why an RPC failed, and how long an outage is ridden out (issue 10) ---


def _failure(url: str, timeout: float = 5.0) -> Exception:
    try:
        requests.post(url, json={}, timeout=timeout)
    except requests.RequestException as exc:
        return exc
    raise AssertionError(f"{url} answered")


def test_rpc_cause_reads_the_innermost_error():
    assert rpc_cause(_failure(f"http://127.0.0.1:{free_port()}")) == "connection refused"
    assert rpc_cause(_failure("http://nohost.invalid:8545")) == "host not found"
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        assert rpc_cause(_failure(url, timeout=0.3)) == "timed out"
    assert rpc_cause(ValueError("odd\nsecond line")) == "ValueError: odd"


def test_an_outage_is_ridden_out_for_max_outage_seconds_then_given_up():
    url = f"http://127.0.0.1:{free_port()}"
    rpc = Rpc(url, 1.0, RetryPolicy(base=0.05, cap=0.1, max_attempts=2), 1, max_outage=0.6)
    t0, failures = time.monotonic(), 0
    with pytest.raises(RpcUnavailable) as exc:
        while True:  # a process's cycle loop
            try:
                rpc.call("chain_id", lambda: rpc.w3.eth.chain_id)
            except RpcUnavailable as failed:
                assert failed.down is None  # one call's budget: not the end yet
                failures += 1
                rpc.pause(failures)
    took = time.monotonic() - t0
    assert 0.6 <= exc.value.down < 1.0 and 0.6 <= took < 1.5 and failures >= 2
    assert str(exc.value) == f"RPC {url} unreachable for 1 s (connection refused)"


def test_a_success_ends_the_outage():
    rpc = Rpc(f"http://127.0.0.1:{free_port()}", 1.0, RetryPolicy(max_attempts=1), max_outage=5)
    with pytest.raises(RpcUnavailable):
        rpc.call("chain_id", lambda: rpc.w3.eth.chain_id)
    assert rpc.outage() > 0
    assert rpc.call("constant", lambda: 7) == 7
    assert rpc.outage() == 0
