"""JSON-RPC with a bounded retry policy: the one transport of every process (relayer, keepers, SDK).

`Rpc.call(what, fn)` runs `fn` (a web3 call) and retries transport failures (connection refused or
reset, timeouts, 5xx / 429, garbled responses) with exponential backoff and jitter, within a budget
of attempts and seconds; then it raises `RpcUnavailable`, whose one-line message names the call and
the cause. Anything else (a revert, a bad argument) is not retried. web3's own retries are off.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from web3 import Web3
from web3.exceptions import (
    BadResponseFormat,
    ProviderConnectionError,
    RequestTimedOut,
    TransactionNotFound,
)

from keel.client.logs import event, get_logger


class RpcUnavailable(Exception):
    """The RPC endpoint kept failing for the whole retry budget of one call."""


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt i sleeps uniform(0.5, 1) * min(cap, base * 2^i)."""

    base: float = 0.25  # [s]
    cap: float = 5.0  # [s]
    max_attempts: int = 8
    max_elapsed: float = 30.0  # [s] total budget of one call

    def delay(self, attempt: int, rng: random.Random) -> float:
        return min(self.cap, self.base * 2**attempt) * rng.uniform(0.5, 1.0)


_TRANSIENT = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    ProviderConnectionError,
    RequestTimedOut,
    BadResponseFormat,
    json.JSONDecodeError,
    ConnectionError,
    TimeoutError,
)


def is_transient(exc: BaseException) -> bool:
    """Worth retrying: transport failures, timeouts, 5xx / 429, garbled responses."""
    if isinstance(exc, requests.HTTPError):
        status = exc.response.status_code if exc.response is not None else 500
        return status >= 500 or status == 429
    return isinstance(exc, _TRANSIENT)


class Rpc:
    """web3 over HTTP with our own retry policy (web3's built-in retries are turned off)."""

    def __init__(self, url: str, timeout: float, retry: RetryPolicy, jitter_seed=None, log=None):
        provider = Web3.HTTPProvider(
            url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
        )
        self.url = url
        self.w3 = Web3(provider)
        self.retry = retry
        self.rng = random.Random(jitter_seed)
        self.log = log or get_logger()

    def call(self, what: str, fn: Callable[[], Any]) -> Any:
        start = time.monotonic()
        for attempt in range(self.retry.max_attempts):
            try:
                return fn()
            except Exception as exc:
                if not is_transient(exc):
                    raise
                elapsed = time.monotonic() - start
                delay = self.retry.delay(attempt, self.rng)
                last = attempt + 1 >= self.retry.max_attempts
                if last or elapsed + delay > self.retry.max_elapsed:
                    event(
                        self.log,
                        "rpc-unavailable",
                        40,
                        call=what,
                        attempts=attempt + 1,
                        error=type(exc).__name__,
                    )
                    raise RpcUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
                event(
                    self.log,
                    "rpc-retry",
                    30,
                    call=what,
                    attempt=attempt + 1,
                    delay=round(delay, 3),
                    error=type(exc).__name__,
                )
                time.sleep(delay)
        raise RpcUnavailable(what)  # pragma: no cover - max_attempts >= 1

    # --- Transaction reads shared by every sending process (relayer, keepers, SDK) ---

    def receipt(self, w3, tx_hash: str):
        """The receipt of `tx_hash`, or None while it is not mined (RPC errors retried)."""

        def get():
            try:
                return w3.eth.get_transaction_receipt(tx_hash)
            except TransactionNotFound:
                return None

        return self.call("get_receipt", get)

    def receipt_after_nonce(self, w3, tx_hash: str, lag_bound: float, poll: float = 0.1):
        """The receipt of a transaction whose nonce the chain has consumed, or None once it has
        stayed missing for `lag_bound` seconds (dropped or replaced). A consumed nonce alone does
        not mean that: anvil advances the sender's nonce before it stores the mined block's
        receipts, so a mined transaction can have no receipt yet (keel/brownie_fix.py)."""
        deadline = time.monotonic() + lag_bound
        while True:
            receipt = self.receipt(w3, tx_hash)
            if receipt is not None or time.monotonic() >= deadline:
                return receipt
            time.sleep(poll)

    def nonce_consumed(self, w3, address: str, nonce: int) -> bool:
        """Whether a mined transaction of `address` has already used `nonce`."""
        latest = self.call("nonce_latest", lambda: w3.eth.get_transaction_count(address, "latest"))
        return latest > nonce
