"""The simulation itself (see keel/sim/__init__.py for the story it tells)."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from keel.sim.books import expiry_calendar, round_strike, scale_book, snap_expiry
from keel.sim.config import ROOT, SimConfig, as_dict, csv_start, out_dir

DAY = 86_400
USDC = 10**6
WAD = 10**18
KEY_SEED = "keel-sim"  # the relayer's --key-seed: TEST KEYS ONLY (derived, public)
INITIAL_VOL = 0.8  # the relayer's EWMA seed (SPEC σ_ref); also the first report's vol
KEEPER_INDEX, SETTLER_INDEX = 4, 5  # anvil dev accounts of the two keeper processes (TEST keys)
MAKER_USDC = 40_000_000
KEEPER_USDC = 5_000_000
SPREAD_PERP = 0.0005  # takers pay 5 bps over spot to the makers
SPREAD_OPTION = 0.01  # and 1% over the model premium
STEP = 300  # [s] chain time per step of the liquidation phase
# most keeper cycles per tick in lockstep (each of its transactions moves the chain 1 s): a bound,
# not a cadence; a keeper stops earlier as soon as a cycle sends nothing
KEEPER_CYCLES_PER_TICK = 20
SETTLE_LAG = 30  # [s] after an expiry, the relayer reports (inside the settlementWindow, 15 min)


def silenced():
    """Hide brownie's per-transaction lines."""
    return contextlib.redirect_stdout(io.StringIO())


@dataclass
class Leg:
    spec: dict  # the book's position (underlying, kind, strike as moneyness, expiry_days, size)
    instrument: int = 0
    series: int = 0
    expiry: int = 0


@dataclass
class Trader:
    account: int
    owner: object
    kind: str  # "book" or "directional"
    name: str
    legs: list[Leg] = field(default_factory=list)
    target: float = 2.0  # AE/IM the trader aims to keep


@dataclass
class Stats:
    trades: int = 0
    option_trades: int = 0
    rejected: int = 0
    rolls: int = 0
    deposits: int = 0
    withdrawals: int = 0
    margin_topups: int = 0
    errors: list[str] = field(default_factory=list)


class Simulation:
    def __init__(self, cfg: SimConfig):
        self.cfg = cfg
        self.rng = random.Random(cfg.seed)
        self.stats = Stats()
        self.out = out_dir(cfg)
        self.logs = ROOT / ".keel" / "sim"
        self.procs: dict[str, subprocess.Popen] = {}
        self.series_cache: dict[tuple, int] = {}
        self.daily: list[dict] = []
        self.relayer_replies: list[dict] = []
        self.days_run = 0
        self.cover2_points: list[dict] = []  # keel.client.cover2.measure at every measured step
        self.auction_quotes: list[dict] = []  # currentDiscount / currentBonus of live auctions
        self._reader = None  # keel.client.chain.Reader, made at the first cover-2 measure
        self.joint_days: list = []  # the price file's worst joint days (keel.risk.cover2)
        self.lockstep = not cfg.realtime  # keel.sim.clock: the simulation owns the clock
        self.cycles = {"settler": 0, "keeper": 0}  # stepped keeper cycles (lockstep)
        self.keeper_txs = {"settler": 0, "keeper": 0}  # their transactions

    # --- Chain and deployment ---

    def deploy(self) -> None:
        from brownie import accounts

        from keel.client.keys import derive_keys
        from keel.deploy_engine import BTC, ETH, deploy_stack, open_account

        self.BTC, self.ETH = BTC, ETH
        self.deployer = accounts[0]
        feeds = {f: (int(p * WAD), int(INITIAL_VOL * WAD)) for f, p in self.first.items()}
        signers = derive_keys(5, KEY_SEED)
        with silenced():
            self.s = deploy_stack(self.deployer, [s.key for s in signers], 3, feeds)
            s = self.s
            units = int(self.cfg.insurance_fund * USDC)
            s.usdc.mint(self.deployer, units, {"from": self.deployer})
            s.usdc.approve(s.vault, units, {"from": self.deployer})
            s.vault.fundInsurance(units, {"from": self.deployer})
            self.makers = [
                (open_account(s, accounts[i], {"USDC": MAKER_USDC}), accounts[i]) for i in (6, 7)
            ]
            self.keeper_acct = open_account(s, accounts[KEEPER_INDEX], {"USDC": KEEPER_USDC})
        self.usdc_in = int(self.cfg.insurance_fund * USDC) + 2 * MAKER_USDC * USDC
        self.usdc_in += KEEPER_USDC * USDC

    def first_tick(self) -> dict[int, float]:
        """The price source's first tick, from the stepped relayer's `--peek` (no chain needed);
        also `self.first` (the prices the stack is deployed with) and `start_label`."""
        cfg = self.cfg
        self.csv_start = csv_start(cfg) if cfg.path == "csv" else 0
        peek = subprocess.run(
            [sys.executable, "-m", *self.source_args(), "--peek"],
            cwd=ROOT,
            env=self.process_env(),
            capture_output=True,
            text=True,
        )
        if peek.returncode != 0:
            why = (peek.stderr.strip().splitlines() or ["no output"])[-1]
            raise RuntimeError(f"the relayer could not read its price source: {why}")
        tick = json.loads(peek.stdout)
        self.start_label = tick["label"]
        self.first = {int(feed): float(price) for feed, price in tick["prices"].items()}
        return self.first

    def genesis_time(self) -> int:
        """The genesis block's timestamp in lockstep [unix s]: 00:00 UTC of the run's first date,
        the CSV row it starts on (the first tick's label), or `start` on a GBM path."""
        from keel.pricefile import parse_day
        from keel.sim.clock import genesis_time

        return genesis_time(
            parse_day(self.start_label if self.cfg.path == "csv" else self.cfg.start)
        )

    def source_args(self) -> list[str]:
        """The stepped relayer's module and its price-source arguments."""
        cfg = self.cfg
        return [
            "oracle.stepped", "--source", cfg.path, "--csv", str(cfg.csv),
            "--csv-start", str(self.csv_start), "--seed", str(cfg.seed),
        ]  # fmt: skip

    def spot(self, feed: int, block=None) -> float:
        return self.s.oracle.feed(feed, block_identifier=block)[0] / WAD

    def now(self) -> int:
        from brownie import chain

        return chain[-1].timestamp

    # --- Processes ---

    @staticmethod
    def process_env() -> dict[str, str]:
        return dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")

    def spawn(self, name: str, args: list[str], **kw) -> subprocess.Popen:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            [sys.executable, "-m", *args],
            cwd=ROOT,
            env=self.process_env(),
            stderr=log,
            stdout=kw.pop("stdout", log),
            **kw,
        )
        self.procs[name] = proc
        return proc

    def start_processes(self) -> None:
        from keel.chain import rpc_url

        s = self.s
        url = rpc_url()
        relayer = [
            *self.source_args(), "--rpc", url, "--oracle", s.oracle.address, "--key-seed", KEY_SEED,
        ]  # fmt: skip
        piped = dict(stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.spawn("relayer", relayer, **piped)
        common = [
            "--rpc", url, "--engine", s.engine.address, "--vault", s.vault.address,
            "--oracle", s.oracle.address, "--poll-interval", "0.5", "--log-format", "json",
        ]  # fmt: skip
        # lockstep: one cycle per `step` (keeper/stepped.py), full scans on chain time
        stepped, pipes = (["--stepped"], piped) if self.lockstep else ([], {})
        for f in ("keeper-state.json", "settler-state.json"):
            (self.logs / f).unlink(missing_ok=True)
        self.spawn(
            "keeper",
            ["keeper", "run", *common, "--liquidator", s.liquidator.address,
             "--account", str(self.keeper_acct), "--anvil-index", str(KEEPER_INDEX),
             "--scan-interval", "20", "--min-profit", "1",
             "--state-file", str(self.logs / "keeper-state.json"), *stepped],
            **pipes,
        )  # fmt: skip
        self.spawn(
            "settler",
            ["keeper", "settle", *common, "--anvil-index", str(SETTLER_INDEX),
             "--scan-interval", "60", "--state-file", str(self.logs / "settler-state.json"),
             *stepped],
            **pipes,
        )  # fmt: skip

    def ask(self, name: str, command: str) -> dict:
        """Sends one command line to the stepped process `name` and returns its JSON reply."""
        proc = self.procs[name]
        if proc.poll() is None:
            with contextlib.suppress(BrokenPipeError):
                proc.stdin.write(command + "\n")
                proc.stdin.flush()
        line = proc.stdout.readline() if proc.poll() is None else ""
        if not line:  # it died: say why (its last words), not only where its log is
            try:
                code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                code = None
            log = self.logs / f"{name}.log"
            lines = [x for x in log.read_text().splitlines() if x.strip()] if log.exists() else []
            why = lines[-1].strip()[:300] if lines else "no log"
            raise RuntimeError(f"the {name} exited ({code}) at '{command}': {why}; see {log}")
        return json.loads(line)

    def relayer(self, command: str) -> dict:
        reply = self.ask("relayer", command)
        self.relayer_replies.append({"command": command, **reply})
        return reply

    def tick(self, command: str) -> dict:
        """One round at the chain time just reached: the relayer runs `command`; in lockstep the
        settlement keeper and then the liquidation keeper act on the result (the settler first: it
        settles what expired and refreshes the risk arrays after the oracle round, so the
        liquidation keeper judges settled accounts on stored arrays). Each runs cycles until one
        sends nothing (at most KEEPER_CYCLES_PER_TICK): a keeper polling every half second does all
        it can within seconds of a price, and a starting auction's first bid must not wait for the
        next 5-minute step. Returns the relayer's reply. In real time the keepers act on their own."""
        reply = self.relayer(command)
        if self.lockstep:
            for name in ("settler", "keeper"):
                for _ in range(KEEPER_CYCLES_PER_TICK):
                    done = self.ask(name, "step")
                    if done.get("error") or done.get("pending"):
                        log = self.logs / f"{name}.log"
                        raise RuntimeError(
                            f"the {name}'s cycle after '{command}' failed: {done}; see {log}"
                        )
                    self.cycles[name] += 1
                    mined = [x for x in done["sent"] if x["tx"]]  # not pre-flight refusals
                    self.keeper_txs[name] += len(mined)
                    if not mined:
                        break
        return reply

    def stop_processes(self) -> dict[str, int]:
        codes = {}
        for proc in self.procs.values():  # the stepped ones: quit
            if proc.stdin and proc.poll() is None:
                with contextlib.suppress(OSError):
                    proc.stdin.write("quit\n")
                    proc.stdin.flush()
        for proc in self.procs.values():
            if proc.poll() is None and not proc.stdin:
                proc.terminate()  # SIGTERM: the keepers stop and exit 0 (pending txs stay in their state files)
        for name, proc in self.procs.items():
            try:
                codes[name] = proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[name] = proc.wait()
        return codes

    def next_expiry(self) -> int:
        """The earliest expiry pending on any feed [unix s] (0: none)."""
        due = [e for f in (self.BTC, self.ETH) for e in self.s.oracle.pendingExpiries(f)[:1]]
        return min(due, default=0)

    def sleep_to(self, ts: int) -> None:
        """Mines a block at chain time `ts` [unix s]: exactly there in lockstep (keel.sim.clock),
        there plus the wall time anvil adds in real time."""
        import brownie

        if self.lockstep:
            from keel.sim.clock import mine_at

            mine_at(brownie.web3, ts)
            return
        brownie.chain.sleep(max(0, ts - self.now()))
        brownie.chain.mine()

    def advance(self, seconds: int, at_expiry: str = "hold") -> dict | None:
        """Moves chain time by `seconds`. SPEC v2 §3: an expiry's settlement price is fixed only by
        a report observed within the Oracle's settlementWindow after it, so the clock stops
        SETTLE_LAG s after each pending expiry on the way and the relayer reports there (it pushes
        a due expiry whatever the price did): the first stop sends `at_expiry` ("day": the day's
        tick is the one observed at the expiry), later stops "hold". Returns the first stop's
        reply (None: no expiry on the way)."""
        target = self.now() + seconds  # [unix s]
        first = None
        while (expiry := self.next_expiry()) and expiry + SETTLE_LAG < target:
            self.sleep_to(expiry + SETTLE_LAG)
            reply = self.tick(at_expiry if first is None else "hold")
            first = first or reply
            if reply.get("done"):
                return first
            # the report did not pass the expiry: its window would be missed
            if self.next_expiry() == expiry:
                raise RuntimeError(f"the relayer did not report at expiry {expiry}: {reply}")
        self.sleep_to(target)
        return first

    # --- Trading ---

    def series_instrument(self, feed: int, strike: int, expiry: int, is_call: bool) -> tuple:
        from keel.orders import option_instrument

        key = (feed, strike, expiry, is_call)
        sid = self.series_cache.get(key)
        if sid is None:
            sid = self.s.store.seriesIdOf(feed, strike, expiry, is_call)
            if sid == 0:
                self.s.engine.createSeries(feed, strike, expiry, is_call,
                    {"from": self.deployer},
                )  # fmt: skip
                sid = self.s.store.seriesIdOf(feed, strike, expiry, is_call)
            self.series_cache[key] = sid
        return option_instrument(sid), sid

    def option_price(self, feed: int, strike: int, expiry: int, is_call: bool) -> float:
        from keel.risk import bs_price
        from keel.risk.model import time_to_expiry

        price, vol, observed, _ = self.s.oracle.feed(feed)
        tau = float(time_to_expiry(expiry, observed))
        return float(bs_price(price / WAD, strike / WAD, vol / WAD, tau, is_call))

    def fill(self, trader: Trader, instrument: int, size: int, price: float) -> bool:
        """The trader takes `size` (signed, wad) from a market maker's signed order at `price`
        (USD per unit). False when the chain refused it (margin, reduce-only, limits)."""
        from brownie.exceptions import VirtualMachineError

        from keel.deploy_engine import trade

        if size == 0:
            return False
        maker = self.makers[self.rng.randrange(len(self.makers))]
        try:
            with silenced():
                trade(self.s, maker, (trader.account, trader.owner), instrument, -size,
                      max(int(price * WAD), 10**16))  # fmt: skip
        except (VirtualMachineError, ValueError) as exc:
            self.stats.rejected += 1
            self.stats.errors.append(f"account {trader.account}: {str(exc)[:160]}")
            return False
        self.stats.trades += 1
        if instrument >= 1 << 128:
            self.stats.option_trades += 1
        return True

    def perp_trade(self, trader: Trader, feed: int, size: int) -> bool:
        side = 1 if size > 0 else -1
        price = self.spot(feed) * (1 + side * SPREAD_PERP)
        return self.fill(trader, feed, size, price)

    def open_leg(self, trader: Trader, leg: Leg) -> bool:
        p = leg.spec
        feed = {"BTC": self.BTC, "ETH": self.ETH}[p["underlying"]]
        size = int(p["size"] * WAD)
        if p["type"] == "perp":
            leg.instrument = feed
            return self.perp_trade(trader, feed, size)
        spot = self.spot(feed)
        now = self.s.oracle.feed(feed)[2]
        expiry = snap_expiry(now, p["expiry_days"], expiry_calendar(now))
        strike = int(round_strike(p["strike"] * spot, spot) * WAD)
        is_call = p["kind"] == "call"
        with silenced():
            leg.instrument, leg.series = self.series_instrument(feed, strike, expiry, is_call)
        leg.expiry = expiry
        premium = self.option_price(feed, strike, expiry, is_call)
        price = premium * (1 + (SPREAD_OPTION if size > 0 else -SPREAD_OPTION))
        return self.fill(trader, leg.instrument, size, price)

    def deposit(self, trader: Trader, token: str, amount: float) -> None:
        from keel.deploy_engine import deposit

        with silenced():
            deposit(self.s, trader.account, trader.owner, token, amount)
        if token == "USDC":
            self.usdc_in += int(amount * USDC)
        self.stats.deposits += 1

    def breakdown(self, account: int, block=None) -> dict:
        b = self.s.engine.marginBreakdown(account, block_identifier=block)
        return {"E": b[0] / WAD, "AE": b[1] / WAD, "IM": b[2] / WAD, "MM": b[3] / WAD}

    def trim_to(self, trader: Trader, multiple: float) -> None:
        """Withdraws spare USDC cash so that AE ≈ multiple·IM."""
        b = self.breakdown(trader.account)
        cash_units = self.s.vault.cashOf(trader.account) // 10**12  # [USDC units], rounded down
        spare = (b["AE"] - multiple * b["IM"]) / 0.99  # positive cash carries a 1% haircut
        units = min(int(spare * USDC), cash_units)
        if units > 0:
            with silenced():
                self.s.vault.withdraw(trader.account, self.s.usdc, units, trader.owner,
                    {"from": trader.owner},
                )  # fmt: skip
            self.usdc_in -= units
            self.stats.withdrawals += 1

    def open_population(self) -> None:
        from brownie import accounts

        from keel.deploy_engine import open_account

        data = json.loads((ROOT / "bench" / "portfolios.json").read_text())
        snapshot = {u: v["spot"] for u, v in data["market"]["underlyings"].items()}
        books = {**data["strategy_books"], "PM-4": data["portfolios"]["PM-4"]}
        names = sorted(books)
        spot = {"BTC": self.spot(self.BTC), "ETH": self.spot(self.ETH)}
        n_books = round(self.cfg.accounts * self.cfg.book_share)
        owners = [accounts[i] for i in (1, 2, 3, 8)]
        self.traders: list[Trader] = []
        for i in range(self.cfg.accounts):
            owner = owners[i % len(owners)]
            with silenced():
                acct = open_account(self.s, owner)
            target = self.rng.uniform(1.5, 4.0)  # AE/IM the trader runs at
            if i < n_books:
                name = names[i % len(names)]
                book = scale_book(books[name], snapshot, spot, self.rng.choice([0.5, 1, 2]))
                t = Trader(acct, owner, "book", name, [Leg(p) for p in book["positions"]], target)
                collateral = dict(book["collateral"])
            else:
                t = self.directional(acct, owner, spot, target)
                collateral = t.collateral
            for tok, amount in collateral.items():
                self.deposit(t, tok, round(amount, 6))
            self.deposit(t, "USDC", 2_000_000)  # room to open; trimmed below
            for leg in t.legs:
                self.open_leg(t, leg)
            self.trim_to(t, t.target)
            self.traders.append(t)
            yield t

    def directional(self, acct, owner, spot, target) -> Trader:
        u = self.rng.choice(["BTC", "ETH"])
        long = self.rng.random() < 0.65
        notional = self.rng.choice([20_000, 50_000, 100_000, 250_000])
        size = notional / spot[u] * (1 if long else -1)
        collateral = {}
        name = f"{'long' if long else 'short'}_{u.lower()}"
        if long and self.rng.random() < 0.3:  # a long on its own coin as collateral
            tok = {"BTC": "WBTC", "ETH": "WETH"}[u]
            collateral[tok] = round(abs(size) * self.rng.uniform(0.5, 1.0), 6)
            name += f"_on_{tok.lower()}"
        leg = Leg({"type": "perp", "underlying": u, "size": size})
        t = Trader(acct, owner, "directional", name, [leg], target)
        t.collateral = collateral
        return t

    def trade_day(self) -> None:
        """Directional traders add or reduce; books roll expired legs; thin accounts top up."""
        for t in self.traders:
            if self.s.liquidator.inAuction(t.account) or self.breakdown(t.account)["E"] < 100:
                continue  # in auction, or liquidated (emptied)
            if t.kind == "book":
                self.roll(t)
            elif self.rng.random() < self.cfg.trade_prob:
                leg = t.legs[0]
                feed = {"BTC": self.BTC, "ETH": self.ETH}[leg.spec["underlying"]]
                pos = self.s.engine.perpPosition(t.account, feed)[0]
                if pos == 0:
                    continue
                change = self.rng.choice([0.2, 0.3, -0.3, -0.5])  # add or reduce
                self.perp_trade(t, feed, int(pos * change))
            b = self.breakdown(t.account)
            if b["IM"] > 0 and b["AE"] < 1.2 * b["IM"] and self.rng.random() < 0.5:
                need = (t.target * b["IM"] - b["AE"]) / 0.99
                if need > 0:
                    self.deposit(t, "USDC", round(need, 2))
                    self.stats.margin_topups += 1

    def roll(self, t: Trader) -> None:
        now = self.now()
        for leg in t.legs:
            if leg.series and leg.expiry <= now:
                if self.s.engine.optionPosition(t.account, leg.series) != 0:
                    continue  # the settlement keeper has not settled it yet
                if self.open_leg(t, leg):
                    self.stats.rolls += 1

    # --- Measuring ---

    def all_accounts(self) -> list[int]:
        return sorted([t.account for t in self.traders] + [m[0] for m in self.makers]
                      + [self.keeper_acct])  # fmt: skip

    def measure(self, t: float, label: str, block=None) -> dict:
        """One point of the daily series, every value read at `block` (None: the head)."""
        s = self.s
        rows = {a: self.breakdown(a, block) for a in self.all_accounts()}
        traders = [t.account for t in self.traders]
        point = {
            "t": t,
            "label": label,
            "btc": self.spot(self.BTC, block),
            "eth": self.spot(self.ETH, block),
            "trader_equity": sum(rows[a]["E"] for a in traders),
            "trader_im": sum(rows[a]["IM"] for a in traders),
            "trader_mm": sum(rows[a]["MM"] for a in traders),
            "system_equity": sum(r["E"] for r in rows.values()),
            "insurance_fund": s.vault.insuranceFund(block_identifier=block) / WAD,
            "below_mm": sum(rows[a]["AE"] < rows[a]["MM"] for a in traders),
            "in_auction": sum(
                bool(s.liquidator.inAuction(a, block_identifier=block)) for a in traders
            ),
        }
        point["value_in"] = self.value_in(block)
        c2 = self.cover2(block)
        point["cover2_requirement"] = c2["requirement"]
        point["cover2_met"] = c2["met"]
        for a in traders:
            self.quote_auction(a, block)
        self.daily.append(point)
        return point

    def reader(self):
        """The keeper's batched chain reader (keel.client.chain.Reader) on the sim's chain."""
        if self._reader is None:
            from keel.chain import rpc_url
            from keel.client.chain import Addresses, Batch, Reader
            from keel.client.rpc import RetryPolicy, Rpc
            from keel.risk.cover2 import file_joint_days

            s, url = self.s, rpc_url()
            rpc = Rpc(url, 30.0, RetryPolicy())
            addrs = Addresses.of(s.engine.address, s.vault.address, s.oracle.address,
                                 s.liquidator.address)  # fmt: skip
            self._reader = Reader(rpc, Batch(rpc, url, 30.0), addrs)
            self.joint_days = file_joint_days(self.cfg.csv)
        return self._reader

    def cover2(self, block=None) -> dict:
        """The cover-2 requirement over every account and the fund, both at `block` (None: the
        head), as `keel-keeper cover2 --json` reports it (keel.client.cover2.measure)."""
        from keel.client.cover2 import measure

        reader = self.reader()
        at = reader.block()["number"] if block is None else block
        out = measure(reader, at, self.joint_days)
        self.cover2_points.append(out)
        return out

    def quote_auction(self, account: int, block=None) -> None:
        """Records the discount and bonus a bid on `account` would get at `block`, when an
        auction runs there and the prices are fresh (the Liquidator's own views)."""
        from brownie import web3
        from brownie.exceptions import VirtualMachineError

        liq = self.s.liquidator
        auction_id = liq.auction(account, block_identifier=block)[0]
        if not auction_id:
            return
        try:
            discount = liq.currentDiscount(account, block_identifier=block)
            bonus = liq.currentBonus(account, block_identifier=block)
        except (VirtualMachineError, ValueError):  # stale prices: no quote at that block
            return
        ts = web3.eth.get_block(block if block is not None else "latest")["timestamp"]
        self.auction_quotes.append(
            {"account": account, "auctionId": int(auction_id), "ts": ts,
             "discount": discount / WAD, "bonus": bonus / WAD}
        )  # fmt: skip

    def value_in(self, block=None) -> float:
        """USD the vault holds: its USDC plus its WETH and WBTC at the oracle's prices."""
        s = self.s
        total = s.usdc.balanceOf(s.vault, block_identifier=block) / USDC
        total += (
            s.weth.balanceOf(s.vault, block_identifier=block) / 1e18 * self.spot(self.ETH, block)
        )
        total += (
            s.wbtc.balanceOf(s.vault, block_identifier=block) / 1e8 * self.spot(self.BTC, block)
        )
        return total

    def capital_comparison(self) -> dict:
        """Portfolio IM (the chain's model) vs isolated IM of the same books (reference model)."""
        from keel.risk import compute_margin
        from keel.risk.compare import isolated_margin
        from keel.risk_chain import reference_inputs

        ids = [t.account for t in self.traders]
        market, portfolios = reference_inputs(self.s.engine, self.s.vault, self.s.oracle, ids)
        pm = float(compute_margin(market, portfolios).im.sum())
        iso = float(isolated_margin(market, portfolios).im.sum())
        return {"portfolio_im": pm, "isolated_im": iso, "saving": 1 - pm / iso if iso else 0.0}


def events(contract, name: str, from_block: int) -> list[dict]:
    import brownie

    head = brownie.web3.eth.block_number
    c = brownie.web3.eth.contract(address=contract.address, abi=contract.abi)
    logs = getattr(c.events, name).get_logs(from_block=from_block, to_block=head)
    out = []
    for e in logs:
        ts = brownie.web3.eth.get_block(e["blockNumber"])["timestamp"]
        out.append(dict(e["args"]) | {"block": e["blockNumber"], "ts": ts})
    return out


def write_json(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=1, default=str) + "\n")


def main_flow(cfg: SimConfig) -> int:  # noqa: C901 - the story, in order
    from tqdm import tqdm

    t0 = time.time()
    sim = Simulation(cfg)
    from keel.chain import connect

    sim.first_tick()
    genesis = sim.genesis_time() if sim.lockstep else None  # else anvil's wall clock
    print("Keel simulation: compiling and launching the embedded chain ...", flush=True)
    with silenced():
        connect(genesis_timestamp=genesis)
    import brownie

    if sim.lockstep:
        from keel.sim.clock import pin

        pin(brownie.web3, genesis)
    sim.deploy()
    s = sim.s
    print(
        f"deployed on '{brownie.network.show_active()}': oracle {s.oracle.address}, vault "
        f"{s.vault.address}, engine {s.engine.address}, liquidator {s.liquidator.address}"
    )
    print(
        f"path: {cfg.path} from {sim.start_label} (BTC ${sim.spot(sim.BTC):,.0f}, "
        f"ETH ${sim.spot(sim.ETH):,.2f}); insurance fund ${cfg.insurance_fund:,.0f}"
    )
    start_block = brownie.chain.height
    with tqdm(total=cfg.accounts, desc="opening accounts", unit="acct", leave=True) as bar:
        for _ in sim.open_population():
            bar.update()
    capital_open = sim.capital_comparison()
    sim.measure(0.0, sim.start_label)
    sim.start_processes()
    crash_day = cfg.crash_at()
    crash: dict = {}
    try:
        with tqdm(total=cfg.days, desc="trading days", unit="day") as bar:
            for day in range(1, cfg.days + 1):
                # the day's tick is observed at an expiry on the way, if any (settlement window)
                reply = sim.advance(DAY, at_expiry="day")
                if reply is None:
                    reply = sim.tick("day")
                elif not reply.get("done"):
                    sim.tick("hold")  # the day's prices again, fresh for trading (if due)
                if reply.get("done"):
                    print(f"\nthe price path ended on day {day}")
                    break
                brownie.web3.eth.get_block("latest")
                with silenced():
                    for f in (sim.BTC, sim.ETH):
                        s.engine.accrueFunding(f, {"from": sim.deployer})
                sim.trade_day()
                p = sim.measure(float(day), reply.get("label", ""))
                sim.days_run = day
                bar.set_postfix(
                    BTC=f"{p['btc']:,.0f}", ETH=f"{p['eth']:,.0f}", trades=sim.stats.trades,
                    auctions=p["in_auction"],
                )  # fmt: skip
                bar.update()
                if day == crash_day:
                    crash = run_crash(sim, day)
        if pending(sim, sealed_block()):  # let the keepers finish what the last days started
            liquidate(sim, sim.daily[-1]["t"], 2.0, "final auctions", wall_s=90)
        sim.measure(sim.daily[-1]["t"] + 0.01, "end", sealed_block())  # keepers still run
    finally:
        codes = sim.stop_processes()
    capital_end = sim.capital_comparison()
    result = collect(sim, start_block, crash, capital_open, capital_end, codes)
    result["meta"] = {"wall_time_s": round(time.time() - t0, 1)}  # the one wall-clock figure
    out = sim.out
    write_json(out / "simulation.json", result)
    print_summary(result, out)
    ok = all(c == 0 for c in codes.values())
    if cfg.report:
        print("building the report (python -m keel.reports) ...", flush=True)
        rc = subprocess.call([sys.executable, "-m", "keel.reports", "--out", str(out)], cwd=ROOT)
        ok &= rc == 0
        print(f"report: {out / 'report.html'}")
    print(f"wall time {time.time() - t0:.0f} s")
    return 0 if ok else 1


def run_crash(sim: Simulation, day: int) -> dict:
    """One oracle update crashes ETH and BTC; then chain time moves in 5-minute steps (the
    relayer re-reporting the crashed prices) while the keepers liquidate."""
    import brownie

    s, cfg = sim.s, sim.cfg
    sim.advance(1800)  # within the heartbeat: the day's prices are still fresh
    before = sim.measure(day + 1 / 48, "before crash")
    fund_before = s.vault.insuranceFund() / WAD
    pre = {t.account: sim.breakdown(t.account) for t in sim.traders}
    reply = sim.tick(f"crash {cfg.crash_eth} {cfg.crash_btc}")
    if not reply.get("tx"):
        raise RuntimeError(f"the relayer did not push the crash: {reply}")
    # the crash's own block (a keeper may already have acted in the next one)
    block = brownie.web3.eth.get_transaction_receipt(reply["tx"])["blockNumber"]
    traders = [t.account for t in sim.traders]
    sealed_block()  # the crash block is then below the head: anvil serves its own state
    at_crash = {a: sim.breakdown(a, block) for a in traders}
    below = sorted(a for a, b in at_crash.items() if b["AE"] < b["MM"])
    negative = sorted(a for a, b in at_crash.items() if b["E"] <= 0)
    sim.measure(day + 1 / 48 + 1e-3, "crash", sealed_block())  # the keepers are starting auctions
    minutes = liquidate(sim, day + 1 / 48, cfg.liquidation_hours, "liquidating")
    after = sim.measure(day + 1 / 48 + minutes * 60 / DAY, "after liquidations", sealed_block())
    return {
        "block": block,
        "reply": reply,
        "below_mm": below,
        "negative_equity": negative,
        "at_crash": at_crash,
        "fund_before": fund_before,
        "before": before,
        "after": after,
        "liquidation_minutes": minutes,
        "pre": pre,
    }


def sealed_block() -> int:
    """A block every read of one snapshot can pin while the keeper processes may be mining.

    anvil 1.7.1 answers a call at its head from the live database, and a block being mined
    publishes its state there before its block environment (upstream foundry-rs/foundry PR
    #16368): a call can see block N+1's state with block N's timestamp, a chain no real node
    serves. After a keeper's bid accrued funding in N+1 (lastAccrual = T(N+1)), the engine's
    `block.timestamp - m.lastAccrual` (MarginEngine._fundingIndexAt) then underflows. anvil
    serves a block below its head from that block's own stored state and header, so: mine an
    empty block (everything sent so far, the sim's own transactions included, is then below
    the head) and pin the block under the head."""
    import brownie

    brownie.web3.provider.make_request("evm_mine", [])
    return brownie.web3.eth.block_number - 1


def pending(sim: Simulation, block: int) -> list[int]:
    """Trader accounts in auction or below MM at `block` (a `sealed_block()`: the keepers
    may be mining while this reads)."""
    out = []
    for t in sim.traders:
        if sim.s.liquidator.inAuction(t.account, block_identifier=block):
            out.append(t.account)
            sim.quote_auction(t.account, block)
        else:
            b = sim.breakdown(t.account, block)
            if b["AE"] < b["MM"]:
                out.append(t.account)
    return out


def liquidate(sim: Simulation, t0: float, hours: float, desc: str, wall_s: float = 180) -> float:
    """Moves chain time in 5-minute steps (the relayer re-reporting the last prices) while the
    keepers start, bid on and end auctions, until no trader is in auction or below MM for two
    steps or `hours` of chain time passed (in real time also `wall_s` seconds: the keepers act
    in the 1.5 s the chain time stands still; in lockstep they act in `tick`). Returns the chain
    minutes moved."""
    from tqdm import tqdm

    steps = int(hours * 3600 / STEP)
    wall = time.time() + wall_s
    quiet = moved = 0
    with tqdm(total=steps, desc=desc, unit="5min", position=1, leave=False) as bar:
        for i in range(steps):
            if not sim.lockstep:
                time.sleep(1.5)  # the keepers act on this chain time
            left = pending(sim, sealed_block())  # the keepers are bidding
            bar.set_postfix(pending=len(left))
            bar.update()
            quiet = quiet + 1 if not left else 0
            if quiet >= 2 or (not sim.lockstep and time.time() > wall):
                break
            sim.advance(STEP)
            sim.tick("hold")
            moved += 1
            if i % 6 == 5:
                sim.measure(t0 + moved * STEP / DAY, "liquidation", sealed_block())
    return moved * STEP / 60


def collect(sim, start_block, crash, capital_open, capital_end, codes) -> dict:
    s = sim.s
    liq = s.liquidator
    started = events(liq, "AuctionStarted", start_block)
    solvent = events(liq, "SolventBid", start_block)
    insolvent = events(liq, "InsolventBid", start_block)
    ended = events(liq, "AuctionEnded", start_block)
    socialised_ev = events(liq, "LossSocialised", start_block)
    settled = events(s.engine, "OptionSettled", start_block)
    fixed = events(s.oracle, "SettlementPriceFixed", start_block)
    missed = events(s.oracle, "SettlementWindowMissed", start_block)
    crash_block = crash.get("block", 10**18)
    names = {t.account: t.name for t in sim.traders}
    names |= {m[0]: "market maker" for m in sim.makers} | {sim.keeper_acct: "keeper"}
    auctions = []
    for st in started:
        key = (st["accountId"], st["auctionId"])
        bids = [b for b in solvent if (b["accountId"], b["auctionId"]) == key]
        ins = [b for b in insolvent if (b["accountId"], b["auctionId"]) == key]
        end = next((e for e in ended if (e["accountId"], e["auctionId"]) == key), None)
        last = max([b["ts"] for b in bids + ins] + ([end["ts"]] if end else []), default=None)
        auctions.append(
            {
                "account": st["accountId"],
                "book": names.get(st["accountId"], "?"),
                "phase": "crash" if st["block"] >= crash_block else "before crash",
                "AE_at_start": round(st["adjustedEquity"] / WAD, 2),
                "MM_at_start": round(st["maintenanceMargin"] / WAD, 2),
                "solvent_bids": len(bids),
                "fraction_sold": round(sum(b["fraction"] for b in bids) / WAD, 4),
                "discounts": ", ".join(f"{b['discount'] / WAD:.1%}" for b in bids) or "-",
                "paid_to_account": round(sum(b["payment"] for b in bids) / WAD, 2),
                "penalty_to_fund": round(sum(b["penalty"] for b in bids) / WAD, 2),
                "insolvent_equity": round(sum(b["equity"] for b in ins) / WAD, 2),
                "from_fund": round(sum(b["fromFund"] for b in ins) / WAD, 2),
                "socialised": round(sum(b["socialised"] for b in ins) / WAD, 2),
                "outcome": ("open" if end is None else ("cured" if end["cured"] else "emptied")),
                "duration_s": None if last is None else last - st["ts"],
            }
        )
    liquidated = sorted({b["accountId"] for b in solvent + insolvent})
    bad_debt = sum(-b["equity"] for b in insolvent) / WAD
    from_fund = sum(b["fromFund"] for b in insolvent) / WAD
    socialised = sum(e["amount"] for e in socialised_ev) / WAD
    final = sim.daily[-1]
    owned = final["system_equity"] + final["insurance_fund"]
    crash_auctions = [a for a in auctions if a["phase"] == "crash"]
    crash_liquidated = sorted(
        {a["account"] for a in crash_auctions if a["solvent_bids"] or a["insolvent_equity"]}
        | {b["accountId"] for b in insolvent if b["block"] >= crash_block}
    )
    summary = {
        "accounts": len(sim.traders),
        "market_makers": len(sim.makers),
        "days": sim.days_run,
        "trades": sim.stats.trades,
        "option_trades": sim.stats.option_trades,
        "trades_refused_by_margin": sim.stats.rejected,
        "option_rolls": sim.stats.rolls,
        "expiries_settlement_fixed": len(fixed),
        "expiries_window_missed": len(missed),
        "options_settled": len(settled),
        "margin_topups": sim.stats.margin_topups,
        "crash": f"ETH {sim.cfg.crash_eth:+.0%}, BTC {sim.cfg.crash_btc:+.0%} on day {sim.cfg.crash_at()}"
        if crash
        else "none",
        "vol_before_crash": vols(sim.relayer_replies, "day"),
        "vol_after_crash": vols(sim.relayer_replies, "crash"),
        "below_mm_after_crash": len(crash.get("below_mm", [])),
        "negative_equity_after_crash": len(crash.get("negative_equity", [])),
        "auctions_started": len(started),
        "accounts_liquidated": len(liquidated),
        "accounts_liquidated_in_crash": len(crash_liquidated),
        "solvent_bids": len(solvent),
        "insolvent_bids": len(insolvent),
        "longest_auction_s": max((a["duration_s"] or 0 for a in auctions), default=0),
        "liquidation_phase_min": crash.get("liquidation_minutes", 0),
        "bad_debt": round(bad_debt, 2),
        "insurance_fund_before": round(crash.get("fund_before", sim.daily[0]["insurance_fund"]), 2),
        "insurance_fund_after": round(final["insurance_fund"], 2),
        "insurance_fund_paid": round(from_fund, 2),
        "socialised_loss": round(socialised, 2),
        "cash_index": s.vault.cashIndex() / WAD,
        "portfolio_im_at_open": round(capital_open["portfolio_im"], 2),
        "isolated_im_at_open": round(capital_open["isolated_im"], 2),
        "capital_saving_vs_isolated": round(capital_open["saving"], 4),
        "value_held_by_vault": round(final["value_in"], 2),
        "value_owned_equity_plus_fund": round(owned, 2),
        "conservation_gap": round(final["value_in"] - owned, 6),
        "clock": "lockstep" if sim.lockstep else "real time",
    }
    notes = (
        f"{len(sim.traders)} trader accounts ({sum(t.kind == 'book' for t in sim.traders)} "
        "strategy books of bench/portfolios.json scaled to the day's spot, the rest directional "
        "perp traders) traded through EIP-712 signed orders with two market makers for "
        f"{summary['days']} days of the {sim.cfg.path} path from {sim.start_label}; the relayer, "
        "the liquidation keeper and the settlement keeper ran as separate processes"
        + (
            ", in lockstep with the simulation's clock (after every step the relayer acted, then "
            "the settlement and the liquidation keeper each ran cycles until one sent nothing; the "
            "same seed gives the same run). "
            if sim.lockstep
            else ", the keepers in real time (figures vary a little from run to run). "
        )
    )
    if crash:
        notes += (
            f"On day {sim.cfg.crash_at()} one oracle update moved ETH {sim.cfg.crash_eth:+.0%} and "
            f"BTC {sim.cfg.crash_btc:+.0%}; chain time then moved in 5-minute steps for "
            f"{crash['liquidation_minutes']:.0f} minutes while the keeper liquidated. "
        )
    if bad_debt > 0:
        notes += bad_debt_note(sim, crash, insolvent, names, bad_debt, from_fund, socialised)
    else:
        notes += "No liquidated account had negative equity: zero bad debt."
    series = {
        "t": [d["t"] for d in sim.daily],
        "t_label": "simulated day",
        "y_label": "USD",
        "trader equity": [d["trader_equity"] for d in sim.daily],
        "trader IM": [d["trader_im"] for d in sim.daily],
        "trader MM": [d["trader_mm"] for d in sim.daily],
        "insurance fund": [d["insurance_fund"] for d in sim.daily],
        "cover-2 requirement": [d["cover2_requirement"] for d in sim.daily],
    }
    cover2 = cover2_summary(sim)
    summary["cover2_requirement_max"] = round(cover2["max"]["requirement"], 2)
    summary["cover2_requirement_vs_fund"] = (
        f"met at all {cover2['steps_measured']} steps"
        if cover2["met_every_step"]
        else f"NOT met at {cover2['steps_short']} of {cover2['steps_measured']} steps"
    )
    return {
        "summary": summary,
        "notes": notes,
        "auctions": auctions,
        "accounts": [
            {
                "account": t.account,
                "book": t.name,
                "kind": t.kind,
                "target_AE_over_IM": round(t.target, 2),
                "AE_over_IM_before_crash": ratio(crash.get("pre", {}).get(t.account)),
                "below_mm_at_crash": t.account in crash.get("below_mm", []),
                "E_at_crash": round(crash.get("at_crash", {}).get(t.account, {}).get("E", 0), 2),
                "liquidated": t.account in liquidated,
            }
            for t in sim.traders
        ],
        "series": series,
        "cover2": cover2,
        "liquidation_timeline": liquidation_timeline(
            sim, started, solvent, insolvent, ended, names
        ),
        "daily": sim.daily,
        "config": as_dict(sim.cfg),
        "processes": codes,
        "clock": clock_record(sim),
        "capital": {"at_open": capital_open, "at_end": capital_end},
        "refused_trades": sim.stats.errors[:50],
        "ids": {
            "below_mm_after_crash": crash.get("below_mm", []),
            "liquidated": liquidated,
            "liquidated_in_crash": crash_liquidated,
        },
    }


def cover2_summary(sim: Simulation) -> dict:
    """The cover-2 requirement against the insurance fund over every measured step (PFMI
    principle 4; method: keel/risk/cover2.py): met when the requirement ≤ the fund at each."""
    points = sim.cover2_points
    steps = [
        {"t": d["t"], "label": d["label"], "block": c["block"], "requirement": c["requirement"],
         "insurance_fund": c["insurance_fund"], "binding_scenario": c["binding_scenario"],
         "met": c["met"]}
        for d, c in zip(sim.daily, points, strict=True)
    ]  # fmt: skip
    worst = max(points, key=lambda c: c["requirement"])
    short = [x for x in steps if not x["met"]]
    binding = next(s for s in worst["scenarios"] if s["scenario"] == worst["binding_scenario"])
    return {
        "method": "keel/risk/cover2.py: per scenario the two largest losses beyond equity "
        "max(0, -(E + P)) over every account, P by full revaluation (perps, linked collateral, "
        "Black-Scholes options at sigma_up); scenarios +3R and -min(3R, 90%) for BTC and ETH "
        "together and each alone, and the price file's worst joint fall and rise days; the "
        "requirement is the worst scenario's sum.",
        "historical_days": worst["historical_days"],
        "steps_measured": len(steps),
        "met_every_step": not short,
        "steps_short": len(short),
        "largest_shortfall": round(
            max((x["requirement"] - x["insurance_fund"] for x in short), default=0.0), 2
        ),  # fmt: skip
        "max": {
            "t": steps[points.index(worst)]["t"],
            "block": worst["block"],
            "requirement": worst["requirement"],
            "insurance_fund": worst["insurance_fund"],
            "binding_scenario": worst["binding_scenario"],
            "accounts": binding["accounts"],
            "losses_beyond_equity": binding["losses_beyond_equity"],
            "scenarios": worst["scenarios"],
        },  # fmt: skip
        "steps": steps,
    }


def liquidation_timeline(sim, started, solvent, insolvent, ended, names) -> dict:
    """Per auction: the Liquidator's discount and insolvency bonus quoted at each measured step
    (currentDiscount, currentBonus) and every bid (SolventBid, InsolventBid), in minutes since
    the auction started."""
    out = []
    for st in started:
        key = (st["accountId"], st["auctionId"])
        t0 = st["ts"]

        def minutes(ts, t0=t0):
            return round((ts - t0) / 60, 2)

        quotes = [q for q in sim.auction_quotes if (q["account"], q["auctionId"]) == key]
        bids = [
            {"t_min": minutes(b["ts"]), "kind": "solvent", "fraction": b["fraction"] / WAD,
             "discount": b["discount"] / WAD, "payment": b["payment"] / WAD,
             "penalty": b["penalty"] / WAD}
            for b in solvent if (b["accountId"], b["auctionId"]) == key
        ] + [
            {"t_min": minutes(b["ts"]), "kind": "insolvent", "fraction": 1.0,
             "bonus": b["bonus"] / WAD, "equity": b["equity"] / WAD,
             "from_fund": b["fromFund"] / WAD, "socialised": b["socialised"] / WAD}
            for b in insolvent if (b["accountId"], b["auctionId"]) == key
        ]  # fmt: skip
        end = next((e for e in ended if (e["accountId"], e["auctionId"]) == key), None)
        out.append(
            {
                "account": st["accountId"],
                "auction": st["auctionId"],
                "book": names.get(st["accountId"], "?"),
                "started_ts": t0,
                "ended_min": None if end is None else minutes(end["ts"]),
                "outcome": "open" if end is None else ("cured" if end["cured"] else "emptied"),
                "quotes": [
                    {"t_min": minutes(q["ts"]), "discount": q["discount"], "bonus": q["bonus"]}
                    for q in sorted({q["ts"]: q for q in quotes}.values(), key=lambda q: q["ts"])
                ],
                "bids": sorted(bids, key=lambda b: b["t_min"]),
            }
        )
    return {
        "source": "Liquidator events (AuctionStarted, SolventBid, InsolventBid, AuctionEnded) "
        "and its currentDiscount/currentBonus views at each measured step",
        "auctions": out,
    }


def clock_record(sim: Simulation) -> dict:
    """How the run's clock moved (keel.sim.clock): lockstep figures are the seed's, like the rest."""
    if not sim.lockstep:
        return {"mode": "real time"}
    from keel.sim.clock import BLOCK_INTERVAL

    return {
        "mode": "lockstep",
        "genesis": sim.genesis_time(),
        "block_interval_s": BLOCK_INTERVAL,
        "keeper_cycles": dict(sim.cycles),
        "keeper_transactions": dict(sim.keeper_txs),
    }


def vols(replies: list[dict], command: str) -> str:
    """The vols the relayer pushed with its last `command` reply up to the crash ("BTC 62%, ...")."""
    crash_at = next((i for i, r in enumerate(replies) if r["command"].startswith("crash")), None)
    upto = replies[: crash_at + 1] if crash_at is not None else replies  # up to the crash
    last = [r for r in upto if r["command"].split()[0] == command and "vols" in r]
    if not last:
        return "-"
    v = {int(k): float(x) for k, x in last[-1]["vols"].items()}  # annualised fractions
    return f"BTC {v.get(1, 0):.0%}, ETH {v.get(2, 0):.0%}"


def ratio(b: dict | None):
    if not b or b["IM"] < 1.0:  # a fully hedged book (IM under $1) has no meaningful ratio
        return None
    return round(b["AE"] / b["IM"], 3)


def bad_debt_note(sim, crash, insolvent, names, bad_debt, from_fund, socialised) -> str:
    """Why there was bad debt, from the run's own figures."""
    accts = sorted({b["accountId"] for b in insolvent})
    pre = crash.get("pre", {})
    where = "in the crash" if crash else "during the run"
    parts = []
    for a in accts:
        r = ratio(pre.get(a))
        shown = f"AE/IM {r:.2f} before the crash" if r is not None else "no margin figure"
        e_crash = crash.get("at_crash", {}).get(a, {}).get("E")
        if e_crash is not None:
            shown += f", equity ${e_crash:,.2f} at the crash prices"
        e_bid = sum(b["equity"] for b in insolvent if b["accountId"] == a) / WAD
        shown += f", ${e_bid:,.2f} when bought"
        parts.append(f"account {a} ({names.get(a, '?')}, {shown})")
    covered = (
        "all of it paid by the insurance fund"
        if socialised == 0
        else (f"${from_fund:,.2f} paid by the insurance fund and ${socialised:,.2f} socialised")
    )
    return (
        f"Bad debt ${bad_debt:,.2f} ({covered}): {len(accts)} account(s) had negative equity "
        f"when liquidated {where}: " + "; ".join(parts) + ". IM covers the SPEC's two-day 99% "
        "scan range (16% at least) and weighs moves of two to three scan ranges at 30%; a "
        f"one-step move of {sim.cfg.crash_eth:+.0%} on ETH and {sim.cfg.crash_btc:+.0%} on BTC "
        f"is beyond that (and the relayer's EWMA vol went from {vols(sim.relayer_replies, 'day')} "
        f"to {vols(sim.relayer_replies, 'crash')}, which revalues options), so an account "
        "whose loss at the crash prices exceeded its whole "
        "equity was insolvent before any auction could start. The margin rule did what it "
        "specifies."
    )


def print_summary(result: dict, out: Path) -> None:
    print("\n== Keel simulation: summary ==")
    for k, v in result["summary"].items():
        shown = f"{v:,.2f}" if isinstance(v, float) else (f"{v:,}" if isinstance(v, int) else v)
        print(f"  {k.replace('_', ' '):<34}{shown:>28}")
    print("\n" + result["notes"])
    print(f"\nwrote {out / 'simulation.json'}")
