"""The chain's clock in the simulation's lockstep mode (the default; keel/sim/__init__.py).

By default anvil stamps each block with the wall clock plus the offset `evm_increaseTime` added,
and mines each transaction the moment it arrives (automine). Two runs of one seed then differ:
every transaction is stamped with when it happened to be sent, and every read at "latest" sees
that time (funding accrues to it, auctions' discounts grow with it).

In lockstep:
- the genesis block is stamped 00:00 UTC of the run's first date (the CSV row it starts on, or
  `--start` on a GBM path). It has to be set when anvil starts (`--timestamp`): no later call can
  stamp a block before its parent, and the genesis of a chain launched now is the wall clock;
- `anvil_setBlockTimestampInterval 1`: every block is stamped one second after its parent,
  whatever the wall clock says. Automine stays on, so every transaction still gets a block of its
  own as it arrives and no process waits on a miner. A block's timestamp is then the genesis plus
  one second per block before it plus the jumps below: a function of the sequence of
  transactions, which lockstep (the processes acting one at a time, in a fixed order) makes a
  function of the seed. One second is the smallest step (a block must be later than its parent),
  so the chain's clock runs as close to the simulation's as it can;
- the simulation moves the clock by mining one block at the time it wants (`evm_mine` with a
  timestamp). `evm_increaseTime` (brownie's `chain.sleep`) moves only the wall-clock offset, which
  the interval overrides, so it is not used;
- a call at "latest" runs in the head block's environment (its timestamp), so reads are
  deterministic too; nobody mines while the simulation reads.
Not chosen: `--no-mining` / `evm_setAutomine false`, the simulation mining every block. The keepers
and the relayer wait for each receipt inside their cycle (a keeper starts an auction, then bids
on the fresh state), so the simulation would have to mine while a process is mid-cycle, and how
many transactions shared a block would again depend on timing.
"""

from __future__ import annotations

import datetime as dt

BLOCK_INTERVAL = 1  # [s] between consecutive blocks in lockstep


def genesis_time(day: dt.date) -> int:
    """00:00 UTC of `day` [unix s]: the genesis block's timestamp in lockstep."""
    return int(dt.datetime.combine(day, dt.time(), dt.timezone.utc).timestamp())


def _request(web3, method: str, params: list):
    reply = web3.provider.make_request(method, params)
    if "error" in reply:
        raise RuntimeError(f"{method} {params}: {reply['error'].get('message', reply['error'])}")
    return reply.get("result")


def pin(web3, genesis: int) -> None:
    """Checks that the chain is the one launched for this run (genesis stamped `genesis`, nothing
    mined yet) and stamps every later block one BLOCK_INTERVAL after its parent."""
    head = web3.eth.get_block("latest")
    if head["number"] != 0 or head["timestamp"] != genesis:
        raise RuntimeError(
            f"lockstep needs a chain launched for this run (genesis at {genesis}, no block yet); "
            f"this one is at block {head['number']}, time {head['timestamp']} (KEEL_ANVIL_PORT "
            "naming a running chain?). Unset it, or run with --realtime"
        )
    _request(web3, "anvil_setBlockTimestampInterval", [BLOCK_INTERVAL])


def mine_at(web3, ts: int) -> int:
    """Mines one empty block stamped `ts` [unix s] (one interval after the head if `ts` is not
    later than it). Returns the block's timestamp."""
    head = web3.eth.get_block("latest")["timestamp"]
    _request(web3, "evm_mine", [{"timestamp": int(ts)}] if ts > head else [])
    return web3.eth.get_block("latest")["timestamp"]
