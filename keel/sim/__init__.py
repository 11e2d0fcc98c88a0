"""Keel's market simulation on the embedded anvil chain (`python -m keel.sim`).

What a new user should see in a few minutes: a market runs on the local chain and Keel keeps it
solvent with less capital than isolated margin needs.

1. deploy the whole stack (Oracle, Vault, tokens, margin engine, exchange, liquidator) and an
   insurance fund;
2. open the population: two market makers, the keeper's account, and trader accounts holding the
   strategy books of bench/portfolios.json (scaled to the day's spot at constant moneyness and
   USD notional, `keel.sim.books`) or directional perp positions, each position opened by an
   EIP-712 signed maker order filled by the trader; every trader then withdraws its spare cash
   down to its own AE/IM target (1.5-4x);
3. start three processes: the oracle relayer (`keel.sim.relayer`, signing with 5 TEST keys,
   3-of-5) replaying the CSV or a seeded GBM-with-jumps path one day per round, the liquidation
   keeper (`python -m keeper run`) and the settlement keeper (`python -m keeper settle`);
4. each day: chain time +1 day, the relayer pushes the day's prices (when an option expiry falls
   within the day, the clock stops 30 s after it and the day's prices are pushed there, inside the
   Oracle's 15-minute settlement window, SPEC v2 §3, then re-reported at the day's end), funding
   accrues, directional traders add or reduce, books roll expired options (weekly and monthly
   expiries, `keel.sim.books.expiry_calendar`) once the settlement keeper settled them, thin
   accounts sometimes top up;
5. on the crash day one relayer update moves ETH -40% and BTC -35%; chain time then moves in
   5-minute steps through the auction curve while the keeper liquidates;
6. stop the processes, write `reports/simulation.json` (the stress slot of the report, format in
   keel/reports/html.py) and build the report (`python -m keel.reports`).

Run `python -m keel.sim --help` for the options (`--config FILE` takes JSON or YAML with the same
names, see keel/sim/example.yaml; `--quick` is a one-minute smoke run written to reports/quick/, never
over the default report). Process logs go to
`.keel/sim/` (relayer.log, keeper.log, settler.log).

Reproducibility: the price path, the population and each trader's choices come from `--seed`,
but the keepers are real processes acting in wall-clock time (and anvil stamps blocks with the
wall clock plus the simulated offset), so auction timing, discounts, and therefore the exact
liquidation figures, vary a little from run to run with the same seed. The figures reported are
always the run's own, read from the chain and its events.
"""
