"""Adding a searcher takes one file (tests/toy_searcher.py) and one line, ``register(ToySearcher)``.

With that line done (here by a fixture, undone after each test) the toy passes the Searcher
contract, runs through the orchestrator on the local backend like any searcher, and is run by
``flipforge search --searcher toy-descent``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from contract_searcher import SearcherContract
from flipforge.schemes import read_schemes
from flipforge.search.cli.main import cli
from flipforge.search.orchestrator import run_session
from flipforge.search.run import create_run
from flipforge.search.searchers import SEARCHERS, SearcherParams, register
from flipforge.verify import verify
from toy_searcher import ToyParams, ToySearcher

TARGET, DOMAIN, NAIVE_RANK, BEST_RANK = "2x2x2", "F2", 8, 7


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> type[ToySearcher]:
    """The toy registered as flipforge would register it; monkeypatch removes it afterwards."""
    monkeypatch.setitem(SEARCHERS, ToySearcher.name, None)  # remember that the name was free
    register(ToySearcher)  # the one line
    return ToySearcher


class TestToyContract(SearcherContract):
    steps = 8
    budget = 400

    @pytest.fixture
    def searcher_case(self, toy):  # noqa: ANN001, ANN201
        return (toy.name, TARGET, DOMAIN, {})


def _check_best(best_scheme: str) -> None:
    (scheme,) = read_schemes(best_scheme)
    assert scheme.rank < NAIVE_RANK
    assert verify(scheme, DOMAIN).valid


def test_a_run_through_the_orchestrator(toy, tmp_path: Path) -> None:
    run = create_run(
        TARGET, DOMAIN, seed=3, target_rank=BEST_RANK, searcher=toy.name, run_dir=tmp_path / "run", db=None
    )
    assert run.config().searcher == toy.name
    summary = run_session(run, 2, 60.0, db=False, checkpoint_every=0.5)
    assert summary.error is None, summary.error
    assert summary.status == "reached" and summary.best_rank == BEST_RANK < summary.start_rank == NAIVE_RANK
    assert summary.flips > 0
    _check_best(summary.best_scheme)
    events = [json.loads(line) for line in (run.path / "events.jsonl").read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[:2] == ["created", "start"] and kinds[-1] == "stop"
    assert "rejected" not in kinds and "worker_lost" not in kinds
    assert [e["rank"] for e in events if e["event"] == "best"][-1] == BEST_RANK


def _search(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["search", *args], catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_the_cli_runs_the_toy(toy, tmp_path: Path) -> None:
    code, out, err = _search(
        TARGET, "--searcher", toy.name, "-r", str(BEST_RANK), "-w", "1", "--seed", "5", "--time", "60",
        "--no-db", "--run-dir", str(tmp_path / "cli"), "--json", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    assert f"1 {toy.name} worker(s)" in err
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["status"] == "reached" and summary["best_rank"] == BEST_RANK
    _check_best(summary["best_scheme"])
    config = json.loads((tmp_path / "cli" / "config.json").read_text())
    assert config["searcher"] == toy.name and config["params"] == {}


def test_the_cli_refuses_another_searchers_option_for_the_toy(toy, tmp_path: Path) -> None:
    code, _, err = _search(
        TARGET, "--searcher", toy.name, "--plus-after", "10", "--no-db", "--run-dir", str(tmp_path / "x")
    )
    assert code == 2 and "--plus-after is not an option of --searcher toy-descent" in err
    assert not (tmp_path / "x").exists()


def test_the_cli_help_lists_the_toy(toy) -> None:
    result = CliRunner().invoke(cli, ["search", "--help"])
    assert result.exit_code == 0, repr(result.exception)
    assert f"Options of --searcher {toy.name}" in result.stdout
    assert "--restart-after" in result.stdout


@dataclass(frozen=True)
class _NoOptions(SearcherParams):
    """No options at all."""


class _NoOptionsSearcher(ToySearcher):
    name = "toy-no-options"
    Params = _NoOptions

    def __init__(self, tensor, domain, params, seed, start) -> None:  # noqa: ANN001
        super().__init__(tensor, domain, ToyParams(), seed, start)


def test_the_cli_help_with_a_searcher_without_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(SEARCHERS, _NoOptionsSearcher.name, _NoOptionsSearcher)
    result = CliRunner().invoke(cli, ["search", "--help"])
    assert result.exit_code == 0, repr(result.exception)
    assert f"Options of --searcher {_NoOptionsSearcher.name}" in result.stdout


def test_the_cli_takes_the_toys_own_option(toy, tmp_path: Path) -> None:
    code, out, err = _search(
        TARGET, "--searcher", toy.name, "--restart-after", "500", "-r", str(BEST_RANK), "-w", "1", "--seed", "5",
        "--time", "60", "--no-db", "--run-dir", str(tmp_path / "opt"), "--json", "--quiet",
    )  # fmt: skip
    assert code == 0, err
    config = json.loads((tmp_path / "opt" / "config.json").read_text())
    assert config["params"] == {"restart_after": 500}
