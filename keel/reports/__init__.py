"""Keel reports: capital efficiency, IM coverage backtest and VaR/ES, from the reference risk model.

    python -m keel.reports --prices data/btc_eth_daily_2016_2019.csv --out reports

Modules: `prices` (the shared CSV format and the relayer's EWMA vol along it), `capital` (isolated,
simple cross and portfolio IM per book, goal checks), `backtest` (books rolled at constant moneyness,
tenor and USD notional; exceptions, binomial, Kupiec, traffic light, over-margining), `risk`
(historical and Monte Carlo VaR/ES), `plots`, `html`, `report` (assembles the JSON twin), `cli`.
No chain is needed; the stress section is filled from reports/simulation.json when present.
"""
