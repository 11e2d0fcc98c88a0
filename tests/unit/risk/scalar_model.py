"""A slow, plain-Python SPEC §6 model of ONE account: the tests' independent check of keel.risk.

Written straight from SPEC §6 and DESIGN.md with `math` only (no numpy, no scipy, no keel.risk
helpers apart from the input dataclasses): loops over underlyings, scenarios and positions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from keel.risk.model import Account, MarketState

YEAR = 365 * 86400


def norm_cdf(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def bs(spot: float, strike: float, vol: float, tau: float, is_call: bool) -> float:
    if tau <= 0.0 or vol <= 0.0:
        return max(spot - strike, 0.0) if is_call else max(strike - spot, 0.0)
    s = vol * math.sqrt(tau)
    d1 = (math.log(spot / strike) + 0.5 * s * s) / s
    d2 = d1 - s
    if is_call:
        v = spot * norm_cdf(d1) - strike * norm_cdf(d2)
    else:
        v = strike * norm_cdf(-d2) - spot * norm_cdf(-d1)
    return max(v, 0.0)


def scenario(j: int, r: float, p) -> tuple[float, int, float]:
    """(spot fraction x, vol state 0/1/2, weight) of scenario index j (DESIGN.md order)."""
    if j < 27:
        v, i = divmod(j, 9)
        return r * (i - 4) / 4.0, v, 1.0
    ext = {
        27: 2 * r,
        28: 3 * r,
        29: -min(2 * r, p.extended_cap),
        30: -min(3 * r, p.extended_cap),
    }
    return ext[j], 1, p.extended_weight


@dataclass
class ScalarMargin:
    equity: float
    adjusted_equity: float
    im: float
    mm: float
    scan_risk: float
    som: float
    joint_loss: float
    joint_worst: int
    losses: dict  # feed -> L_u
    worsts: dict  # feed -> worst j
    pnl: dict  # feed -> [P_u(j)]
    joint_pnl: list


def margin_one_account(market: MarketState, acc: Account) -> ScalarMargin:
    p = market.params
    feeds = [int(f) for f in market.feed_ids]
    spot = {f: float(market.spot[i]) for i, f in enumerate(feeds)}
    vol = {f: float(market.vol[i]) for i, f in enumerate(feeds)}
    t_obs = {f: float(market.observed_at[i]) for i, f in enumerate(feeds)}
    tokens = {t.name: t for t in market.tokens}

    def settled_price(o):
        if o.expiry <= t_obs[o.feed]:
            return market.settlement_prices.get((o.feed, o.expiry))
        return None

    def tau_of(o):
        return max(0.0, o.expiry - t_obs[o.feed]) / YEAR

    # --- equity ---
    equity = acc.cash
    haircut = market.settlement_haircut * max(acc.cash, 0.0)  # USDC haircut on positive cash
    for name, amount in acc.collateral.items():
        t = tokens[name]
        h = t.h0
        if t.linked_feed:
            h = min(t.h_max, t.h0 * max(1.0, vol[t.linked_feed] / t.sigma_ref))
        equity += amount * t.price
        haircut += amount * t.price * h
    for pp in acc.perps:
        equity += pp.size * (spot[pp.feed] - pp.entry) - pp.funding_owed
    for o in acc.options:
        sp = settled_price(o)
        if sp is not None:
            equity += o.size * (max(sp - o.strike, 0) if o.is_call else max(o.strike - sp, 0))
        else:
            equity += o.size * bs(spot[o.feed], o.strike, vol[o.feed], tau_of(o), o.is_call)

    # --- scenarios ---
    pnl = {}
    for f in feeds:
        r = min(max(2.576 * vol[f] * math.sqrt(2.0 / 365.0), p.r_min), p.r_max)
        row = []
        for j in range(31):
            x, vstate, w = scenario(j, r, p)
            total = 0.0
            for pp in acc.perps:
                if pp.feed == f:
                    total += pp.size * spot[f] * x
            for name, amount in acc.collateral.items():
                if tokens[name].linked_feed == f:
                    total += amount * tokens[name].price * x
            for o in acc.options:
                if o.feed != f or settled_price(o) is not None:
                    continue
                tau = tau_of(o)
                tau_days = tau * 365.0
                e = 0.30 if tau_days <= 30.0 else 0.13
                m = (30.0 / max(tau_days, 1.0)) ** e
                sig = vol[f]
                sig_j = [sig, max(sig * (1 + 0.5 * m), 0.5), sig * (1 - 0.25 * m)][vstate]
                v_now = bs(spot[f], o.strike, sig, tau, o.is_call)
                v_j = bs(spot[f] * (1 + x), o.strike, sig_j, tau, o.is_call)
                total += o.size * (v_j - v_now)
            row.append(w * total)
        pnl[f] = row

    losses, worsts = {}, {}
    for f in feeds:
        mn = min(pnl[f])
        losses[f] = max(0.0, -mn)
        worsts[f] = pnl[f].index(mn)
    joint = [sum(pnl[f][j] for f in feeds) for j in range(31)]
    joint_loss = max(0.0, -min(joint))
    joint_worst = joint.index(min(joint))
    c = p.correlation_credit
    sr = joint_loss + (1 - c) * (sum(losses.values()) - joint_loss)
    som = 0.0
    for o in acc.options:
        if o.size < 0 and settled_price(o) is None:
            som += p.som_rate * abs(o.size) * spot[o.feed]
    im = max(sr, som)
    return ScalarMargin(
        equity=equity,
        adjusted_equity=equity - haircut,
        im=im,
        mm=p.mm_ratio * im,
        scan_risk=sr,
        som=som,
        joint_loss=joint_loss,
        joint_worst=joint_worst,
        losses=losses,
        worsts=worsts,
        pnl=pnl,
        joint_pnl=joint,
    )
