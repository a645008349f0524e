"""``flipforge search``, ``resume`` and ``runs``: long-running flip-graph searches."""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click
from flipforge.schemes.db import default_db_path
from flipforge.search.params import WalkParams
from flipforge.search.rundir import RunDir, default_runs_root, find_run, list_runs, resume_hint

if TYPE_CHECKING:
    from flipforge.search.run import Summary

from ._common import EXIT_BAD_INPUT, EXIT_FAIL, EXIT_OK, fail, friendly_errors
from .progress import format_count, format_duration, make_reporter

__all__ = ["search_command", "resume_command", "runs_command", "parse_duration"]

EXIT_INTERRUPTED = 130
EXIT_INTERNAL = 3
_DEFAULTS = WalkParams()


def parse_duration(text: str | None) -> float | None:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d`` -> seconds; None stays None."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not m:
        fail(f"--time {text!r}: expected seconds or a duration such as 90, 90s, 15m, 2h, 1d")
    value = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    if value <= 0:
        fail(f"--time must be positive, not {text}")
    return value


def _default_workers() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def _tuning(flag: str, field: str, help_text: str, *short: str):  # noqa: ANN202 (a click decorator)
    """An integer walk-tuning option whose default is the WalkParams default."""
    return click.option(
        flag, *short, field, type=int, default=getattr(_DEFAULTS, field), show_default=True, help=help_text
    )


def _finish(summary: Summary, run: RunDir, as_json: bool) -> None:
    """Print the outcome and exit with 0 reached, 1 time ran out, 130 interrupted, 3 internal error."""
    if summary.status == "reached":
        msg = f"reached rank {summary.best_rank} (target {summary.target_rank})"
        code = EXIT_OK
    elif summary.status == "interrupted":
        msg = f"interrupted at best rank {summary.best_rank}; checkpoint written; {resume_hint(run)}"
        code = EXIT_INTERRUPTED
    elif summary.status == "error":
        msg = f"search failed: {summary.error}; checkpoint written; {resume_hint(run)}"
        code = EXIT_INTERNAL
    else:
        goal = f" (target {summary.target_rank} not reached)" if summary.target_rank is not None else ""
        msg = f"time is up at best rank {summary.best_rank}{goal}; {resume_hint(run)}"
        code = EXIT_FAIL
    rate = summary.session_flips / summary.session_seconds if summary.session_seconds > 0 else 0.0
    click.echo(
        f"{msg}\n  run {summary.run}: {format_count(summary.flips)} flips in {format_duration(summary.seconds)}"
        f" ({format_count(rate)} flips/s this session)",
        err=as_json,
    )
    if summary.best_scheme:
        click.echo(f"  best scheme: {summary.best_scheme}", err=as_json)
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
    sys.exit(code)


def _run(run: RunDir, workers: int, seconds: float | None, quiet: bool, as_json: bool) -> None:
    from flipforge.search.run import execute  # numba loads here, not for --help

    reporter = make_reporter(quiet)
    try:
        summary = execute(run, workers, seconds, reporter)
    finally:
        reporter.close()
    _finish(summary, run, as_json)


@click.command("search")
@click.argument("target", metavar="FORMAT")
@click.option("--domain", "-d", default="F2", show_default=True, help="F2, F3 or ZT (integers in {-1,0,1}).")
@click.option("--target-rank", "-r", type=int, default=None, help="Stop when a scheme of this rank is found.")
@click.option("--time", "-t", "time_", default=None, metavar="DURATION", help="Time budget: 90, 90s, 15m, 2h, 1d.")
@click.option("--workers", "-w", type=int, default=None, help="Worker processes  [default: CPU count]")
@click.option("--seed", "-s", type=int, default=None, help="Seed; the same seed and one worker repeat a run exactly.")
@click.option("--start", default="naive", show_default=True, metavar="naive|PATH", help="Start scheme(s).")
@_tuning("--pool-size", "pool_size", "Distinct schemes per rank before the walkers move down to it.", "-k")
@_tuning("--plus-after", "plus_after", "Flips without a new lowest rank before a plus transition.")
@_tuning("--plus-delta", "plus_delta", "Plus transitions only while rank < lowest rank + this.")
@_tuning("--restart-flips", "restart_flips", "Flips without improvement before a walker restarts from the pool.")
@click.option("--run-dir", default=None, metavar="DIR", help="Run directory  [default: runs/<run-id>]")
@click.option(
    "--db",
    "db_path",
    default=None,
    metavar="PATH",
    help="Scheme database for every new best  [default: $FLIPFORGE_DB or runs/flipforge.db]",
)
@click.option("--no-db", is_flag=True, help="Do not write to a database (best schemes still go to the run directory).")
@click.option(
    "--lift",
    "lift_to",
    type=click.Choice(["ZT", "Z", "Q"], case_sensitive=False),
    default=None,
    help="Lift every new best (F2/F3 searches) to this ring and store both.",
)
@click.option("--beyond", is_flag=True, help="Without --target-rank: aim one below the best-known rank (a record).")
@click.option("--json", "as_json", is_flag=True, help="End with a one-line JSON summary on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@friendly_errors
def search_command(
    target: str,
    domain: str,
    target_rank: int | None,
    time_: str | None,
    workers: int | None,
    seed: int | None,
    start: str,
    pool_size: int,
    plus_after: int,
    plus_delta: int,
    restart_flips: int,
    run_dir: str | None,
    db_path: str | None,
    no_db: bool,
    lift_to: str | None,
    beyond: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Search the flip graph for low-rank schemes of FORMAT (e.g. 3x3x3, or a 3-way tensor .npy).

    Walkers start from the naive scheme (or --start), flip at random, take reductions as they
    appear and plus transitions when stuck; a pool of distinct schemes per rank keeps restarts
    diverse. Every new best scheme is verified exactly, saved in the run directory and stored in
    the scheme database, with a checkpoint at least every 30 s: Ctrl-C (or a crash) loses at most
    that, and `flipforge resume RUN` goes on. Without --target-rank the target is the best-known
    rank of the format over the domain (from the database), and reaching it ends the run.

    \b
    Exit status: 0 target reached, 1 time ran out first, 2 bad input,
    130 interrupted (resumable), 3 internal error.

    \b
    Examples:
      flipforge search 3x3x3 --target-rank 23              # F2, all cores, ~0.1 s
      flipforge search 3x3x3 --domain ZT -r 23 --seed 7    # valid over every ring
      flipforge search 4x4x4 -r 49 --workers 2 --time 10m --json
    """
    for name, value in (("--workers", workers), ("--plus-after", plus_after), ("--restart-flips", restart_flips)):
        if value is not None and value < 1:
            fail(f"{name} must be at least 1, not {value}")
    if plus_delta < 0:
        fail(f"--plus-delta must be 0 or more, not {plus_delta}")
    seconds = parse_duration(time_)
    if seed is None:
        seed = int.from_bytes(os.urandom(4), "little")
    params = {"plus_after": plus_after, "plus_delta": plus_delta, "restart_flips": restart_flips}
    from flipforge.search.run import create_run

    run = create_run(
        target,
        domain,
        seed=seed,
        target_rank=target_rank,
        pool_size=pool_size,
        params=params,
        start=start,
        run_dir=run_dir,
        db=None if no_db else (db_path or default_db_path()),
        beyond=beyond,
        lift_to=lift_to.upper() if lift_to else None,
    )
    workers = workers or _default_workers()
    state = run.state()
    config = run.config()
    if config.target_rank is None:
        goal = "no target rank (until time or Ctrl-C)"
    else:
        goal = f"target rank {config.target_rank}" + (f" ({config.target_source})" if config.target_source else "")
    click.echo(
        f"run {run.run_id} ({run.path}): {config.label} over {config.domain} from rank "
        f"{state['start_rank']} ({start}), {goal}, {workers} worker(s), seed {seed}",
        err=True,
    )
    _run(run, workers, seconds, quiet, as_json)


@click.command("resume")
@click.argument("run_ref", metavar="RUN")
@click.option("--time", "-t", "time_", default=None, metavar="DURATION", help="Time budget for this session.")
@click.option("--workers", "-w", type=int, default=None, help="Worker processes  [default: CPU count]")
@click.option("--json", "as_json", is_flag=True, help="End with a one-line JSON summary on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress output.")
@friendly_errors
def resume_command(run_ref: str, time_: str | None, workers: int | None, as_json: bool, quiet: bool) -> None:
    """Continue a run from its last checkpoint (RUN = run id under runs/, or a run directory).

    The pools, counters and best scheme carry over; the walkers get fresh seeds derived from
    the run's seed and the session number. Exit status as for `flipforge search`.
    """
    if workers is not None and workers < 1:
        fail(f"--workers must be at least 1, not {workers}")
    seconds = parse_duration(time_)
    run = find_run(run_ref)
    state = run.state()
    if not state:
        fail(f"{run.path}: no readable checkpoint.json", EXIT_BAD_INPUT)
    workers = workers or _default_workers()
    click.echo(
        f"resuming {run.run_id}: best rank {state.get('best_rank')} after {format_count(state.get('flips', 0))} "
        f"flips, session {int(state.get('sessions', 0)) + 1}, {workers} worker(s)",
        err=True,
    )
    _run(run, workers, seconds, quiet, as_json)


@click.command("runs")
@click.option("--runs-dir", default=None, metavar="DIR", help="Where runs live  [default: $FLIPFORGE_RUNS or runs/]")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per run.")
@friendly_errors
def runs_command(runs_dir: str | None, as_json: bool) -> None:
    """List the runs and their best ranks (oldest first)."""
    root = Path(runs_dir) if runs_dir else default_runs_root()
    rows = []
    for run in list_runs(root):
        cfg, st = run.config(), run.state()
        rows.append(
            {
                "run": run.run_id,
                "target": cfg.label,
                "domain": cfg.domain,
                "best_rank": st.get("best_rank"),
                "target_rank": cfg.target_rank,
                "start_rank": st.get("start_rank"),
                "status": st.get("status", "?"),
                "flips": st.get("flips", 0),
                "seconds": st.get("seconds", 0.0),
                "best_scheme": str(run.path / st["best_file"]) if st.get("best_file") else None,
            }
        )
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    if not rows:
        click.echo(f"no runs under {root}")
        return
    click.echo(f"{'run':42s} {'target':10s} {'dom':3s} {'best':>5s} {'goal':>5s} {'status':11s} {'flips':>9s} time")
    for r in rows:
        goal = "-" if r["target_rank"] is None else str(r["target_rank"])
        click.echo(
            f"{r['run']:42s} {r['target']:10s} {r['domain']:3s} {r['best_rank']!s:>5s} {goal:>5s} "
            f"{r['status']:11s} {format_count(r['flips']):>9s} {format_duration(r['seconds'])}"
        )
