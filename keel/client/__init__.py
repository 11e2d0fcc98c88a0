"""Keel's chain client: the one layer every process talks to the chain through.

- `keel.client.rpc`: JSON-RPC with bounded retries (`Rpc`, `RetryPolicy`, `RpcUnavailable`);
- `keel.client.chain`: batched reads of accounts and market (`Batch`, `Reader`) and the
  write-ahead transaction sender (`Sender`: one in flight, never sent twice, EIP-7825 aware);
- `keel.client.state`: the one state-file format (atomic JSON);
- `keel.client.logs`: structured logs (one record per decision);
- `keel.client.sdk`: the trader's SDK (`Keel`), which the `keel` CLI drives;
- ABIs come from `keel.abi` (the compiled build) and reverts are decoded there.
The relayer (oracle/), the keepers (keeper/), the simulation, the benchmarks and the SDK use it.
"""

from keel.client.sdk import (
    ClientError,
    Keel,
    LiquidationPrices,
    Margin,
    ModelFigures,
    Trade,
    Underlying,
    WhatIf,
)

__all__ = [
    "ClientError",
    "Keel",
    "LiquidationPrices",
    "Margin",
    "ModelFigures",
    "Trade",
    "Underlying",
    "WhatIf",
]
