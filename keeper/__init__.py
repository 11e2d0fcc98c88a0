"""Keel liquidation keeper (SPEC §7): follows accounts, pre-filters them with the reference model,
starts, bids on and ends Dutch auctions on the Liquidator. CLI: `keel-keeper` / `python -m keeper`.

Modules: `rules` (the bidding rule, pure), `model` (reference-model pre-filter and what-if),
`chain` (batched reads, exactly-once transactions), `keeper` (the loop), `cli`, `abi`, `logs`.
"""
