"""The report's PNG charts (matplotlib, Agg backend, modest size: dpi 100)."""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.dates as mdates  # noqa: E402
import matplotlib.patches  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from keel.risk.scenarios import N_SCENARIOS, scenario_label  # noqa: E402

from .backtest import BacktestSeries, exceptions  # noqa: E402
from .capital import BookCapital  # noqa: E402
from .risk import BookRisk  # noqa: E402

DPI = 100
COLOURS = {
    "isolated": "#9e9e9e",
    "simple": "#f0a35e",
    "portfolio": "#2b6cb0",
    "loss": "#555555",
    "exception": "#d62728",
    "no_floor": "#e377c2",
}


def _save(fig, path: Path) -> str:
    fig.savefig(path, dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path.name


def capital_chart(books: list[BookCapital], path: Path) -> str:
    """Horizontal grouped bars: isolated, simple cross and portfolio IM of every book."""
    n = len(books)
    fig, ax = plt.subplots(figsize=(9, 0.75 * n + 1.5))
    y = np.arange(n)
    h = 0.27
    iso = [b.isolated for b in books]
    ax.barh(y - h, iso, h, label="isolated", color=COLOURS["isolated"])
    ax.barh(y, [b.simple_cross for b in books], h, label="simple cross", color=COLOURS["simple"])
    ax.barh(
        y + h, [b.portfolio for b in books], h, label="Keel portfolio", color=COLOURS["portfolio"]
    )
    for i, b in enumerate(books):
        r = b.portfolio_to_isolated
        text = "n/a" if r is None else f"{r:.0%} of isolated"
        ax.text(b.portfolio, i + h, f"  {text}", va="center", fontsize=8)
    ax.set_yticks(y, [b.name for b in books])
    ax.invert_yaxis()
    ax.set_xlabel("initial margin [USD]")
    ax.set_xlim(0, max(max(iso), max(b.simple_cross for b in books)) * 1.25 or 1.0)
    ax.xaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Initial margin of each strategy book at the bench snapshot")
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def date_axis(ax, first: date, last: date) -> None:
    """Date ticks that suit the span from `first` to `last` (the axis is cut there), each label
    naming its year: 1 January of each year on a file of two years or more ("2017"), the first of
    the month on a shorter one ("Oct 2019"), days below two months ("05 Dec 2019"). At most about
    8 ticks. (A bare year locator gives a 3-month file no tick, or one at the next 1 January.)"""
    ax.set_xlim(first, last)
    days = (last - first).days
    if days >= 2 * 365:
        locator, fmt = mdates.YearLocator(), "%Y"
    elif days >= 60:
        locator, fmt = mdates.MonthLocator(interval=math.ceil(days / 30.4 / 8)), "%b %Y"
    else:
        locator, fmt = mdates.DayLocator(interval=max(1, math.ceil(days / 8))), "%d %b %Y"
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.DateFormatter(fmt))


def backtest_figure(series: BacktestSeries, book: int, im_no_floor: np.ndarray | None = None):
    """Loss vs IM through time for one book, one panel per horizon, exceptions in red; with
    `im_no_floor`, the IM the same days would have had without σ_floor, dashed."""
    horizons = sorted(series.loss)
    dates = [date.fromisoformat(d) for d in series.dates]
    fig, axes = plt.subplots(len(horizons), 1, figsize=(10, 2.6 * len(horizons)), sharex=True)
    axes = np.atleast_1d(axes)
    im = series.im[book]
    for ax, h in zip(axes, horizons, strict=True):
        loss = series.loss[h][book]
        exc = exceptions(loss, im)
        ax.plot(dates, loss, lw=0.6, color=COLOURS["loss"], label=f"{h}-day loss")
        ax.plot(dates, im, lw=1.0, color=COLOURS["portfolio"], label="IM on the day")
        if im_no_floor is not None:
            ax.plot(
                dates, im_no_floor, lw=0.8, ls="--", color=COLOURS["no_floor"], label="IM, no floor"
            )
        idx = np.flatnonzero(exc)
        ax.scatter(
            [dates[i] for i in idx],
            loss[idx],
            s=14,
            color=COLOURS["exception"],
            zorder=3,
            label=f"exceptions ({len(idx)})",
        )
        ax.axhline(0, color="black", lw=0.4)
        ax.set_ylabel("USD")
        ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8)
        ax.grid(alpha=0.3)
    date_axis(axes[-1], dates[0], dates[-1])
    axes[0].set_title(
        f"{series.names[book]}: loss over the next h days vs IM (constant USD notional)"
    )
    return fig


def backtest_chart(
    series: BacktestSeries, book: int, path: Path, im_no_floor: np.ndarray | None = None
) -> str:
    return _save(backtest_figure(series, book, im_no_floor), path)


def scenario_heatmap(breakdown: dict[str, dict], path: Path) -> str:
    """One panel per book: the 31 weighted scenario P&Ls of every underlying it is exposed to and
    their sum (the joint row), red for a loss; the worst scenario of each row is boxed when it loses."""
    books = list(breakdown)
    heights = [len(breakdown[b]["underlyings"]) + 1 for b in books]
    fig, axes = plt.subplots(
        len(books),
        1,
        figsize=(12, 0.42 * sum(heights) + 0.9 * len(books) + 0.6),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    labels = [scenario_label(j) for j in range(N_SCENARIOS)]
    for ax, name in zip(axes[:, 0], books, strict=True):
        b = breakdown[name]
        rows = [
            (f"{u} (L_u)", v["pnl"], v["worst"], v["loss"]) for u, v in b["underlyings"].items()
        ]
        rows.append(("joint Σ_u (L_J)", b["joint_pnl"], b["joint_worst"], b["joint_loss"]))
        grid = np.array([r[1] for r in rows], float)
        scale = float(np.abs(grid).max()) or 1.0
        img = ax.imshow(grid, cmap="RdBu", vmin=-scale, vmax=scale, aspect="auto")
        if not np.abs(grid).max():
            ax.text(15, (len(rows) - 1) / 2, "every scenario P&L is 0", ha="center", va="center")
        for i, (_, _, worst, loss) in enumerate(rows):
            if loss > 0:
                ax.add_patch(
                    matplotlib.patches.Rectangle(
                        (worst - 0.5, i - 0.5), 1, 1, fill=False, lw=2.0, ec="black"
                    )
                )
        for x in (8.5, 17.5, 26.5):
            ax.axvline(x, color="white", lw=2.0)
        ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
        ax.set_xticks(
            range(N_SCENARIOS), labels if ax is axes[-1, 0] else [], rotation=90, fontsize=7
        )
        ax.set_title(
            f"{name}: IM {b['im']:,.0f} USD (set by {b['im_set_by']})", fontsize=9, loc="left"
        )
        bar = fig.colorbar(img, ax=ax, pad=0.01, fraction=0.03)
        bar.ax.tick_params(labelsize=7)
        bar.ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    fig.suptitle(
        "Weighted scenario P&L P_u(j) [USD] at the bench snapshot; boxed: the worst scenario of each "
        "row (the one that binds)",
        fontsize=10,
    )
    fig.tight_layout(rect=(0, 0, 1, 0.985))
    return _save(fig, path)


def risk_chart(books: list[BookRisk], path: Path) -> str:
    """Grouped bars per book: IM, historical VaR/ES and Monte Carlo VaR/ES (1 day, 99%)."""
    n = len(books)
    fig, ax = plt.subplots(figsize=(10, 4.2))
    x = np.arange(n)
    w = 0.16
    cols = [
        ("IM", [b.im for b in books], COLOURS["portfolio"]),
        ("HS VaR 99%", [b.hs_var for b in books], "#7fbf7f"),
        ("HS ES 99%", [b.hs_es for b in books], "#2e8b57"),
        ("MC VaR 99%", [b.mc_var for b in books], "#f5c26b"),
        ("MC ES 99%", [b.mc_es for b in books], "#c77d0a"),
    ]
    for k, (label, vals, colour) in enumerate(cols):
        ax.bar(x + (k - 2) * w, vals, w, label=label, color=colour)
    ax.set_xticks(x, [b.name for b in books], rotation=25, ha="right", fontsize=8)
    ax.set_ylabel("USD")
    ax.yaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    ax.legend(fontsize=8, ncol=5, loc="upper center", bbox_to_anchor=(0.5, 1.12))
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def stress_chart(series: dict, path: Path) -> str | None:
    """The simulation's system equity and margin through time (any numeric series against "t")."""
    t = series.get("t")
    lines = {
        k: v
        for k, v in series.items()
        if k != "t" and isinstance(v, list) and t is not None and len(v) == len(t)
    }
    if not lines:
        return None
    fig, ax = plt.subplots(figsize=(10, 3.5))
    for k, v in lines.items():
        ax.plot(t, np.asarray(v, float), lw=1.0, label=k)
    ax.set_xlabel(series.get("t_label", "t"))
    ax.set_ylabel(series.get("y_label", "USD"))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    ax.set_title("Crash simulation: system equity and margin through time")
    return _save(fig, path)


def liquidation_chart(auctions: list[dict], path: Path) -> str:
    """One panel per auction against minutes since its start: the discount a bid would get (line,
    left axis) with the solvent bids on it (labelled with the fraction bought), and the
    insolvency bonus (dashed, right axis) with the insolvent bids (simulation.json
    "liquidation_timeline")."""
    n = len(auctions)
    cols = min(n, 3)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 2.9 * rows), squeeze=False)
    legend = []
    for ax, a in zip(axes.ravel(), auctions, strict=False):
        sb = [b for b in a["bids"] if b["kind"] == "solvent"]
        ib = [b for b in a["bids"] if b["kind"] == "insolvent"]
        # the lines run through the quotes and the bids' own figures (a bid's event carries the
        # discount, or the bonus, it got at that moment)
        disc = sorted([(x["t_min"], x["discount"]) for x in a["quotes"]]
                      + [(b["t_min"], b["discount"]) for b in sb])  # fmt: skip
        bonus = sorted([(x["t_min"], x["bonus"]) for x in a["quotes"]]
                       + [(b["t_min"], b["bonus"]) for b in ib])  # fmt: skip
        right = ax.twinx()
        legend = [
            ax.plot([t for t, _ in disc], [100 * d for _, d in disc], "-", lw=1.0,
                    color=COLOURS["portfolio"], label="discount [%]")[0],
            ax.scatter([b["t_min"] for b in sb], [100 * b["discount"] for b in sb], s=28,
                       zorder=3, color=COLOURS["portfolio"], label="solvent bid"),
            right.plot([t for t, _ in bonus], [x for _, x in bonus], "--", lw=1.0,
                       color=COLOURS["exception"], label="bonus [USD]")[0],
            right.scatter([b["t_min"] for b in ib], [b["bonus"] for b in ib], s=34, zorder=3,
                          marker="v", color=COLOURS["exception"], label="insolvent bid"),
        ]  # fmt: skip
        for b in sb:
            ax.annotate(f"{b['fraction']:.0%}", (b["t_min"], 100 * b["discount"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")  # fmt: skip
        # at least the fast phase of the discount (15 min by default) in view, and a bonus axis
        # of at least $1 when no bonus was quoted (a bid in the auction's first block)
        t_end = max([t for t, _ in disc + bonus] + [a.get("ended_min") or 0.0])
        ax.set_xlim(-0.5, max(15.0, 1.05 * t_end))
        ax.set_ylim(0, 105)
        right.set_ylim(0, max([1.0] + [1.1 * x for _, x in bonus]))
        ax.set_xlabel("minutes since the auction started", fontsize=8)
        ax.set_ylabel("discount [%]", fontsize=8)
        right.set_ylabel("bonus [USD]", fontsize=8)
        ax.set_title(
            f"account {a['account']} ({a['book']}), auction {a.get('auction', '?')}: "
            f"{a['outcome']}",
            fontsize=9,
        )
        ax.tick_params(labelsize=7)
        right.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    fig.legend(handles=legend, loc="upper center", ncol=4, fontsize=8, bbox_to_anchor=(0.5, 1.0))
    fig.tight_layout(rect=(0, 0, 1, 0.94))
    return _save(fig, path)
