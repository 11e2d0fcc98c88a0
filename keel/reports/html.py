"""The report page: one self-contained HTML file (inline CSS, no scripts) beside its PNGs.

`render(report)` turns the JSON twin built by `keel.reports.report.build` into HTML, so the page shows
nothing the JSON does not hold.

Stress slot. The chain simulation (not part of this package) fills it by writing
`reports/simulation.json` before the report runs. Every key is optional; the page shows:
  - "summary": {name: number or text}: a two-column table; `bad_debt` (USD) decides the goal
    "zero bad debt in the default crash run" (also read at the top level);
  - any other key holding a list of objects (e.g. "auctions": [{"account": 7, "start_price": ...,
    "duration_s": ...}, ...], "liquidations": [...]): one table per key, columns from the objects;
  - "series": {"t": [...], "<name>": [...], ...} with optional "t_label"/"y_label": a chart of every
    list as long as "t" (e.g. system equity, IM, MM, insurance fund through time);
  - "notes": text shown above the tables.
Without the file the slot says so and the goal is reported as not measured.
"""

from __future__ import annotations

import html
import re

CSS = """
body { font: 14px/1.45 -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #222;
       max-width: 1300px; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; margin: 0.8em 0; font-size: 0.92em; max-width: 100%; }
table.wide { table-layout: fixed; width: 100%; }
th, td { border: 1px solid #ddd; padding: 3px 6px; text-align: right; vertical-align: top;
         overflow-wrap: break-word; }
th { background: #f3f5f8; font-weight: 600; } td.l, th.l, .tl { text-align: left; }
tr.goalh td { background: #f4f8ff; }
.met { background: #e3f4e3; } .missed { background: #fbe3e1; } .na { background: #f2f2f2; }
.green { color: #2e7d32; font-weight: 600; } .yellow { color: #b08900; font-weight: 600; }
.red { color: #c62828; font-weight: 600; }
.slot { border: 2px dashed #999; padding: 0.8em 1em; background: #fafafa; overflow-x: auto; }
.quick { border: 2px solid #c62828; background: #fdeceb; padding: 0.6em 1em; font-weight: 600; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
code { background: #f3f3f3; padding: 0 3px; overflow-wrap: anywhere; }
.small { font-size: 0.88em; color: #555; }
"""


LEFT = ' class="l"'
WIDE_COLUMNS = 6  # a table of the simulation's with more columns takes the fixed, wrapping layout
QUICK_BANNER = (
    "<p class='quick'>QUICK RUN: the stress figures below come from a <code>--quick</code> smoke "
    "run of the simulation (fewer days and accounts), not from the default run. A quick run writes "
    "its own folder and never the committed default report.</p>"
)


def esc(x) -> str:
    return html.escape(str(x))


def usd(x, digits: int = 0) -> str:
    return "–" if x is None else f"${x:,.{digits}f}"


def pct(x, digits: int = 1) -> str:
    return "–" if x is None else f"{x:.{digits}%}"


def num(x, fmt: str = ".3g") -> str:
    return "–" if x is None else format(x, fmt)


def subscripts(x) -> str:
    """esc(x) with the JSON's plain-text subscripts shown as HTML: L_ρ → L<sub>ρ</sub>."""
    return re.sub(r"\b([A-Za-zσρ])_(\w+)", r"\1<sub>\2</sub>", esc(x))


def table(
    header: list[str],
    rows: list[list],
    left: int = 1,
    wide: bool = False,
    row_class: list[str] | None = None,
    widths: list[int] | None = None,
) -> str:
    """An HTML table; cells are already HTML, or (html, colspan) to span columns; the first `left`
    columns are left-aligned. `wide`: a fixed layout at the page's width, its cells wrapping (for
    tables with many columns, so the page never scrolls sideways); `row_class`: a class per row;
    `widths`: the columns' shares of a wide table [%] (default: equal)."""

    def cells(tag, values):
        out, col = [], 0
        for v in values:
            text, span = v if isinstance(v, tuple) else (v, 1)
            attrs = (LEFT if col < left else "") + (f' colspan="{span}"' if span > 1 else "")
            out.append(f"<{tag}{attrs}>{text}</{tag}>")
            col += span
        return "".join(out)

    classes = row_class or [""] * len(rows)
    body = "".join(
        (f"<tr class='{c}'>" if c else "<tr>") + cells("td", r) + "</tr>"
        for r, c in zip(rows, classes, strict=True)
    )
    opening = "<table class='wide'>" if wide else "<table>"
    if widths:
        if len(widths) != len(header):
            raise ValueError(f"{len(widths)} column widths for {len(header)} columns")
        opening += "<colgroup>" + "".join(f"<col style='width:{w}%'>" for w in widths)
        opening += "</colgroup>"
    return f"{opening}<tr>{cells('th', header)}</tr>{body}</table>"


def markdown(text: str) -> str:
    """The small Markdown subset of the benchmark files: headings, pipe tables, paragraphs, code."""

    def inline(s: str) -> str:
        s = esc(s)
        s = re.sub(r"`([^`]+)`", r"<code>\1</code>", s)
        return re.sub(r"\*\*([^*]+)\*\*", r"<b>\1</b>", s)

    out, para, rows = [], [], []

    def flush():
        if para:
            out.append(f"<p>{inline(' '.join(para))}</p>")
            para.clear()
        if rows:
            body = [r for r in rows if not re.fullmatch(r"\|?[\s:|-]+\|?", r)]
            split = [[c.strip() for c in r.strip().strip("|").split("|")] for r in body]
            if split:
                out.append(
                    table(
                        [inline(c) for c in split[0]],
                        [[inline(c) for c in r] for r in split[1:]],
                    )
                )
            rows.clear()

    for line in text.splitlines():
        s = line.strip()
        if s.startswith("|"):
            if para:
                flush()
            rows.append(s)
        elif not s:
            flush()
        elif m := re.match(r"(#{1,6})\s+(.*)", s):
            flush()
            level = min(len(m.group(1)) + 2, 6)  # the page's own h1/h2 stay above
            out.append(f"<h{level}>{inline(m.group(2))}</h{level}>")
        else:
            if rows:
                flush()
            para.append(s)
    flush()
    return "\n".join(out)


def _goal_class(met) -> str:
    return "na" if met is None else ("met" if met else "missed")


def _goal_word(met) -> str:
    return "not measured" if met is None else ("met" if met else "NOT met")


def _zone(zone: str, scaled) -> str:
    return f'<span class="{esc(zone)}">{esc(zone)}</span> ({num(scaled, ".1f")})'


def section_goals(r: dict) -> str:
    rows = "".join(
        f'<tr class="{_goal_class(g["met"])}"><td class="l">{esc(g["goal"])}</td>'
        f'<td class="l"><b>{_goal_word(g["met"])}</b></td><td class="l">{esc(g["measured"])}'
        + (f"<br><span class='small'>{esc(g['detail'])}</span>" if g["detail"] else "")
        + "</td></tr>"
        for g in r["goals"]
    )
    return (
        "<h2>Goals</h2><p>What the issue asks the report to show, as measured on this run. "
        "Parameters are the SPEC defaults throughout; where a goal is missed the reason is given "
        "below, and nothing was tuned to the data.</p>"
        f"<table><tr><th class='l'>goal</th><th class='l'>status</th><th class='l'>measured</th>"
        f"</tr>{rows}</table>"
    )


def section_capital(r: dict) -> str:
    ce = r["capital_efficiency"]
    rows, classes = [], []
    for name, b in ce["books"].items():
        iso = b["isolated_parts"]
        pp = b["portfolio_parts"]
        classes.append("")
        rows.append(
            [
                esc(name),
                usd(b["isolated_im"]),
                f"{usd(iso['options'])} / {usd(iso['perps'])} / {usd(iso['collateral'])}",
                usd(b["simple_cross_im"]),
                usd(b["portfolio_im"]),
                f"{usd(pp['scan_risk'])} / {usd(pp['short_option_minimum'])}",
                f"<b>{pct(b['portfolio_to_isolated'])}</b>",
                pct(b["simple_cross_to_isolated"]),
            ]
        )
        if note := _zero_im_note(r, name, 8):
            rows.append(note)
            classes.append("")
    rules = "".join(f"<li>{esc(x)}</li>" for x in ce["simple_cross_rules"])
    misses = [g for g in r["goals"] if "isolated" in g["goal"] and g["met"] is False]
    why = ""
    if misses:
        why = (
            "<p><b>Why a capital goal is missed.</b> Portfolio IM is max(SR, SOM) with SPEC v2 "
            "§6's SR = min(Σ L<sub>u</sub>, max(L<sub>J</sub> + (1 − c<sub>max</sub>)(Σ "
            "L<sub>u</sub> − L<sub>J</sub>), L<sub>ρ</sub>)): the columns above and the margin "
            "breakdown show which term sets it. A book whose IM is the short-option minimum (1% of "
            "|q|·S per short option) or whose legs sit on different underlyings (the hedge is "
            "credited only as far as the joint moves plausible under the stressed correlation "
            "allow, L<sub>ρ</sub>, and never more than c<sub>max</sub> of Σ L<sub>u</sub> − "
            "L<sub>J</sub>) keeps more IM than its hedge would suggest.</p>"
        )
    return (
        "<h2>Capital efficiency</h2>"
        "<p>Initial margin of every book at the bench market snapshot under three regimes. "
        "<b>Isolated</b>: every position and every risky collateral holding margined alone under "
        "the same SPEC §6 scenario model (a held WETH is a long spot ETH position), summed. "
        "<b>Simple fixed-rate cross margin</b>, the classic rule set:</p>"
        f"<ul>{rules}</ul>"
        "<p><b>Keel portfolio margin</b>: SPEC §6, IM = max(SR, SOM), with the v2 σ_floor (see "
        "<i>Anti-procyclicality</i>; the isolated regime's scan ranges take the same σ_eff) and "
        "the v2 correlation-aware scan risk at the BTC/ETH ρ now (see <i>Margin breakdown</i>). "
        "Haircuts lower adjusted equity alike under every regime and are not part of any IM.</p>"
        + table(
            [
                "book",
                "isolated IM",
                "isolated: options / perps / collateral",
                "simple cross IM",
                "Keel IM",
                "Keel: SR / SOM",
                "Keel / isolated",
                "simple / isolated",
            ],
            rows,
            wide=True,
            row_class=classes,
            widths=[16, 10, 16, 11, 10, 12, 12, 13],
        )
        + why
        + f'<img src="{esc(ce["chart"])}" alt="capital efficiency">'
    )


def _zero_im_note(r: dict, name: str, ncols: int) -> list | None:
    """A full-width row under a book whose IM is zero at the snapshot, saying why (or None)."""
    reason = r.get("margin_breakdown", {}).get("books", {}).get(name, {}).get("zero_im_reason")
    if not reason:
        return None
    return [(f"<span class='small'><b>{esc(name)} has IM $0</b>: {esc(reason)}</span>", ncols)]


def _correlation_text(cor: dict) -> str:
    """ "BTC/ETH ρ = 0.7412 (<estimator>, <date>)": the snapshot's correlation and its source."""
    values = ", ".join(f"{esc(k)} ρ = {v:.4f}" for k, v in cor["rho"].items())
    return f"{values} ({esc(cor['estimator'])}, {esc(cor['date'])})"


def section_breakdown(r: dict) -> str:
    """Every SPEC §6 term of each book at the snapshot, and the scenario heatmap."""
    mb = r["margin_breakdown"]
    cor, cap = mb["correlation"], mb["credit_cap"]
    rows, classes = [], []
    for name, b in mb["books"].items():
        losses = "<br>".join(
            f"{esc(u)}: {usd(v['loss'])} at j = {v['worst']} ({esc(v['worst_label'])}); "
            f"R {pct(v['scan_range'])}, σ {pct(v['vol'], 0)}, σ<sub>eff</sub> {pct(v['vol_eff'], 0)}"
            for u, v in b["underlyings"].items()
        )
        if len(b["underlyings"]) > 1:
            losses += f"<br>Σ L<sub>u</sub> = {usd(b['sum_loss'])}"
        rows.append(
            [
                esc(name),
                usd(b["equity"]),
                usd(b["haircut"]),
                usd(b["adjusted_equity"]),
                f"<div class='tl'>{losses or '–'}</div>",
                f"<div class='tl'>{usd(b['joint_loss'])} at j = {b['joint_worst']} "
                f"({esc(b['joint_worst_label'])})</div>",
                usd(b["sr_floor"]),
                usd(b["correlated_loss"]) if b["correlated_loss_needed"] else "– (not needed)",
                usd(b["scan_risk"]),
                subscripts(b["sr_set_by"]),
                usd(b["som"]),
                f"<b>{usd(b['im'])}</b>",
                esc(b["im_set_by"]),
            ]
        )
        classes.append("")
        if note := _zero_im_note(r, name, 13):
            rows.append(note)
            classes.append("")
    return (
        "<h2>Margin breakdown at the bench snapshot</h2>"
        "<p>Every SPEC §6 term of each book. L<sub>u</sub> is the worst weighted scenario loss on "
        "underlying u alone (its scenario index j and its name: a multiple of the scan range R and the "
        "vol state; ×w marks the extended moves weighted at "
        f"{pct(r['inputs']['margin_params']['extended_weight'], 0)}); L<sub>J</sub> the worst of the "
        "sum over underlyings (the comonotone grid: every underlying moved by the same multiple of "
        "its own R). SR is SPEC v2 §6's correlation-aware rule, as the chain computes it: SR = "
        "min(Σ L<sub>u</sub>, max(SR floor, L<sub>ρ</sub>)) with SR floor = L<sub>J</sub> + (1 − "
        f"c<sub>max</sub>)(Σ L<sub>u</sub> − L<sub>J</sub>), c<sub>max</sub> = {cap:g} (at most "
        f"{pct(cap, 0)} of the diversification benefit credited), and L<sub>ρ</sub> the largest loss "
        "over the joint moves plausible under the stressed correlation ρ<sub>s</sub> (an ellipse "
        "reaching each underlying's own ±R; for linear legs L<sub>ρ</sub> = √(sᵀρ<sub>s</sub>s), "
        f"s<sub>u</sub> = Δ<sub>u</sub>·R<sub>u</sub>). {_correlation_text(cor)}; stressed "
        "ρ<sub>s</sub> = max(2ρ − 1, 0.75ρ) for ρ ≥ 0, max(1.25ρ, −1) for ρ &lt; 0: "
        + ", ".join(f"{esc(k)} {v:.4f}" for k, v in cor["stressed_rho"].items())
        + ". L<sub>ρ</sub> is "
        "needed only where L<sub>J</sub> &lt; Σ L<sub>u</sub>: a book with one underlying has SR = "
        "L<sub>J</sub> = L<sub>u</sub>, and one whose legs lose together (L<sub>J</sub> = Σ "
        "L<sub>u</sub>) has SR = Σ L<sub>u</sub>, at any ρ. IM = max(SR, SOM). The heatmap shows "
        "the 31 weighted scenario P&Ls of every underlying and of their sum, the binding scenario "
        "boxed.</p>"
        + table(
            [
                "book",
                "E",
                "haircuts",
                "AE",
                "L<sub>u</sub> (worst scenario)",
                "L<sub>J</sub> (worst scenario)",
                "SR floor",
                "L<sub>ρ</sub>",
                "SR",
                "SR set by",
                "SOM",
                "IM",
                "IM set by",
            ],
            rows,
            wide=True,
            row_class=classes,
            widths=[11, 6, 5, 6, 20, 11, 6, 6, 6, 8, 4, 5, 6],
        )
        + f'<img src="{esc(mb["chart"])}" alt="scenario P&amp;L heatmap">'
    )


def _rise(x: dict | None) -> str:
    if not x:
        return "–"
    return (
        f"+{pct(x['ratio'])} <span class='small'>({esc(x['start'])} → {esc(x['end'])}: "
        f"{usd(x['im_before'])} → {usd(x['im_after'])})</span>"
    )


def section_procyclicality(r: dict) -> str:
    """σ_floor (where it comes from, what it changes) and the IM rise metrics with and without it."""
    pc = r["procyclicality"]
    fl = pc["vol_floor"]
    params = r["inputs"]["margin_params"]
    ranges = []
    for u, v in fl["vol_floor"].items():
        raw = params["scan_quantile"] * v * (params["scan_horizon_days"] / 365.0) ** 0.5
        if raw <= params["r_min"]:
            effect = (
                f"2.576·σ<sub>floor</sub>·√(2/365) = {pct(raw)} is below R<sub>min</sub> "
                f"{pct(params['r_min'], 0)}, so the floor never moves {esc(u)}'s scan range "
                "(R<sub>min</sub> already holds it higher)"
            )
        else:
            effect = f"{esc(u)}'s scan range is at least {pct(min(raw, params['r_max']))}"
        below = fl["days_below_floor"][u]
        ranges.append(
            f"<li>{esc(u)}: σ<sub>floor</sub> = <b>{pct(v)}</b>; {effect}. The day's EWMA vol is "
            f"below it on {below} of the {fl['tested_days']} tested days.</li>"
        )
    windows = pc["rise_windows_days"]
    rows, classes = [], []
    for name, b in pc["books"].items():
        cells = [esc(name)]
        for key in ("with_floor", "no_floor"):
            m = b[key]
            cells += [_rise(m[f"max_rise_{n}d"]) for n in windows]
            cells.append(num(m["peak_to_trough"], ".2f"))
        rows.append(cells)
        classes.append("")
        if note := _zero_im_note(r, name, 1 + 2 * (len(windows) + 1)):
            rows.append(note)
            classes.append("")
    same = [n for n, b in pc["books"].items() if b["with_floor"] == b["no_floor"]]
    unchanged = (
        f"<p>Identical with and without the floor: {esc(', '.join(same))} (the floor never "
        "changes their IM on a tested day).</p>"
        if same
        else ""
    )
    years = fl["years"]
    rise_w = 70 // (2 * len(windows))  # [%]; 14% for the book, 8% for each peak/trough
    apc_widths = [100 - 16 - 2 * len(windows) * rise_w] + ([rise_w] * len(windows) + [8]) * 2
    return (
        "<h2>Anti-procyclicality</h2>"
        "<p>SPEC v2 §6: the vol that sets the scan ranges and the collateral haircuts is "
        "σ<sub>eff</sub> = max(σ, σ<sub>floor</sub>), so that IM going into a crash is not at its "
        "calm-market low and does not jump several-fold after it. Every section of this report uses "
        "it (the model v2 default). σ<sub>floor</sub> per underlying is the "
        f"{esc(fl['estimator'])}: {esc(fl['first_date'])} to {esc(fl['last_date'])} of "
        f"<code>{esc(fl['prices'])}</code>, {fl['days']} days ({years:.1f} years). EMIR RTS 153/2013 "
        "art. 28(1)(c) and the SPEC ask for at least 10 years where data allows; "
        f"<b>this file is shorter than 10 years</b> ({years:.1f}), so the floor is the mean of a "
        "shorter history. It is one number for the whole backtest, computed from days after each "
        "tested day as well (a floor published live would be the mean up to that day).</p>"
        f"<ul>{''.join(ranges)}</ul>"
        "<p>Metrics of each book's daily IM over the tested days (the backtest's rolling books): "
        "the largest rise of IM over 1 and over 30 days (rows of the file) as a share of the earlier "
        "IM, max over t of (IM(t + n) − IM(t)) / IM(t), with its dates; and IM's peak-to-trough "
        "ratio, max IM / min IM. With the floor beside the same figures without it (the same "
        "correlation-aware rule at the same daily ρ: the two differ by the floor only).</p>"
        + table(
            ["book"]
            + [f"floor: largest {n}-day rise" for n in windows]
            + ["floor: peak / trough"]
            + [f"no floor: largest {n}-day rise" for n in windows]
            + ["no floor: peak / trough"],
            rows,
            wide=True,
            row_class=classes,
            widths=apc_widths,
        )
        + unchanged
    )


def _coverage_row(label: str, c: dict) -> list[str]:
    return [
        esc(label),
        str(c["n"]),
        str(c["exceptions"]),
        pct(c["exception_rate"], 2),
        num(c["binomial_p_coverage_ge_99"]),
        num(c["kupiec_lr"], ".2f"),
        num(c["kupiec_p"]),
        _zone(c["traffic_light"], c["exceptions_per_250"]),
        "pass" if c["passes"] else "<b>reject</b>",
    ]


COVERAGE_HEADER = [
    "sample",
    "n",
    "exceptions",
    "rate",
    "binomial p (cov ≥ 99%)",
    "Kupiec LR",
    "Kupiec p",
    "zone (x per 250)",
    "coverage ≥ 99%",
]


def _largest_exception(h: dict) -> str:
    if not h["largest_exceptions"]:
        return "none"
    e = h["largest_exceptions"][0]
    return f"{esc(e['date'])}: {usd(e['loss'])} vs IM {usd(e['im'])}"


def _test_counts(h: dict) -> str:
    return " / ".join(
        f"{c['exceptions']}/{c['n']}" for c in h["non_overlapping_phases"] or [h["all_windows"]]
    )


def section_backtest(r: dict) -> str:
    bt = r["backtest"]
    inputs = r["inputs"]
    goal_h = f"{bt['goal_horizon_days']}d"
    summary_rows, classes, detail = [], [], []
    for name, hs in bt["books"].items():
        for key, h in hs.items():
            tests = h["non_overlapping_phases"] or [h["all_windows"]]
            nf = bt["books_no_floor"][name][key]
            summary_rows.append(
                [
                    esc(name),
                    f"<b>{esc(key)}</b>*" if key == goal_h else esc(key),
                    _test_counts(h),
                    num(min(c["binomial_p_coverage_ge_99"] for c in tests)),
                    " / ".join(_zone(c["traffic_light"], c["exceptions_per_250"]) for c in tests),
                    "met" if h["coverage_goal_met"] else "<b>NOT met</b>",
                    num(h["max_loss_over_im"], ".2f"),
                    _largest_exception(h),
                    usd(h["mean_shortfall_on_exception_days"]),
                    usd(h["realised_loss_q99"]),
                    num(h["mean_im_over_loss_q99"], ".2f"),
                    _test_counts(nf) + ("" if nf["coverage_goal_met"] else " <b>(NOT met)</b>"),
                    num(nf["max_loss_over_im"], ".2f"),
                ]
            )
            classes.append("goalh" if key == goal_h else "")
        if note := _zero_im_note(r, name, 13):
            summary_rows.append(note)
            classes.append("")
        parts = []
        for key, h in hs.items():
            rows = [_coverage_row(f"{key}, all windows", h["all_windows"])]
            rows += [
                _coverage_row(f"{key}, non-overlapping phase {i}", c)
                for i, c in enumerate(h["non_overlapping_phases"])
            ]
            parts.append(table(COVERAGE_HEADER, rows))
            parts.append(
                f"<p class='small'>{esc(key)} over-margining: mean IM / realised 99% loss "
                f"{num(h['mean_im_over_loss_q99'], '.2f')}; IM could be scaled by "
                f"{num(h['im_scale_factor_for_99pct'], '.2f')} and still cover 99% of days.</p>"
            )
            if h["largest_exceptions"]:
                parts.append(
                    f"<p class='small'>Largest {key} exceptions: "
                    + "; ".join(
                        f"{e['date']} loss {usd(e['loss'])} vs IM {usd(e['im'])} "
                        f"(BTC {pct(e['btc_move'])}, ETH {pct(e['eth_move'])})"
                        for e in h["largest_exceptions"]
                    )
                    + "</p>"
                )
        detail.append(
            f"<h3>{esc(name)}</h3>"
            + "".join(parts)
            + f'<img src="{esc(bt["charts"][name])}" alt="backtest {esc(name)}">'
        )
    floor_txt = ", ".join(f"{esc(u)} {pct(v)}" for u, v in inputs["vol_floor"]["vol_floor"].items())
    return (
        "<h2>Backtest of IM coverage</h2>"
        f"<p>Price file <code>{esc(inputs['prices'])}</code> ({inputs['price_rows']} days, "
        f"{esc(inputs['first_date'])} to {esc(inputs['last_date'])}); tested days "
        f"{esc(bt['first_tested_day'])} to {esc(bt['last_tested_day'])} after a "
        f"{inputs['warmup_days']}-day vol warm-up. On every day each book is rebuilt at that day's "
        "spot with the strikes' moneyness, the expiries' tenor and every leg's USD notional of the "
        "bench file (sizes and WETH scaled by S<sub>snapshot</sub>/S<sub>t</sub>), vol from the "
        "relayer's EWMA estimator (<code>keel.risk.ewma.EwmaVol</code>, λ = 0.94). IM is "
        "<code>compute_margin</code> on that day's market, with SPEC v2 §6's correlation-aware "
        "scan risk at the BTC/ETH ρ the relayer's estimator knows after that day's close "
        "(<code>keel.risk.ewma.EwmaCorrelation</code>, λ = 0.94 on daily log returns; series "
        "<code>btc_eth_rho</code> in report.json); the 1-day and 2-day losses are full "
        "revaluations at the later day's spot and EWMA vol with every τ shortened by the horizon. An "
        "exception is a loss above IM.</p>"
        "<p>Tests at 99%: the one-sided binomial test of “coverage ≥ 99%” (p-value "
        "P(X ≥ x) under Bin(n, 1%); rejected below 5%), Kupiec's two-sided proportion-of-failures "
        "likelihood ratio with its χ²(1) p-value (it also rejects too <i>few</i> exceptions, i.e. "
        "over-margining), and the Basel traffic light with the count scaled to 250 days: "
        "x<sub>250</sub> = 250·x/n, green below 5, yellow from 5 to below 10, red from 10 (the Basel "
        "250-day zones 0–4 / 5–9 / 10+). <b>Overlapping 2-day windows</b> share a day, so their "
        "exceptions are dependent; the 2-day tests run on the two non-overlapping samples (windows "
        "starting on even days, phase 0, and on odd days, phase 1), and the goal requires both to "
        "pass. The all-window 2-day rows are shown for reference only. Over-margining: mean IM / the "
        "realised 99% loss quantile (q99), and, under each book, 1 / q<sub>99</sub>(loss/IM), the "
        "factor by which IM could be scaled and still cover 99% of days.</p>"
        + f"<p>IM with σ<sub>floor</sub> (the model v2 default, {floor_txt}); the last two columns "
        "are the same backtest without the floor (the same rule at the same daily ρ). Severity: "
        "the worst loss/IM over every "
        "window, the largest exception, and the mean shortfall (loss − IM) over the exception days "
        "(every window). <b>*</b> The 2-day horizon is the margin period of risk of "
        "exchange-traded derivatives (EMIR RTS 153/2013 art. 26): <b>the coverage goal is judged "
        "at 2 days</b> (shaded rows); 1 day is shown for reference.</p>"
        + table(
            [
                "book",
                "h",
                "exceptions (test samples)",
                "min binomial p",
                "zone (x per 250)",
                "coverage ≥ 99%",
                "worst loss / IM",
                "largest exception",
                "mean shortfall on exception days",
                "realised 99% loss",
                "mean IM / q99",
                "no floor: exceptions",
                "no floor: worst loss / IM",
            ],
            summary_rows,
            left=2,
            wide=True,
            row_class=classes,
            widths=[13, 3, 8, 6, 12, 6, 6, 12, 7, 7, 5, 9, 6],
        )
        + _kupiec_note(bt)
        + section_misses(r)
        + "".join(detail)
    )


def _kupiec_note(bt: dict) -> str:
    """Reads the two-sided Kupiec rejections: too few exceptions (over-margining) or too many."""
    few, many = [], []
    for name, hs in bt["books"].items():
        for key, h in hs.items():
            for c in h["non_overlapping_phases"] or [h["all_windows"]]:
                if c["kupiec_p"] is not None and c["kupiec_p"] < bt["significance"]:
                    (few if c["exception_rate"] < 1.0 - bt["coverage"] else many).append(
                        f"{name} {key}"
                    )
    few, many = list(dict.fromkeys(few)), list(dict.fromkeys(many))
    parts = []
    if few:
        parts.append(
            f"Kupiec rejects {len(few)} book/horizon samples for <i>too few</i> exceptions ("
            + esc(", ".join(few))
            + "): IM there is more conservative than a 99% measure, as expected of a 2-day "
            "99.5% scan with vol shocks, above all at the 1-day horizon. That is over-margining, "
            "not a coverage failure."
        )
    if many:
        parts.append("Kupiec rejects for <i>too many</i> exceptions: " + esc(", ".join(many)) + ".")
    return f"<p>{' '.join(parts)}</p>" if parts else ""


def section_misses(r: dict) -> str:
    """Why a book misses the coverage goal, with the no-credit (SR = Σ L_u) sensitivity run (never
    applied)."""
    bt = r["backtest"]
    sens = bt["sensitivity_no_correlation_credit"]
    if not sens:
        return ""
    credit_cap = r["inputs"]["margin_params"]["credit_cap"]
    items = []
    for name, hs in sens.items():
        cap = r["capital_efficiency"]["books"].get(name, {})
        n_under = len(cap.get("portfolio_parts", {}).get("standalone_loss", {}))
        for key, s in hs.items():
            tests = s["non_overlapping_phases"] or [s["all_windows"]]
            base = bt["books"][name][key]
            base_tests = base["non_overlapping_phases"] or [base["all_windows"]]
            no_credit_passes = all(t["passes"] for t in tests)
            items.append(
                f"<li><b>{esc(name)}, {esc(key)}</b>: "
                + " / ".join(f"{t['exceptions']}/{t['n']}" for t in base_tests)
                + " exceptions under the SPEC v2 rule at the day's EWMA ρ (min binomial p "
                + num(min(t["binomial_p_coverage_ge_99"] for t in base_tests))
                + ")"
                + _no_floor_counts(bt, name, key)
                + "; with no correlation credit (SR = Σ L<sub>u</sub>, see below) the same "
                "backtest gives "
                + " / ".join(f"{t['exceptions']}/{t['n']}" for t in tests)
                + " (min binomial p "
                + num(min(t["binomial_p_coverage_ge_99"] for t in tests))
                + (", the goal met)." if no_credit_passes else ", still missed).")
                + (
                    f" Over all {base['all_windows']['n']} overlapping windows the book has "
                    f"{base['all_windows']['exceptions']} exceptions "
                    f"({pct(base['all_windows']['exception_rate'], 2)}; binomial p "
                    f"{num(base['all_windows']['binomial_p_coverage_ge_99'])} if the windows were "
                    "independent, which they are not), and IM over its realised 99% loss "
                    f"quantile is {num(base['mean_im_over_loss_q99'], '.2f')}."
                    if base["non_overlapping_phases"]
                    else ""
                )
                + (
                    " The book spans two underlyings. The 31 scenarios move every underlying by "
                    "the same multiple of its own scan range at once, so a long/short pair loses in "
                    "them only through the difference of the two ranges (L<sub>J</sub>); the rule "
                    "margins it at L<sub>ρ</sub>, the largest loss over the joint moves plausible "
                    "under the stressed correlation ρ<sub>s</sub> of the day's ρ (for a linear pair "
                    "√(s<sub>B</sub>² + s<sub>E</sub>² − 2ρ<sub>s</sub>s<sub>B</sub>s<sub>E</sub>), "
                    "s = |q|·S·R), at least L<sub>J</sub> + "
                    f"{1 - credit_cap:g}(Σ L<sub>u</sub> − L<sub>J</sub>) and at most Σ L<sub>u</sub>. "
                    "Windows in which the two underlyings decouple further than a normal model at "
                    "ρ<sub>s</sub> allows (one jumps, the other stays or moves the other way; see "
                    "the largest exceptions) lose more than that. "
                    + (
                        "With no credit for the hedge the goal is met: the miss comes from the "
                        "correlation credit the rule gives at the estimated ρ."
                        if no_credit_passes
                        else "The goal is missed even with no credit for the hedge: those "
                        "windows lose more than the sum of the standalone scan losses, which no "
                        "correlation can cover."
                    )
                    if n_under > 1
                    else " The book has one underlying, so there is no correlation credit to "
                    "remove (SR = L<sub>J</sub> = L<sub>u</sub> under either rule); its IM is the "
                    "scenario loss at the scan range 2.576·σ·√(2/365) (floored at R_min), and the "
                    "exceptions are moves beyond it that the EWMA vol had not yet priced."
                )
                + "</li>"
            )
    return (
        "<h3>Where the coverage goal is missed, and why</h3><ul>" + "".join(items) + "</ul>"
        "<p class='small'>The no-credit run is a diagnosis, not a proposal: the report's figures "
        "are all at the SPEC's defaults. It margins SR = Σ L<sub>u</sub>, computed as v1's rule "
        "L<sub>J</sub> + (1 − c)(Σ L<sub>u</sub> − L<sub>J</sub>) with c = 0 and no correlation "
        "feed, which is Σ L<sub>u</sub> for every book. The v2 rule at ρ = −1 is not the same: its "
        "L<sub>ρ</sub> covers the standard grid's opposite moves with both underlyings in one vol "
        "state, so it stays below Σ L<sub>u</sub> where a standalone loss comes from the extended "
        "±2R/±3R scenarios or from different vol states.</p>"
    )


def _no_floor_counts(bt: dict, name: str, key: str) -> str:
    """ ", without σ_floor x/n / y/m": the same backtest's counts without the floor."""
    nf = bt.get("books_no_floor", {}).get(name, {}).get(key)
    return f", without σ_floor {_test_counts(nf)}" if nf else ""


def section_risk(r: dict) -> str:
    rk = r["risk"]
    m = rk["return_model"]
    rows = [
        [
            esc(name),
            usd(b["im"]),
            usd(b["historical"]["var_99"]),
            usd(b["historical"]["es_99"]),
            usd(b["monte_carlo"]["var_99"]),
            usd(b["monte_carlo"]["es_99"]),
            num(b["im_over_hs_es"], ".2f"),
            num(b["im_over_mc_es"], ".2f"),
        ]
        for name, b in rk["books"].items()
    ]
    snap = r["inputs"]["snapshot"]
    snap_txt = ", ".join(
        f"{esc(u)} {usd(s['spot'])} at {pct(s['vol'], 0)} vol" for u, s in snap.items()
    )
    return (
        "<h2>Market risk: 1-day 99% VaR and expected shortfall vs IM</h2>"
        f"<p>Each book at the bench snapshot ({snap_txt}), revalued in full with the reference "
        "model (Black–Scholes, every τ shortened by one day). <b>Historical simulation</b>: the "
        f"{m['n_returns']} joint daily moves of the price file from {esc(m['first_return_day'])} to "
        f"{esc(m['last_return_day'])}, spot and the relayer's EWMA vol moving together. "
        "<b>Monte Carlo</b>: "
        f"{r['inputs']['monte_carlo_samples']:,} joint normal daily log returns (seed "
        f"{r['inputs']['seed']}) with the same days' vols (BTC {pct(m['annualised_vol']['BTC'])}, "
        f"ETH {pct(m['annualised_vol']['ETH'])} annualised) and correlation "
        f"{m['correlation']:.3f}; option vols held at the snapshot's. ES is the mean loss beyond "
        "VaR.</p>"
        + table(
            [
                "book",
                "IM",
                "HS VaR 99%",
                "HS ES 99%",
                "MC VaR 99%",
                "MC ES 99%",
                "IM / HS ES",
                "IM / MC ES",
            ],
            rows,
        )
        + "<p class='small'>IM is sized for a 2-day 99.5% move with vol shocks, so it should sit "
        "above a 1-day 99% VaR; the ratio shows by how much.</p>"
        + _risk_shortfalls(r)
        + f'<img src="{esc(rk["chart"])}" alt="VaR and ES vs IM">'
    )


def _risk_shortfalls(r: dict) -> str:
    """A sentence naming the books whose IM sits below a VaR or ES estimate, with the reasons."""
    rk = r["risk"]
    below, two_underlyings = [], False
    for name, b in rk["books"].items():
        worse = [
            f"{label} {usd(b[method][key])}"
            for method, key, label in (
                ("historical", "var_99", "HS VaR"),
                ("historical", "es_99", "HS ES"),
                ("monte_carlo", "var_99", "MC VaR"),
                ("monte_carlo", "es_99", "MC ES"),
            )
            if b[method][key] > b["im"] + 1e-6
        ]
        if worse:
            below.append(f"{esc(name)} (IM {usd(b['im'])} below {', '.join(worse)})")
            cap = r["capital_efficiency"]["books"].get(name, {})
            two_underlyings |= len(cap.get("portfolio_parts", {}).get("standalone_loss", {})) > 1
    if not below:
        return "<p>IM is above every VaR and ES estimate for every book.</p>"
    realised = rk["return_model"]["annualised_vol"]
    snap = r["inputs"]["snapshot"]
    reasons = [
        f"the snapshot's {esc(u)} σ_eff ({pct(snap[u]['vol_eff'], 0)}, the IM's input) is below the "
        f"file's realised {pct(realised[u], 0)}"
        for u in snap
        if u in realised and snap[u]["vol_eff"] < realised[u]
    ]
    reasons.append("historical simulation keeps the file's fat tails and vol jumps")
    if two_underlyings:
        reasons.append(
            "for a book on both underlyings IM credits the hedge as far as the joint moves "
            "plausible under the stressed BTC/ETH correlation allow (L<sub>ρ</sub>), and the "
            "historical days include decoupling moves beyond them (see the backtest section)"
        )
    return (
        "<p><b>IM below a 1-day risk estimate:</b> "
        + "; ".join(below)
        + ". Why: "
        + "; ".join(reasons)
        + ".</p>"
    )


def _scalar(v) -> str:
    if isinstance(v, bool):
        return esc(v)
    if isinstance(v, (int, float)):
        return f"{v:,.6g}" if isinstance(v, float) else f"{v:,}"
    return esc(v)


def section_stress(r: dict) -> str:
    st = r["stress"]
    head = "<h2>Stress: the crash run on the local chain</h2>"
    if not st["present"]:
        return (
            head + "<div class='slot'><b>Slot for the chain simulation.</b> No "
            f"<code>{esc(st['source'])}</code> was found when this report ran, so nothing here is "
            "measured: accounts liquidated, auction prices and durations, bad debt, insurance fund "
            "and socialised loss, and the chart of system equity and margin through time appear "
            "once the crash simulation writes that file and the report is re-run (schema in "
            "<code>keel/reports/html.py</code>).</div>"
        )
    data = st["data"]
    parts = [f"<p>From <code>{esc(st['source'])}</code>.</p>"]
    if st.get("quick"):
        parts.insert(0, QUICK_BANNER)
    if isinstance(data.get("notes"), str):
        parts.append(f"<p>{esc(data['notes'])}</p>")
    summary = data.get("summary")
    if isinstance(summary, dict):
        parts.append(table(["figure", "value"], [[esc(k), _scalar(v)] for k, v in summary.items()]))
    for key, val in data.items():
        if key in ("summary", "series", "notes") or not isinstance(val, list) or not val:
            continue
        if all(isinstance(x, dict) for x in val):
            cols = list(dict.fromkeys(k for x in val for k in x))
            parts.append(f"<h3>{esc(key)}</h3>")
            parts.append(
                table(
                    [esc(c) for c in cols],
                    [[_scalar(x.get(c, "")) for c in cols] for x in val],
                    wide=len(cols) > WIDE_COLUMNS,
                )
            )
    if st.get("chart"):
        parts.append(f'<img src="{esc(st["chart"])}" alt="system equity and margin">')
    if isinstance(data.get("cover2"), dict):
        parts.append(_cover2_part(data["cover2"]))
    if st.get("timeline_chart"):
        parts.append(
            "<h3>Liquidation timeline</h3><p>For each auction, the discount a solvent bid would "
            "get and the insolvency bonus, as the Liquidator quoted them at each measured step "
            "(<code>currentDiscount</code>, <code>currentBonus</code>), and every bid from its "
            "events (solvent bids labelled with the fraction bought). Figures: "
            "<code>liquidation_timeline</code> in simulation.json.</p>"
            f'<img src="{esc(st["timeline_chart"])}" alt="liquidation timeline">'
        )
    return head + "<div class='slot'>" + "".join(parts) + "</div>"


def _cover2_part(c2: dict) -> str:
    """The cover-2 requirement against the fund: the verdict and the scenarios at its peak."""
    from keel.risk.cover2 import describe_moves

    worst = c2["max"]
    verdict = (
        f"met at all {c2['steps_measured']} measured steps"
        if c2["met_every_step"]
        else f"<b>not met</b> at {c2['steps_short']} of {c2['steps_measured']} steps (short by "
        f"up to {usd(c2['largest_shortfall'], 2)})"
    )
    days = ", ".join(
        f"{esc(d['day'])} (joint {esc(d['kind'])}: {esc(describe_moves(d['returns']))})"
        for d in c2.get("historical_days", [])
    )
    rows = [
        [esc(s["scenario"]),
         esc(describe_moves(s["moves"])),
         esc(", ".join(f"#{a} {usd(x, 2)}" for a, x in
                       zip(s["accounts"], s["losses_beyond_equity"], strict=True)) or "–"),
         usd(s["requirement"], 2)]
        for s in worst["scenarios"]
    ]  # fmt: skip
    return (
        "<h3>Cover-2 fund requirement</h3>"
        f"<p>{esc(c2['method'])} Historical days: {days or 'none'}. The line "
        "<i>cover-2 requirement</i> on the chart above is the requirement at each step; it is "
        f"{verdict} against the insurance fund. Its peak, {usd(worst['requirement'], 2)} "
        f"({esc(worst['binding_scenario'])}, day {worst['t']:.2f}, fund then "
        f"{usd(worst['insurance_fund'], 2)}), by scenario:</p>"
        + table(["scenario", "moves", "two largest losses beyond equity", "sum"], rows, 3)
    )


def section_gas(r: dict) -> str:
    g = r["gas"]
    head = "<h2>Gas</h2>"
    if not g["present"]:
        return head + (
            f"<p><code>{esc(g['source'])}</code> is absent: the gas benchmark has not been run "
            "(<code>make bench</code> writes it).</p>"
        )
    return head + f"<p>From <code>{esc(g['source'])}</code>.</p>" + markdown(g["markdown"])


def render(report: dict) -> str:
    """The full page."""
    inp = report["inputs"]
    params, cor = inp["margin_params"], inp["correlation"]
    floor_txt = ", ".join(f"{esc(u)} {pct(v)}" for u, v in inp["vol_floor"]["vol_floor"].items())
    intro = (
        f"<h1>{esc(report['title'])}</h1>"
        "<p>Keel margins a whole account — collateral, perpetuals and options on BTC and ETH — as "
        "one portfolio with the SPEC §6 scenario stress test, so that hedged books need less capital "
        "than isolated margin while initial margin still covers their losses. This page measures "
        "both: how much capital each strategy book needs under each regime, whether that margin "
        "would have covered the book's daily losses over the price history, and how it compares "
        "with VaR and expected shortfall.</p>"
        f"<p class='small'>Books: {esc(', '.join(inp['books']))}. Prices: "
        f"<code>{esc(inp['prices'])}</code>. Seed {inp['seed']}. Margin parameters: SPEC defaults "
        f"({esc(', '.join(f'{k} {v:g}' for k, v in params.items() if k != 'scan_risk_rule'))}). "
        f"Scan risk: {subscripts(params['scan_risk_rule'])}; at the snapshot {_correlation_text(cor)}, in "
        "the backtest each day's ρ. "
        f"σ<sub>floor</sub>: {floor_txt} (the model v2 default, see <i>Anti-procyclicality</i>). "
        f"Vol: {esc(inp['vol_estimator'])}. Numbers: <code>report.json</code>. Regenerate: "
        f"<code>python -m keel.reports --prices {esc(inp['prices'])} --out reports</code>.</p>"
    )
    if report["stress"].get("quick"):
        intro = QUICK_BANNER + intro
    body = "".join(
        [
            intro,
            section_goals(report),
            section_capital(report),
            section_breakdown(report),
            section_backtest(report),
            section_procyclicality(report),
            section_risk(report),
            section_stress(report),
            section_gas(report),
        ]
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(report['title'])}</title><style>{CSS}</style></head><body>{body}</body></html>\n"
    )
