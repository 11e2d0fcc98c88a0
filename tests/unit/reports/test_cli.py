"""The headless entry point on a small generated price file writes html + json + png."""

import json

import pytest

from keel.reports.cli import main
from keel.reports.html import markdown

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
    assert "capital_efficiency.png" in pngs and "risk_var_es.png" in pngs
    assert len(pngs) == 2 + len(report["inputs"]["books"])  # one backtest chart per book
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
