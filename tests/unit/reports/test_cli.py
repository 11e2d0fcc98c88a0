"""The headless entry point on a small generated price file writes html + json + png."""

import json
import sys

import pytest

from keel.reports.cli import main
from keel.reports.html import markdown
from tests.support import run_tool

from .helpers import random_walk, write_prices

ARGS = ["--warmup", "5", "--mc-samples", "2000", "--seed", "3"]


@pytest.fixture
def prices(tmp_path):
    btc, eth = random_walk(40)
    return write_prices(tmp_path / "prices.csv", btc, eth)


def test_cli_writes_html_json_and_pngs(tmp_path, prices, capsys):
    out = tmp_path / "out"
    assert main(["--prices", str(prices), "--out", str(out), *ARGS]) == 0
    report = json.loads((out / "report.json").read_text())
    html = (out / "report.html").read_text()
    for name in report["files"]:
        assert (out / name).stat().st_size > 0
    pngs = sorted(p.name for p in out.glob("*.png"))
    assert {"capital_efficiency.png", "risk_var_es.png", "scenario_heatmap.png"} <= set(pngs)
    assert len(pngs) == 3 + len(report["inputs"]["books"])  # one backtest chart per book
    assert report["inputs"]["price_rows"] == 40
    assert set(report["backtest"]["books"]) == set(report["inputs"]["books"])
    assert report["backtest"]["books"]["naked_long_perp"]["1d"]["all_windows"]["n"] == 34
    assert report["stress"]["present"] is False and report["gas"]["present"] is False
    assert "Slot for the chain simulation" in html
    assert "Capital efficiency" in html and "Backtest of IM coverage" in html
    assert "NaN" not in (out / "report.json").read_text()
    assert "report.html" in capsys.readouterr().out


def test_cli_fills_the_stress_slot_and_gas_table_when_present(tmp_path, prices):
    out = tmp_path / "out"
    out.mkdir()
    (out / "simulation.json").write_text(
        json.dumps(
            {
                "summary": {"accounts_liquidated": 3, "bad_debt": 0.0, "socialised_loss": 0.0},
                "auctions": [{"account": 7, "duration_s": 540, "discount": 0.11}],
                "series": {"t": [0, 1, 2], "system_equity": [10, 8, 9], "im": [5, 6, 5]},
            }
        )
    )
    (out / "gas.md").write_text("# Gas\n\n| operation | gas |\n|---|---:|\n| deposit | 51,234 |\n")
    assert main(["--prices", str(prices), "--out", str(out), "--books", "basis_trade", *ARGS]) == 0
    report = json.loads((out / "report.json").read_text())
    html = (out / "report.html").read_text()
    assert report["stress"]["present"] and report["stress"]["chart"] == "stress_equity_margin.png"
    assert (out / "stress_equity_margin.png").exists()
    bad_debt = [g for g in report["goals"] if "bad debt" in g["goal"]][0]
    assert bad_debt["met"] is True
    assert "<td>540</td>" in html and "<td>51,234</td>" in html
    assert report["inputs"]["books"] == ["basis_trade"]


def test_cli_rejects_a_file_not_in_the_shared_format(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("day,btc\n2020-01-01,1\n")
    assert main(["--prices", str(bad), "--out", str(tmp_path / "o"), *ARGS]) == 2
    assert "missing column" in capsys.readouterr().err


def test_cli_rejects_an_unknown_book(tmp_path, prices, capsys):
    code = main(["--prices", str(prices), "--out", str(tmp_path / "o"), "--books", "nope", *ARGS])
    assert code == 2
    assert "unknown book" in capsys.readouterr().err


def test_cli_help_exits_cleanly(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    assert "--prices" in capsys.readouterr().out


def test_markdown_pipe_table_becomes_an_html_table():
    got = markdown("## Title\n\nSome `code` here.\n\n| a | b |\n|---|--:|\n| x | 1 |\n")
    assert "<h4>Title</h4>" in got
    assert "<code>code</code>" in got
    assert '<th class="l">a</th><th>b</th>' in got and "<td>1</td>" in got


# --- Bad input, as a user runs it: one line, exit 2, no output folder ---


def reports(tmp_path, *args: str):
    out = tmp_path / "out" / "nested"
    argv = [sys.executable, "-m", "keel.reports", *ARGS, *args, "--out", str(out)]
    return run_tool(argv, cwd=tmp_path), out


def assert_refused(proc, out, message: str) -> None:
    assert proc.stderr == f"python -m keel.reports: error: {message}\n"
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert not out.exists() and not out.parent.exists()  # issue 10: empty folders were left


@pytest.mark.parametrize(
    "body, message",
    [
        ("date,btc_usd,eth_usd\n01/01/2020,1,1\n02/01/2020,1,1\n", ":2: date '01/01/2020' is not a date (YYYY-MM-DD)"),
        ("date,btc_usd\n2020-01-01,1\n", ": missing column(s) eth_usd; the header is date,btc_usd"),
        ("date,btc_usd,eth_usd\n2020-01-01,1,1\n2020-01-02,-1,1\n", ":3: btc_usd -1 is not a price (finite and > 0)"),
    ],
    ids=["not-a-date", "missing-column", "negative-price"],
)  # fmt: skip
def test_a_bad_price_file_creates_no_output_folder(tmp_path, body, message):
    (tmp_path / "p.csv").write_text(body)
    proc, out = reports(tmp_path, "--prices", "p.csv")
    assert_refused(proc, out, "p.csv" + message)


def test_a_missing_price_file_an_unknown_book_and_a_long_warmup_create_nothing(tmp_path, prices):
    proc, out = reports(tmp_path, "--prices", "nothere.csv")
    assert_refused(proc, out, "nothere.csv: no such file")
    proc, out = reports(tmp_path, "--prices", str(prices), "--books", "nope")
    assert proc.stderr.startswith(
        "python -m keel.reports: error: unknown book(s) ['nope']; known: "
    )
    assert proc.returncode == 2 and not out.parent.exists()
    # 40 days: a warm-up of 36 leaves the VaR/ES model 3 returns from day 37 on (enough, below),
    # 37 leaves 2: refused, after the backtest section's own check passed (nothing written)
    proc, out = reports(tmp_path, "--prices", str(prices), "--warmup", "37")
    assert_refused(
        proc,
        out,
        "40 days of prices leave 2 daily return(s) from day 38 on; "
        "the VaR/ES return model needs at least 3",
    )
    proc, out = reports(tmp_path, "--prices", str(prices), "--warmup", "38")
    assert_refused(proc, out, "40 days of prices leave no 2-day window after a warm-up of 38")


def test_flag_bounds_are_one_line_usage_errors(tmp_path, prices):
    proc, out = reports(tmp_path, "--prices", str(prices), "--seed", "-1")
    why = "must be >= 0 (numpy's generators take seeds >= 0), got -1"
    assert_refused(proc, out, f"argument --seed: {why} (see python -m keel.reports --help)")
    proc, out = reports(tmp_path, "--prices", str(prices), "--mc-samples", "99")
    why = "must be >= 100 (fewer draws give no meaningful 99% tail), got 99"
    assert_refused(proc, out, f"argument --mc-samples: {why} (see python -m keel.reports --help)")


def test_the_warmup_bound_just_inside_writes_the_report(tmp_path, prices):
    out = tmp_path / "o"
    assert main(["--prices", str(prices), "--out", str(out), *ARGS, "--warmup", "36"]) == 0
    assert (out / "report.html").exists()


def test_an_out_path_that_is_a_file_is_refused(tmp_path, prices, capsys):
    f = tmp_path / "o"
    f.write_text("a file")
    assert main(["--prices", str(prices), "--out", str(f), *ARGS]) == 2
    assert (
        capsys.readouterr().err
        == f"python -m keel.reports: error: --out {f}: exists and is not a folder\n"
    )


def _simulation(met: bool) -> dict:
    """simulation.json with the cover-2 section and a liquidation timeline (keel.sim.run)."""
    scen = {"scenario": "−3R all", "moves": {"1": -0.48, "2": -0.48}, "requirement": 1000.0,
            "accounts": [3, 5], "losses_beyond_equity": [600.0, 400.0]}  # fmt: skip
    fund = 1000.0 if met else 999.99
    return {
        "summary": {"bad_debt": 0.0},
        "series": {"t": [0, 1], "insurance fund": [fund, fund], "cover-2 requirement": [10, 1000]},
        "cover2": {
            "method": "m.", "historical_days": [
                {"kind": "fall", "day": "2017-09-14", "returns": {"1": -0.187, "2": -0.228}}],
            "steps_measured": 2, "met_every_step": met, "steps_short": 0 if met else 1,
            "largest_shortfall": 0.0 if met else 0.01,
            "max": {"t": 1.0, "requirement": 1000.0, "insurance_fund": fund,
                    "binding_scenario": "−3R all", "scenarios": [scen],
                    "accounts": [3, 5], "losses_beyond_equity": [600.0, 400.0]},
        },
        "accounts": [{"account": 3, "book": "PM-4", "kind": "book"}],
        "liquidation_timeline": {"auctions": [
            {"account": 3, "book": "PM-4", "outcome": "emptied",
             "quotes": [{"t_min": 0.0, "discount": 0.05, "bonus": 0.0},
                        {"t_min": 5.0, "discount": 0.13, "bonus": 40.0}],
             "bids": [{"t_min": 10.0, "kind": "solvent", "fraction": 0.5, "discount": 0.22},
                      {"t_min": 15.0, "kind": "insolvent", "bonus": 120.0}]}]},
    }  # fmt: skip


@pytest.mark.parametrize("met", [True, False])
def test_cover2_goal_table_and_liquidation_timeline(tmp_path, prices, met):
    out = tmp_path / "out"
    out.mkdir()
    (out / "simulation.json").write_text(json.dumps(_simulation(met)))
    assert main(["--prices", str(prices), "--out", str(out), "--books", "basis_trade", *ARGS]) == 0
    report = json.loads((out / "report.json").read_text())
    html = (out / "report.html").read_text()
    (goal,) = [g for g in report["goals"] if g["goal"].startswith("cover-2")]
    assert goal["met"] is met
    fund = "$1,000.00" if met else "$999.99"
    assert goal["measured"] == (
        f"largest requirement $1,000.00 (−3R all, day 1.00) against a fund of {fund}; 2 steps"
    )
    assert goal["detail"] == (
        ""
        if met
        else "short at 1 step, by up to $0.01: in −3R all account 3 (PM-4, book) $600.00 beyond its "
        "equity; account 5 (?, ?) $400.00 beyond its equity. The fund is the run's configured "
        "amount, not sized by this rule; the scenario (3 scan ranges) lies beyond what IM covers "
        "by design (one scan range in full)"
    )
    assert report["stress"]["timeline_chart"] == "liquidation_timeline.png"
    assert (out / "liquidation_timeline.png").stat().st_size > 0
    assert '<td class="l">#3 $600.00, #5 $400.00</td>' in html
    assert "2017-09-14 (joint fall: BTC -18.7%, ETH -22.8%)" in html
    assert ("met at all 2 measured steps" in html) is met


def test_a_simulation_without_cover2_figures_leaves_the_goal_unmeasured(tmp_path, prices):
    out = tmp_path / "out"
    out.mkdir()
    (out / "simulation.json").write_text(json.dumps({"summary": {"bad_debt": 0.0}}))
    assert main(["--prices", str(prices), "--out", str(out), "--books", "basis_trade", *ARGS]) == 0
    report = json.loads((out / "report.json").read_text())
    (goal,) = [g for g in report["goals"] if g["goal"].startswith("cover-2")]
    assert goal["met"] is None and goal["measured"] == "simulation.json carries no cover2 figures"
