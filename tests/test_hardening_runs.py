"""Issue 10, runs: no scheme lost, no orphan, no runaway; run-related bad input and papercuts.

Every test starts the installed ``flipforge`` command the way users do (real processes, real
signals, real run directories under tmp_path) unless it only needs the help text.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import denied_runner
from flipforge.schemes import Scheme, matmul_tensor, read_schemes
from flipforge.schemes.formats.native import from_native_dict
from flipforge.search.packing import pack
from flipforge.verify import verify


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "FLIPFORGE_RUNS": str(tmp_path / "runs"), "FLIPFORGE_DB": str(tmp_path / "default.db")}


def run_cli(cmd: list[str], tmp_path: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, timeout=timeout, env=_env(tmp_path), cwd=tmp_path
    )


def start_cli(cmd: list[str], tmp_path: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*cmd, *args],
        cwd=tmp_path,
        env=_env(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def one_error_line(out: subprocess.CompletedProcess, needle: str) -> None:
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flipforge: error:") and needle in lines[0], lines


def events(run: Path) -> list[dict]:
    path = run / "events.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def wait_for(predicate: Callable[[], object], timeout: float = 60.0, every: float = 0.01) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(every)
    raise AssertionError("timed out waiting")


def children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def all_gone(pids: list[int], within: float) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return not any(alive(p) for p in pids)


def best_files(run: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(run.glob("best-*.json"))}


def summary(out: subprocess.CompletedProcess) -> dict:
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- signals ------------------------------------------------------------------------------------


def test_sigterm_is_handled_like_ctrl_c(flipforge_cmd, tmp_path):
    run = tmp_path / "run"
    proc = start_cli(
        flipforge_cmd, tmp_path, "search", "4x4x4", "-r", "40", "-w", "2", "--seed", "5", "--no-db", "--run-dir", "run"
    )
    wait_for(lambda: any(e["event"] == "best" for e in events(run)))
    workers = children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "interrupted by SIGTERM" in out and "checkpoint written" in out and "flipforge resume" in out
    assert "Traceback" not in out + err
    stop = events(run)[-1]
    assert stop["event"] == "stop" and stop["status"] == "interrupted" and stop["signal"] == "SIGTERM"
    ckpt = json.loads((run / "checkpoint.json").read_text())
    assert ckpt["status"] == "interrupted" and (run / ckpt["best_file"]).exists()
    assert all_gone(workers, 2.0)


def test_sigterm_as_the_first_worker_starts_ends_cleanly(flipforge_cmd, tmp_path):
    run = tmp_path / "run"
    proc = start_cli(flipforge_cmd, tmp_path, "search", "4x4x4", "-w", "9", "--force", "--no-db", "--run-dir", "run")
    wait_for(lambda: children(proc.pid), every=0.002)  # the first worker exists: start-up under way
    seen = set(children(proc.pid))
    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 30
    while proc.poll() is None and time.monotonic() < deadline:  # every worker it started, while it lives
        seen.update(children(proc.pid))
        time.sleep(0.005)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "Traceback" not in out + err and "flipforge resume" in out
    stop = events(run)[-1]
    assert stop["event"] == "stop" and stop["signal"] == "SIGTERM"
    assert seen and all_gone(sorted(seen), 2.0), seen  # no worker outlives the search


class _SignalOnStart:
    """A multiprocess context whose n-th Process.start() sends this process a SIGTERM."""

    def __init__(self, ctx: Any, n: int) -> None:
        self.ctx, self.n, self.started = ctx, n, 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.ctx, name)

    def Process(self, *args: Any, **kwargs: Any) -> Any:
        proc = self.ctx.Process(*args, **kwargs)
        real_start = proc.start

        def start() -> None:
            real_start()
            self.started += 1
            if self.started == self.n:
                os.kill(os.getpid(), signal.SIGTERM)

        proc.start = start
        return proc


def test_a_stop_signal_during_start_up_stops_the_start_up(tmp_path, monkeypatch):
    import flipforge.search.backends.local as local
    from flipforge.search.orchestrator import run_session
    from flipforge.search.run import create_run

    real = local._context()
    fake = _SignalOnStart(real, 2)
    monkeypatch.setattr(local, "_context", lambda: fake)
    run = create_run("4x4x4", "F2", seed=1, target_rank=40, run_dir=tmp_path / "run")
    s = run_session(run, 6, 30.0)
    assert s.status == "interrupted" and s.signal == "SIGTERM" and fake.started == 2
    start, stop = [e for e in events(run.path) if e["event"] in ("start", "stop")]
    assert start["workers"] == 2 and stop["status"] == "interrupted" and stop["signal"] == "SIGTERM"
    assert not multiprocess_children()
    assert (run.path / "lock").read_text() == ""


def test_a_stop_signal_before_the_workers_start_changes_nothing(tmp_path, monkeypatch):
    from flipforge.search.orchestrator import Interrupted, run_session
    from flipforge.search.run import create_run
    from flipforge.search.searchers.flip_pool import FlipPoolSearcher

    monkeypatch.setattr(FlipPoolSearcher, "prepare", classmethod(lambda cls: os.kill(os.getpid(), signal.SIGTERM)))
    run = create_run("3x3x3", "F2", seed=1, target_rank=23, run_dir=tmp_path / "run")
    before = run.checkpoint_file.read_bytes()
    with pytest.raises(Interrupted) as caught:
        run_session(run, 2, 30.0)
    assert caught.value.signum == signal.SIGTERM and run.checkpoint_file.read_bytes() == before
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handlers are given back


def multiprocess_children() -> list[Any]:
    import multiprocess

    return [p for p in multiprocess.active_children() if p.name.startswith("flipforge-worker")]


# --- kill -9: nothing found is lost, no orphan, resume goes on from the best ---------------------


def test_kill_9_in_the_first_second_loses_nothing(flipforge_cmd, tmp_path):
    run = tmp_path / "run"
    proc = start_cli(
        flipforge_cmd, tmp_path, "search", "4x4x4", "-r", "40", "-w", "2", "--seed", "2", "--no-db", "--run-dir", "run"
    )
    wait_for(lambda: any(e["event"] == "best" for e in events(run)))
    workers = children(proc.pid)
    proc.kill()
    proc.wait()
    assert workers and all_gone(workers, 2.0), "workers outlived their parent by more than 2 s"
    announced = min(e["rank"] for e in events(run) if e["event"] == "best")
    ckpt = json.loads((run / "checkpoint.json").read_text())
    assert ckpt["best_rank"] <= announced and min(map(int, ckpt["pools"])) == ckpt["best_rank"]
    (row,) = json.loads(run_cli(flipforge_cmd, tmp_path, "runs", "--runs-dir", str(tmp_path), "--json").stdout)
    assert row["status"] == "killed"
    before = best_files(run)
    lowest = min(int(name[5:-5]) for name in before)
    out = run_cli(flipforge_cmd, tmp_path, "resume", "run", "--time", "1", "-w", "1", "--json", "--no-db")
    assert out.returncode in (0, 1), out.stderr
    assert out.stderr.startswith(f"resuming run: best rank {lowest} ")
    assert summary(out)["best_rank"] <= lowest
    after = best_files(run)
    assert {k: after[k] for k in before} == before  # no best file rewritten


def test_resume_never_restarts_from_naive_when_bests_exist(flipforge_cmd, tmp_path):
    from flipforge.search.rundir import RunDir

    run = tmp_path / "run"
    out = run_cli(
        flipforge_cmd, tmp_path, "search", "3x3x3", "-r", "23", "-w", "1", "--seed", "1", "--no-db", "--run-dir", "run"
    )
    assert out.returncode == 0, out.stderr
    before = best_files(run)
    assert "best-23.json" in before
    # the checkpoint a crash right after creation leaves behind (as before this fix): naive, no best
    naive = pack(Scheme.naive(matmul_tensor("3x3x3")), "F2")
    state = {"status": "running", "sessions": 1, "flips": 5, "seconds": 0.1, "start_rank": 27, "best_rank": 27}
    RunDir(run).write_checkpoint({**state, "best_file": None}, {27: [naive]})
    out = run_cli(flipforge_cmd, tmp_path, "resume", "run", "-w", "1", "--time", "5", "--json")
    assert out.returncode == 0, out.stderr
    s = summary(out)
    assert s["status"] == "reached" and s["best_rank"] == 23 and s["session_flips"] == 0
    assert best_files(run) == before


# --- a checkpoint is trusted only after an exact re-check ------------------------------------------


def _forge(body: dict, case: str) -> object:
    pools = body["pools"]
    (naive,) = pools["27"]
    if case == "claims-rank-10":
        body["best_rank"] = 10
        pools["10"] = [{"fp": naive["fp"][:10], "fn": naive["fn"][:10]}]
    elif case == "best-rank-without-scheme":
        body["best_rank"] = 10
    elif case == "list":
        return [1, 2, 3]
    elif case == "2^70":
        naive["fp"][0][0] = 2**70
    elif case == "wrong-types":
        body["flips"] = "many"
    elif case == "stray-bits":
        naive["fp"][0][0] |= 1 << 40  # outside the 9 entries of a 3x3 factor
    elif case == "escaping-best-file":
        body["best_file"] = "../../etc/passwd"
    return body


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("claims-rank-10", "not valid"),
        ("best-rank-without-scheme", "claims best rank 10"),
        ("list", "JSON object"),
        ("2^70", "2^64"),
        ("wrong-types", "flips"),
        ("stray-bits", "stray bits"),
        ("escaping-best-file", "best_file"),
    ],
)
def test_resume_refuses_a_forged_or_broken_checkpoint(flipforge_cmd, tmp_path, case, needle):
    from flipforge.search.run import create_run

    run = create_run("3x3x3", "F2", seed=1, target_rank=23, run_dir=tmp_path / "run")
    body = json.loads(run.checkpoint_file.read_text())
    run.checkpoint_file.write_text(json.dumps(_forge(body, case)))
    out = run_cli(flipforge_cmd, tmp_path, "resume", "run", "-w", "1", "--time", "5")
    one_error_line(out, needle)
    assert not list(run.path.glob("best-*.json"))


# --- listing ---------------------------------------------------------------------------------------


def test_runs_lists_every_run_and_names_the_broken_ones(flipforge_cmd, tmp_path):
    from flipforge.search.run import create_run

    names = ("a-good", "b-bad-config", "c-bad-checkpoint", "d-unreadable-config")
    for name in names:
        create_run("2x2x2", "F2", seed=1, target_rank=7, run_dir=tmp_path / "runs" / name)
    (tmp_path / "runs" / "b-bad-config" / "config.json").write_text('{"target": 3}')
    (tmp_path / "runs" / "c-bad-checkpoint" / "checkpoint.json").write_text("[1, 2, 3]")
    unreadable = tmp_path / "runs" / "d-unreadable-config" / "config.json"
    unreadable.unlink()
    unreadable.mkdir()  # cannot be read, as root too
    out = run_cli(flipforge_cmd, tmp_path, "runs")
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()[1:]}
    assert set(lines) == set(names)
    assert "broken" not in lines["a-good"] and " 8 " in lines["a-good"]
    assert "broken:" in lines["b-bad-config"] and "config.json" in lines["b-bad-config"]
    assert "broken:" in lines["c-bad-checkpoint"] and "checkpoint.json" in lines["c-bad-checkpoint"]
    assert "broken:" in lines["d-unreadable-config"] and "cannot read" in lines["d-unreadable-config"]
    rows = {r["run"]: r for r in json.loads(run_cli(flipforge_cmd, tmp_path, "runs", "--json").stdout)}
    assert rows["a-good"]["best_rank"] == 8 and rows["b-bad-config"]["status"] == "broken"


# --- the lock ----------------------------------------------------------------------------------------


def test_a_running_run_is_locked_and_a_stale_lock_is_taken_over(flipforge_cmd, tmp_path):
    run = tmp_path / "runs" / "r1"
    args = ("search", "4x4x4", "-r", "40", "-w", "1", "--seed", "1", "--no-db", "--run-dir", str(run))
    proc = start_cli(flipforge_cmd, tmp_path, *args)
    wait_for(lambda: any(e["event"] == "start" for e in events(run)))
    second = run_cli(flipforge_cmd, tmp_path, "resume", "r1", "-w", "1", "--time", "1")
    one_error_line(second, f"run r1 is already running (pid {proc.pid})")
    listing = json.loads(run_cli(flipforge_cmd, tmp_path, "runs", "--json").stdout)
    assert listing[0]["status"] == "running"
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    assert proc.returncode == 143
    dead = subprocess.Popen(["true"])
    dead.wait()
    (run / "lock").write_text(f"{dead.pid}\n")  # what a process killed with -9 leaves behind
    out = run_cli(flipforge_cmd, tmp_path, "resume", "r1", "-w", "1", "--time", "1", "--json")
    assert out.returncode == 1, out.stderr
    assert summary(out)["status"] == "time" and (run / "lock").read_text() == ""


# --- no runaway --------------------------------------------------------------------------------------


def test_too_many_workers_are_refused_before_anything_starts(flipforge_cmd, tmp_path):
    out = run_cli(flipforge_cmd, tmp_path, "search", "2x2x2", "-w", "100000", "--no-db", "--run-dir", "run")
    one_error_line(out, "--force")
    assert not (tmp_path / "run").exists()


# --- an unwritable run directory never loses a scheme ----------------------------------------------


def test_a_run_directory_that_cannot_be_written_loses_no_scheme(flipforge_cmd, tmp_path):
    run = tmp_path / "run"
    db = tmp_path / "schemes.db"
    args = ("search", "4x4x4", "-r", "49", "-w", "1", "--seed", "4", "--time", "60", "--run-dir", "run")
    proc = start_cli(flipforge_cmd, tmp_path, *args, "--db", str(db))
    wait_for(lambda: any(e["event"] == "start" for e in events(run)), every=0.002)
    # works as root too: the run directory is replaced by a file, so every write in it fails
    run.rename(tmp_path / "moved")
    run.write_text("not a directory any more\n")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 3, err
    assert "Traceback" not in out + err
    last = err.strip().splitlines()[-1]
    assert last.startswith("flipforge: error: cannot write to the run directory") and "stdout" in last
    printed = [from_native_dict(json.loads(line), "stdout") for line in out.splitlines() if line.startswith("{")]
    assert printed, "no scheme was printed"
    saved = [s for p in (tmp_path / "moved").glob("best-*.json") for s in read_schemes(p)]
    for scheme in printed:
        assert verify(scheme, "F2").valid
        assert all(scheme.rank < s.rank for s in saved)
    with sqlite3.connect(db) as conn:
        stored = {r for (r,) in conn.execute("SELECT rank FROM schemes")}
    assert {s.rank for s in printed} <= stored


# --- run-related bad input and papercuts -----------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--seed", "-1"], "--seed"),
        (["--seed", str(2**64)], "--seed"),
        (["--time", "nan"], "--time"),
        (["--time", "inf"], "--time"),
        (["--plus-after", str(2**63)], "--plus-after"),
    ],
)
def test_bad_run_input_exits_2_with_one_line(flipforge_cmd, tmp_path, args, needle):
    out = run_cli(flipforge_cmd, tmp_path, "search", "2x2x2", "--no-db", "--run-dir", "run", *args)
    one_error_line(out, needle)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("fmt", "start", "rank"), [("2x2x2", "builtin:winograd", 7), ("3x3x3", "builtin:naive:3x3x3", 23)]
)
def test_search_starts_from_a_builtin(flipforge_cmd, tmp_path, fmt, start, rank):
    args = ("search", fmt, "--start", start, "-r", str(rank), "-w", "1", "--seed", "1", "--no-db", "--json", "-q")
    out = run_cli(flipforge_cmd, tmp_path, *args)
    assert out.returncode == 0, out.stderr
    s = summary(out)
    assert s["best_rank"] == rank and s["start_rank"] == {"2x2x2": 7, "3x3x3": 27}[fmt]


def test_resume_takes_db(flipforge_cmd, tmp_path):
    from flipforge.search.run import create_run

    create_run("3x3x3", "F2", seed=3, target_rank=23, run_dir=tmp_path / "run")  # no database
    db = tmp_path / "other.db"
    out = run_cli(flipforge_cmd, tmp_path, "resume", "run", "--db", str(db), "-w", "1", "--json", "--quiet")
    assert out.returncode == 0, out.stderr
    with sqlite3.connect(db) as conn:
        assert 23 in {r for (r,) in conn.execute("SELECT rank FROM schemes")}


def test_help_summaries_are_sentences_and_every_option_shows_its_default():
    import click
    from click.testing import CliRunner
    from flipforge.search.cli.main import cli

    lines = CliRunner().invoke(cli, ["--help"], terminal_width=80).output.splitlines()
    for name in ("search", "resume", "runs"):
        command = cli.commands[name]
        (at,) = [i for i, line in enumerate(lines) if line.startswith(f"  {name} ")]
        row = [lines[at][len(name) + 2 :]]
        for line in lines[at + 1 :]:
            if not line.startswith("    "):
                break
            row.append(line)
        text = " ".join(" ".join(row).split())
        assert text.endswith(".") and not text.endswith("...") and "e.g" not in text, text
        ctx = click.Context(command, info_name=name)
        for param in command.params:
            record = param.get_help_record(ctx) if isinstance(param, click.Option) else None
            if record and "--help" not in record[0]:
                assert "[default:" in record[1], (name, record)


# --- review fixes: 64-entry factors, non-regular run files, bad configs and locks, listing ---------


def test_uint64_rows_take_the_whole_64_bit_range_exactly(tmp_path):
    from flipforge.search.rundir import RunError, _uint64_rows

    rows = [[0, 2**63 - 1, 2**63], [2**64 - 1, 1, 5]]  # numpy alone would make float64 of this
    arr = _uint64_rows(rows, 2, tmp_path, "fp")
    assert arr.dtype.name == "uint64" and [[int(x) for x in r] for r in arr] == rows
    for bad in (
        [[0, 1, 2**64], [0, 0, 0]],
        [[0, 1, -1], [0, 0, 0]],
        [[0, 1, 1.0], [0, 0, 0]],
        [[0, 1, True], [0, 0, 0]],
    ):
        with pytest.raises(RunError, match="2\\^64"):
            _uint64_rows(bad, 2, tmp_path, "fp")
    with pytest.raises(RunError, match="2\\^64"):
        _uint64_rows([[0, 1], [0, 0, 0]], 2, tmp_path, "fp")


@pytest.mark.parametrize("fmt", ["8x8x8", "4x16x1"])
def test_formats_with_64_entry_factors_search_and_resume(flipforge_cmd, tmp_path, fmt):
    args = ("-w", "1", "--time", "1", "--no-db", "--json", "-q")
    start = ("--start", "naive")  # the 64-entry factors are what is tested, not a block start's build
    out = run_cli(flipforge_cmd, tmp_path, "search", fmt, "--seed", "1", "--run-dir", "run", *start, *args)
    assert out.returncode in (0, 1), out.stderr
    assert summary(out)["status"] in ("time", "reached")
    again = run_cli(flipforge_cmd, tmp_path, "resume", "run", *args)
    assert again.returncode in (0, 1), again.stderr
    assert summary(again)["flips"] > summary(out)["flips"]


def _fifo_in_place(path: Path) -> None:
    if path.exists():
        path.unlink()
    os.mkfifo(path)


@pytest.mark.parametrize("name", ["config.json", "lock", "checkpoint.json", "events.jsonl", "tensor.npy"])
def test_a_fifo_in_place_of_a_run_file_is_refused_never_opened(flipforge_cmd, tmp_path, name):
    import numpy as np
    from flipforge.search.run import create_run

    np.save(tmp_path / "t.npy", np.array(matmul_tensor((2, 2, 2)).array))
    run = create_run(str(tmp_path / "t.npy"), "F2", seed=1, target_rank=7, run_dir=tmp_path / "runs" / "r")
    (run.path / "lock").write_text("")
    _fifo_in_place(run.path / name)
    t0 = time.monotonic()
    out = run_cli(flipforge_cmd, tmp_path, "resume", "r", "-w", "1", "--time", "5", timeout=60)
    one_error_line(out, f"{name}: cannot read it (not a regular file: a FIFO)")
    listing = run_cli(flipforge_cmd, tmp_path, "runs", timeout=60)
    assert listing.returncode == 0, listing.stderr
    assert "broken:" in listing.stdout and "not a regular file" in listing.stdout, listing.stdout
    assert time.monotonic() - t0 < 30
    assert not list(run.path.glob("best-*.json"))


def test_a_folder_in_place_of_the_lock_or_the_log_is_refused(flipforge_cmd, tmp_path):
    from flipforge.search.run import create_run

    for name in ("lock", "events.jsonl"):
        run = create_run("2x2x2", "F2", seed=1, target_rank=7, run_dir=tmp_path / "runs" / name)
        path = run.path / name
        if path.exists():
            path.unlink()
        path.mkdir()
        out = run_cli(flipforge_cmd, tmp_path, "resume", name, "-w", "1", "--time", "5")
        one_error_line(out, f"{name}: cannot read it (not a regular file: a folder)")


@pytest.mark.parametrize("domain", ["F5", "Z", "banana", 2])
def test_a_config_with_a_bad_domain_is_one_line(flipforge_cmd, tmp_path, domain):
    from flipforge.search.run import create_run

    run = create_run("2x2x2", "F2", seed=1, target_rank=7, run_dir=tmp_path / "runs" / "r")
    body = json.loads(run.config_file.read_text())
    body["domain"] = domain
    run.config_file.write_text(json.dumps(body))
    out = run_cli(flipforge_cmd, tmp_path, "resume", "r", "-w", "1", "--time", "5")
    one_error_line(out, "config.json: domain")
    rows = json.loads(run_cli(flipforge_cmd, tmp_path, "runs", "--json").stdout)
    assert rows[0]["status"] == "broken" and "domain" in rows[0]["error"]


@pytest.mark.parametrize(("field", "value"), [("lift", "F7"), ("target", "banana"), ("target", "0x2x2")])
def test_a_config_with_a_bad_field_is_refused(tmp_path, field, value):
    from flipforge.search.run import create_run
    from flipforge.search.rundir import RunError

    run = create_run("2x2x2", "F2", seed=1, target_rank=7, run_dir=tmp_path / "r")
    body = json.loads(run.config_file.read_text())
    body[field] = value
    run.config_file.write_text(json.dumps(body))
    with pytest.raises(RunError, match=field):
        run.config()


def test_the_lock_itself_says_whether_a_run_is_running(flipforge_cmd, tmp_path):
    from flipforge.search.run import create_run

    run = create_run("2x2x2", "F2", seed=1, target_rank=7, run_dir=tmp_path / "runs" / "r")
    for text in ("99999999999999999999\n", "1\n", f"{os.getpid()}\n", "\u00b2\n", "-5\n"):
        run.lock_file.write_text(text)  # a live pid (1, this test) but nobody holds the lock
        assert run.running_pid() is None, text
        out = run_cli(flipforge_cmd, tmp_path, "runs", "--json")
        assert out.returncode == 0 and "Traceback" not in out.stderr, out.stderr
        assert json.loads(out.stdout)[0]["status"] == "new", (text, out.stdout)
    with run.lock():  # held here: this process is the one running it
        assert run.running_pid() == os.getpid()


def test_an_unreadable_run_folder_is_listed_as_broken(flipforge_cmd, tmp_path):
    from flipforge.search.run import create_run

    create_run("2x2x2", "F2", seed=1, target_rank=7, run_dir=tmp_path / "runs" / "a-good")
    run = create_run("2x2x2", "F2", seed=1, target_rank=7, run_dir=tmp_path / "runs" / "b-locked")
    (tmp_path / "runs" / "c-not-a-run").mkdir()  # a readable folder with no run file: not listed
    os.chmod(run.path, 0)
    try:
        prefix = denied_runner(run.path)
        if prefix is None:
            pytest.skip("running as root without setpriv: mode 000 does not stop root from reading")
        out = subprocess.run(
            [*prefix, *flipforge_cmd, "runs"], capture_output=True, text=True, timeout=60, env=_env(tmp_path)
        )
    finally:
        os.chmod(run.path, 0o755)
    assert out.returncode == 0, out.stderr
    lines = {line.split()[0]: line for line in out.stdout.splitlines()[1:]}
    assert set(lines) == {"a-good", "b-locked"}, out.stdout
    assert "broken: " in lines["b-locked"] and "cannot read" in lines["b-locked"], lines


@pytest.mark.parametrize(("values", "domain"), [(0, "F2"), (2, "F2"), (3, "F3"), (0, "ZT")])
def test_a_target_that_is_zero_over_the_domain_is_refused_before_the_run(flipforge_cmd, tmp_path, values, domain):
    import numpy as np

    np.save(tmp_path / "t.npy", np.full((2, 2, 2), values, dtype=np.int64))
    out = run_cli(flipforge_cmd, tmp_path, "search", "t.npy", "-d", domain, "--no-db", "--run-dir", "run")
    one_error_line(out, f"the target tensor is zero over {domain}: its rank is 0; nothing to search")
    assert not (tmp_path / "run").exists()


def test_start_folder_skips_unreadable_entries_while_a_scheme_remains(flipforge_cmd, tmp_path):
    folder = tmp_path / "start"
    folder.mkdir()
    first = run_cli(flipforge_cmd, tmp_path, "search", "2x2x2", "-r", "7", "-w", "1", "--seed", "1", "--no-db",
                    "--run-dir", "first", "-q")  # fmt: skip
    assert first.returncode == 0, first.stderr
    shutil.copy(tmp_path / "first" / "best-7.json", folder / "best-7.json")
    (folder / "dangling.json").symlink_to(tmp_path / "nowhere.json")
    args = ("search", "2x2x2", "-r", "7", "-w", "1", "--no-db", "--start", "start", "--run-dir", "run", "--json", "-q")
    out = run_cli(flipforge_cmd, tmp_path, *args)
    assert out.returncode == 0, out.stderr
    assert "skipped 1 entry" in out.stderr and "dangling.json" in out.stderr and "1 scheme(s)" in out.stderr
    assert summary(out)["start_rank"] == 7
    (folder / "best-7.json").unlink()  # only the dangling link is left: refused
    again = run_cli(flipforge_cmd, tmp_path, *args[:-4], "--run-dir", "run2")
    one_error_line(again, "no scheme for 2x2x2")
    assert not (tmp_path / "run2").exists()


def test_a_run_without_its_checkpoint_points_at_its_best_files(flipforge_cmd, tmp_path):
    out = run_cli(flipforge_cmd, tmp_path, "search", "2x2x2", "-r", "7", "-w", "1", "--seed", "1", "--no-db",
                  "--run-dir", "run", "-q")  # fmt: skip
    assert out.returncode == 0, out.stderr
    (tmp_path / "run" / "checkpoint.json").unlink()
    again = run_cli(flipforge_cmd, tmp_path, "resume", "run", "-w", "1", "--time", "1")
    one_error_line(again, "the checkpoint is missing")
    assert "best-<rank>.json" in again.stderr and "--start" in again.stderr and "never started" not in again.stderr


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("search", "2x2x2", "--seed", "abc"), "--seed"),
        (("search",), "TARGET"),
        (("resume", "x", "--workers", "abc"), "--workers"),
        (("resume",), "RUN"),
        (("runs", "--bogus"), "--bogus"),
        (("runs", "bogus"), "bogus"),
    ],
)
def test_usage_errors_of_the_run_commands_are_one_line(flipforge_cmd, tmp_path, args, needle):
    one_error_line(run_cli(flipforge_cmd, tmp_path, *args), needle)
