"""A trader's SDK for one Keel deployment: web3.py only (no brownie, no compile step).

    from keel.client import Keel, Trade
    k = Keel.connect("http://127.0.0.1:8545", ".keel/deployment-anvil.json", key=my_key)
    acct = k.open_account()
    k.deposit(acct, "USDC", "10000")                       # whole tokens; decimals handled
    m = k.margin(acct)                                     # the chain's breakdown + 31 P&Ls
    w = k.what_if(acct, [Trade("BTC", "0.5", "60000")])    # margin after buying 0.5 BTC perp
    k.liquidation_price(acct, "BTC")                       # spots where AE = MM, others held

Reads go through the batched reader (keel.client.chain.Reader: one JSON-RPC batch per step);
writes through the write-ahead sender (keel.client.chain.Sender: one transaction in flight,
recorded before it leaves, never sent twice). The figures the chain computes (E, AE, IM, MM, SR,
SOM, losses) come from the chain; what it does not return (the 31 scenario P&Ls per underlying,
what-if margin, liquidation prices) from the reference model (keel.risk) on the same inputs,
which agrees with the chain within SPEC §6 tolerance (tests/unit/client).

Amounts are whole tokens, USD and contracts given as int, str or Decimal (never float: 0.1 is not
exact in binary); they become token units and wad here, and an amount finer than its unit is
refused rather than rounded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_utils import to_checksum_address

from keel.abi import describe_revert, load, topic
from keel.client.chain import Addresses, Batch, CallReverted, OverCap, Reader, Sender, Sent
from keel.client.rpc import RetryPolicy, Rpc, RpcUnavailable
from keel.client.state import TxState
from keel.orders import OPTION_INSTRUMENT_BASE, Order, exchange_domain

WAD = 10**18
SCENARIOS = 31
ROLES = ("oracle", "vault", "engine", "store", "exchange", "liquidator")
RIGHT_TRADE, RIGHT_WITHDRAW = 1, 2  # Vault operator rights (bit flags)


class ClientError(Exception):
    """What went wrong, in one line a trader can act on (the CLI prints it as is)."""


# --- Amounts ---


def _decimal(x, what: str) -> Decimal:
    if isinstance(x, float):
        raise ClientError(f"{what}: pass {x!r} as a string or Decimal, not a float")
    try:
        d = Decimal(str(x))
    except InvalidOperation:
        raise ClientError(f"{what}: not a number: {x!r}") from None
    if not d.is_finite():
        raise ClientError(f"{what}: not a finite number: {x!r}")
    return d


def to_scaled(x, decimals: int, what: str) -> int:
    """`x` (int, str, Decimal) as an integer at 10**decimals, refusing anything finer."""
    scaled = _decimal(x, what) * (Decimal(10) ** decimals)
    if scaled != scaled.to_integral_value():
        raise ClientError(f"{what}: {x} has more than {decimals} decimals")
    return int(scaled)


def to_wad(x, what: str) -> int:
    return to_scaled(x, 18, what)


def usd(wad: int) -> float:
    """A wad USD figure as float dollars (for display and the reference model)."""
    return int(wad) / WAD


# --- What the SDK returns ---


@dataclass(frozen=True)
class Trade:
    """A proposed trade from the account's side: `size` contracts (+ buy, − sell) of `instrument`
    at `price` [USD per contract: the perp price or the option premium]. `instrument`: a feed's
    symbol or id for its perp ("BTC", 1), or "series:<id>" / OPTION_INSTRUMENT_BASE + id."""

    instrument: int | str
    size: int | str | Decimal
    price: int | str | Decimal
    role: str = "taker"  # pays the taker fee rate ("maker": the maker rate)


@dataclass(frozen=True)
class Underlying:
    feed_id: int
    symbol: str
    scan_range: float  # R_u                                                      [fraction]
    loss: float  # standalone loss L_u (chain)                                    [USD]
    worst: int  # first scenario attaining min_j P_u(j) (chain)                   [0..30]
    pnl: tuple[float, ...]  # the 31 weighted scenario P&Ls P_u(j) (reference model) [USD]


@dataclass(frozen=True)
class Figures:
    """An account's SPEC §6 figures, USD: what the chain's breakdown and the reference model share."""

    equity: float
    adjusted_equity: float
    initial_margin: float
    maintenance_margin: float
    scan_risk: float
    short_option_minimum: float
    joint_loss: float

    def as_dict(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.repr}


@dataclass(frozen=True)
class Margin(Figures):
    """An account's SPEC §6 breakdown: the chain's figures, USD."""

    account: int = 0
    joint_worst: int = 0  # first scenario attaining the joint loss's minimum [0..30]
    correlated_loss: float = 0.0  # L_ρ of SPEC v2 §6 (0 where SR needs none: L_J = Σ L_u) [USD]
    underlyings: tuple[Underlying, ...] = ()
    raw: dict = field(repr=False, default_factory=dict)  # the chain's wad integers

    @property
    def excess(self) -> float:
        """AE − IM: positive when the account may take new risk or withdraw."""
        return self.adjusted_equity - self.initial_margin

    @property
    def liquidatable(self) -> bool:
        return self.raw["adjustedEquity"] < self.raw["maintenanceMargin"]

    def as_dict(self) -> dict:
        return {
            **super().as_dict(),
            "excess": self.excess,
            "liquidatable": self.liquidatable,
            "underlyings": [
                {
                    "feed_id": u.feed_id,
                    "symbol": u.symbol,
                    "scan_range": u.scan_range,
                    "loss": u.loss,
                    "worst": u.worst,
                    "pnl": list(u.pnl),
                }
                for u in self.underlyings
            ],
        }


@dataclass(frozen=True)
class ModelFigures(Figures):
    """The reference model's SPEC §6 figures of one account, USD (or the lens's, beside them)."""

    losses: dict[int, float] = field(default_factory=dict)  # feed id -> L_u


@dataclass(frozen=True)
class WhatIf:
    """An account's margin before and after proposed trades: the reference model's figures on the
    chain's state (the engine's fill rules: realised PnL and funding into cash, premium, fees),
    and the chain's own after-figures from its MarginLens view when the deployment has one."""

    account: int
    trades: tuple[Trade, ...]
    before: ModelFigures
    after: ModelFigures
    chain_after: ModelFigures | None = None  # MarginLens.whatIf (None: no lens deployed)

    @property
    def incremental_im(self) -> float:
        return self.after.initial_margin - self.before.initial_margin

    @property
    def passes(self) -> bool:
        """AE ≥ IM afterwards (the fill's margin check, SPEC §5, for an account not reducing risk)."""
        after = self.chain_after or self.after
        return after.adjusted_equity >= after.initial_margin

    def as_dict(self) -> dict:
        return {
            "account": self.account,
            "trades": [
                {
                    "instrument": str(t.instrument),
                    "size": str(t.size),
                    "price": str(t.price),
                    "role": t.role,
                }
                for t in self.trades
            ],  # fmt: skip
            "before": self.before.as_dict(),
            "after": self.after.as_dict(),
            "chain_after": self.chain_after.as_dict() if self.chain_after else None,
            "incremental_im": self.incremental_im,
            "passes_im": self.passes,
        }


@dataclass(frozen=True)
class LiquidationPrices:
    """Spots of one underlying at which AE = MM with every other input held (reference model)."""

    feed_id: int
    symbol: str
    spot: float  # now                                                             [USD]
    below: float | None  # the highest such spot below now (None: none in (0, spot))  [USD]
    above: float | None  # the lowest such spot above now (None: none up to 10× spot)  [USD]
    liquidatable_now: bool


# --- The client ---


class Keel:
    """A handle on one deployment, optionally with a key that signs (see the module docstring)."""

    def __init__(
        self,
        rpc_url: str,
        deployment: Mapping | str | Path,
        key: str | None = None,
        *,
        state_file: str | Path | None = None,
        timeout: float = 10.0,
        retry: RetryPolicy | None = None,
        log=None,
    ):
        from keel.client.logs import get_logger

        self.deployment = _load_deployment(deployment)
        self.log = log or get_logger()
        self.rpc = Rpc(rpc_url, timeout, retry or RetryPolicy(max_elapsed=max(5.0, 3 * timeout)),
                       log=self.log)  # fmt: skip
        self.w3 = self.rpc.w3
        try:
            chain_id = int(self.rpc.call("chain_id", lambda: self.w3.eth.chain_id))
        except RpcUnavailable as exc:
            raise ClientError(f"{rpc_url}: no answer ({exc.cause})") from None
        if chain_id != self.deployment["chain_id"]:
            raise ClientError(
                f"{rpc_url} is chain {chain_id}, the deployment is on chain "
                f"{self.deployment['chain_id']}"
            )
        self.chain_id = chain_id
        c = self.deployment["contracts"]
        self.addresses = {r: to_checksum_address(a) for r, a in c.items()}
        self.batch = Batch(self.rpc, rpc_url, timeout)
        self.reader = Reader(
            self.rpc,
            self.batch,
            Addresses.of(c["engine"], c["vault"], c["oracle"], c["liquidator"]),
        )
        self.contracts = {
            role: self.w3.eth.contract(address=self.addresses[role], abi=load(name))
            for role, name in (
                ("oracle", "Oracle"),
                ("vault", "Vault"),
                ("engine", "MarginEngine"),
                ("store", "RiskArrayStore"),
                ("exchange", "Exchange"),
                ("liquidator", "Liquidator"),
                ("lens", "MarginLens"),
            )
            if role in self.addresses
        }
        self.key = key
        self.sender = None
        if key is not None:
            address = Account.from_key(key).address
            path = Path(state_file) if state_file else None
            self.sender = Sender(self.rpc, key, chain_id, TxState.load(path), self.log)
            self.address = address

    @classmethod
    def connect(cls, rpc_url: str, deployment, key: str | None = None, **kw) -> Keel:
        return cls(rpc_url, deployment, key, **kw)

    # --- deployment facts ---

    def token(self, symbol: str) -> tuple[str, int]:
        """(address, decimals) of a listed token by symbol."""
        t = self.deployment["tokens"].get(symbol)
        if t is None:
            known = ", ".join(self.deployment["tokens"])
            raise ClientError(f"unknown token {symbol!r} (this deployment has {known})")
        return to_checksum_address(t["address"]), int(t["decimals"])

    def feed_id(self, feed: int | str) -> int:
        feeds = self.deployment["feeds"]
        if isinstance(feed, str) and not feed.isdigit():
            if feed.upper() not in feeds:
                raise ClientError(f"unknown underlying {feed!r} (this deployment has "
                                  f"{', '.join(feeds)})")  # fmt: skip
            return int(feeds[feed.upper()])
        fid = int(feed)
        if fid not in feeds.values():
            raise ClientError(
                f"unknown feed id {fid} (this deployment has {sorted(feeds.values())})"
            )
        return fid

    def symbol(self, feed_id: int) -> str:
        return next((s for s, f in self.deployment["feeds"].items() if f == feed_id), str(feed_id))

    def instrument(self, instrument: int | str) -> int:
        """Instrument id of a perp (symbol or feed id) or a series ("series:<id>" or the id)."""
        if isinstance(instrument, str) and instrument.startswith("series:"):
            sid = int(instrument.split(":", 1)[1])
            self.series(sid)  # exists?
            return OPTION_INSTRUMENT_BASE + sid
        if isinstance(instrument, int) and instrument >= OPTION_INSTRUMENT_BASE:
            self.series(instrument - OPTION_INSTRUMENT_BASE)
            return instrument
        return self.feed_id(instrument)

    # --- reads ---

    def _view(self, role: str, fn: str, *args):
        try:
            return self.rpc.call(fn, lambda: self.contracts[role].functions[fn](*args).call())
        except RpcUnavailable:
            raise
        except Exception as exc:  # a revert: say which Keel error
            data = getattr(exc, "data", None) or str(exc)
            raise ClientError(f"{fn}: {describe_revert(data)}") from None

    def series(self, series_id: int) -> dict:
        s = self._view("store", "series", int(series_id))
        if int(s[0]) == 0:
            raise ClientError(f"unknown series {series_id}")
        return {"series": int(series_id), "feed_id": int(s[0]), "expiry": int(s[1]),
                "is_call": bool(s[2]), "strike": usd(int(s[3]))}  # fmt: skip

    def owner_of(self, account: int) -> str:
        owner = self._view("vault", "accountOwner", int(account))
        if int(owner, 16) == 0:
            raise ClientError(f"unknown account {account}")
        return owner

    def accounts(self, owner: str | None = None) -> list[int]:
        """Accounts owned by `owner` now (default: this client's address), from the Vault's
        AccountOpened events and current owners (an account can change hands)."""
        owner = to_checksum_address(owner or self._need_key())
        logs = self._logs("vault", "AccountOpened")
        ids = sorted({int(lg["topics"][1], 16) for lg in logs})
        owners = self.batch.values([self.reader.c("vault", "accountOwner", i) for i in ids])
        return [i for i, o in zip(ids, owners, strict=True) if to_checksum_address(o) == owner]

    def _logs(self, role: str, event: str, *indexed) -> list[dict]:
        abi = self.contracts[role].abi
        topics = [topic(abi, event), *indexed]
        flt = {
            "address": self.addresses[role],
            "fromBlock": hex(int(self.deployment.get("block", 0))),
            "toBlock": "latest",
            "topics": topics,
        }
        raw = self.batch.rpc.call("get_logs", lambda: self.w3.provider.make_request(
            "eth_getLogs", [flt]))  # fmt: skip
        if "error" in raw:
            raise ClientError(f"eth_getLogs: {raw['error'].get('message')}")
        return raw["result"]

    def account(self, account: int) -> dict:
        """Owner, cash, collateral and positions of `account`, in human units."""
        owner = self.owner_of(account)
        (a,) = self.reader.accounts([int(account)])
        tokens = {to_checksum_address(t["address"]): (s, int(t["decimals"]))
                  for s, t in self.deployment["tokens"].items()}  # fmt: skip
        return {
            "account": int(account),
            "owner": owner,
            "cash": usd(a["cash"]),
            "collateral": {
                tokens.get(tok, (tok, 0))[0]: str(
                    Decimal(units) / 10 ** tokens.get(tok, (tok, 0))[1]
                )
                for tok, units in a["collateral"].items()
            },
            "perps": [
                {
                    "feed_id": p["feedId"],
                    "symbol": self.symbol(p["feedId"]),
                    "size": str(Decimal(p["size"]) / WAD),
                    "entry": usd(p["entryPrice"]),
                    "funding_owed": usd(p["fundingOwed"]),
                }
                for p in a["perps"]
            ],  # fmt: skip
            "options": [
                {
                    "series": o["seriesId"],
                    "feed_id": o["feedId"],
                    "symbol": self.symbol(o["feedId"]),
                    "strike": usd(o["strike"]),
                    "expiry": o["expiry"],
                    "type": "call" if o["isCall"] else "put",
                    "size": str(Decimal(o["size"]) / WAD),
                }
                for o in a["options"]
            ],  # fmt: skip
            "in_auction": bool(self._view("liquidator", "inAuction", int(account))),
        }

    def margin(self, account: int) -> Margin:
        """The chain's margin breakdown of `account`, with each underlying's 31 scenario P&Ls
        (reference model; the chain returns only the worst of them)."""
        self.owner_of(account)
        raw = self._view("engine", "marginBreakdown", int(account))
        names = ("equity", "adjustedEquity", "initialMargin", "maintenanceMargin", "scanRisk",
                 "shortOptionMinimum", "jointLoss", "jointWorstIndex")  # fmt: skip
        r = dict(zip(names, (int(x) for x in raw[:8]), strict=True))
        r["underlyings"] = [tuple(int(x) for x in u) for u in raw[8]]
        r["correlatedLoss"] = int(raw[9])
        result, _ = self._model([int(account)])
        pnl = {int(f): result.scenario_pnl[0, i] for i, f in enumerate(result.feed_ids)}
        return Margin(
            account=int(account),
            equity=usd(r["equity"]),
            adjusted_equity=usd(r["adjustedEquity"]),
            initial_margin=usd(r["initialMargin"]),
            maintenance_margin=usd(r["maintenanceMargin"]),
            scan_risk=usd(r["scanRisk"]),
            short_option_minimum=usd(r["shortOptionMinimum"]),
            joint_loss=usd(r["jointLoss"]),
            joint_worst=r["jointWorstIndex"],
            correlated_loss=usd(r["correlatedLoss"]),
            underlyings=tuple(
                Underlying(
                    f,
                    self.symbol(f),
                    usd(rng),
                    usd(loss),
                    worst,
                    tuple(float(x) for x in pnl.get(f, [0.0] * SCENARIOS)),
                )  # fmt: skip
                for f, rng, loss, worst in r["underlyings"]
            ),
            raw=r,
        )

    def _chain_state(self, accounts: Sequence[int]) -> tuple[list[dict], tuple]:
        accs = self.reader.accounts(list(accounts))
        market = self.reader.market(accs, feeds=list(self.deployment["feeds"].values()))
        return accs, market

    def _model(self, accounts: Sequence[int], accs=None, market=None):
        """compute_margin of the reference model on chain ints (read now unless given)."""
        from keel.risk import compute_margin
        from keel.risk.chain_inputs import market_from_reader, portfolios_from_chain

        if accs is None or market is None:
            accs, market = self._chain_state(accounts)
        m = market_from_reader(market)
        return compute_margin(m, portfolios_from_chain(accs, m)), (accs, market)

    def what_if(self, account: int, trades: Sequence[Trade]) -> WhatIf:
        """Margin of `account` after `trades` (in order), without sending anything: the chain's
        MarginLens (exact, and refused with the engine's own error where a fill would be) and the
        reference model's what-if on the same state (keel.risk.what_if)."""
        from keel.risk import Fill, Option, Perp
        from keel.risk import what_if as model_what_if
        from keel.risk.chain_inputs import market_from_reader, portfolios_from_chain

        self.owner_of(account)
        if not trades:
            raise ClientError("what-if: no trade given")
        fees = self._fee_params()
        proposed, parsed = [], []
        for t in trades:
            if t.role not in ("maker", "taker"):
                raise ClientError(f"trade role: maker or taker, got {t.role!r}")
            inst = self.instrument(t.instrument)
            size, price = to_wad(t.size, "trade size"), to_wad(t.price, "trade price")
            if size == 0:
                raise ClientError("trade size: must not be 0")
            series = (
                self.series(inst - OPTION_INSTRUMENT_BASE)
                if inst >= OPTION_INSTRUMENT_BASE
                else None
            )
            proposed.append((inst, size, price, t.role == "maker", False))
            parsed.append((series, inst, size, price, fees[t.role] / WAD))
        chain_after = None
        if "lens" in self.addresses:
            raw = self._view("lens", "whatIf", int(account), proposed)
            chain_after = self._figures_from_chain(raw)
        feeds = {s["feed_id"] if s else inst for s, inst, *_ in parsed}
        accs = self.reader.accounts([int(account)])
        ints = self.reader.market(accs, feeds=sorted(feeds))
        m = market_from_reader(ints)
        fills = []
        for series, inst, size, price, rate in parsed:
            q, p = size / WAD, price / WAD
            if series is None:
                fills.append(Fill(Perp(inst, q, p), fee_rate=rate))
            else:
                pos = Option(
                    series["feed_id"], series["strike"], series["expiry"], series["is_call"], q
                )
                fills.append(Fill(pos, price=p, fee_rate=rate))
        w = model_what_if(m, portfolios_from_chain(accs, m), 0, fills, fees["option_cap"] / WAD)
        return WhatIf(int(account), tuple(trades), _model_figures(w.before), _model_figures(w.after),
                      chain_after)  # fmt: skip

    def _figures_from_chain(self, raw) -> ModelFigures:
        """A MarginBreakdown tuple (wad) as figures (USD)."""
        return ModelFigures(usd(raw[0]), usd(raw[1]), usd(raw[2]), usd(raw[3]), usd(raw[4]),
                            usd(raw[5]), usd(raw[6]), {int(u[0]): usd(u[2]) for u in raw[8]})  # fmt: skip

    def _fee_params(self) -> dict:
        vals = self.batch.values(
            [self.reader.c("engine", n) for n in ("makerFeeRate", "takerFeeRate", "optionFeeCap")]
        )
        return dict(zip(("maker", "taker", "option_cap"), (int(v) for v in vals), strict=True))

    def liquidation_price(self, account: int, feed: int | str) -> LiquidationPrices:
        """Spots of underlying `feed` at which AE = MM with every other input held (reference
        model: collateral priced by the feed moves with it; vols, other feeds, time held)."""
        from scipy.optimize import brentq

        fid = self.feed_id(feed)
        self.owner_of(account)
        accs, market = self._chain_state([int(account)])
        feeds = market[0]
        if fid not in feeds:
            market = self.reader.market(accs, feeds=[fid])
            feeds = market[0]
        spot = feeds[fid]["price"]

        def gap(s: float) -> float:  # AE − MM at spot s [USD]
            shocked = {**feeds, fid: {**feeds[fid], "price": max(1, int(s * WAD))}}
            result, _ = self._model([int(account)], accs, (shocked, *market[1:]))
            return float(result.adjusted_equity[0] - result.mm[0])

        s0 = spot / WAD
        now = gap(s0)
        # bracket each side on a geometric grid, then solve to a relative 1e-12
        grid_down = [s0 * (1 - k / 64) for k in range(1, 64)]
        grid_up = [s0 * (1 + k / 8) for k in range(1, 73)]  # up to 10× spot

        def nearest(points) -> float | None:
            prev_s, prev_g = s0, now
            for s in points:
                g = gap(s)
                if (g < 0) != (prev_g < 0):
                    return brentq(gap, min(prev_s, s), max(prev_s, s), xtol=1e-12 * s0, rtol=1e-12)
                prev_s, prev_g = s, g
            return None

        return LiquidationPrices(fid, self.symbol(fid), s0, nearest(grid_down), nearest(grid_up),
                                 now < 0)  # fmt: skip

    def auctions(self) -> list[dict]:
        """Running auctions: account, id, start, current discount, f_max and bonus."""
        started = self._logs("liquidator", "AuctionStarted")
        ids = sorted({int(lg["topics"][1], 16) for lg in started})
        if not ids:
            return []
        states = self.batch.calls([self.reader.c("liquidator", "auction", i) for i in ids])
        out = []
        for acc, st in zip(ids, states, strict=True):
            if not st.ok or int(st.value[0]) == 0:
                continue
            terms = self.batch.calls([
                self.reader.c("liquidator", "currentDiscount", acc),
                self.reader.c("liquidator", "maxFraction", acc),
                self.reader.c("liquidator", "currentBonus", acc),
            ])  # fmt: skip
            disc, fmax, bonus = (t.value if t.ok else None for t in terms)
            out.append({
                "account": acc, "auction": int(st.value[0]), "started_at": int(st.value[1]),
                "starter": int(st.value[2]),
                "discount": None if disc is None else disc / WAD,
                "max_fraction": None if fmax is None else fmax / WAD,
                "bonus": None if bonus is None else usd(bonus),
            })  # fmt: skip
        return out

    def params(self) -> dict:
        """Every risk parameter on chain, as a published risk-parameter file (keel params)."""
        from keel.client.params import read_params

        return read_params(self)

    # --- writes ---

    def _need_key(self) -> str:
        if self.sender is None:
            raise ClientError("this needs a key: connect with key=... (KEEL_KEY for the CLI)")
        return self.sender.address

    def send(self, role: str, fn: str, *args, action: dict | None = None) -> Sent:
        """Estimate (a revert is reported with its Keel error, nothing sent), then send through the
        write-ahead sender and wait for the receipt."""
        self._need_key()
        pending = self.sender.resolve_pending()  # an earlier process's transaction first
        if pending is not None and pending.status == "pending":
            raise ClientError(f"transaction {pending.tx} from an earlier run is still pending")
        to = self.addresses[role] if role in self.addresses else to_checksum_address(role)
        contract = self.contracts.get(role) or self.w3.eth.contract(
            address=to, abi=load("MockERC20")
        )
        data = contract.encode_abi(fn, args=list(args))
        try:
            gas = self.sender.estimate(to, data)
        except CallReverted as exc:
            raise ClientError(f"{fn}: {describe_revert(exc.data)}") from None
        try:
            sent = self.sender.send(action or {"fn": fn}, to, data, gas)
        except OverCap as exc:
            raise ClientError(f"{fn}: {exc}") from None
        if sent.status != "mined":
            raise ClientError(f"{fn}: transaction {sent.tx} {sent.status} {sent.error}".strip())
        return sent

    def open_account(self) -> int:
        sent = self.send("vault", "openAccount", action={"fn": "openAccount"})
        t = topic(load("Vault"), "AccountOpened")
        return next(int(lg.topics[1], 16) for lg in sent.logs if lg.topics[0] == t)

    def deposit(self, account: int, symbol: str, amount) -> Sent:
        """Deposit whole-token `amount` of `symbol` (approving the Vault first if needed)."""
        token, decimals = self.token(symbol)
        units = to_scaled(amount, decimals, f"{symbol} amount")
        if units <= 0:
            raise ClientError(f"{symbol} amount: must be positive, got {amount}")
        owner = self._need_key()
        erc20 = self.w3.eth.contract(address=token, abi=load("MockERC20"))
        balance = self.rpc.call("balanceOf", lambda: erc20.functions.balanceOf(owner).call())
        if balance < units:
            raise ClientError(f"{symbol}: balance {Decimal(balance) / 10**decimals} is less than "
                              f"{amount}")  # fmt: skip
        vault = self.addresses["vault"]
        allowed = self.rpc.call("allowance", lambda: erc20.functions.allowance(owner, vault).call())
        if allowed < units:
            self.send(token, "approve", vault, units, action={"fn": "approve", "token": symbol})
        return self.send("vault", "deposit", int(account), token, units,
                         action={"fn": "deposit", "account": int(account), "token": symbol})  # fmt: skip

    def withdraw(self, account: int, symbol: str, amount, to: str | None = None) -> Sent:
        token, decimals = self.token(symbol)
        units = to_scaled(amount, decimals, f"{symbol} amount")
        if units <= 0:
            raise ClientError(f"{symbol} amount: must be positive, got {amount}")
        to = to_checksum_address(to or self._need_key())
        return self.send("vault", "withdraw", int(account), token, units, to,
                         action={"fn": "withdraw", "account": int(account), "token": symbol})  # fmt: skip

    def set_operator(self, account: int, operator: str, trade: bool, withdraw: bool) -> Sent:
        rights = (RIGHT_TRADE if trade else 0) | (RIGHT_WITHDRAW if withdraw else 0)
        return self.send(
            "vault", "setOperator", int(account), to_checksum_address(operator), rights
        )

    def transfer_account(self, account: int, new_owner: str) -> Sent:
        return self.send("vault", "transferAccount", int(account), to_checksum_address(new_owner))

    # orders (SPEC §5: EIP-712, signed by the maker account's owner or trade operator)

    def order(self, maker_account: int, instrument: int | str, size, price, *, nonce: int = 0,
              expiry: int | None = None, salt: int | None = None) -> tuple[Order, Any]:  # fmt: skip
        """A signed maker order: `size` contracts (+ buy, − sell) at limit `price` [USD]."""
        import secrets

        key = self.key
        if key is None:
            self._need_key()
        o = Order(
            int(maker_account),
            self.instrument(instrument),
            to_wad(size, "order size"),
            to_wad(price, "order price"),
            nonce=int(nonce),
            expiry=int(expiry) if expiry is not None else int(time.time()) + 86_400,
            salt=int(salt) if salt is not None else secrets.randbits(64),
        )
        if o.size == 0:
            raise ClientError("order size: must not be 0")
        return o, o.sign(key, exchange_domain(self.chain_id, self.addresses["exchange"]))

    def fill(self, order: Order, signature, taker_account: int, amount=None) -> Sent:
        """Take `amount` contracts (default: all) of a signed order with `taker_account`."""
        units = abs(order.size) if amount is None else to_wad(amount, "fill amount")
        return self.send("exchange", "fill", order.as_tuple(), signature.v, signature.r,
                         signature.s, int(taker_account), units,
                         action={"fn": "fill", "taker": int(taker_account)})  # fmt: skip

    def cancel(self, order: Order) -> Sent:
        return self.send("exchange", "cancel", order.as_tuple())

    # liquidation and settlement (SPEC §7)

    def start_auction(self, account: int, starter_account: int) -> Sent:
        return self.send("liquidator", "startAuction", int(account), int(starter_account))

    def end_auction(self, account: int) -> Sent:
        return self.send("liquidator", "endAuction", int(account))

    def bid(self, account: int, bidder_account: int, fraction, max_price_per_unit=None) -> Sent:
        """Buy `fraction` (0 < f ≤ 1) of a solvent account in auction, paying at most
        `max_price_per_unit` [USD per unit fraction, default: no limit]."""
        f = to_wad(fraction, "fraction")
        auction = self._view("liquidator", "auction", int(account))
        if int(auction[0]) == 0:
            raise ClientError(f"account {account} is not in auction")
        limit = 2**256 - 1 if max_price_per_unit is None else to_wad(max_price_per_unit, "limit")
        return self.send("liquidator", "bid", int(account), int(auction[0]), int(bidder_account),
                         f, limit)  # fmt: skip

    def bid_insolvent(self, account: int, bidder_account: int, min_receipt=0) -> Sent:
        auction = self._view("liquidator", "auction", int(account))
        if int(auction[0]) == 0:
            raise ClientError(f"account {account} is not in auction")
        return self.send("liquidator", "bidInsolvent", int(account), int(auction[0]),
                         int(bidder_account), to_wad(min_receipt, "min receipt"))  # fmt: skip

    def settle(self, account: int, series_id: int) -> Sent:
        return self.send("engine", "settle", int(account), int(series_id))


def _model_figures(a) -> ModelFigures:
    """The reference model's AccountMargin as figures (USD)."""
    return ModelFigures(a.equity, a.adjusted_equity, a.im, a.mm, a.scan_risk, a.som, a.joint_loss,
                        {int(f): v[0] for f, v in a.underlyings.items()})  # fmt: skip


def _load_deployment(deployment) -> dict:
    if isinstance(deployment, Mapping):
        data = dict(deployment)
    else:
        path = Path(deployment)
        if not path.is_file():
            raise ClientError(f"{path}: no deployment address file (keel deploy writes one)")
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise ClientError(f"{path}: not JSON ({exc.msg} at line {exc.lineno})") from None
    missing = [k for k in ("chain_id", "contracts", "tokens", "feeds") if k not in data]
    missing += [f"contracts.{r}" for r in ROLES if r not in data.get("contracts", {})]
    if missing:
        raise ClientError(f"deployment file: missing {', '.join(missing)}")
    return data
