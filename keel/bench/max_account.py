"""The largest account the limits allow, and INV-10 (`python -m keel.bench.max_account`).

SPEC §8 INV-10: on the largest account the limits allow, in every state, startAuction, a solvent
bid, an insolvent bid and endAuction each use at most half of EIP-7825's per-transaction cap
(16,777,216 / 2 = 8,388,608 gas), and every other operation fits under the cap.

The build (`build_max_accounts`), on one stack with 4 underlyings (feeds 1..4: BTC, ETH, SOL,
LINK), a perp on each, 64 option series (per underlying 4 expiries × {0.9S put, S put, S call,
1.1S call}) and 8 volatile collateral tokens (two linked to each underlying):

- A, the maximal account: short every one of the 64 series, long the 4 perps, all 8 collateral
  tokens (the Vault's limit, MAX_ACCOUNT_ASSETS, counts tokens beside the USDC cash) and USDC cash:
  a short-volatility book that a crash with a vol spike hurts;
- B, the maximal bidder: the same book at half the size (same series, same directions), 8 tokens
  and $30M cash. Taking A's positions adds to B's existing slots, so B stays within the limits
  after any bid (64 series, 4 perps): the largest bidder the limits allow, not an over-limit one;
- C, the maximal counterparty: the mirror of A + B (long every series, short the perps), 8 tokens;
- a fresh bidder with $30M USDC and nothing else: the bids it makes write every position they
  move as new storage (the other end of the bidder's range; it too ends within the limits).

Each is built twice, once per order of its option slots: `grouped` (an underlying's series listed
expiry by expiry) and `interleaved` (consecutive slots alternate between the 4 expiries, which
defeats RiskArrayStore's per-(underlying, expiry) Black-Scholes grid cache). Both live on one stack
(the market states below are shared), built once; the states are evm snapshots (`StateTree`).
While building, a keeper keeps the risk arrays current (every stale array refreshed before each
trade batch), so no building transaction comes near the cap.

States (the market is shared by both orders):
- `current`: every risk array computed at the last oracle round (keepers refreshed);
- `stale`: a new oracle round at the same prices (every array stale: margin views revalue the
  64 series in memory; the trade path stores them);
- `jump`: a new round with every spot 10% down and every vol doubled (arrays stale, and a loss
  beyond the scan's vol states: it is what makes the levered A liquidatable).
Liquidation states: A levered (USDC withdrawn until AE = 1.02·IM), then the jump; `current` adds
the keepers' refresh after it, `stale` a further round at the jump's prices. Then USDC deposited
(deposits need no prices and no margin check) puts A where each bid needs it: `partial`
(½·MM ≤ E, AE < MM: f ≤ f_max < 1), `full` (0 < E < ½·MM: the whole account may go), `insolvent`
(E ≤ 0, as the jump leaves the levered A).

Gas: transactions are sent with the cap as gas limit and their receipts' gasUsed recorded (21,000
base and calldata included); one that runs out of gas at the cap is recorded as such, not raised.
The marginBreakdown view is eth_estimateGas. `measure()` returns rows for keel.bench.gas.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

CAP = 16_777_216  # EIP-7825 per-transaction gas cap                                      [gas]
HALF_CAP = CAP // 2  # INV-10 bound of start, bids and end                                   [gas]
WAD = 10**18
USDC = 10**6  # USDC units per dollar

ORDERS = ("grouped", "interleaved")
STATES = ("current", "stale", "jump")
KINDS = ("partial", "full", "insolvent")

# feed id → (symbol, spot [USD], vol)
UNDERLYINGS = {
    1: ("BTC", 60_000, "0.60"),
    2: ("ETH", 3_000, "0.75"),
    3: ("SOL", 150, "0.90"),
    4: ("LINK", 15, "0.85"),
}
# collateral tokens beside USDC: (name, decimals, feed pricing and moving it); WETH and WBTC are
# deploy_stack's own
COLLATERAL = (
    ("WBTC", 8, 1),
    ("cbBTC", 8, 1),
    ("WETH", 18, 2),
    ("wstETH", 18, 2),
    ("WSOL", 9, 3),
    ("jitoSOL", 9, 3),
    ("LINKt", 18, 4),
    ("stLINK", 18, 4),
)
EXPIRY_DAYS = (2, 30, 91, 182)  # [days from the build], at 08:00 UTC
STRIKES = ((Decimal("0.9"), False), (Decimal(1), False), (Decimal(1), True), (Decimal("1.1"), True))
LEG_NOTIONAL = 60_000  # A's size per series and perp: this many USD of the underlying   [USD]
COLLATERAL_USD = {"A": 50_000, "B": 100_000, "C": 100_000}  # per token                 [USD]
CASH_USD = {"A": 3_000_000, "B": 30_000_000, "C": 50_000_000}
SIZE_MULT = {"A": Decimal(-1), "B": Decimal("-0.5")}  # option size, of A's |size| (perps: −this)
INSURANCE_USD = 100_000_000
JUMP_PCT, JUMP_VOL = -10, 2  # the price jump: every spot −10%, every vol ×2
LEVER_HEADROOM_PCT = 2  # A levered to AE = 1.02·IM before the jump
DAY = 86_400
REFRESH_CHUNK = 16  # series per keeper refresh transaction (one underlying's)


def _wad(x) -> int:
    return int(Decimal(str(x)) * WAD)


# --- The build ---


@dataclass
class Book:
    """One order's three maximal accounts, each (account id, owner)."""

    order: str
    a: tuple
    b: tuple
    c: tuple
    fresh: tuple  # a bidder with USDC only: every position it takes is a new slot
    series: dict = field(default_factory=dict)  # feed → series ids in this order's slot order


@dataclass
class MaxBuild:
    stack: object
    books: dict  # order → Book
    series: dict  # feed → {(expiry, strike index): series id}
    expiries: tuple  # [unix s]
    base: dict  # feed → (spot, vol) of the build   [wad]
    keeper: tuple  # (account id, owner) of the starter
    tree: StateTree | None = None
    build_seconds: float = 0.0

    def all_series(self, order: str) -> list[int]:
        return [s for f in sorted(self.series) for s in self.books[order].series[f]]


def _ordered(series: dict, feed: int, order: str) -> list[int]:
    """A feed's 16 series in slot order: by expiry (grouped) or alternating expiries (interleaved)."""
    keys = sorted(series[feed])  # (expiry, strike index)
    if order == "interleaved":
        keys.sort(key=lambda k: (k[1], k[0]))
    return [series[feed][k] for k in keys]


def refresh_stale(stack, ids, sender) -> int:
    """A keeper's refresh: every series of `ids` whose stored array is not at its feed's last
    round, in transactions of at most REFRESH_CHUNK series. Returns how many were stale."""

    stale = []
    observed = {}
    for sid in ids:
        feed = int(stack.store.series(sid)[0])
        if feed not in observed:
            observed[feed] = int(stack.oracle.feed(feed)[2])
        if int(stack.store.storedRiskArray(sid)[0]) != observed[feed]:
            stale.append(sid)
    for k in range(0, len(stale), REFRESH_CHUNK):
        stack.store.refreshRiskArrays(stale[k : k + REFRESH_CHUNK], {"from": sender})
    return len(stale)


def build_max_accounts(orders=ORDERS, verbose: bool = False) -> MaxBuild:
    """Deploy the stack and build A, B and C in each order (module docstring); the root state
    `built` of the returned build's StateTree is the chain right after."""
    import brownie

    from keel.deploy_engine import deploy_stack, model_price, open_account, trade
    from keel.deploy_vault import list_asset, volatile_config
    from keel.orders import option_instrument

    t0 = time.monotonic()
    accts = brownie.accounts
    deployer, keeper_owner, whale = accts[0], accts[4], accts[9]
    base = {f: (_wad(spot), _wad(vol)) for f, (_, spot, vol) in UNDERLYINGS.items()}
    stack = deploy_stack(deployer, feeds=base)
    p = brownie.project.get_loaded_projects()[0]
    tx = {"from": deployer}
    for name, dec, feed in COLLATERAL:
        if name in ("WETH", "WBTC"):
            continue
        token = p.MockERC20.deploy(name, name, dec, tx)
        list_asset(stack.vault, token, volatile_config(feed))
        stack.tokens[name] = token
    # a well-funded insurance fund: the insolvent bid measures the paying path
    units = INSURANCE_USD * USDC
    stack.usdc.mint(whale, units, {"from": whale})
    stack.usdc.approve(stack.vault, units, {"from": whale})
    stack.vault.fundInsurance(units, {"from": whale})
    keeper = (open_account(stack, keeper_owner), keeper_owner)

    # 64 series: per underlying 4 expiries (08:00 UTC) × 4 strikes
    now = int(stack.oracle.feed(1)[2])
    expiries = tuple((now // DAY + d) * DAY + 8 * 3600 for d in EXPIRY_DAYS)
    series: dict = {}
    for feed, (spot, _) in base.items():
        series[feed] = {}
        for e, expiry in enumerate(expiries):
            for k, (moneyness, is_call) in enumerate(STRIKES):
                strike = int(spot * moneyness)
                sid = stack.engine.createSeries(feed, strike, expiry, is_call, tx).return_value
                series[feed][(e, k)] = sid
    all_ids = [s for f in sorted(series) for s in series[f].values()]
    refresh_stale(stack, all_ids, keeper_owner)  # every new series' first array

    owners = {
        "grouped": (accts[1], accts[2], accts[3]),
        "interleaved": (accts[5], accts[6], accts[7]),
    }
    books = {}
    for order in orders:
        accounts = {}
        for role, owner in zip("ABC", owners[order], strict=True):
            deposits = {"USDC": CASH_USD[role]}
            for name, dec, feed in COLLATERAL:
                deposits[name] = (Decimal(COLLATERAL_USD[role]) * WAD / base[feed][0]).quantize(
                    Decimal(1).scaleb(-dec)
                )
            accounts[role] = (open_account(stack, owner, deposits), owner)
        fresh = (open_account(stack, accts[8], {"USDC": CASH_USD["B"]}), accts[8])
        book = Book(order, accounts["A"], accounts["B"], accounts["C"], fresh)
        book.series = {f: _ordered(series, f, order) for f in sorted(series)}
        refresh_stale(stack, all_ids, keeper_owner)  # the keeper, before the batch
        for feed in sorted(series):
            unit = LEG_NOTIONAL * WAD * WAD // base[feed][0]  # A's |size|       [wad units]
            for sid in book.series[feed]:
                inst = option_instrument(sid)
                price = model_price(stack, inst)
                for role in "AB":  # the maker sells to C
                    size = int(unit * SIZE_MULT[role])
                    trade(stack, accounts[role], book.c, inst, size, price)
            spot = int(stack.oracle.feed(feed)[0])
            for role in "AB":  # the maker buys the perp from C
                trade(stack, accounts[role], book.c, feed, int(-unit * SIZE_MULT[role]), spot)
        books[order] = book
        if verbose:
            print(
                f"built {order}: A={book.a[0]} B={book.b[0]} C={book.c[0]} "
                f"({time.monotonic() - t0:.0f} s)"
            )
    build = MaxBuild(stack, books, series, expiries, base, keeper)
    build.tree = StateTree(build)
    build.build_seconds = time.monotonic() - t0
    return build


# --- States: evm snapshots ---


def _snapshot(revert_to=None):
    """A new evm snapshot id, after reverting to `revert_to` if given (brownie's chain helpers,
    which keep its clock and history in step; their FutureWarning is for scripts)."""
    import warnings

    from brownie import chain

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return chain._take_snapshot() if revert_to is None else chain._revert(revert_to)


class StateTree:
    """Named chain states as evm snapshots, each built from its parent by a function.

    anvil's evm_revert drops the snapshot it reverts to and every later one, so the live
    snapshots form one path from the root, in creation order: going to a state reverts to it
    (and snapshots it again), dropping the states created after it; a dropped state is rebuilt
    from its parent when next asked for. Visiting the states depth first builds each once.
    """

    def __init__(self, build: MaxBuild):
        self.build = build
        self._defs: dict[str, tuple[str | None, Callable | None]] = {"built": (None, None)}
        self._live: list[list] = [["built", _snapshot()]]
        self.current: str = "built"

    def define(self, name: str, parent: str, setup: Callable[[MaxBuild], None]) -> None:
        self._defs[name] = (parent, setup)

    def goto(self, name: str) -> None:
        for i, entry in enumerate(self._live):
            if entry[0] == name:
                entry[1] = _snapshot(revert_to=entry[1])
                del self._live[i + 1 :]
                self.current = name
                return
        parent, setup = self._defs[name]
        if parent is None:
            raise RuntimeError(f"state {name!r} is lost")
        self.goto(parent)
        setup(self.build)
        self._live.append([name, _snapshot()])
        self.current = name


def _push_same(build: MaxBuild) -> None:
    """A new oracle round at every feed's last price and vol: every risk array goes stale."""
    from keel.deploy_engine import refresh_feeds

    refresh_feeds(build.stack, tuple(sorted(build.base)))


def _push_jump(build: MaxBuild) -> None:
    """A new round with every spot JUMP_PCT% moved and every vol ×JUMP_VOL."""
    from keel.deploy_engine import push_prices

    prices = {}
    for f in sorted(build.base):
        spot, vol = (int(x) for x in build.stack.oracle.feed(f)[:2])
        prices[f] = (spot * (100 + JUMP_PCT) // 100, vol * JUMP_VOL)
    push_prices(build.stack, prices)


def _refresh_all(build: MaxBuild) -> None:
    """The keepers' refresh of every stale array (transactions of one underlying's 16 series)."""
    order = next(o for o in ORDERS if o in build.books)  # the same series in every order built
    refresh_stale(build.stack, build.all_series(order), build.keeper[1])


def _to_expiry(build: MaxBuild) -> None:
    """The clock to one minute after the first expiry (the next report fixes its price)."""
    from brownie import web3

    web3.provider.make_request("evm_setNextBlockTimestamp", [build.expiries[0] + 60])


def _at_expiry(push: Callable[[MaxBuild], None]) -> Callable[[MaxBuild], None]:
    """`push`, observed one minute after the first expiry: that report fixes its settlement price."""

    def setup(build: MaxBuild) -> None:
        _to_expiry(build)
        push(build)

    return setup


def _lever(build: MaxBuild) -> None:
    """Every order's A: USDC withdrawn until AE = (1 + LEVER_HEADROOM_PCT%)·IM."""
    from keel.bench.liquidation_gas import _lever_up

    for book in build.books.values():
        _lever_up(build.stack, book.a[0], book.a[1], LEVER_HEADROOM_PCT)


def breakdown(stack, acct) -> dict:
    b = stack.engine.marginBreakdown(acct)
    return {"E": int(b[0]), "AE": int(b[1]), "IM": int(b[2]), "MM": int(b[3])}


def _usdc_for(stack, acct, target_ae: int | None = None, target_e: int | None = None) -> int:
    """USDC units [1e-6 USD] whose deposit lifts A to AE ≥ target_ae or E ≥ target_e (the
    smallest such, 0 if already there): a deposit repays a debt first, then adds cash that
    takes the settlement haircut (AE rises by 1 − h0 per dollar)."""
    b = breakdown(stack, acct)
    cash = int(stack.vault.cashOf(acct))
    h0 = int(stack.vault.haircut(stack.usdc))
    if target_e is not None:
        need = target_e - b["E"]
    else:
        gap = target_ae - b["AE"]
        debt = max(-cash, 0)
        need = gap if gap <= debt else debt + -(-(gap - debt) * WAD // (WAD - h0)) + 1
    return max(0, -(-need // 10**12))


def _deposit_usdc(stack, acct, owner, units: int) -> None:
    from keel.deploy_engine import deposit

    if units > 0:
        deposit(stack, acct, owner, "USDC", Decimal(units) / USDC)


def _make_kind(kind: str) -> Callable[[MaxBuild], None]:
    """Setup of a liquidation kind: USDC deposited into each order's A (see the module docstring)."""

    def setup(build: MaxBuild) -> None:
        stack = build.stack
        for book in build.books.values():
            acct, owner = book.a
            b = breakdown(stack, acct)
            if kind == "partial":  # AE = 0.8·MM: f_max < 1 (E ≥ AE ≥ ½·MM)
                units = _usdc_for(stack, acct, target_ae=b["MM"] * 8 // 10)
            elif kind == "full":  # E = ¼·MM: solvent, the whole account may go
                units = _usdc_for(stack, acct, target_e=b["MM"] // 4)
            else:
                units = 0  # the jump leaves the levered A insolvent (checked by the ops)
            _deposit_usdc(stack, acct, owner, units)

    return setup


def define_states(build: MaxBuild) -> None:
    """Every named state of the module docstring, on the build's StateTree."""
    tree = build.tree
    tree.define("current", "built", _refresh_all)  # a no-op after the build: already current
    tree.define("stale", "built", _push_same)
    tree.define("jump", "built", _push_jump)
    tree.define("stale@expiry", "built", _at_expiry(_push_same))
    tree.define("current@expiry", "stale@expiry", _refresh_all)
    tree.define("jump@expiry", "built", _at_expiry(_push_jump))
    tree.define("lev", "built", _lever)
    tree.define("lev/jump", "lev", _push_jump)
    tree.define("lev/current", "lev/jump", _refresh_all)
    tree.define("lev/stale", "lev/current", _push_same)
    for state in STATES:
        for kind in KINDS:
            tree.define(f"lev/{state}/{kind}", f"lev/{state}", _make_kind(kind))


# --- Measuring ---


@dataclass
class Outcome:
    """One operation in one state: gas, bound, success, and what it did (`facts`)."""

    op: str
    order: str
    state: str
    bound: int  # INV-10 limit                                                        [gas]
    how: str = "tx"  # "tx": a mined transaction's gasUsed; "estimate": eth_estimateGas
    gas: int | None = None  # [gas]
    ok: bool = False
    error: str = ""
    facts: dict = field(default_factory=dict)

    @property
    def met(self) -> bool:
        return self.ok and self.gas is not None and self.gas <= self.bound


def _trace_error(tx_hash) -> str:
    """Why a mined transaction failed: 'out of gas' when any call frame ran out, else its
    decoded revert."""
    from brownie import web3
    from brownie.exceptions import decode_typed_error

    trace = web3.provider.make_request(
        "debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}]
    ).get("result", {})

    def oog(frame) -> bool:
        if "out of gas" in str(frame.get("error", "")).lower():
            return True
        return any(oog(c) for c in frame.get("calls", []) or [])

    if oog(trace):
        return "out of gas"
    out = trace.get("output") or "0x"
    if len(out) > 10:
        try:
            return decode_typed_error(out)
        except Exception:  # noqa: BLE001 - an unknown selector: its raw data is the message
            return out[:74]
    return str(trace.get("error", "reverted"))


def send_capped(fn, *args, sender) -> tuple[bool, int, str]:
    """Mine `fn(*args)` from `sender` with the cap as gas limit: (success, gasUsed, error)."""
    from brownie import web3

    tx = {"from": str(sender), "to": str(fn._address), "data": fn.encode_input(*args)}
    h = web3.eth.send_transaction(tx | {"gas": CAP, "gasPrice": 0})
    rc = web3.eth.wait_for_transaction_receipt(h, timeout=600)
    if rc["status"] == 1:
        return True, int(rc["gasUsed"]), ""
    return False, int(rc["gasUsed"]), _trace_error(h)


def estimate(fn, *args) -> tuple[bool, int | None, str]:
    """eth_estimateGas of a call (21,000 base and calldata included)."""
    from brownie import web3

    call = {"to": str(fn._address), "data": fn.encode_input(*args)}
    try:
        return True, int(web3.eth.estimate_gas(call)), ""
    except Exception as exc:  # noqa: BLE001 - recorded: above the cap, or a revert
        return False, None, str(exc)[:200]


def portfolio(build: MaxBuild, acct: int, order: str) -> dict:
    """Everything of one account a transfer moves: option sizes (the order's 64 series), perps,
    collateral balances, cash."""
    stack = build.stack
    e, v = stack.engine, stack.vault
    return {
        "options": {sid: int(e.optionPosition(acct, sid)) for sid in build.all_series(order)},
        "perps": {f: int(e.perpPosition(acct, f)[0]) for f in sorted(build.base)},
        "collateral": {n: int(v.collateralBalance(acct, stack.token(n))) for n, _, _ in COLLATERAL},
        "cash": int(v.cashOf(acct)),
        "underlyings": [int(f) for f in e.accountUnderlyings(acct)],
        "assets": len(v.accountAssets(acct)),
    }


def _auction_facts(build: MaxBuild, acct: int) -> dict:
    liq = build.stack.liquidator
    return {
        "in_auction": bool(liq.inAuction(acct)),
        "auction_id": int(liq.auction(acct)[0]),
        "auction_count": int(liq.auctionCount()),
    }


def _unit(build: MaxBuild, feed: int) -> int:
    """A's |size| per series and perp of `feed` [wad units]."""
    return LEG_NOTIONAL * WAD * WAD // build.base[feed][0]


def _fill(build: MaxBuild, order: str, instrument: int, size: int, price: int) -> Outcome:
    """A signs an order of `size` (its side) at `price`; C fills it all (both sides checked)."""
    from keel.deploy_engine import sign_order
    from keel.orders import Order, fill_args

    stack, book = build.stack, build.books[order]
    order_ = Order(book.a[0], instrument, size, price, salt=next(stack.salts))
    sig = sign_order(stack, order_, book.a[1])

    def sizes():
        if instrument < 1 << 128:
            return [int(stack.engine.perpPosition(x[0], instrument)[0]) for x in (book.a, book.c)]
        sid = instrument - (1 << 128)
        return [int(stack.engine.optionPosition(x[0], sid)) for x in (book.a, book.c)]

    out = Outcome("", order, "", CAP)
    before = sizes()
    out.ok, out.gas, out.error = send_capped(
        stack.exchange.fill, *fill_args(order_, sig, book.c[0], abs(size)), sender=book.c[1]
    )
    out.facts = {"size": size, "before": before, "after": sizes()}
    return out


def op_margin_breakdown(build: MaxBuild, order: str) -> Outcome:
    """eth_estimateGas of marginBreakdown(A): the view every liquidation transaction runs."""
    acct = build.books[order].a[0]
    out = Outcome("", order, "", CAP, how="estimate")
    out.ok, out.gas, out.error = estimate(build.stack.engine.marginBreakdown, acct)
    if out.ok:
        out.facts = breakdown(build.stack, acct)
    return out


def op_fill_perp(build: MaxBuild, order: str) -> Outcome:
    """A sells a tenth of its BTC perp to C at the spot."""
    return _fill(build, order, 1, -_unit(build, 1) // 10, int(build.stack.oracle.feed(1)[0]))


def op_fill_option(build: MaxBuild, order: str) -> Outcome:
    """A buys back a tenth of its first BTC series from C at the model value."""
    from keel.deploy_engine import model_price
    from keel.orders import option_instrument

    inst = option_instrument(build.books[order].series[1][0])
    return _fill(build, order, inst, _unit(build, 1) // 10, model_price(build.stack, inst))


def op_withdraw(build: MaxBuild, order: str) -> Outcome:
    """A withdraws $10,000 USDC (the engine's checkWithdrawal on the whole account)."""
    stack, (acct, owner) = build.stack, build.books[order].a
    amount = 10_000 * USDC

    def state():
        return [int(stack.usdc.balanceOf(owner)), int(stack.vault.cashOf(acct))]

    out = Outcome("", order, "", CAP)
    before = state()
    out.ok, out.gas, out.error = send_capped(
        stack.vault.withdraw, acct, stack.usdc, amount, owner, sender=owner
    )
    out.facts = {"amount": amount, "before": before, "after": state()}
    return out


def _refresh(build: MaxBuild, order: str, ids: list[int]) -> Outcome:
    stack = build.stack

    def stale():
        return [
            sid
            for sid in ids
            if int(stack.store.storedRiskArray(sid)[0])
            != int(stack.oracle.feed(int(stack.store.series(sid)[0]))[2])
        ]

    out = Outcome("", order, "", CAP)
    before = stale()
    out.ok, out.gas, out.error = send_capped(
        stack.store.refreshRiskArrays, ids, sender=build.keeper[1]
    )
    out.facts = {"ids": len(ids), "stale_before": len(before), "stale_after": len(stale())}
    return out


def op_refresh_16(build: MaxBuild, order: str) -> Outcome:
    """refreshRiskArrays of A's 16 BTC series (in A's slot order)."""
    return _refresh(build, order, build.books[order].series[1])


def op_refresh_64(build: MaxBuild, order: str) -> Outcome:
    """refreshRiskArrays of all 64 series in one transaction (A's slot order, feed by feed)."""
    return _refresh(build, order, build.all_series(order))


def op_settle(build: MaxBuild, order: str) -> Outcome:
    """settle(A, its 0.9S BTC put of the first expiry) after that expiry's price was fixed."""
    stack, acct = build.stack, build.books[order].a[0]
    sid = build.series[1][(0, 0)]
    s = stack.store.series(sid)
    out = Outcome("", order, "", CAP)
    q, cash = int(stack.engine.optionPosition(acct, sid)), int(stack.vault.cashOf(acct))
    out.ok, out.gas, out.error = send_capped(stack.engine.settle, acct, sid, sender=build.keeper[1])
    out.facts = {
        "size_before": q,
        "size_after": int(stack.engine.optionPosition(acct, sid)),
        "cash_delta": int(stack.vault.cashOf(acct)) - cash,
        "price": int(stack.oracle.settlementPrice(1, build.expiries[0])),
        "strike": int(s[3]),
        "is_call": bool(s[2]),
    }
    return out


def _start(build: MaxBuild, order: str) -> tuple[bool, int, str]:
    keeper = build.keeper
    return send_capped(
        build.stack.liquidator.startAuction, build.books[order].a[0], keeper[0], sender=keeper[1]
    )


def op_start(build: MaxBuild, order: str) -> Outcome:
    """startAuction(A) by the keeper (A below MM, solvent): one margin view and the keeper fee."""
    stack, acct = build.stack, build.books[order].a[0]
    b = breakdown(stack, acct)
    keeper_cash = int(stack.vault.cashOf(build.keeper[0]))
    out = Outcome("", order, "", HALF_CAP)
    out.ok, out.gas, out.error = _start(build, order)
    out.facts = {
        "before": b,
        "keeper_fee": int(stack.vault.cashOf(build.keeper[0])) - keeper_cash,
        "keeper_fee_param": int(stack.liquidator.keeperFee()),
        **_auction_facts(build, acct),
    }
    return out


def _started(build: MaxBuild, order: str, out: Outcome) -> bool:
    """Starts A's auction as the setup of a later operation; records a failed start in `out`."""
    ok, gas, err = _start(build, order)
    out.facts["start_gas"] = gas
    if not ok:
        out.error = f"startAuction failed first ({gas:,} gas: {err})"
    return ok


def _bid(build: MaxBuild, order: str, fraction_of_max, bidder: str = "b") -> Outcome:
    stack, book = build.stack, build.books[order]
    liq, acct, bidder = stack.liquidator, book.a[0], getattr(book, bidder)
    out = Outcome("", order, "", HALF_CAP)
    if not _started(build, order, out):
        return out
    f_max = int(liq.maxFraction(acct))
    f = fraction_of_max(f_max)
    a0, b0 = portfolio(build, acct, order), portfolio(build, bidder[0], order)
    aid = int(liq.auction(acct)[0])
    out.ok, out.gas, out.error = send_capped(
        liq.bid, acct, aid, bidder[0], f, 2**256 - 1, sender=bidder[1]
    )
    after = breakdown(stack, acct) if out.ok and f < WAD else None
    out.facts |= {
        "f": f,
        "f_max": f_max,
        "a_before": a0,
        "b_before": b0,
        "a_after": portfolio(build, acct, order),
        "b_after": portfolio(build, bidder[0], order),
        "a_breakdown_after": after,
        **_auction_facts(build, acct),
    }
    return out


def op_bid_half(build: MaxBuild, order: str) -> Outcome:
    """startAuction, then B bids f_max/2 of A (A stays in auction unless cured)."""
    return _bid(build, order, lambda f_max: f_max // 2)


def op_bid_half_fresh(build: MaxBuild, order: str) -> Outcome:
    """As op_bid_half, by a bidder holding nothing: every position it takes is new storage."""
    return _bid(build, order, lambda f_max: f_max // 2, bidder="fresh")


def op_bid_full(build: MaxBuild, order: str) -> Outcome:
    """startAuction, then B takes the whole of A (allowed: 0 < E < ½·MM)."""
    return _bid(build, order, lambda f_max: WAD)


def op_bid_insolvent(build: MaxBuild, order: str, bidder: str = "b") -> Outcome:
    """startAuction, then B takes the whole insolvent A; the insurance fund pays −E + bonus."""
    stack, book = build.stack, build.books[order]
    liq, acct, bidder = stack.liquidator, book.a[0], getattr(book, bidder)
    out = Outcome("", order, "", HALF_CAP)
    out.facts["before"] = breakdown(stack, acct)
    if not _started(build, order, out):
        return out
    a0, b0 = portfolio(build, acct, order), portfolio(build, bidder[0], order)
    fund = int(stack.vault.insuranceFund())
    aid = int(liq.auction(acct)[0])
    out.ok, out.gas, out.error = send_capped(
        liq.bidInsolvent, acct, aid, bidder[0], 0, sender=bidder[1]
    )
    out.facts |= {
        "a_before": a0,
        "b_before": b0,
        "a_after": portfolio(build, acct, order),
        "b_after": portfolio(build, bidder[0], order),
        "fund_paid": fund - int(stack.vault.insuranceFund()),
        **_auction_facts(build, acct),
    }
    return out


def op_bid_insolvent_fresh(build: MaxBuild, order: str) -> Outcome:
    """As op_bid_insolvent, by a bidder holding nothing."""
    return op_bid_insolvent(build, order, bidder="fresh")


def op_end(build: MaxBuild, order: str) -> Outcome:
    """startAuction, A's owner deposits USDC until AE ≥ IM (cured), then endAuction."""
    stack, (acct, owner) = build.stack, build.books[order].a
    out = Outcome("", order, "", HALF_CAP)
    if not _started(build, order, out):
        return out
    im = breakdown(stack, acct)["IM"]
    _deposit_usdc(stack, acct, owner, _usdc_for(stack, acct, target_ae=im + im // 100))
    out.facts["before"] = _auction_facts(build, acct)
    out.facts["cured"] = breakdown(stack, acct)
    out.ok, out.gas, out.error = send_capped(
        stack.liquidator.endAuction, acct, sender=build.keeper[1]
    )
    out.facts |= _auction_facts(build, acct)
    return out


@dataclass(frozen=True)
class Case:
    """One measurement: operation `op` on `order`'s accounts in state `state` (snapshot `at`)."""

    op: str
    state: str
    order: str
    at: str

    @property
    def id(self) -> str:
        return f"{self.state}-{self.order}-{self.op}"


# operation → (function, states family); families: the healthy states, the same after the first
# expiry, the liquidation states of a kind
OPS: dict[str, tuple[Callable[[MaxBuild, str], Outcome], str]] = {
    "marginBreakdown view": (op_margin_breakdown, "healthy"),
    "fill perp A-C": (op_fill_perp, "healthy"),
    "fill option A-C": (op_fill_option, "healthy"),
    "withdraw USDC": (op_withdraw, "healthy"),
    "refresh 16 series": (op_refresh_16, "healthy"),
    "refresh 64 series": (op_refresh_64, "healthy"),
    "settle expired": (op_settle, "expiry"),
    "startAuction": (op_start, "partial"),
    "solvent bid f_max/2": (op_bid_half, "partial"),
    "solvent bid f_max/2, fresh bidder": (op_bid_half_fresh, "partial"),
    "endAuction (cured)": (op_end, "partial"),
    "solvent bid f=1": (op_bid_full, "full"),
    "insolvent bid": (op_bid_insolvent, "insolvent"),
    "insolvent bid, fresh bidder": (op_bid_insolvent_fresh, "insolvent"),
}

STATE_LABELS = {
    "current": "arrays current",
    "stale": "arrays stale (new round, same prices)",
    "jump": "arrays stale after a jump (spots −10%, vols ×2)",
}


def cases(orders=ORDERS) -> list[Case]:
    """Every measurement, in an order that builds each snapshot once (StateTree)."""
    out = []
    for family, at in (("healthy", "{s}"), ("expiry", "{s}@expiry")):
        for state in STATES:
            for order in orders:
                for op, (_, fam) in OPS.items():
                    if fam == family:
                        out.append(Case(op, state, order, at.format(s=state)))
    for state in ("jump", "current", "stale"):  # the lev/ path: lev/jump → lev/current → lev/stale
        for kind in KINDS:
            for order in orders:
                for op, (_, fam) in OPS.items():
                    if fam == kind:
                        out.append(Case(op, state, order, f"lev/{state}/{kind}"))
    return out


def run(build: MaxBuild, case: Case) -> Outcome:
    """Goes to the case's state and measures its operation there."""
    build.tree.goto(case.at)
    fn, _ = OPS[case.op]
    out = fn(build, case.order)
    out.op, out.state = case.op, case.state
    return out


# --- The benchmark ---


KIND_LABELS = {
    "partial": "A below MM with E ≥ ½·MM",
    "full": "A below MM with 0 < E < ½·MM",
    "insolvent": "A insolvent",
}
LIQUIDATION_STATE_LABELS = {
    "current": "arrays current (keepers refreshed after the jump)",
    "stale": "arrays stale (a further round at the jump's prices)",
    "jump": "arrays stale (the jump's round: spots −10%, vols ×2)",
}


def workload(o: Outcome) -> str:
    """Where an outcome was measured, in words."""
    family = OPS[o.op][1]
    if family in KINDS:
        where = f"{KIND_LABELS[family]} after the jump, {LIQUIDATION_STATE_LABELS[o.state]}"
    else:
        where = STATE_LABELS[o.state]
        if family == "expiry":
            where += ", after the first expiry"
    if o.how == "estimate":
        where += " (eth_estimateGas)"
    return f"{o.order} expiries, {where}"


def _row(o: Outcome) -> dict:
    from keel.bench.gas import MAX_ACCOUNT

    return {
        "section": MAX_ACCOUNT,
        "operation": o.op,
        "workload": workload(o),
        "gas": int(o.gas or 0),
        "goal": o.bound,
        "error": o.error if not o.ok else "",
    }


def _status(o: Outcome) -> str:
    if o.ok:
        return "met" if o.met else "not met"
    return f"not met ({o.error})"


def measure_all(verbose: bool = True, orders=ORDERS) -> tuple[MaxBuild, list[Outcome]]:
    """Build once, then measure every case; returns the build and the outcomes. brownie's
    per-transaction lines are silenced; `verbose` prints the table as it goes."""
    import contextlib
    import os
    import sys

    out = sys.stdout

    def say(line: str) -> None:
        if verbose:
            print(line, file=out, flush=True)

    outcomes = []
    with open(os.devnull, "w") as null, contextlib.redirect_stdout(null):
        build = build_max_accounts(orders)
        define_states(build)
        say(f"built the maximal accounts in {build.build_seconds:.0f} s")
        say(f"{'operation':<36}{'order':<13}{'state':<9}{'gas':>12}{'limit':>12}  status")
        for case in cases(orders):
            o = run(build, case)
            outcomes.append(o)
            gas = f"{o.gas:,}" if o.gas is not None else "-"
            say(f"{o.op:<36}{o.order:<13}{o.state:<9}{gas:>12}{o.bound:>12,}  {_status(o)}")
    return build, outcomes


def notes(build: MaxBuild) -> list[str]:
    return [
        "The maximal account A: 4 underlyings × 16 option series over 4 expiries (64 series, "
        "all short) + 4 perps (long) + 8 collateral tokens (the Vault's per-account limit, beside "
        "USDC cash). Fills are against C (A's mirror, equally maximal); bids by B (the same book "
        "at half size: it takes A's positions into slots it already has and stays within the "
        "limits) and by a fresh bidder holding only USDC (every position it takes is new "
        "storage). Built once per slot order (grouped: an underlying's series expiry by expiry; "
        "interleaved: consecutive series alternate expiries, defeating the per-expiry "
        f"Black-Scholes grid cache) in {build.build_seconds:.0f} s; states are evm snapshots.",
        "Liquidation states: A levered to AE = 1.02·IM, then a jump (spots −10%, vols ×2) leaves "
        "it insolvent; USDC deposited after the jump (no prices needed) makes it solvent below "
        "MM. Bids and endAuction follow a startAuction in the same state; endAuction follows a "
        "deposit that cures A. Transactions are sent with gas limit 16,777,216: gas = receipts' "
        "gasUsed (a transaction that ran out of gas shows what it used, about the cap); "
        "marginBreakdown is eth_estimateGas.",
    ]


def measure(verbose: bool = True):
    """Rows and notes for keel.bench.gas (section "Max account")."""
    build, outcomes = measure_all(verbose)
    return [_row(o) for o in outcomes], notes(build)


def main() -> int:
    import warnings

    from keel.chain import connect

    warnings.simplefilter("ignore", FutureWarning)  # brownie's note on rpc.snapshot
    connect()
    t0 = time.monotonic()
    measure_all(verbose=True)
    print(f"total {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
