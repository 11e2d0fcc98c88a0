"""Governance through the timelock (SPEC §8b): deploy it, hand it every owner power, run operations.

Every contract with an owner (Vault, Oracle, MarginEngine, Liquidator) is Ownable2Step. After
`hand_over` its owner is a KeelTimelock (OpenZeppelin's TimelockController), so an owner call is an
*operation*: a proposer schedules it, it waits out the delay (default 24 h), then an executor runs
it. `govern` does the three steps at once on a development chain (it travels in time); on a real
chain `schedule` returns the `Operation` and `execute` runs it once `ready_at` has passed.

Shared by scripts/deploy.py, the tests and the stateful attacker test. Salts are chosen so that a
new operation never collides with one the timelock already knows (the same calls scheduled twice
get different ids), and the predecessor defaults to none.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

DEFAULT_DELAY = 24 * 3600  # SPEC §8b; KeelTimelock.DEFAULT_DELAY  [s]
ZERO_ADDRESS = "0x" + "00" * 20
ANYONE = ZERO_ADDRESS  # as an executor: anyone may execute a ready operation
NO_PREDECESSOR = b"\0" * 32


def param_key(name: str) -> bytes:
    """bytes32 name of a `setParam` parameter (`"heartbeat"` -> b"heartbeat\\0...")."""
    return name.encode().ljust(32, b"\0")


def _bytes32(x) -> bytes:
    if isinstance(x, (bytes, bytearray)):
        return bytes(x).rjust(32, b"\0")
    if isinstance(x, int):
        return x.to_bytes(32, "big")
    return bytes.fromhex(str(x).removeprefix("0x")).rjust(32, b"\0")


@dataclass(frozen=True)
class Call:
    """One call the timelock makes: `target.call{value: value}(data)`."""

    target: str
    data: str  # ABI-encoded calldata (hex)
    value: int = 0  # [wei]


def call(fn, *args, value: int = 0) -> Call:
    """The call of brownie contract function `fn` with `args`: `call(engine.setParam, key, v)`."""
    return Call(str(fn._address), fn.encode_input(*args), value)


@dataclass(frozen=True)
class Operation:
    """A scheduled timelock operation: its calls, predecessor, salt, id and when it becomes ready."""

    calls: tuple[Call, ...]
    predecessor: bytes
    salt: bytes
    id: str  # hashOperation / hashOperationBatch (hex)
    ready_at: int  # executable from this block time on  [unix s]

    @property
    def batch(self) -> bool:
        """One call goes through schedule/execute, several through scheduleBatch/executeBatch."""
        return len(self.calls) != 1

    @property
    def value(self) -> int:
        return sum(c.value for c in self.calls)  # [wei]

    def args(self) -> tuple:
        """Arguments of execute / executeBatch (schedule's are these plus the delay)."""
        return operation_args(self.calls, self.predecessor, self.salt)


def operation_args(calls: Sequence[Call], predecessor=NO_PREDECESSOR, salt=0) -> tuple:
    """Arguments of execute (one call) or executeBatch (several); schedule / scheduleBatch take
    these and the delay. Pure: a client with its own RPC layer can use it as it is."""
    predecessor, salt = _bytes32(predecessor), _bytes32(salt)
    if len(calls) == 1:
        c = calls[0]
        return (c.target, c.value, c.data, predecessor, salt)
    return (
        [c.target for c in calls],
        [c.value for c in calls],
        [c.data for c in calls],
        predecessor,
        salt,
    )


def operation_id(calls: Sequence[Call], predecessor=NO_PREDECESSOR, salt=0) -> str:
    """The id TimelockController gives `calls` with `predecessor` and `salt` (hashOperation or
    hashOperationBatch: keccak256 of the abi-encoded arguments), computed locally."""
    from eth_abi import encode
    from eth_utils import keccak

    p, s = _bytes32(predecessor), _bytes32(salt)
    data = [bytes.fromhex(c.data.removeprefix("0x")) for c in calls]
    if len(calls) == 1:
        types = ["address", "uint256", "bytes", "bytes32", "bytes32"]
        values = [calls[0].target, calls[0].value, data[0], p, s]
    else:
        types = ["address[]", "uint256[]", "bytes[]", "bytes32", "bytes32"]
        values = [[c.target for c in calls], [c.value for c in calls], data, p, s]
    return "0x" + keccak(encode(types, values)).hex()


def free_salt(timelock, calls: Sequence[Call], predecessor=NO_PREDECESSOR) -> bytes:
    """The first salt 0, 1, 2, ... whose operation the timelock has never seen (so scheduling the
    same calls again, e.g. a parameter set back and forth, never collides with an old operation)."""
    n = 0
    while timelock.isOperation(operation_id(calls, predecessor, n)):
        n += 1
    return _bytes32(n)


def schedule(
    timelock,
    calls: Call | Sequence[Call],
    proposer,
    *,
    delay: int | None = None,
    predecessor=NO_PREDECESSOR,
    salt=None,
) -> Operation:
    """Schedule `calls` (one Call or several, run in order, all or none) from `proposer`.

    `delay` defaults to the timelock's minimum (less reverts TimelockInsufficientDelay); `salt`
    defaults to `free_salt`. Returns the Operation, with `ready_at` read back from the timelock.
    """
    calls = (calls,) if isinstance(calls, Call) else tuple(calls)
    if not calls:
        raise ValueError("an operation needs at least one call")
    predecessor = _bytes32(predecessor)
    salt = free_salt(timelock, calls, predecessor) if salt is None else _bytes32(salt)
    delay = timelock.getMinDelay() if delay is None else delay
    args = operation_args(calls, predecessor, salt)
    fn = timelock.schedule if len(calls) == 1 else timelock.scheduleBatch
    fn(*args, delay, {"from": proposer})
    op_id = operation_id(calls, predecessor, salt)
    return Operation(calls, predecessor, salt, op_id, int(timelock.getTimestamp(op_id)))


def wait(op: Operation) -> None:
    """Development chains only: travel in time until `op` is ready (the next block is at or after
    `ready_at`)."""
    from brownie import chain

    while chain[-1].timestamp < op.ready_at:
        chain.sleep(op.ready_at - chain[-1].timestamp)
        chain.mine()


def execute(timelock, op: Operation, executor):
    """Execute ready operation `op` from `executor`; returns the transaction."""
    fn = timelock.executeBatch if op.batch else timelock.execute
    return fn(*op.args(), {"from": executor, "value": op.value})


def cancel(timelock, op: Operation, canceller):
    """Cancel pending operation `op` (proposers hold the canceller role); returns the transaction."""
    return timelock.cancel(op.id, {"from": canceller})


def govern(
    timelock,
    calls: Call | Sequence[Call],
    proposer,
    *,
    executor=None,
    predecessor=NO_PREDECESSOR,
):
    """Development chains: schedule `calls`, travel past the delay and execute them (executor
    defaults to the proposer). Returns the execute transaction."""
    op = schedule(timelock, calls, proposer, predecessor=predecessor)
    wait(op)
    return execute(timelock, op, executor if executor is not None else proposer)


def deploy_timelock(
    deployer,
    delay: int = DEFAULT_DELAY,
    proposers: Iterable = (),
    executors: Iterable = (),
    admin=None,
):
    """Deploy a KeelTimelock with `delay` [s] (tests pass a short one), `proposers` (who schedule
    and cancel), `executors` (ANYONE: anyone executes) and no admin but itself unless `admin` is
    given (an admin bypasses the delay: never in a deployment). Returns the contract."""
    from keel.chain import project

    return project().KeelTimelock.deploy(
        delay,
        [str(p) for p in proposers],
        [str(e) for e in executors],
        str(admin) if admin is not None else ZERO_ADDRESS,
        {"from": deployer},
    )


def hand_over(timelock, contracts: Iterable, proposer, *, owner=None, executor=None, run=True):
    """Make `timelock` the owner of every Ownable2Step contract in `contracts`.

    The current `owner` (default: the proposer) starts each transfer; one timelock operation then
    calls `acceptOwnership()` on all of them. With `run` (development chains) the operation waits
    out the delay and executes, and every owner is checked; without it the scheduled Operation is
    returned and ownership stays pending until someone executes it after `ready_at`.
    """
    contracts = list(contracts)
    owner = owner if owner is not None else proposer
    for c in contracts:
        c.transferOwnership(timelock, {"from": owner})
    op = schedule(timelock, [call(c.acceptOwnership) for c in contracts], proposer)
    if not run:
        return op
    wait(op)
    execute(timelock, op, executor if executor is not None else proposer)
    for c in contracts:
        if c.owner() != timelock.address:
            raise RuntimeError(f"{c.address}: owner {c.owner()} after hand-over, not the timelock")
    return op


def set_guardian(timelock, engine, guardian, proposer, *, executor=None):
    """Development chains: make `guardian` the engine's guardian through the timelock."""
    return govern(timelock, call(engine.setGuardian, guardian), proposer, executor=executor)


def set_param(timelock, contract, name: str, value: int, proposer, *, executor=None):
    """Development chains: `contract.setParam(name, value)` through the timelock."""
    return govern(
        timelock, call(contract.setParam, param_key(name), value), proposer, executor=executor
    )
