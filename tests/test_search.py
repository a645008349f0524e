"""The search as users run it: real worker processes, real run directories, real signals."""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from flipforge.schemes import Scheme, matmul_tensor, read_schemes
from flipforge.search.packing import pack
from flipforge.search.pool import PoolSearch
from flipforge.search.searchers.flip_pool import FlipPoolParams
from flipforge.verify import verify


def search(cmd: list[str], tmp_path: Path, *args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    """Run the command in tmp_path; a single string argument is split like a shell line."""
    if len(args) == 1 and " " in args[0]:
        args = tuple(shlex.split(args[0]))
    env = {**os.environ, "FLIPFORGE_RUNS": str(tmp_path / "runs")}
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=tmp_path)


def summary(out: subprocess.CompletedProcess) -> dict:
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("fmt", "domain", "target", "workers"),
    [("3x3x3", "F2", 23, "2"), ("2x2x2", "ZT", 7, "1"), ("2x2x2", "F3", 7, "1"), ("2x2x2", "F2", 7, "1")],
)
def test_short_search_reaches_its_target(flipforge_cmd, tmp_path, fmt, domain, target, workers):
    out = search(
        flipforge_cmd,
        tmp_path,
        f"search {fmt} -d {domain} -r {target} -w {workers} --seed 1 --time 200 --json --start naive",
    )  # the walk from the naive scheme (over F3 the default start is already walked over ZT)
    assert out.returncode == 0, out.stderr
    s = summary(out)
    assert s["reached_target"] and s["best_rank"] == target and s["status"] == "reached"
    assert {"run", "run_dir", "best_scheme", "flips", "seconds"} <= set(s)
    (scheme,) = read_schemes(s["best_scheme"])
    assert scheme.rank == target and str(scheme.domain) == domain
    assert verify(scheme, domain).valid
    if domain == "ZT":
        assert verify(scheme, "Z").valid  # ternary schemes hold over every ring
    events = [json.loads(line) for line in Path(s["run_dir"], "events.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events][:2] == ["created", "start"] and events[-1]["event"] == "stop"
    assert [e["rank"] for e in events if e["event"] == "best"][-1] == target


def test_one_worker_and_a_seed_repeat_a_run_exactly(flipforge_cmd, tmp_path):
    results = []
    for n in range(2):
        out = search(flipforge_cmd, tmp_path, f"search 3x3x3 -d ZT -r 23 -w 1 --seed 42 --run-dir r{n} --json --quiet")
        assert out.returncode == 0, out.stderr
        s = summary(out)
        results.append((s["flips"], Path(s["best_scheme"]).read_text().split('"meta"')[0]))
    assert results[0] == results[1]


def test_pool_search_is_deterministic_for_a_seed():
    start = pack(Scheme.naive(matmul_tensor("3x3x3")), "F3")
    runs = []
    for _ in range(2):
        ps = PoolSearch({start.rank: [start]}, "F3", FlipPoolParams(pool_size=5), seed=9)
        found = []
        while ps.flips < 300_000:
            found += [s.key() for s in ps.step()]
        runs.append((ps.flips, found, ps.rank))
    assert runs[0] == runs[1] and runs[0][1]


def test_time_budget_checkpoint_and_resume(flipforge_cmd, tmp_path):
    first = search(flipforge_cmd, tmp_path, "search 3x3x3 -d ZT -r 19 -w 1 --seed 3 --time 3 --json")
    assert first.returncode == 1, first.stderr  # rank 19 does not exist: time runs out
    s1 = summary(first)
    assert s1["status"] == "time" and not s1["reached_target"] and s1["best_rank"] <= 24
    assert "flipforge resume" in first.stderr
    ckpt = json.loads(Path(s1["run_dir"], "checkpoint.json").read_text())
    assert ckpt["sessions"] == 1 and ckpt["flips"] == s1["flips"] > 0 and ckpt["pools"]
    second = search(flipforge_cmd, tmp_path, "resume", s1["run"], "--time", "2", "-w", "1", "--json")
    assert second.returncode == 1, second.stderr
    s2 = summary(second)
    assert s2["flips"] > s1["flips"] and s2["best_rank"] <= s1["best_rank"] and s2["seconds"] > s1["seconds"]
    assert json.loads(Path(s1["run_dir"], "checkpoint.json").read_text())["sessions"] == 2
    listing = search(flipforge_cmd, tmp_path, "runs", "--json")
    (row,) = json.loads(listing.stdout)
    assert row["run"] == s1["run"] and row["best_rank"] == s2["best_rank"]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(x) for x in out.stdout.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split()[2] == "Z")


def _start(flipforge_cmd, tmp_path, *args):
    env = {**os.environ, "FLIPFORGE_RUNS": str(tmp_path / "runs")}
    proc = subprocess.Popen(
        [*flipforge_cmd, "search", "4x4x4", "-w", "2", "--seed", "5", "--run-dir", "run", *args],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    events = tmp_path / "run" / "events.jsonl"
    deadline = time.time() + 120
    while time.time() < deadline and not (events.exists() and '"best"' in events.read_text()):
        time.sleep(0.2)
    assert '"best"' in events.read_text()
    return proc


def _signal_state(pid: int) -> dict[str, int]:
    """SigIgn, SigBlk and SigCgt of a process, from /proc."""
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    fields = (line.split(":\t") for line in lines if line.startswith(("SigIgn", "SigBlk", "SigCgt")))
    return {k: int(v, 16) for k, v in fields}


def test_ctrl_c_writes_the_checkpoint_and_says_how_to_resume(flipforge_cmd, tmp_path):
    proc = _start(flipforge_cmd, tmp_path)
    try:
        state, bit = _signal_state(proc.pid), 1 << (signal.SIGINT - 1)
        assert not (state["SigIgn"] | state["SigBlk"]) & bit, f"the CLI started with SIGINT ignored or blocked: {state}"
        workers = _children(proc.pid)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:  # never leave a searching CLI and its workers behind for the next tests
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130
    assert "interrupted" in out and "flipforge resume" in out and "Traceback" not in out + err
    ckpt = json.loads((tmp_path / "run" / "checkpoint.json").read_text())
    assert ckpt["status"] == "interrupted" and ckpt["flips"] > 0
    assert (tmp_path / "run" / ckpt["best_file"]).exists()
    time.sleep(1)
    assert not any(_alive(w) for w in workers)


def test_kill_9_orphans_exit_and_resume_continues(flipforge_cmd, tmp_path):
    proc = _start(flipforge_cmd, tmp_path)
    time.sleep(1.5)
    workers = _children(proc.pid)
    assert workers
    best_files = sorted(p.name for p in (tmp_path / "run").glob("best-*.json"))
    proc.kill()
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.2)
    assert not any(_alive(w) for w in workers), "orphaned workers did not exit"
    ckpt = json.loads((tmp_path / "run" / "checkpoint.json").read_text())  # the initial or a later checkpoint
    out = search(flipforge_cmd, tmp_path, "resume", str(tmp_path / "run"), "--time", "2", "-w", "1", "--json")
    assert out.returncode == 1, out.stderr
    s = summary(out)
    assert s["flips"] > ckpt["flips"] and s["best_rank"] <= ckpt["best_rank"]
    for name in best_files:  # every best reported before the kill is still there and valid
        (scheme,) = read_schemes(tmp_path / "run" / name)
        assert verify(scheme, "F2").valid


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["search", "3x3"], "format"),
        (["search", "3x3x3", "--target-rank", "0"], "--target-rank"),
        (["search", "3x3x3", "--workers", "0"], "--workers"),
        (["search", "3x3x3", "--domain", "Q"], "F2, F3 or ZT"),
        (["search", "3x3x3", "--time", "soon"], "--time"),
        (["search", "9x9x9"], "64-bit"),
        (["search", "3x3x3", "--start", "nope.json"], "no such file"),
        (["resume", "no-such-run"], "no such run"),
    ],
)
def test_bad_input_exits_2_with_one_line(flipforge_cmd, tmp_path, args, needle):
    out = search(flipforge_cmd, tmp_path, *args)
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flipforge: error:") and needle in lines[0], lines


def test_start_from_a_scheme_file_and_a_tensor_file(flipforge_cmd, tmp_path):
    from flipforge.schemes import Scheme, write_schemes

    write_schemes([Scheme.strassen()], tmp_path / "strassen.json")
    out = search(flipforge_cmd, tmp_path, "search 2x2x2 -d F3 --start strassen.json -r 7 --json --quiet")
    assert out.returncode == 0 and summary(out)["start_rank"] == 7  # already at the target
    np.save(tmp_path / "t.npy", matmul_tensor("2x2x2").array)
    out = search(flipforge_cmd, tmp_path, "search", "t.npy", "-r", "7", "-w", "1", "--seed", "2", "--json", "--quiet")
    assert out.returncode == 0, out.stderr
    (scheme,) = read_schemes(summary(out)["best_scheme"])
    assert scheme.rank == 7 and verify(scheme, "F2").valid


def test_bench_flips_json(flipforge_cmd, tmp_path):
    out = search(flipforge_cmd, tmp_path, "bench", "flips", "2x2x2", "--domain", "ZT", "--seconds", "0.5", "--json")
    assert out.returncode == 0, out.stderr
    r = json.loads(out.stdout)
    assert r["flips_per_second"] > 0 and r["flips"] > 0 and r["warmup_seconds"] >= 0


class _Recorder:
    def __init__(self) -> None:
        self.snaps: list[dict] = []
        self.bests: list[int] = []
        self.notes: list[str] = []

    def update(self, snap: dict) -> None:
        self.snaps.append(snap)

    def best(self, rank: int, path: Path, seconds: float) -> None:
        assert path.exists()
        self.bests.append(rank)

    def note(self, text: str) -> None:
        self.notes.append(text)


def test_progress_reports_during_a_run(tmp_path):
    from flipforge.search.cli.progress import PlainReporter, _line
    from flipforge.search.orchestrator import run_session
    from flipforge.search.run import create_run

    run = create_run("4x4x4", "F2", seed=1, target_rank=40, runs_root=tmp_path)
    rec = _Recorder()
    s = run_session(run, 2, 2.5, rec, checkpoint_every=1.0)
    assert s.status == "time" and rec.snaps and rec.bests == sorted(rec.bests, reverse=True)
    assert rec.bests[-1] == s.best_rank < 64
    last = rec.snaps[-1]
    assert last["flips"] > 0 and last["rate"] > 0 and len(last["working"]) == len(last["pool_sizes"]) == 2
    assert "best rank" in _line(last)
    PlainReporter(every=0).update(last)  # prints a line; must not fail


def test_a_killed_worker_is_replaced(flipforge_cmd, tmp_path):
    proc = _start(flipforge_cmd, tmp_path, "--time", "6")
    time.sleep(0.5)
    victim = _children(proc.pid)[0]
    os.kill(victim, signal.SIGKILL)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err  # the time budget ran out; the run itself went on
    events = [json.loads(x) for x in (tmp_path / "run" / "events.jsonl").read_text().splitlines()]
    lost = [e for e in events if e["event"] == "worker_lost"]
    assert len(lost) == 1 and lost[0]["exitcode"] == -signal.SIGKILL
    assert events[-1]["event"] == "stop" and events[-1]["status"] == "time"
    assert "ended unexpectedly" in err and "Traceback" not in err
