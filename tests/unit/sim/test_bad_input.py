"""Bad input to the simulation (`make demo ARGS=...`, i.e. `python -m keel.sim ...`): one line on
stderr naming what is wrong, exit 2, and nothing launched (no chain, no process) or written (no
report folder). Checked by running the command as a user does, then the limits just inside and
just outside each bound through `parse_args`, the entry point's own parser."""

from __future__ import annotations

import sys

import pytest

from keel.pricefile import DEFAULT_PRICE_FILE
from keel.sim.config import csv_start, parse_args
from tests.support import run_tool

PROG = "python -m keel.sim"
HEADER = "date,btc_usd,eth_usd\n"


def sim(tmp_path, *args: str):
    """`python -m keel.sim ARGS --out OUT` from tmp_path; OUT must never be created."""
    out = tmp_path / "out"
    proc = run_tool([sys.executable, "-m", "keel.sim", *args, "--out", str(out)], cwd=tmp_path)
    return proc, out


def assert_refused(proc, out, message: str) -> None:
    assert proc.stderr == f"{PROG}: error: {message}\n"
    assert proc.returncode == 2
    assert proc.stdout == ""  # not even "compiling and launching the embedded chain ..."
    assert not out.exists()


def usage(option: str, message: str) -> str:
    return f"argument {option}: {message} (see {PROG} --help)"


def write(tmp_path, name: str, body: str):
    path = tmp_path / name
    path.write_text(body)
    return path


def test_a_csv_whose_dates_are_not_dates_is_refused_naming_file_line_and_value(tmp_path):
    """Issue 10: `--csv notadate.csv` ran on 2016-2017 prices (dates compared as text)."""
    rows = DEFAULT_PRICE_FILE.read_text().splitlines()[1:]
    body = HEADER + "".join(f"{r[8:10]}/{r[5:7]}/{r[:4]},{r.split(',', 1)[1]}\n" for r in rows)
    csv = write(tmp_path, "notadate.csv", body)
    proc, out = sim(tmp_path, "--csv", "notadate.csv")
    assert_refused(proc, out, "notadate.csv:2: date '01/01/2016' is not a date (YYYY-MM-DD)")
    csv.write_text(HEADER + "\n".join(rows) + "\n")  # the same rows dated YYYY-MM-DD: accepted
    assert parse_args(["--csv", str(csv)]).csv == str(csv)


@pytest.mark.parametrize(
    "body, message",
    [
        ("date,btc_usd\n2019-02-01,3000\n", ": missing column(s) eth_usd; the header is date,btc_usd"),
        (HEADER + "2019-02-01,3000,100\n2019-02-02,-5,100\n", ":3: btc_usd -5 is not a price (finite and > 0)"),
        (HEADER + "2019-02-01,3000,0\n", ":2: eth_usd 0 is not a price (finite and > 0)"),
        (HEADER + "2019-02-01,3000,abc\n", ":2: eth_usd 'abc' is not a number"),
        (HEADER + "2019-02-02,1,1\n2019-02-01,1,1\n", ":3: date 2019-02-01 is not after 2019-02-02 (dates must increase)"),
    ],
    ids=["missing-column", "negative-price", "zero-price", "non-numeric-price", "dates-backwards"],
)  # fmt: skip
def test_a_malformed_csv_is_refused_before_the_chain_starts(tmp_path, body, message):
    write(tmp_path, "p.csv", body)
    proc, out = sim(tmp_path, "--csv", "p.csv", "--days", "1")
    assert_refused(proc, out, "p.csv" + message)


def test_a_missing_csv_and_a_missing_config_are_refused(tmp_path):
    proc, out = sim(tmp_path, "--csv", "nothere.csv")
    assert_refused(proc, out, "nothere.csv: no such file")
    proc, out = sim(tmp_path, "--config", "nothere.yaml")
    assert_refused(proc, out, "--config nothere.yaml: no such file")


def test_a_crash_of_minus_100_percent_or_more_is_refused(tmp_path):
    """Issue 10: `--crash-eth -1.5` hung the relayer ("relayer gave no answer") on day 35."""
    proc, out = sim(tmp_path, "--crash-eth", "-1.5")
    why = "must be > -1 (a move of -100% or more leaves no positive price)"
    assert_refused(proc, out, usage("--crash-eth", f"{why}, got -1.5"))


def test_unknown_flags_and_a_misspelt_config_key_are_refused(tmp_path):
    proc, out = sim(tmp_path, "--steps", "0")
    assert_refused(proc, out, f"unrecognized arguments: --steps 0 (see {PROG} --help)")
    write(tmp_path, "sim.yaml", "days: 3\ncrash-etj: -0.5\n")
    proc, out = sim(tmp_path, "--config", "sim.yaml")
    assert_refused(proc, out, "sim.yaml: unknown option 'crash_etj' (did you mean crash_eth?)")


def refused(capsys, argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exc:
        parse_args(argv)
    assert exc.value.code == 2
    return capsys.readouterr().err.removeprefix(f"{PROG}: error: ").removesuffix("\n")


@pytest.mark.parametrize(
    "option, inside, outside, message",
    [
        ("--crash-eth", "-0.999", "-1", "must be > -1 (a move of -100% or more leaves no positive price), got -1"),
        ("--crash-btc", "-0.999", "-1", "must be > -1 (a move of -100% or more leaves no positive price), got -1"),
        ("--days", "1", "0", "must be >= 1 (at least one trading day), got 0"),
        ("--accounts", "1", "0", "must be >= 1 (at least one trader), got 0"),
        ("--seed", "0", "-1", "must be >= 0 (numpy's generators take seeds >= 0), got -1"),
        ("--insurance-fund", "0", "-1", "must be >= 0 (USD paid into the fund), got -1"),
        ("--liquidation-hours", "0", "-0.5", "must be >= 0 (chain time after the crash), got -0.5"),
        ("--crash-day", "0", "-1", "must be >= 0 (0 = no crash), got -1"),
        ("--start", "2019-02-01", "2019-02-30", "'2019-02-30' is not a date (YYYY-MM-DD)"),
        ("--crash-eth", "0.5", "nan", "'nan' is not a finite number"),
        ("--days", "2", "2.5", "'2.5' is not an integer"),
    ],
)  # fmt: skip
def test_each_flag_bound_just_inside_and_just_outside(capsys, option, inside, outside, message):
    parse_args([option, inside, "--path", "gbm"])
    assert refused(capsys, [option, outside]) == usage(option, message)


def test_the_crash_day_must_fall_within_the_run(capsys):
    assert parse_args(["--days", "5", "--crash-day", "5"]).crash_at() == 5
    assert refused(capsys, ["--days", "5", "--crash-day", "6"]) == (
        "--crash-day 6 is after the last day (--days 5)"
    )


def test_the_csv_must_cover_the_start_and_every_day(tmp_path, capsys):
    csv = write(tmp_path, "p.csv", HEADER + "2019-01-30,1,1\n2019-02-03,2,2\n2019-02-04,3,3\n")
    # dates compared as dates: 2019-02-01 falls in a gap, the replay starts on the next row
    assert csv_start(parse_args(["--csv", str(csv), "--start", "2019-02-01", "--days", "1"])) == 1
    assert refused(capsys, ["--csv", str(csv), "--start", "2019-02-01", "--days", "2"]) == (
        f"{csv}: 2 row(s) from 2019-02-03 to 2019-02-04, 3 needed "
        "(--start 2019-02-01, --days 2: a row to deploy on, then one a day)"
    )
    assert refused(capsys, ["--csv", str(csv), "--start", "2019-02-05", "--days", "1"]) == (
        f"{csv}: start 2019-02-05 is outside the file's dates 2019-01-30 to 2019-02-04 "
        "(--start 2019-02-05, --days 1: a row to deploy on, then one a day)"
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("days: ten\n", "days: 'ten' is not an integer"),
        ("report: 'no'\n", "report: 'no' is not true or false"),
        ("path: csvv\n", "path: 'csvv' is not one of csv, gbm"),
        ("book_share: 1.5\n", "book_share: must be <= 1 (a share of the trader accounts), got 1.5"),
        ("trade_prob: -0.1\n", "trade_prob: must be >= 0 (a probability), got -0.1"),
        ("days: [1\n", "not valid YAML at line 2"),
        ("- 1\n- 2\n", "expected a mapping of options, got list"),
    ],
)
def test_config_file_values_follow_the_flags_rules(tmp_path, capsys, text, message):
    f = write(tmp_path, "sim.yaml", text)
    assert refused(capsys, ["--config", str(f)]) == f"{f}: {message}"


def test_a_config_file_passes_with_values_at_the_bounds(tmp_path):
    f = write(tmp_path, "sim.json", '{"book_share": 1, "trade_prob": 0, "crash_day": null}')
    cfg = parse_args(["--config", str(f)])
    assert (cfg.book_share, cfg.trade_prob, cfg.crash_day) == (1.0, 0.0, None)


def test_an_out_path_that_is_a_file_is_refused(tmp_path, capsys):
    f = write(tmp_path, "report", "not a folder")
    assert refused(capsys, ["--out", str(f)]) == f"--out {f}: {f} exists and is not a folder"


# --- The first stage's walkthrough (`make demo-vault`, python -m keel.demo): the same reader and
# the same one-line errors ---


def test_the_vault_demo_refuses_a_bad_csv_and_an_unknown_network(tmp_path):
    write(tmp_path, "p.csv", HEADER + "2017-11-20,1,1\n20/11/2017,1,1\n")
    proc = run_tool([sys.executable, "-m", "keel.demo", "--csv", "p.csv"], cwd=tmp_path)
    assert (
        proc.stderr
        == "python -m keel.demo: error: p.csv:3: date '20/11/2017' is not a date (YYYY-MM-DD)\n"
    )
    assert (proc.returncode, proc.stdout) == (2, "")
    proc = run_tool([sys.executable, "-m", "keel.demo", "--network", "anvill"], cwd=tmp_path)
    assert proc.stderr == (
        "python -m keel.demo: error: argument --network: 'anvill' is not a brownie network; "
        "did you mean anvil, anvil-fork? (see python -m keel.demo --help)\n"
    )
    assert (proc.returncode, proc.stdout) == (2, "")


def test_the_vault_demo_needs_a_row_per_round(tmp_path, capsys):
    from keel.demo import parse_args as demo_args

    csv = write(tmp_path, "p.csv", HEADER + "2017-11-20,1,1\n2017-11-21,2,2\n")
    assert demo_args(["--csv", str(csv), "--rounds", "2"]).csv_start == 0
    with pytest.raises(SystemExit) as exc:
        demo_args(["--csv", str(csv), "--rounds", "3"])
    assert exc.value.code == 2
    assert capsys.readouterr().err == (
        f"python -m keel.demo: error: {csv}: 2 row(s) from 2017-11-20 to 2017-11-21, 3 needed "
        "(--start 2017-11-20, --rounds 3)\n"
    )


def test_a_relayer_that_dies_is_reported_with_its_last_words(tmp_path):
    """The sim's own guard behind the checks above: a relayer process that dies (issue 10's
    `--crash-eth -1.5` killed it) is named with its exit code and its log's last line, not a bare
    "relayer gave no answer"."""
    import subprocess

    from keel.sim.config import SimConfig
    from keel.sim.run import Simulation

    sim = Simulation(SimConfig())
    sim.logs = tmp_path
    log = tmp_path / "relayer.log"
    with open(log, "w") as fh:
        sim.procs["relayer"] = subprocess.Popen(
            [sys.executable, "-c", "import sys; sys.stdin.readline(); "
             "raise ValueError('price must be finite and > 0, got -55.2')"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=fh, text=True,
        )  # fmt: skip
    with pytest.raises(RuntimeError) as exc:
        sim.relayer("crash -1.5 -0.35")
    assert str(exc.value) == (
        "the relayer exited (1) at 'crash -1.5 -0.35': "
        f"ValueError: price must be finite and > 0, got -55.2; see {log}"
    )
