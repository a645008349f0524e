"""``flipforge runs show``: a run's history from events.jsonl (text, JSON, plot), robust to torn logs.

Real runs are short searches started as users start them; the edge cases are hand-written logs.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from flipforge.search.cli.main import cli
from flipforge.search.history import format_history, read_history
from flipforge.search.rundir import RunConfig, RunDir

HAS_MATPLOTLIB = importlib.util.find_spec("matplotlib") is not None
needs_matplotlib = pytest.mark.skipif(not HAS_MATPLOTLIB, reason="matplotlib is not installed (flipforge[plot])")


def _env(root: Path) -> dict[str, str]:
    return {**os.environ, "FLIPFORGE_RUNS": str(root / "runs")}


def run_cli(cmd: list[str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=120, env=_env(cwd), cwd=cwd)


def invoke(*args: str, root: Path | None = None) -> tuple[int, str, str]:
    """The CLI in-process (fast): exit code, stdout, stderr."""
    env = {"FLIPFORGE_RUNS": str(root / "runs")} if root else None
    result = CliRunner(env=env).invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def one_error(code: int, err: str, needle: str) -> None:
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flipforge: error:") and needle in lines[0], lines


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory: pytest.TempPathFactory, flipforge_cmd: list[str]) -> Path:
    """``runs/reached``: one session that reaches rank 23; ``runs/resumed``: two sessions that time out."""
    root = tmp_path_factory.mktemp("hist")
    common = ("--seed", "1", "--workers", "1", "--no-db", "-q")
    out = run_cli(flipforge_cmd, root, "search", "3x3x3", "--target-rank", "23", *common, "--run-dir", "runs/reached")
    assert out.returncode == 0, out.stderr
    resumed = ("--run-dir", "runs/resumed", "--time", "1")
    out = run_cli(flipforge_cmd, root, "search", "3x3x3", "--target-rank", "22", *common, *resumed)
    assert out.returncode == 1, out.stderr
    out = run_cli(flipforge_cmd, root, "resume", "resumed", "--workers", "1", "--time", "1", "-q")
    assert out.returncode == 1, out.stderr
    return root


def craft(root: Path, name: str, lines: list[str] | None, *, newline: bool = True) -> Path:
    """A run directory with a config and (unless None) these lines as events.jsonl."""
    path = root / "runs" / name
    path.mkdir(parents=True)
    cfg = RunConfig(target="2x2x2", domain="F2", seed=5, target_rank=7, pool_size=4, label="2x2x2")
    (path / "config.json").write_text(cfg.to_json())
    if lines is not None:
        text = "\n".join(lines) + ("\n" if newline and lines else "")
        (path / "events.jsonl").write_text(text)
    return path


def ev(kind: str, **fields: object) -> str:
    return json.dumps({"event": kind, "time": "2026-11-23T10:00:00", **fields})


# --- real runs ---------------------------------------------------------------------------------------


def test_show_a_real_run_reached_in_one_session(real_runs):
    code, out, err = invoke("runs", "show", "reached", root=real_runs)
    assert code == 0, err
    assert "run reached (" in out and "3x3x3 over F2, seed 1, start rank 27, target rank 23, best rank 23" in out
    assert "session 1: started" in out and "1 worker(s), no time limit" in out
    assert "ended: reached (best 23," in out
    table = [line.split() for line in out.splitlines() if line.strip() and line.split()[0].isdigit()]
    assert [int(row[0]) for row in table][-1] == 23 and len(table) >= 1
    assert "session 2" not in out and "note:" not in out


def test_show_a_resumed_run_has_two_sessions_with_session_relative_times(real_runs):
    code, out, err = invoke("runs", "show", "resumed", "--json", root=real_runs)
    assert code == 0, err
    (h,) = json.loads(out)
    assert h["run"] == "resumed" and h["target_rank"] == 22 and h["start_rank"] == 27 and h["best_rank"] <= 23
    s1, s2 = h["sessions"]
    assert (s1["number"], s2["number"]) == (1, 2)
    assert s1["status"] == s2["status"] == "time" and s1["time_limit"] == s2["time_limit"] == 1.0
    assert s1["workers"] == 1 and s1["seconds_before"] == 0.0
    assert s2["seconds_before"] == s1["seconds"] and s2["flips_before"] == s1["flips"]
    assert 0.5 < s2["session_seconds"] < 30 and s2["session_flips"] > 0 and s2["seconds"] > s1["seconds"]
    ranks = [b["rank"] for s in h["sessions"] for b in s["bests"]]
    assert ranks and ranks == sorted(ranks, reverse=True) and len(set(ranks)) == len(ranks)
    for s in h["sessions"]:
        for b in s["bests"]:
            assert b["flips"] > 0 and b["worker"] == 0 and not b["approx"] and b["file"] == f"best-{b['rank']}.json"
            assert b["session_seconds"] == pytest.approx(b["seconds"] - s["seconds_before"], abs=1e-3)
    code, text, _ = invoke("runs", "show", "resumed", root=real_runs)
    assert code == 0 and "session 1:" in text and "session 2:" in text and "time limit 1.00s" in text
    # several runs, by id and by directory, in the order given; --runs-dir and the group's options
    code, out, err = invoke(
        "runs", "--runs-dir", str(real_runs / "runs"), "show", "resumed", str(real_runs / "runs/reached")
    )
    assert code == 0, err
    assert out.index("run resumed") < out.index("run reached")
    code, out, err = invoke("runs", "--json", "show", "reached", "--runs-dir", str(real_runs / "runs"))
    assert code == 0 and json.loads(out)[0]["run"] == "reached"


def test_runs_without_subcommand_still_lists(real_runs, flipforge_cmd):
    out = run_cli(flipforge_cmd, real_runs, "runs")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines()[0].startswith("run ") and {
        line.split()[0] for line in out.stdout.splitlines()[1:]
    } == {
        "reached",
        "resumed",
    }
    rows = json.loads(run_cli(flipforge_cmd, real_runs, "runs", "--json").stdout)
    assert {r["run"] for r in rows} == {"reached", "resumed"}
    elsewhere = run_cli(flipforge_cmd, real_runs, "runs", "--runs-dir", str(real_runs / "nothing"))
    assert elsewhere.returncode == 0 and elsewhere.stdout.strip() == f"no runs under {real_runs / 'nothing'}"
    bad = run_cli(flipforge_cmd, real_runs, "runs", "bogus")
    assert bad.returncode == 2 and bad.stderr.strip() == "flipforge: error: No such command 'bogus'."


# --- hand-written logs ----------------------------------------------------------------------------------


def test_a_torn_log_with_unknown_events_and_missing_fields_is_read(tmp_path):
    lines = [
        ev("created", target="2x2x2", domain="F2", seed=5, target_rank=7, start_rank=8),
        ev("start", session=1, workers=2, seed=5, time_limit=None),
        ev("best", rank=7, worker=1, flips=1000, seconds=0.5),
        ev("best", worker=1),  # no rank: skipped
        ev("best", rank=6),  # no time, no flips
        ev("teleported", to="mars"),  # a kind from a newer version
        "not json at all",
        "[1, 2, 3]",
        ev("worker_lost", worker=0, exitcode=-9, respawn=1),
        ev("rejected", rank=5, worker=1, reason="Brent equations fail"),
        ev("db_error", rank=6, reason="database is locked"),
        ev("lifted", rank=7, domain="Z", steps=3, file="best-7-Z.json"),
        ev("lift_failed", rank=6, reason="no solution mod 4"),
        ev("stop", status="interrupted", signal="SIGTERM", best_rank=6, flips="many", seconds=float("nan")),
        ev("start", session=2, workers=1),
        '{"event": "best", "rank": 5, "fl',  # killed while writing
    ]
    craft(tmp_path, "torn", lines, newline=False)
    h = read_history(RunDir(tmp_path / "runs" / "torn"))
    assert h.torn_last_line and h.skipped_lines == 4 and h.unknown_events == {"teleported": 1}
    s1, s2 = h.sessions
    assert [b.rank for b in s1.bests] == [7, 6] and s1.bests[1].seconds is None and s1.bests[1].flips is None
    assert s1.status == "interrupted" and s1.signal == "SIGTERM" and s1.flips is None and s1.seconds is None
    assert s1.workers_lost == [{"time": "2026-11-23T10:00:00", "worker": 0, "exitcode": -9, "respawn": 1}]
    assert s1.rejected[0]["reason"] == "Brent equations fail" and s1.db_errors[0]["rank"] == 6
    assert [lift["lifted"] for lift in s1.lifts] == [True, False]
    assert s2.number == 2 and s2.status == "killed" and s2.seconds_before is None and not s2.bests
    assert h.best_rank == 6
    text = format_history(h)
    assert "interrupted by SIGTERM" in text and "worker 0 lost at 2026-11-23T10:00:00 (exit code -9)" in text
    assert "rank 7 lifted to Z -> best-7-Z.json" in text and "rank 6 did not lift: no solution mod 4" in text
    assert "rejected a rank 5 scheme from worker 1: Brent equations fail" in text
    assert "database error at rank 6: database is locked" in text and "killed (no stop event" in text
    assert "the last line is cut short" in text and "3 unreadable line(s) skipped" in text and "teleported x1" in text
    code, out, err = invoke("runs", "show", str(tmp_path / "runs" / "torn"), "--json")
    assert code == 0, err
    (body,) = json.loads(out)  # valid JSON: no NaN
    assert body["torn_last_line"] is True and body["sessions"][0]["workers_lost"][0]["exitcode"] == -9


def test_a_session_after_a_killed_one_times_its_bests_by_the_clock(tmp_path):
    lines = [
        ev("created", target="2x2x2", domain="F2", seed=5, target_rank=7, start_rank=8),
        ev("start", session=1, workers=1),
        ev("best", rank=7, flips=10, seconds=1.0),
        # kill -9: no stop event
        json.dumps({"event": "start", "time": "2026-11-23T11:00:00", "session": 2, "workers": 1}),
        json.dumps({"event": "best", "time": "2026-11-23T11:00:42", "rank": 6, "flips": 99, "seconds": 25.0}),
        json.dumps({"event": "best", "time": "2026-11-23T11:00:50+00:00", "rank": 5}),  # a zone: no clock time
        ev("stop", status="reached", best_rank=6, flips=120, seconds=26.0),
    ]
    craft(tmp_path, "killed", lines)
    h = read_history(RunDir(tmp_path / "runs" / "killed"))
    s1, s2 = h.sessions
    assert s1.status == "killed" and s2.status == "reached" and s2.seconds_before is None
    b, zoned = s2.bests
    assert b.approx and b.session_seconds == 42.0 and b.seconds == 25.0 and zoned.session_seconds is None
    assert "~42s" in format_history(h)


def test_bests_before_any_start_and_no_created_event_still_show(tmp_path):
    craft(tmp_path, "headless", [ev("best", rank=7, flips=5, seconds=0.1)])
    h = read_history(RunDir(tmp_path / "runs" / "headless"))
    (s,) = h.sessions
    assert s.number is None and s.bests[0].rank == 7 and s.status == "killed" and h.start_rank is None
    code, out, err = invoke("runs", "show", str(tmp_path / "runs" / "headless"))
    assert code == 0 and "? over ?, seed ?" in out and "session ?: started ?" in out, err


def test_an_open_session_of_a_live_process_is_running(tmp_path):
    run = craft(tmp_path, "live", [ev("start", session=1, workers=1), ev("best", rank=7, flips=5, seconds=0.1)])
    with RunDir(run).lock():  # held by a live process (this one): a pid alone is not enough
        h = read_history(RunDir(run))
    assert h.sessions[0].status == "running" and "still running" in format_history(h)


def test_a_run_with_no_events_says_so(tmp_path):
    craft(tmp_path, "empty", [])
    code, out, err = invoke("runs", "show", "empty", root=tmp_path)
    assert code == 0, err
    assert "no events recorded yet" in out
    code, out, _ = invoke("runs", "show", "empty", "--json", root=tmp_path)
    assert json.loads(out)[0]["sessions"] == []


@pytest.mark.parametrize(
    ("setup", "needle"),
    [
        ("missing", "no events.jsonl"),
        ("folder", "cannot read it (not a regular file: a folder)"),
        ("garbage", "not an events log"),
        ("unknown run", "no-such-run: no such run"),
        ("fifo", "not a regular file"),
        ("no config", "not a run directory (no config.json)"),
    ],
)
def test_bad_runs_are_one_line_and_exit_2(tmp_path, setup, needle):
    ref = "r"
    if setup == "missing":
        craft(tmp_path, "r", None)
    elif setup == "folder":
        (craft(tmp_path, "r", None) / "events.jsonl").mkdir()
    elif setup == "garbage":
        (craft(tmp_path, "r", None) / "events.jsonl").write_bytes(b"\x00\xff garbage\n{not json\n")
    elif setup == "fifo":
        os.mkfifo(craft(tmp_path, "r", None) / "events.jsonl")
    elif setup == "unknown run":
        ref = "no-such-run"
    else:
        (tmp_path / "runs" / "r").mkdir(parents=True)
    code, out, err = invoke("runs", "show", ref, root=tmp_path)
    one_error(code, err, needle)
    assert out == ""


def test_usage_errors_of_show_are_one_line(tmp_path):
    code, _, err = invoke("runs", "show", root=tmp_path)
    one_error(code, err, "Missing argument 'RUN...'")
    code, _, err = invoke("runs", "show", "x", "--bogus", root=tmp_path)
    one_error(code, err, "No such option '--bogus'")


# --- plot ------------------------------------------------------------------------------------------------


@needs_matplotlib
def test_plot_draws_a_png_for_several_runs(real_runs, tmp_path):
    target = tmp_path / "history.png"
    code, out, err = invoke("runs", "show", "reached", "resumed", "--plot", str(target), root=real_runs)
    assert code == 0, err
    assert "run reached" in out and f"plot: {target}" in err
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and 5_000 < len(data) < 200_000
    assert not list(tmp_path.glob(".*tmp*"))


@needs_matplotlib
def test_plot_refuses_bad_files_and_empty_histories(real_runs, tmp_path):
    (tmp_path / "afile").write_text("x")
    cases = [
        (str(tmp_path / "history.jpg"), "must end in .png"),
        (str(tmp_path / "missing" / "h.png"), "does not exist"),
        (str(tmp_path / "afile" / "h.png"), "does not exist"),
    ]
    (tmp_path / "dir.png").mkdir()
    cases.append((str(tmp_path / "dir.png"), "is a folder"))
    for path, needle in cases:
        code, _, err = invoke("runs", "show", "reached", "--plot", path, root=real_runs)
        one_error(code, err, needle)
    craft(tmp_path, "empty", [])
    code, _, err = invoke("runs", "show", "empty", "--plot", str(tmp_path / "e.png"), root=tmp_path)
    one_error(code, err, "nothing to plot")
    assert not (tmp_path / "e.png").exists()


def test_plot_without_matplotlib_says_how_to_install_it(tmp_path):
    craft(tmp_path, "r", [ev("best", rank=7, flips=5, seconds=0.1)])
    code = (
        "import sys; sys.modules['matplotlib'] = None; "
        "sys.argv = ['flipforge', 'runs', 'show', 'r', '--plot', 'h.png']; "
        "from flipforge.search.cli.main import main; main()"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=_env(tmp_path))
    assert out.returncode == 2 and out.stdout == "", out
    assert out.stderr.strip() == "flipforge: error: --plot needs matplotlib: pip install 'flipforge[plot]'"
    assert not (tmp_path / "h.png").exists()
