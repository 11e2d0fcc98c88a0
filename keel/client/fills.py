"""The engine's fill rules on an account's chain state (keel.risk.chain_inputs ints), for what-if.

What `MarginEngine.executeFill` does to one side of a fill, written from SPEC §4-§5, not ported:
- a perp fill realises the position's PnL at the fill price and its funding owed into cash, and the
  whole position then stands at entry = the fill price with nothing owed;
- an option fill moves the premium ceil(price·|q|) from buyer to seller;
- both pay a fee of ceil(S·|q|·rate) (rate: the maker's or the taker's), an option's capped at
  optionFeeCap of its premium.
Every division rounds as the engine's does (floor toward −∞ for PnL, up for fees and premiums),
so what-if figures agree with the chain's after the fill to the wei of their inputs.
"""

from __future__ import annotations

WAD = 10**18


def mul_wad_floor(a: int, b: int) -> int:
    """floor(a·b / 1e18), toward −∞."""
    return (a * b) // WAD


def ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def fee(notional: int, rate: int, premium: int | None) -> int:
    """ceil(notional·rate / 1e18), an option's at most optionFeeCap·premium (caller caps)."""
    return ceil_div(notional * rate, WAD)


def apply_trade(
    account: dict,
    size: int,
    price: int,
    spot: int,
    series: dict | None,
    feed: int,
    funding_index: int,
    fees: dict,
    role: str = "taker",
) -> int:
    """Apply a fill of `size` [wad units, the account's side] at `price` [wad USD] to `account`
    in place; returns the fee charged [wad USD]. `series`: the option series (chain_inputs shape
    plus "seriesId"), None for the perp of `feed`, whose funding index accrued to now is
    `funding_index`. `fees`: {"maker", "taker", "option_cap"} [wad]."""
    if role not in ("maker", "taker"):
        raise ValueError(f"role must be maker or taker, got {role!r}")
    notional = spot * abs(size) // WAD  # S·|q|                                    [wad USD]
    charged = fee(notional, fees[role], None)
    if series is None:
        perps = account["perps"]
        p = next((x for x in perps if x["feedId"] == feed), None)
        if p is None:
            p = {"feedId": feed, "size": 0, "entryPrice": 0, "fundingIndexAtEntry": funding_index,
                 "fundingOwed": 0}  # fmt: skip
            perps.append(p)
        realised = mul_wad_floor(p["size"], price - p["entryPrice"]) - p["fundingOwed"]
        p.update(size=p["size"] + size, entryPrice=price, fundingIndexAtEntry=funding_index,
                 fundingOwed=0)  # fmt: skip
        if p["size"] == 0:
            perps.remove(p)
        account["cash"] += realised
    else:
        opts = account["options"]
        o = next((x for x in opts if x["seriesId"] == series["seriesId"]), None)
        if o is None:
            o = {k: series[k] for k in ("feedId", "expiry", "isCall", "strike", "seriesId")}
            o["size"] = 0
            opts.append(o)
        o["size"] += size
        if o["size"] == 0:
            opts.remove(o)
        premium = ceil_div(price * abs(size), WAD)  # rounded against the buyer   [wad USD]
        account["cash"] += -premium if size > 0 else premium
        charged = min(charged, premium * fees["option_cap"] // WAD)
    account["cash"] -= charged
    return charged
