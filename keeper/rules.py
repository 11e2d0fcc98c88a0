"""The keeper's decision rules (SPEC §7), as pure functions of plain numbers (USD floats).

Start. An auction is started on every account the chain itself reports below maintenance
(AE < MM) with fresh feeds: an account left below MM is a risk to everyone (INV-3), whether or not
the start pays. The keeper fee is min($5, max(E, 0)) (SPEC §7 [v2]: never above the account's
positive equity, so the insurance fund never pays it): it pays for the gas on ordinary accounts,
and may be nothing on dust or bankrupt ones. The model only chooses which accounts to ask the
chain about.

End. An auction whose account is cured (AE >= IM on chain) is ended. A bid that reaches an account
cured after it was quoted ends the auction too and buys nothing (SPEC §7 [v2]; keeper.keeper
reads that from the receipt and does not retry).

Solvent bid (E > 0). Taking fraction f of the account at discount d gives the keeper f of every
balance and position (worth f·E at mark) for a payment f·E·(1 − d) to the account and a penalty
p·f·E to the insurance fund. d and f_max are the liquidator's views (`currentDiscount`,
`maxFraction`), which give what a bid gets: d(t) while AE < MM, the start discount once AE >= MM
(INV-8: an auction left running through a cure sells a relapsed account at 5%, not at the
discount grown since its start), so the price guard below is set on what the chain charges.
The keeper bids when

    profit(f) = f·E·(d − p)  −  gas  −  k·max(0, ΔIM(f))  >=  min_profit

where gas is the bid's gas in USD, ΔIM(f) the increase of the keeper's own IM once it holds the
slice (reference model, `keeper.model.absorb`), and k the risk charge per USD of IM taken on (the
price of carrying the risk until it is hedged. Default 1%: IM is a two-day 99.5% loss, so the
99.5% loss over the ~10 minutes a hedge takes is about √(10 min / 2 days) ≈ 6% of IM, and its
expected cost a fraction of that. The insolvency bonus is at most 5% of MM = 4% of IM, so a charge
of 4% or more would leave insolvent auctions to the socialisation they exist to avoid). f is the
largest fraction the auction allows (f_max, `maxFraction`) that the keeper's account can carry with
AE_after >= (1 + buffer)·IM_after; since profit grows with f (the gas is fixed), the largest
carriable f is the best one. The chain checks the keeper's IM again when the bid executes.

Insolvent bid (E <= 0). The keeper takes the whole portfolio (worth E <= 0) and receives
−E + bonus(t) (bonus = rate·MM·min(1, t / period)), so

    profit = bonus  −  gas  −  k·max(0, ΔIM)  >=  min_profit.

What the insurance fund cannot pay is socialised, and still reaches the bidder: the receipt is
guarded by `minReceipt`, so the keeper never takes the portfolio for less than it priced.

Dust. An account whose whole portfolio may be taken (f = 1: E < ½·MM, or insolvent) but is too
small for any discount to pay the gas would otherwise sit below MM until it becomes bad debt. The
keeper clears it anyway when the loss is at most `max_subsidy` (default $5, the most an auction
start earns; since SPEC v2 the start of a dust account earns only its positive equity, so this is
a budget for keeping the book clean, not a fee passed on): profit >= −max_subsidy with f = 1 is
logged as "clears-dust".

Front-running guards: every bid names the auction id read with the quote; a solvent bid caps the
payment per unit fraction at E·(1 − d)·(1 + slippage) (a higher E or a lower discount at execution
reverts instead of costing more); an insolvent bid asks for at least (−E + bonus)·(1 − slippage).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

WAD = 10**18


@dataclass(frozen=True)
class BidParams:
    penalty: float = 0.02  # p: liquidation penalty rate (SPEC §7 default)            [fraction]
    min_profit: float = 1.0  # required profit net of gas and risk charge             [USD]
    risk_charge: float = 0.01  # k: charge per USD of incremental IM taken on          [fraction]
    im_buffer: float = 0.10  # keeper keeps AE_after >= (1 + buffer)·IM_after          [fraction]
    slippage: float = 0.01  # tolerance of the price guards                            [fraction]
    bonus_rate: float = 0.05  # insolvent bonus at its cap, of the portfolio's MM     [fraction]
    bonus_period: float = 3600.0  # time for the bonus to reach its cap                 [s]
    min_fraction: float = 1e-4  # below this a solvent bid is not worth a transaction   [fraction]
    max_subsidy: float = 5.0  # loss accepted to clear a whole account (dust)             [USD]


DEFAULT_PARAMS = BidParams()


@dataclass(frozen=True)
class Carry:
    """The keeper's margin once it holds a slice (reference model what-if), USD."""

    im_before: float
    im_after: float
    ae_after: float

    @property
    def delta_im(self) -> float:
        return self.im_after - self.im_before

    def carries(self, buffer: float) -> bool:
        return self.ae_after >= (1.0 + buffer) * self.im_after


@dataclass(frozen=True)
class Quote:
    """A bid decision with every figure that went into it (logged as is)."""

    kind: str  # "solvent" | "insolvent"
    bid: bool
    reason: str
    fraction: float = 0.0  # f                                                     [fraction]
    gross: float = 0.0  # f·E·(d − p) or the bonus                                  [USD]
    gas_cost: float = 0.0  # [USD]
    risk_cost: float = 0.0  # k·max(0, ΔIM)                                         [USD]
    profit: float = 0.0  # gross − gas − risk                                        [USD]
    delta_im: float = 0.0  # [USD]
    guard: float = 0.0  # maxPaymentPerUnit (solvent) or minReceipt (insolvent)       [USD]

    def guard_wad(self) -> int:
        return int(self.guard * WAD)

    def fraction_wad(self) -> int:
        return min(WAD, int(self.fraction * WAD))


def solvent_profit(equity: float, discount: float, fraction: float, params: BidParams) -> float:
    """Gross profit f·E·(d − p) of a solvent bid, before gas and the risk charge [USD]."""
    return fraction * equity * (discount - params.penalty)


def insolvent_bonus(mm: float, elapsed: float, params: BidParams) -> float:
    """bonus(t) = rate·MM·min(1, t / period) [USD]."""
    return params.bonus_rate * mm * min(1.0, max(0.0, elapsed) / params.bonus_period)


def _verdict(profit: float, fraction: float, params: BidParams) -> tuple[bool, str]:
    if profit >= params.min_profit:
        return True, "profitable"
    if fraction >= 1.0 and profit >= -params.max_subsidy:
        return True, "clears-dust"
    return False, "not-profitable"


def largest_carried_fraction(
    f_max: float, carry: Callable[[float], Carry], buffer: float, steps: int = 14
) -> tuple[float, Carry | None]:
    """Largest f in (0, f_max] the keeper carries (bisection; IM grows with f), and its Carry."""
    top = carry(f_max)
    if top.carries(buffer):
        return f_max, top
    lo, hi, best = 0.0, f_max, None
    for _ in range(steps):
        mid = (lo + hi) / 2
        c = carry(mid)
        if c.carries(buffer):
            lo, best = mid, c
        else:
            hi = mid
    return lo, best


def quote_solvent(
    equity: float,
    discount: float,
    f_max: float,
    gas_cost: float,
    carry: Callable[[float], Carry],
    params: BidParams = DEFAULT_PARAMS,
) -> Quote:
    """Solvent-bid decision (module docstring). `carry(f)` is the keeper's what-if at fraction f."""
    if equity <= 0:
        return Quote("solvent", False, "equity-not-positive")
    if discount <= params.penalty:
        return Quote("solvent", False, "discount-below-penalty")
    f, c = largest_carried_fraction(f_max, carry, params.im_buffer)
    if c is None or f < params.min_fraction:
        return Quote("solvent", False, "keeper-cannot-carry", fraction=f, gas_cost=gas_cost)
    gross = solvent_profit(equity, discount, f, params)
    risk = params.risk_charge * max(0.0, c.delta_im)
    profit = gross - gas_cost - risk
    ok, reason = _verdict(profit, f, params)
    return Quote(
        "solvent",
        ok,
        reason,
        fraction=f,
        gross=gross,
        gas_cost=gas_cost,
        risk_cost=risk,
        profit=profit,
        delta_im=c.delta_im,
        guard=equity * (1.0 - discount) * (1.0 + params.slippage),
    )


def quote_insolvent(
    equity: float,
    bonus: float,
    gas_cost: float,
    carry: Callable[[float], Carry],
    params: BidParams = DEFAULT_PARAMS,
) -> Quote:
    """Insolvent-bid decision (module docstring): the whole portfolio, f = 1, for −E + bonus."""
    if equity > 0:
        return Quote("insolvent", False, "equity-positive")
    c = carry(1.0)
    if not c.carries(params.im_buffer):
        return Quote("insolvent", False, "keeper-cannot-carry", fraction=1.0, gas_cost=gas_cost)
    risk = params.risk_charge * max(0.0, c.delta_im)
    profit = bonus - gas_cost - risk
    ok, reason = _verdict(profit, 1.0, params)
    return Quote(
        "insolvent",
        ok,
        reason,
        fraction=1.0,
        gross=bonus,
        gas_cost=gas_cost,
        risk_cost=risk,
        profit=profit,
        delta_im=c.delta_im,
        guard=max(0.0, (-equity + bonus) * (1.0 - params.slippage)),
    )


def gas_cost_usd(gas: int, gas_price_wei: int, native_usd: float) -> float:
    """Cost of `gas` units at `gas_price_wei`, in USD at the native token's price."""
    return gas * gas_price_wei / 1e18 * native_usd
