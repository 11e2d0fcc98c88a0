"""JSON-RPC with a bounded retry policy: the one transport of every process (relayer, keepers, SDK).

`Rpc.call(what, fn)` runs `fn` (a web3 call) and retries transport failures (connection refused or
reset, timeouts, 5xx / 429, garbled responses) with exponential backoff and jitter, within a budget
of attempts and seconds; then it raises `RpcUnavailable`, whose one-line message names the URL and
the cause ("connection refused", "host not found", "timed out", "HTTP 502"). An endpoint that
answers HTTP 4xx is `Misconfigured` at once (a wrong path or API key). Anything else (a revert, a
bad argument) is not retried. A long-running process rides out an outage with `pause` up to
`max_outage` seconds. web3's own retries are off.
"""

from __future__ import annotations

import json
import math
import random
import socket
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


class RpcError(Exception):
    """Base of the transport's typed exceptions (one line each)."""


class RpcUnavailable(RpcError):
    """The RPC endpoint kept failing for the whole retry budget of one call (or, `down` set, for
    the whole outage a process rides out). The message is one line: URL, cause, duration."""

    def __init__(self, url: str, what: str = "", cause: str = "", down: float | None = None):
        self.url, self.what, self.cause, self.down = url, what, cause, down
        during = "" if down is None else f" for {down:.0f} s"
        super().__init__(f"RPC {url} unreachable{during} ({cause})")


class Misconfigured(RpcError):
    """The RPC URL or a contract address points at the wrong thing: an endpoint that refuses
    JSON-RPC (HTTP 4xx: a wrong path or API key), an address with no contract on the RPC's chain,
    or a contract that does not answer as the one named."""


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


def rpc_cause(exc: BaseException) -> str:
    """A few words on why an RPC call failed ("connection refused", "host not found", ...), from
    the innermost error of the chain requests/urllib3 wrap it in."""
    seen, todo = [], [exc]
    while todo:  # the exception, its causes, contexts and wrapped reasons
        e = todo.pop()
        if not isinstance(e, BaseException) or any(e is x for x in seen):
            continue  # None, or a `reason` that is a string
        seen.append(e)
        todo += [e.__cause__, e.__context__, getattr(e, "reason", None)]
        todo += [a for a in getattr(e, "args", ()) if isinstance(a, BaseException)]
    for e in seen:
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, socket.gaierror):
            return "host not found"
    for e in seen:
        if isinstance(e, (requests.Timeout, RequestTimedOut, TimeoutError)):
            return "timed out"
        if isinstance(e, requests.HTTPError) and e.response is not None:
            return f"HTTP {e.response.status_code}"
        if isinstance(e, (BadResponseFormat, json.JSONDecodeError)):
            return "not a JSON-RPC answer"
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first[:160]}"


class Rpc:
    """web3 over HTTP with our own retry policy (web3's built-in retries are turned off).

    Outages. Each call retries within `retry`; a process rides out a longer outage by retrying
    its cycle (`pause`) until the RPC has failed `max_outage` seconds in a row (None: forever),
    then `pause` raises the final `RpcUnavailable` (with `down`, the outage's length). One
    successful call ends an outage.
    """

    def __init__(
        self,
        url: str,
        timeout: float,
        retry: RetryPolicy,
        jitter_seed=None,
        log=None,
        max_outage: float | None = None,
    ):
        provider = Web3.HTTPProvider(
            url, request_kwargs={"timeout": timeout}, exception_retry_configuration=None
        )
        self.url = url
        self.w3 = Web3(provider)
        self.retry = retry
        self.rng = random.Random(jitter_seed)
        self.log = log or get_logger()
        self.max_outage = max_outage  # [s]
        self._down_since: float | None = None  # [monotonic s] first failure of the outage
        self._last: RpcUnavailable | None = None  # the outage's last failed call

    def outage(self) -> float:
        """How long the RPC has been failing without a success in between [s] (0: it is up)."""
        return 0.0 if self._down_since is None else time.monotonic() - self._down_since

    def _patience_left(self) -> float:
        """[s] before the outage reaches max_outage (inf: no limit)."""
        return math.inf if self.max_outage is None else self.max_outage - self.outage()

    def call(self, what: str, fn: Callable[[], Any]) -> Any:
        start = time.monotonic()
        for attempt in range(self.retry.max_attempts):
            tried = time.monotonic()
            try:
                result = fn()
            except Exception as exc:
                if not is_transient(exc):
                    self._down_since = None  # an answer (a revert, a refusal): the RPC is up
                    if isinstance(exc, requests.HTTPError) and exc.response is not None:
                        r = exc.response
                        raise Misconfigured(
                            f"RPC {self.url} refused the request: HTTP {r.status_code} {r.reason}"
                        ) from exc
                    raise
                if self._down_since is None:
                    self._down_since = tried
                elapsed = time.monotonic() - start
                delay = self.retry.delay(attempt, self.rng)
                last = attempt + 1 >= self.retry.max_attempts
                budget = elapsed + delay > self.retry.max_elapsed
                if last or budget or delay > self._patience_left():
                    event(
                        self.log,
                        "rpc-unavailable",
                        40,
                        call=what,
                        attempts=attempt + 1,
                        error=type(exc).__name__,
                    )
                    self._last = RpcUnavailable(self.url, what, rpc_cause(exc))
                    raise self._last from exc
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
            else:
                self._down_since = None
                return result
        raise RpcUnavailable(self.url, what, "no attempt")  # pragma: no cover - max_attempts >= 1

    def pause(self, failures: int) -> None:
        """Waits before a failed cycle is tried again (the backoff of the `failures`-th failure in
        a row, cut short at the outage's deadline so that the last try falls on it), or raises
        the final RpcUnavailable once the RPC has been failing for `max_outage` seconds (a cycle
        that failed on something else only waits)."""
        delay = self.retry.delay(min(failures, 6), self.rng)
        if self._down_since is not None:
            left = self._patience_left()
            if left <= 0:
                last = self._last or RpcUnavailable(self.url, "?", "unknown")
                raise RpcUnavailable(self.url, last.what, last.cause, self.outage())
            delay = min(delay, left)
        time.sleep(delay)

    def require_code(self, contracts: dict[str, str]) -> None:
        """Misconfigured unless every address of `contracts` (name -> address) holds code: a wrong
        address or a wrong chain fails here, in one line, not at the first call."""
        for name, addr in contracts.items():
            code = self.call(f"code_{name}", lambda a=addr: self.w3.eth.get_code(a))
            if not code:  # a call to an empty account "succeeds" with no data: refuse it here
                chain = self.call("chain_id", lambda: self.w3.eth.chain_id)
                raise Misconfigured(
                    f"no {name} contract at {addr} on {self.url} (chain id {chain})"
                )

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
