"""Report v2 on short files: σ_floor statement, severity columns, the goal horizon, the zero-IM reason,
date ticks on a 3-month file, and quick runs that never overwrite the default report."""

import json
from datetime import date, timedelta

import matplotlib.dates as mdates
import numpy as np
import pytest

import keel.sim.config as sim_config
from keel.reports.backtest import BacktestSeries
from keel.reports.cli import main
from keel.reports.html import table
from keel.reports.plots import backtest_figure
from keel.sim.config import QUICK_OUT, as_dict, out_dir, parse_args

from .helpers import random_walk, write_prices

ARGS = ["--mc-samples", "2000", "--seed", "3"]


@pytest.fixture(scope="module")
def three_months(tmp_path_factory):
    """A 92-day file (2019-10-01 to 2019-12-31) and the report built on it (60-day warm-up)."""
    tmp = tmp_path_factory.mktemp("three_months")
    btc, eth = random_walk(92, seed=5)
    prices = write_prices(tmp / "p.csv", btc, eth, start=date(2019, 10, 1))
    out = tmp / "out"
    assert main(["--prices", str(prices), "--out", str(out), *ARGS]) == 0
    return json.loads((out / "report.json").read_text()), (out / "report.html").read_text()


def visible_ticks(first: date, n: int) -> list[tuple[str, str]]:
    dates = [(first + timedelta(days=i)).isoformat() for i in range(n)]
    zeros = np.zeros((1, n))
    s = BacktestSeries(["b"], dates, np.ones((n, 2)), np.ones((n, 2)), zeros + 1, {1: zeros}, 0)
    fig = backtest_figure(s, 0)
    fig.canvas.draw()
    ax = fig.axes[-1]
    lo, hi = ax.get_xlim()
    return [
        (mdates.num2date(x).date().isoformat(), t.get_text())
        for x, t in zip(ax.get_xticks(), ax.get_xticklabels(), strict=True)
        if lo <= x <= hi
    ]


def test_date_ticks_name_the_right_year_on_short_and_long_files():
    # 3 months in 2019: the months, each with its year (a year locator gave none, or "2020")
    assert visible_ticks(date(2019, 10, 1), 92) == [
        ("2019-10-01", "Oct 2019"),
        ("2019-11-01", "Nov 2019"),
        ("2019-12-01", "Dec 2019"),
    ]
    # across a new year
    assert [t for _, t in visible_ticks(date(2019, 11, 15), 90)] == [
        "Dec 2019",
        "Jan 2020",
        "Feb 2020",
    ]
    # 2016-03-01 to 2019-12-31: 1 January of each year inside the span
    assert visible_ticks(date(2016, 3, 1), 1401) == [
        ("2017-01-01", "2017"),
        ("2018-01-01", "2018"),
        ("2019-01-01", "2019"),
    ]
    # a span of 729 days: months (every third: ⌈729 / 30.4 / 8⌉ = 3), 730 days: years
    months = visible_ticks(date(2018, 1, 1), 730)
    assert months[:2] == [("2018-01-01", "Jan 2018"), ("2018-04-01", "Apr 2018")]
    assert visible_ticks(date(2018, 1, 1), 731) == [
        ("2018-01-01", "2018"),
        ("2019-01-01", "2019"),
        ("2020-01-01", "2020"),
    ]
    # one month: days with month and year
    ticks = visible_ticks(date(2019, 12, 1), 31)
    assert ticks[0] == ("2019-12-03", "03 Dec 2019") and len(ticks) <= 9


def test_report_states_the_floor_and_its_history(three_months):
    report, page = three_months
    fl = report["inputs"]["vol_floor"]
    assert (fl["first_date"], fl["last_date"], fl["days"]) == ("2019-11-30", "2019-12-31", 32)
    assert report["procyclicality"]["vol_floor"] == fl
    assert set(fl["vol_floor"]) == {"BTC", "ETH"}
    assert "<b>this file is shorter than 10 years</b> (0.1)" in page
    assert "EMIR RTS 153/2013 art. 28(1)(c)" in page
    snap = report["inputs"]["snapshot"]["ETH"]
    assert snap["vol_eff"] == max(snap["vol"], fl["vol_floor"]["ETH"])


def test_report_carries_v1_beside_v2_and_the_apc_metrics(three_months):
    report, page = three_months
    books = report["inputs"]["books"]
    bt = report["backtest"]
    assert set(bt["books_no_floor"]) == set(bt["books"]) == set(books)
    assert bt["goal_horizon_days"] == 2
    for name in books:
        apc = report["procyclicality"]["books"][name]
        assert set(apc) == {"with_floor", "no_floor", "zero_im_reason"}
        daily = bt["daily"]["books"][name]
        assert len(daily["im_no_floor"]) == len(daily["im"]) == 32
        peak = apc["with_floor"]["peak"]["im"]
        assert peak == pytest.approx(max(daily["im"]), abs=0.01)  # the JSON's IM is rounded
    assert report["procyclicality"]["books"]["basis_trade"]["with_floor"]["peak_to_trough"] is None
    assert "floor: largest 30-day rise" in page and "no floor: peak / trough" in page


def test_severity_columns_and_the_goal_horizon_are_on_the_page(three_months):
    report, page = three_months
    for head in ("worst loss / IM", "largest exception", "mean shortfall on exception days"):
        assert f"<th>{head}</th>" in page
    assert "<b>2d</b>*" in page and "<b>the coverage goal is judged at 2 days</b>" in page
    goal = [g for g in report["goals"] if "at 2 days" in g["goal"]][0]
    assert "EMIR RTS 153/2013 art. 26: the horizon this goal is judged on" in goal["goal"]
    # one shaded (goal-horizon) row per book
    assert page.count("<tr class='goalh'>") == len(report["inputs"]["books"])


def test_zero_im_book_says_why_in_every_table(three_months):
    report, page = three_months
    reason = report["margin_breakdown"]["books"]["basis_trade"]["zero_im_reason"]
    assert reason.startswith("its legs cancel in every one of the 31 scenarios")
    # capital, breakdown, backtest and APC tables
    assert page.count("<b>basis_trade has IM $0</b>") == 4
    assert report["margin_breakdown"]["chart"] in report["files"]


def test_wide_tables_take_the_fixed_layout_with_column_shares():
    html = table(["a", "b"], [["1", "2"]], wide=True, widths=[30, 70])
    assert html.startswith("<table class='wide'><colgroup><col style='width:30%'>")
    with pytest.raises(ValueError, match="1 column widths for 2 columns"):
        table(["a", "b"], [["1", "2"]], wide=True, widths=[100])


# --- quick runs never overwrite the default report ---


def test_quick_run_writes_its_own_folder_and_never_the_default(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sim_config, "ROOT", tmp_path)
    default = tmp_path / "reports"
    default.mkdir()
    (default / "report.html").write_text("the committed report")
    cfg = parse_args(["--quick"])
    assert cfg.quick and cfg.out == QUICK_OUT and out_dir(cfg) == tmp_path / "reports" / "quick"
    assert out_dir(parse_args([])) == default  # a default run still writes the default folder
    # the simulation leaves its simulation.json there, then builds the report in the same folder
    out = out_dir(cfg)
    out.mkdir()
    (out / "simulation.json").write_text(json.dumps({"config": as_dict(cfg), "summary": {}}))
    btc, eth = random_walk(70)
    prices = write_prices(tmp_path / "p.csv", btc, eth)
    assert main(["--prices", str(prices), "--out", str(out), "--books", "basis_trade", *ARGS]) == 0
    assert (default / "report.html").read_text() == "the committed report"
    assert sorted(p.name for p in default.iterdir()) == ["quick", "report.html"]
    page = (out / "report.html").read_text()
    assert page.count("QUICK RUN") == 2  # top of the page and the stress section
    assert json.loads((out / "report.json").read_text())["stress"]["quick"] is True
    # a non-quick simulation.json is not labelled
    (out / "simulation.json").write_text(json.dumps({"config": as_dict(parse_args([]))}))
    assert main(["--prices", str(prices), "--out", str(out), "--books", "basis_trade", *ARGS]) == 0
    assert "QUICK RUN" not in (out / "report.html").read_text()
    capsys.readouterr()


@pytest.mark.parametrize("out", ["reports", "reports/", "./reports", "{root}/reports"])
def test_quick_run_into_the_default_folder_is_refused(tmp_path, monkeypatch, capsys, out):
    monkeypatch.setattr(sim_config, "ROOT", tmp_path)
    out = out.format(root=tmp_path)
    with pytest.raises(SystemExit) as exc:
        parse_args(["--quick", "--out", out])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert f"--out {out}: a --quick run never writes the default report folder" in err
    assert err.count("\n") == 1


def test_quick_run_into_another_folder_is_accepted(tmp_path, monkeypatch):
    monkeypatch.setattr(sim_config, "ROOT", tmp_path)
    assert out_dir(parse_args(["--quick", "--out", "reports2"])) == tmp_path / "reports2"
    assert out_dir(parse_args(["--quick", "--out", "reports/q"])) == tmp_path / "reports" / "q"
