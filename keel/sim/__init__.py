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
3. start three processes: the oracle relayer (`python -m oracle.stepped`, signing with 5 TEST keys,
   3-of-5) replaying the CSV or a seeded GBM-with-jumps path one day per round, the liquidation
   keeper (`python -m keeper run --stepped`) and the settlement keeper (`python -m keeper settle
   --stepped`), the real keeper code in its stepped mode (keeper/stepped.py); with `--realtime`
   the keepers run their real-time loops instead;
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

Reproducibility: the same seed gives the same `simulation.json`, field by field, run after run
(except `meta`, which holds the run's wall time and nothing else). The price path, the population
and each trader's choices come from `--seed`, and the run is in lockstep (the default): the
simulation owns the clock (keel.sim.clock: the genesis block at 00:00 UTC of the first date,
every block one second after its parent whatever the wall clock says, the simulation mining a
block at each time it moves to) and after each of its steps (a day, an expiry's settlement stop,
the crash, each 5-minute step of the liquidation phase) the relayer pushes, then the settlement
keeper and then the liquidation keeper run cycles until one sends nothing, at most 20 (`step` on
their stdin: the same `Keeper.step` their real-time loop runs, full scans counted in chain time;
each answers once its transactions are mined), before the traders act and the simulation moves
on: a keeper polling every half second does all it can within seconds of a price. Nobody acts in
between, so every block and its timestamp follow from the seed. tests/integration/
test_simulation.py runs the quick simulation twice with one seed and compares the results.
`--realtime` runs the keepers' real-time loops on the wall clock (and anvil stamps blocks with the
wall clock plus the simulated offset), as they would run against a live chain: auction timing,
discounts, and therefore the exact liquidation figures, then vary from run to run with the same
seed. Either way the figures reported are the run's own, read from the chain and its events.
"""
