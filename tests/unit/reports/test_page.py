"""Report v2 on short files: σ_floor statement, the correlation-aware scan risk at the snapshot and
in the backtest (against closed forms), the no-credit diagnosis of a miss, severity columns, the goal
horizon, the zero-IM reason, date ticks on a 3-month file, and quick runs that never overwrite the
default report."""

import json
import math
from datetime import date, timedelta

import matplotlib.dates as mdates
import numpy as np
import pytest

import keel.sim.config as sim_config
from keel.reports.backtest import BacktestSeries
from keel.reports.cli import main
from keel.reports.html import table
from keel.reports.plots import backtest_figure
from keel.reports.report import SENSITIVITY_RULE
from keel.risk.ewma import EwmaCorrelation
from keel.sim.config import QUICK_OUT, as_dict, out_dir, parse_args

from .helpers import random_walk, write_prices

ARGS = ["--mc-samples", "2000", "--seed", "3"]


THREE_MONTHS = random_walk(92, seed=5)  # BTC, ETH closes from 2019-10-01


@pytest.fixture(scope="module")
def three_months(tmp_path_factory):
    """A 92-day file (2019-10-01 to 2019-12-31) and the report built on it (60-day warm-up)."""
    tmp = tmp_path_factory.mktemp("three_months")
    prices = write_prices(tmp / "p.csv", *THREE_MONTHS, start=date(2019, 10, 1))
    out = tmp / "out"
    assert main(["--prices", str(prices), "--out", str(out), *ARGS]) == 0
    return json.loads((out / "report.json").read_text()), (out / "report.html").read_text()


def scan_range(vol_eff: float) -> float:
    """R = clamp(2.576·σ_eff·√(2/365), 16%, 50%) (SPEC §6 defaults)."""
    return min(max(2.576 * vol_eff * math.sqrt(2 / 365), 0.16), 0.5)


def pair_sr(vol_eff, rho) -> float:
    """btc_eth_pair's SR by hand (SPEC v2 §6): long $60,000 of BTC, short $60,000 of ETH, so
    s = 60000·(R_B, −R_E) with R = clamp(2.576·σ_eff·√(2/365), 16%, 50%); L_J = |s_B − s_E|,
    Σ L_u = s_B + s_E, L_ρ = sqrt(s_B² + s_E² − 2ρ_s·s_B·s_E) with the FRTB stress ρ_s,
    SR = min(Σ L_u, max(L_J + 0.2(Σ L_u − L_J), L_ρ))."""
    s_b, s_e = (60000.0 * scan_range(v) for v in vol_eff)
    rho_s = max(2 * rho - 1, 0.75 * rho) if rho >= 0 else max(1.25 * rho, -1.0)
    loss_j, total = abs(s_b - s_e), s_b + s_e
    loss_rho = math.sqrt(max(s_b**2 + s_e**2 - 2 * rho_s * s_b * s_e, 0.0))
    return min(total, max(loss_j + 0.2 * (total - loss_j), loss_rho))


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


def test_snapshot_sections_margin_by_the_v2_rule_at_the_files_last_rho(three_months):
    """Capital, breakdown and VaR/ES take the bench snapshot at the ρ the relayer's estimator holds
    after the file's last close; the inputs record it, its stress and its source, and no fixed c."""
    report, page = three_months
    cor = report["inputs"]["correlation"]
    rho = EwmaCorrelation.of_prices(*THREE_MONTHS).rho
    assert cor["rho"] == {"BTC/ETH": pytest.approx(rho, rel=1e-14)} and cor["date"] == "2019-12-31"
    assert cor["stressed_rho"]["BTC/ETH"] == pytest.approx(
        max(2 * rho - 1, 0.75 * rho) if rho >= 0 else max(1.25 * rho, -1.0), rel=1e-14
    )
    assert "EwmaCorrelation, λ = 0.94" in cor["estimator"]
    assert report["margin_breakdown"]["correlation"] == cor
    params = report["inputs"]["margin_params"]
    assert "correlation_credit" not in params and params["credit_cap"] == 0.8
    assert params["scan_risk_rule"].startswith("SR = min(Σ L_u, max(L_J + (1 − c_max)")
    snap = report["inputs"]["snapshot"]
    sr = pair_sr([snap["BTC"]["vol_eff"], snap["ETH"]["vol_eff"]], rho)
    pair = report["margin_breakdown"]["books"]["btc_eth_pair"]
    assert pair["scan_risk"] == pytest.approx(sr, rel=1e-12) and pair["im"] == pair["scan_risk"]
    assert report["capital_efficiency"]["books"]["btc_eth_pair"]["portfolio_im"] == pair["im"]
    assert report["risk"]["books"]["btc_eth_pair"]["im"] == pair["im"]
    naked = report["margin_breakdown"]["books"]["naked_long_perp"]
    assert naked["sr_set_by"] == "L_J = L_u (one underlying)" and naked["correlated_loss"] == 0.0
    for head in ("SR floor", "L<sub>ρ</sub>", "SR set by"):
        assert f"<th>{head}</th>" in page
    assert "credit term" not in page and "correlation_credit" not in page
    assert "credit_cap 0.8" in page and f"BTC/ETH ρ = {rho:.4f}" in page


def test_backtest_im_is_the_v2_rule_at_each_days_rho(three_months):
    """Every tested day's IM of btc_eth_pair, with σ_floor and without, is the closed form at the
    day's EWMA vols and the ρ known after that day's close (JSON figures rounded: $0.05)."""
    report, _ = three_months
    daily = report["backtest"]["daily"]
    floor = report["inputs"]["vol_floor"]["vol_floor"]
    rho = daily["btc_eth_rho"]
    warmup = report["inputs"]["warmup_days"]
    btc, eth = THREE_MONTHS
    assert len(rho) == len(daily["dates"]) == 32
    for i in (0, len(rho) - 1):  # row i: closes 0..warmup + i, no look-ahead
        n = warmup + i + 1
        assert rho[i] == pytest.approx(EwmaCorrelation.of_prices(btc[:n], eth[:n]).rho, abs=1e-6)
    im = daily["books"]["btc_eth_pair"]
    for i, r in enumerate(rho):
        vols = [daily["btc_vol"][i], daily["eth_vol"][i]]
        assert im["im_no_floor"][i] == pytest.approx(pair_sr(vols, r), abs=0.05)
        with_floor = [max(vols[0], floor["BTC"]), max(vols[1], floor["ETH"])]
        assert im["im"][i] == pytest.approx(pair_sr(with_floor, r), abs=0.05)


def test_a_decoupling_miss_is_diagnosed_with_no_correlation_credit(tmp_path):
    """btc_eth_pair on 92 calm, correlated days in which ETH jumps +25% twice with BTC flat (days 70
    and 80): each jump loses 20 ETH·$3,000·25% = $15,000, above the v2 IM, so the 1-day goal is
    rejected (2 of 31, p = 0.038); the diagnosis margins SR = Σ L_u = 60000·(R_B + R_E) instead,
    which covers every day (its worst loss / IM is the closed form's)."""
    rng = np.random.default_rng(11)
    z = rng.multivariate_normal([0, 0], [[1e-4, 0.9e-4], [0.9e-4, 1e-4]], 91)
    z[[69, 79]] = [0.0, math.log(1.25)]
    closes = np.exp(np.vstack([[0.0, 0.0], np.cumsum(z, axis=0)])) * [60000.0, 3000.0]
    prices = write_prices(tmp_path / "p.csv", closes[:, 0], closes[:, 1], date(2019, 10, 1))
    out = tmp_path / "out"
    argv = ["--prices", str(prices), "--out", str(out), "--books", "btc_eth_pair", *ARGS]
    assert main(argv) == 0
    report, page = json.loads((out / "report.json").read_text()), (out / "report.html").read_text()
    bt, name = report["backtest"], "btc_eth_pair"
    base, sens = bt["books"][name]["1d"], bt["sensitivity_no_correlation_credit"][name]
    assert (base["all_windows"]["exceptions"], base["all_windows"]["n"]) == (2, 31)
    assert not base["coverage_goal_met"]
    assert [e["loss"] for e in base["largest_exceptions"]] == [pytest.approx(15000.0)] * 2
    assert set(sens) == {"1d", "2d"} and sens["1d"]["scan_risk"] == SENSITIVITY_RULE
    assert sens["1d"]["all_windows"]["exceptions"] == 0 and sens["1d"]["coverage_goal_met"]
    daily, floor = bt["daily"], report["inputs"]["vol_floor"]["vol_floor"]
    sum_loss = [
        60000.0 * (scan_range(max(b, floor["BTC"])) + scan_range(max(e, floor["ETH"])))
        for b, e in zip(daily["btc_vol"], daily["eth_vol"], strict=True)
    ]
    loss = daily["books"][name]["loss_1d"]
    worst = max(x / s for x, s in zip(loss, sum_loss, strict=True) if x is not None)
    assert sens["1d"]["max_loss_over_im"] == pytest.approx(worst, rel=1e-5)
    goal = next(g for g in report["goals"] if "at 1 day" in g["goal"])
    assert "no correlation credit, SR = Σ L_u" in goal["detail"]
    assert "with no correlation credit (SR = Σ L<sub>u</sub>, see below) the same backtest" in page
    assert "gives 0/31 (min binomial p 1, the goal met)" in page
    assert "With no credit for the hedge the goal is met" in page


def test_report_carries_no_floor_beside_floor_and_the_apc_metrics(three_months):
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
