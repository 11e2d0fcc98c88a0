"""`keel`: a trader's command line for one Keel deployment (keel.client underneath).

    keel deploy --network anvil-ext                      # the whole system -> .keel/deployment-*.json
    export KEEL_RPC=http://127.0.0.1:8545 KEEL_DEPLOYMENT=.keel/deployment-anvil-ext.json
    export KEEL_KEY=0x...                                # the signing key: environment only
    keel account open
    keel deposit 1 USDC 10000
    keel order sign --maker 1 --instrument BTC --size 0.5 --price 60000 --out o.json
    keel order fill o.json --taker 2
    keel margin 1                                        # breakdown and the scenario grid
    keel whatif 1 --trade BTC 0.5 60000                  # margin after a proposed trade
    keel liqprice 1                                      # where AE = MM, per underlying
    keel params --out risk-params.json                   # every risk parameter
Every command takes --json. Errors are one line on stderr and a non-zero exit (1: refused or
failed, 2: bad usage).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ENV_RPC, ENV_DEPLOYMENT, ENV_KEY = "KEEL_RPC", "KEEL_DEPLOYMENT", "KEEL_KEY"
DEFAULT_RPC = "http://127.0.0.1:8545"
VOL_STATES = ("σ", "σ↑", "σ↓")


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="keel", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1],
    )  # fmt: skip
    ap.add_argument("--rpc", default=os.environ.get(ENV_RPC, DEFAULT_RPC),
                    help=f"JSON-RPC URL (${ENV_RPC}, default {DEFAULT_RPC})")  # fmt: skip
    ap.add_argument("--deployment", default=os.environ.get(ENV_DEPLOYMENT),
                    help=f"deployment address file (${ENV_DEPLOYMENT})")  # fmt: skip
    ap.add_argument("--timeout", type=float, default=10.0, help="RPC timeout per request [s] (10)")
    ap.add_argument("--json", action="store_true", help="machine-readable output")
    sub = ap.add_subparsers(dest="command", required=True, metavar="command")

    d = sub.add_parser("deploy", help="deploy the whole system on a brownie network")
    d.add_argument("--network", default=None, help="brownie network (default: the embedded anvil)")
    d.add_argument("--config", default=None, help="deployment config (config/deploy.yaml)")
    d.add_argument("--out", default=None, help="address file (.keel/deployment-<network>.json)")

    a = sub.add_parser("account", help="open, list, show, operators, transfer")
    asub = a.add_subparsers(dest="action", required=True, metavar="action")
    asub.add_parser("open", help="open an account owned by $KEEL_KEY")
    al = asub.add_parser("list", help="accounts owned by an address (default: $KEEL_KEY's)")
    al.add_argument("--owner", default=None)
    ash = asub.add_parser("show", help="balances and positions")
    ash.add_argument("account", type=int)
    ao = asub.add_parser("operator", help="grant or revoke an operator's rights")
    ao.add_argument("account", type=int)
    ao.add_argument("operator")
    ao.add_argument("--trade", action="store_true", help="may trade for the account")
    ao.add_argument("--withdraw", action="store_true", help="may withdraw for the account")
    at = asub.add_parser("transfer", help="give the account to a new owner")
    at.add_argument("account", type=int)
    at.add_argument("new_owner")

    for name, text in (("deposit", "deposit whole tokens"), ("withdraw", "withdraw whole tokens")):
        p = sub.add_parser(name, help=text)
        p.add_argument("account", type=int)
        p.add_argument("token", help="symbol, e.g. USDC")
        p.add_argument("amount", help="whole tokens, e.g. 1000.5")
        if name == "withdraw":
            p.add_argument("--to", default=None, help="recipient (default: yourself)")

    o = sub.add_parser("order", help="sign, fill or cancel EIP-712 orders")
    osub = o.add_subparsers(dest="action", required=True, metavar="action")
    os_ = osub.add_parser("sign", help="sign a maker order (writes it as JSON)")
    os_.add_argument("--maker", type=int, required=True, help="maker account")
    os_.add_argument("--instrument", required=True, help="BTC, ETH, a feed id or series:<id>")
    os_.add_argument("--size", required=True, help="contracts, + buy / - sell")
    os_.add_argument("--price", required=True, help="limit price [USD per contract]")
    os_.add_argument("--expiry", type=int, default=None, help="unix s (default: in a day)")
    os_.add_argument("--out", default=None, help="file for the signed order (default: stdout)")
    of = osub.add_parser("fill", help="fill a signed order as taker")
    of.add_argument("order", help="signed order file")
    of.add_argument("--taker", type=int, required=True, help="taker account")
    of.add_argument("--amount", default=None, help="contracts to take (default: all)")
    oc = osub.add_parser("cancel", help="cancel a signed order (maker only)")
    oc.add_argument("order", help="signed order file")

    m = sub.add_parser("margin", help="margin breakdown with the scenario grid")
    m.add_argument("account", type=int)
    w = sub.add_parser("whatif", help="margin after proposed trades (nothing is sent)")
    w.add_argument("account", type=int)
    w.add_argument("--trade", nargs=3, action="append", required=True,
                   metavar=("INSTRUMENT", "SIZE", "PRICE"), help="repeat for several")  # fmt: skip
    w.add_argument("--role", choices=("taker", "maker"), default="taker", help="fee rate (taker)")
    lp = sub.add_parser("liqprice", help="spot at which AE = MM, per underlying")
    lp.add_argument("account", type=int)
    lp.add_argument("--underlying", default=None, help="one underlying (default: all held)")
    sub.add_parser("auctions", help="running liquidation auctions")
    pp = sub.add_parser("params", help="every risk parameter as a JSON risk-parameter file")
    pp.add_argument("--out", default=None, help="write it to this file")
    b = sub.add_parser("bid", help="bid on an account in auction")
    b.add_argument("account", type=int)
    b.add_argument("--bidder", type=int, required=True, help="your account taking the portfolio")
    b.add_argument("--fraction", default=None, help="0 < f <= 1 (solvent bid)")
    b.add_argument("--max-price", default=None, help="most to pay per unit fraction [USD]")
    b.add_argument("--insolvent", action="store_true", help="take an insolvent account whole")
    s = sub.add_parser("settle", help="settle an expired option position")
    s.add_argument("account", type=int)
    s.add_argument("series", type=int)
    return ap


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    import logging

    # the client's retry records are for services' logs; a person gets the one-line outcome
    logging.getLogger("keel.client").setLevel(logging.CRITICAL)
    try:
        out = _run(args)
    except KeyboardInterrupt:
        print("keel: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - every failure is one line, never a traceback
        print(f"keel: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    if out is not None:
        if args.json:
            print(json.dumps(out, indent=2, default=str))
        else:
            print(_text(args, out))
    return 0


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _client(args, signing: bool = False):
    from keel.client import ClientError, Keel

    if not args.deployment:
        raise ClientError(f"no deployment: pass --deployment FILE or set ${ENV_DEPLOYMENT}")
    key = os.environ.get(ENV_KEY)
    if signing and not key:
        raise ClientError(f"this command signs: set ${ENV_KEY} to your private key")
    state = None
    if key:
        from eth_account import Account

        address = Account.from_key(key).address
        state = Path(".keel") / f"client-{address.lower()}.json"  # the sender's write-ahead record
    return Keel(args.rpc, args.deployment, key, state_file=state, timeout=args.timeout)


def _run(args):
    cmd = args.command
    if cmd == "deploy":
        from keel.chain import connect
        from keel.deploy import deploy_from_cli

        connect(args.network)
        d = deploy_from_cli(args.config, args.out)
        return None if not args.json else d.addresses()
    signing = (cmd in ("deposit", "withdraw", "bid", "settle")
               or (cmd == "account" and args.action in ("open", "operator", "transfer"))
               or (cmd == "order"))  # fmt: skip
    k = _client(args, signing)
    if cmd == "account":
        if args.action == "open":
            return {"account": k.open_account(), "owner": k.address}
        if args.action == "list":
            return {"owner": args.owner or k._need_key(), "accounts": k.accounts(args.owner)}
        if args.action == "show":
            return k.account(args.account)
        if args.action == "operator":
            sent = k.set_operator(args.account, args.operator, args.trade, args.withdraw)
            return {"tx": sent.tx, "operator": args.operator, "trade": args.trade,
                    "withdraw": args.withdraw}  # fmt: skip
        sent = k.transfer_account(args.account, args.new_owner)
        return {"tx": sent.tx, "account": args.account, "owner": args.new_owner}
    if cmd == "deposit":
        sent = k.deposit(args.account, args.token, args.amount)
        return {"tx": sent.tx, "account": args.account, "deposited": f"{args.amount} {args.token}"}
    if cmd == "withdraw":
        sent = k.withdraw(args.account, args.token, args.amount, args.to)
        return {"tx": sent.tx, "account": args.account, "withdrew": f"{args.amount} {args.token}"}
    if cmd == "order":
        return _order(k, args)
    if cmd == "margin":
        return k.margin(args.account).as_dict()
    if cmd == "whatif":
        from keel.client import Trade

        trades = [Trade(i, s, p, args.role) for i, s, p in args.trade]
        return k.what_if(args.account, trades).as_dict()
    if cmd == "liqprice":
        feeds = ([args.underlying] if args.underlying
                 else sorted({u["feed_id"] for u in k.margin(args.account).as_dict()["underlyings"]}))  # fmt: skip
        return {"account": args.account,
                "underlyings": [k.liquidation_price(args.account, f).__dict__ for f in feeds]}  # fmt: skip
    if cmd == "auctions":
        return {"auctions": k.auctions()}
    if cmd == "params":
        p = k.params()
        if args.out:
            Path(args.out).write_text(json.dumps(p, indent=2) + "\n")
            return {"written": args.out, "block": p["block"]}
        return p
    if cmd == "bid":
        if args.insolvent:
            sent = k.bid_insolvent(args.account, args.bidder)
        else:
            if args.fraction is None:
                from keel.client import ClientError

                raise ClientError("bid: give --fraction (or --insolvent)")
            sent = k.bid(args.account, args.bidder, args.fraction, args.max_price)
        return {"tx": sent.tx, "account": args.account, "bidder": args.bidder}
    if cmd == "settle":
        sent = k.settle(args.account, args.series)
        return {"tx": sent.tx, "account": args.account, "series": args.series}
    raise AssertionError(cmd)  # pragma: no cover - argparse allows only the above


def _order(k, args):
    from keel.client import ClientError
    from keel.eip712 import Signature
    from keel.orders import Order

    if args.action == "sign":
        order, sig = k.order(args.maker, args.instrument, args.size, args.price,
                             expiry=args.expiry)  # fmt: skip
        doc = {"order": order.message(), "signature": {"v": sig.v, "r": "0x" + bytes(sig.r).hex(),
                                                       "s": "0x" + bytes(sig.s).hex()},
               "chain_id": k.chain_id, "exchange": k.addresses["exchange"]}  # fmt: skip
        doc["order"] = {key: str(v) for key, v in doc["order"].items()}
        if args.out:
            Path(args.out).write_text(json.dumps(doc, indent=2) + "\n")
            return {"written": args.out}
        return doc
    path = Path(args.order)
    if not path.is_file():
        raise ClientError(f"{path}: no such order file")
    try:
        doc = json.loads(path.read_text())
        o = doc["order"]
        order = Order(int(o["makerAccount"]), int(o["instrument"]), int(o["size"]),
                      int(o["limitPrice"]), int(o["nonce"]), int(o["expiry"]), int(o["salt"]))  # fmt: skip
        sig = Signature(int(doc["signature"]["v"]), bytes.fromhex(doc["signature"]["r"][2:]),
                        bytes.fromhex(doc["signature"]["s"][2:]))  # fmt: skip
    except (ValueError, KeyError, TypeError) as exc:
        raise ClientError(
            f"{path}: not a signed order file ({type(exc).__name__}: {exc})"
        ) from None
    if int(doc.get("chain_id", k.chain_id)) != k.chain_id:
        raise ClientError(f"{path}: signed for chain {doc['chain_id']}, not {k.chain_id}")
    if args.action == "fill":
        sent = k.fill(order, sig, args.taker, args.amount)
        return {"tx": sent.tx, "taker": args.taker, "gas_used": sent.gas_used}
    sent = k.cancel(order)
    return {"tx": sent.tx, "cancelled": True}


# --- text rendering ---


def _text(args, out: dict) -> str:
    if args.command == "margin":
        return _margin_text(out)
    if args.command == "whatif":
        return _whatif_text(out)
    if args.command == "liqprice":
        lines = [f"account {out['account']}"]
        for u in out["underlyings"]:
            below = f"{u['below']:,.2f}" if u["below"] is not None else "none"
            above = f"{u['above']:,.2f}" if u["above"] is not None else "none (to 10x)"
            now = "  LIQUIDATABLE NOW" if u["liquidatable_now"] else ""
            lines.append(f"  {u['symbol']:<5} spot {u['spot']:>14,.2f}   liquidation below "
                         f"{below}   above {above}{now}")  # fmt: skip
        return "\n".join(lines)
    return "\n".join(f"{k}: {v}" for k, v in out.items()) if isinstance(out, dict) else str(out)


def _scenario_label(j: int) -> str:
    if j < 27:
        return f"x={(j % 9 - 4):+d}R/4 {VOL_STATES[j // 9]}"
    return {27: "x=+2R σ↑ ext", 28: "x=+3R σ↑ ext", 29: "x=-2R σ↑ ext", 30: "x=-3R σ↑ ext"}[j]


def _margin_text(m: dict) -> str:
    lines = [
        f"account {m['account']}" + ("   LIQUIDATABLE (AE < MM)" if m["liquidatable"] else ""),
        f"  equity E            {m['equity']:>16,.2f}",
        f"  adjusted equity AE  {m['adjusted_equity']:>16,.2f}",
        f"  initial margin IM   {m['initial_margin']:>16,.2f}   = max(SR, SOM)",
        f"  maintenance MM      {m['maintenance_margin']:>16,.2f}",
        f"  scan risk SR        {m['scan_risk']:>16,.2f}   joint loss L_J {m['joint_loss']:,.2f}"
        f" (worst scenario {m['joint_worst']})",
        f"  correlated loss L_ρ {m['correlated_loss']:>16,.2f}"
        + ("" if m["correlated_loss"] else "   (not needed: L_J = Σ L_u)"),
        f"  short-option min    {m['short_option_minimum']:>16,.2f}",
        f"  excess AE - IM      {m['excess']:>16,.2f}",
    ]
    us = m["underlyings"]
    if us:
        lines.append("")
        lines.append("  underlying   scan range        loss L_u   worst")
        for u in us:
            lines.append(f"  {u['symbol']:<10} {u['scan_range']:>11.2%} {u['loss']:>15,.2f}"
                         f"   {u['worst']:>5}")  # fmt: skip
        lines.append("")
        head = (
            "  scenario j          " + "".join(f"{u['symbol']:>14}" for u in us) + "         joint"
        )
        lines.append(head)
        for j in range(31):
            vals = [u["pnl"][j] for u in us]
            mark = " <" if j == m["joint_worst"] else ""
            lines.append(f"  {j:>2} {_scenario_label(j):<16}" + "".join(f"{v:>14,.2f}" for v in vals)
                         + f"{sum(vals):>14,.2f}{mark}")  # fmt: skip
    return "\n".join(lines)


def _whatif_text(w: dict) -> str:
    b, a, c = w["before"], w["after"], w["chain_after"]
    rows = [("equity", "equity"), ("adjusted equity", "adjusted_equity"),
            ("initial margin", "initial_margin"), ("maintenance", "maintenance_margin"),
            ("scan risk", "scan_risk"), ("short-option min", "short_option_minimum")]  # fmt: skip
    lines = [f"account {w['account']}: " + ", ".join(
        f"{t['size']} {t['instrument']} @ {t['price']} ({t['role']})" for t in w["trades"])]  # fmt: skip
    head = f"  {'':<18}{'before':>16}{'after':>16}{'change':>16}"
    lines.append(head + (f"{'chain (lens)':>16}" if c else ""))
    for label, key in rows:
        line = f"  {label:<18}{b[key]:>16,.2f}{a[key]:>16,.2f}{a[key] - b[key]:>16,.2f}"
        lines.append(line + (f"{c[key]:>16,.2f}" if c else ""))
    lines.append(f"  AE {'≥' if w['passes_im'] else '<'} IM after (before/after: reference model"
                 + ("; chain: the MarginLens view)" if c else ")"))  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
