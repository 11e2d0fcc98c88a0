"""tools/mutate.py: every named mutation still applies to the contracts, a run restores the file
byte for byte (also when the command cannot start), and the verdict follows the exit status."""

import shutil
import sys

import pytest

from tools import mutate
from tools.mutate import MUTATIONS, Mutation, MutationError, main, mutated_text, run


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_every_mutation_applies_to_the_contract_once(name):
    m = MUTATIONS[name]
    text = (mutate.ROOT / m.path).read_text()
    out = mutated_text(m, text)
    assert out != text and out.count(m.new) == 1 and len(out) == len(text) - len(m.old) + len(m.new)


def test_text_absent_or_repeated_is_refused():
    m = Mutation("x.sol", "a = 1;", "a = 2;", "test")
    with pytest.raises(MutationError, match="occurs 0 times"):
        mutated_text(m, "b = 1;")
    with pytest.raises(MutationError, match="occurs 2 times"):
        mutated_text(m, "a = 1; a = 1;")


@pytest.fixture
def tree(tmp_path):
    """A copy of the contract the funding mutation edits, under a scratch root."""
    m = MUTATIONS["funding-rate-x2"]
    (tmp_path / m.path).parent.mkdir(parents=True)
    shutil.copy(mutate.ROOT / m.path, tmp_path / m.path)
    return tmp_path, m


def check(path, text):
    """A command that exits 1 if `path` contains `text` (a test that sees the mutation)."""
    return [sys.executable, "-c", f"import sys; sys.exit({text!r} in open({str(path)!r}).read())"]


def test_a_failing_command_kills_the_mutation_and_the_file_is_restored(tree, capsys):
    root, m = tree
    before = (root / m.path).read_bytes()
    assert run("funding-rate-x2", check(root / m.path, m.new), root) == 0
    assert (root / m.path).read_bytes() == before
    out = capsys.readouterr().out
    assert "mutation funding-rate-x2 (funding accrues at twice" in out
    assert out.rstrip().endswith("killed (exit 1)")


def test_a_passing_command_means_the_mutation_survived(tree, capsys):
    root, m = tree
    before = (root / m.path).read_bytes()
    assert run("funding-rate-x2", [sys.executable, "-c", "pass"], root) == 1
    assert (root / m.path).read_bytes() == before
    assert "SURVIVED (exit 0)" in capsys.readouterr().out


def test_the_file_is_restored_when_the_command_cannot_start(tree):
    root, m = tree
    before = (root / m.path).read_bytes()
    with pytest.raises(FileNotFoundError):
        run("funding-rate-x2", [str(root / "no-such-command")], root)
    assert (root / m.path).read_bytes() == before


def test_cli_lists_shows_and_refuses_bad_input(capsys):
    assert main(["list"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in MUTATIONS)
    assert main(["show", "negative-cash-haircut"]) == 0
    assert "+ if (cash != 0)" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="unknown mutation 'nope'"):
        main(["run", "nope", "--", "true"])
    with pytest.raises(SystemExit, match="usage: python -m tools.mutate"):
        main(["run", "funding-rate-x2", "true"])
