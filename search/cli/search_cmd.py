"""``flipforge search``, ``resume`` and ``runs``: long-running flip-graph searches."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from click.core import ParameterSource
from flipforge.schemes import FlipforgeError
from flipforge.schemes.db import default_db_path
from flipforge.search.backends import BACKENDS
from flipforge.search.rundir import MAX_SEED, RunDir, default_runs_root, find_run, list_runs, resume_hint
from flipforge.search.searchers import DEFAULT_SEARCHER, SEARCHERS, get_searcher

if TYPE_CHECKING:
    from flipforge.search.run import Summary

from ._common import EXIT_FAIL, EXIT_OK, OneLineCommand, OneLineGroup, fail, friendly_errors
from .progress import format_count, format_duration, make_reporter

__all__ = ["search_command", "resume_command", "runs_command", "runs_show_command", "parse_duration", "max_workers"]

EXIT_INTERRUPTED = 130  # 128 + SIGINT; SIGTERM gives 143, SIGHUP 129
EXIT_INTERNAL = 3
WORKERS_PER_CPU = 4
_POOL_SIZE_DEFAULT = 50
_EXIT_HELP = (
    "Exit status: 0 target reached, 1 time ran out first, 2 bad input or the\n"
    "run is already running, 3 internal error or the run directory could not\n"
    "be written, 130 Ctrl-C, 143 SIGTERM, 129 SIGHUP (interrupted: checkpoint\n"
    "written, resumable)."
)


def parse_duration(text: str | None) -> float | None:
    """``90``, ``90s``, ``15m``, ``2h``, ``1d`` -> seconds; None stays None."""
    if text is None:
        return None
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", text.lower())
    if not m:
        fail(f"--time {text!r}: expected seconds or a duration such as 90, 90s, 15m, 2h, 1d")
    value = float(m.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
    if not math.isfinite(value) or value <= 0:
        fail(f"--time must be a positive, finite duration, not {text}")
    return value


def _cpus() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))


def max_workers() -> int:
    """The most workers started without --force: 4 per CPU this process may use."""
    return WORKERS_PER_CPU * _cpus()


def _check_workers(workers: int | None, force: bool, backend: str = "local") -> int:
    """The worker count (default: one per CPU), or exit 2 for one below 1 or (local backend)
    above 4 x the CPUs of this machine."""
    if workers is None:
        return _cpus()
    if workers < 1:
        fail(f"--workers must be at least 1, not {workers}")
    if workers > max_workers() and not force and backend == "local":
        fail(
            f"--workers {workers} is more than {WORKERS_PER_CPU} x the {_cpus()} CPU(s) of this machine "
            f"({max_workers()}); use --force to start that many anyway"
        )
    return workers


def _check_seed(seed: int | None) -> int:
    """The seed (a random one when not given), or exit 2 for one outside 0..2^64-1."""
    if seed is None:
        return int.from_bytes(os.urandom(4), "little")
    if not 0 <= seed <= MAX_SEED:
        fail(f"--seed must be an integer from 0 to 2^64-1, not {seed}")
    return seed


class SearcherOption(click.Option):
    """An option of one searcher (``searcher`` names it): ``--help`` lists it under that name."""

    def __init__(self, *args: Any, searcher: str = "", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.searcher = searcher


class SearchCommand(OneLineCommand):
    """``--help`` lists the general options, then each searcher's options under its name.

    A searcher registered after this module was imported (a plugin, a test) gets its options
    here too: ``get_params`` adds them on the fly.
    """

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        known = {p.name for p in params}
        extra = [o for o in _searcher_option_list() if o.name not in known]
        return params[:-1] + extra + params[-1:] if extra else params  # --help stays last

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        params = self.get_params(ctx)
        general = [p.get_help_record(ctx) for p in params if not isinstance(p, SearcherOption)]
        with formatter.section("Options"):
            formatter.write_dl([r for r in general if r])
        for name, cls in SEARCHERS.items():
            rows = [p.get_help_record(ctx) for p in params if getattr(p, "searcher", None) == name]
            rows = [r for r in rows if r]
            with formatter.section(f"Options of --searcher {name} ({cls.summary})"):
                if rows:
                    formatter.write_dl(rows)
                else:
                    formatter.write_text("(none)")


def _searcher_option_list() -> list[SearcherOption]:
    """One ``--name`` option per command-line field of every registered searcher (first wins)."""
    options: dict[str, SearcherOption] = {}
    for name, cls in SEARCHERS.items():
        for f in dataclasses.fields(cls.Params):
            if f.metadata.get("cli", True) and f.name not in options:
                options[f.name] = SearcherOption(
                    ["--" + f.name.replace("_", "-"), f.name],
                    searcher=name,
                    type=type(f.default),
                    default=f.default,
                    show_default=True,
                    help=f.metadata.get("help", ""),
                )
    return list(options.values())


def _searcher_values(searcher: str, values: dict[str, Any]) -> dict[str, Any]:
    """The searcher options given on the command line; exit 2 for one of another searcher."""
    try:
        cls = get_searcher(searcher)
    except FlipforgeError as exc:
        fail(str(exc))
    ctx = click.get_current_context()
    given = {k: v for k, v in values.items() if ctx.get_parameter_source(k) == ParameterSource.COMMANDLINE}
    own = {f.name for f in dataclasses.fields(cls.Params)}
    for key in given:
        if key not in own:
            fail(f"--{key.replace('_', '-')} is not an option of --searcher {searcher}")
    return given


def _backend(name: str, address: str | None) -> Any:
    """The backend object, or exit 2 (Ray not installed, --address without Ray)."""
    from flipforge.search.backends import get_backend

    try:
        return get_backend(name, address)
    except FlipforgeError as exc:
        fail(str(exc))


def _exit_code(summary: Summary) -> int:
    if summary.status == "reached":
        return EXIT_OK
    if summary.status == "interrupted":
        return 128 + int(signal.Signals[summary.signal]) if summary.signal else EXIT_INTERRUPTED
    if summary.status == "error":
        return EXIT_INTERNAL
    return EXIT_FAIL


def _finish(summary: Summary, run: RunDir, as_json: bool) -> None:
    """Print the outcome and exit: 0 reached, 1 time ran out, 128+signal interrupted, 3 error."""
    hint = resume_hint(run)
    saved = "checkpoint written" if summary.checkpoint_saved else "the checkpoint could not be written"
    code = _exit_code(summary)
    cost = f" with {summary.best_cost} additions" if summary.best_cost is not None else ""
    if summary.status == "reached":
        msg = f"reached rank {summary.best_rank}{cost} (target {summary.target_rank})"
    elif summary.status == "interrupted":
        by = f" by {summary.signal}" if summary.signal else ""
        msg = f"interrupted{by} at best rank {summary.best_rank}{cost}; {saved}; {hint}"
    elif summary.status == "error":
        msg = ""
    else:
        missed = summary.target_rank is not None and summary.best_rank > summary.target_rank
        goal = f" (target {summary.target_rank} not reached)" if missed else ""
        msg = f"time is up at best rank {summary.best_rank}{cost}{goal}; {hint}"
    rate = summary.session_flips / summary.session_seconds if summary.session_seconds > 0 else 0.0
    stats = (
        f"  run {summary.run}: {format_count(summary.flips)} flips in {format_duration(summary.seconds)}"
        f" ({format_count(rate)} flips/s this session)"
    )
    if msg:
        click.echo(f"{msg}\n{stats}", err=as_json)
    else:
        click.echo(stats.strip(), err=True)
    if summary.best_scheme:
        click.echo(f"  best scheme: {summary.best_scheme}", err=as_json or summary.status == "error")
    if summary.status == "error":
        lost = len(summary.unsaved)
        printed = f"; {lost} verified scheme(s) it could not take are on stdout as native JSON" if lost else ""
        click.echo(f"flipforge: error: {summary.error}{printed}; {saved}; {hint}", err=True)
    if as_json:
        click.echo(json.dumps(summary.as_dict()))
    sys.exit(code)


def _run(run: RunDir, workers: int, seconds: float | None, quiet: bool, as_json: bool, **options: Any) -> None:
    from flipforge.search.orchestrator import Interrupted, run_session  # numba loads here, not for --help

    reporter = make_reporter(quiet)
    try:
        summary = run_session(run, workers, seconds, reporter, **options)
    except Interrupted as exc:  # before any worker started: nothing on disk changed
        reporter.close()
        click.echo(f"interrupted by {exc} before the search started; {resume_hint(run)}", err=True)
        sys.exit(128 + exc.signum)
    finally:
        reporter.close()
    _finish(summary, run, as_json)


_SEARCH_HELP = f"""Search for low-rank schemes of TARGET.

TARGET is a matrix multiplication format such as 3x3x3, a structured product such as ug-444
(upper triangular x general, in the flip-cpd letter codes: g general, u/l upper/lower
triangular, s symmetric, k skew, w skew plus diagonal, t for X·Xᵀ as in gt-444), a polynomial
product such as pm-22, or a .npy file with a 3-way integer tensor. The default searcher
(flip-pool) starts walkers from the naive scheme (from blocks for sides of 5 or more and over F3, or
--start);
they flip at random, take reductions as they appear and plus transitions when stuck, and a
pool of distinct schemes per rank keeps restarts diverse; --searcher picks another strategy
(its options are listed under its name below). Workers run as local processes, or as actors
on a Ray cluster with --backend ray [--address HOST:PORT]. Every new
best scheme is verified exactly, saved in the run directory (best-<rank>.json) and stored in
the scheme database, and the checkpoint is rewritten at once, so neither Ctrl-C, SIGTERM nor
kill -9 loses a scheme found; `flipforge resume RUN` goes on. Ctrl-C, SIGTERM and SIGHUP stop
the workers, write the checkpoint and print the resume command. A second search or resume in
the same run directory is refused while this one runs. Without --target-rank the target is the
best-known rank of the target over the domain (from the database), and reaching it ends the run.

\b
{_EXIT_HELP}

\b
Examples:
  flipforge search 3x3x3 --target-rank 23              # F2, all cores, ~0.1 s
  flipforge search 3x3x3 --domain ZT -r 23 --seed 7    # valid over every ring
  flipforge search 2x2x2 -d F3 --start builtin:strassen -r 7
  flipforge search ss-222 -d F3 --lift Q               # symmetric x symmetric, rank 5 needs 1/2
  flipforge search 4x4x4 -r 49 --workers 2 --time 10m --json
  flipforge search 5x5x5 -w 32 --backend ray --address head:6379   # a cluster
"""

_backend_option = click.option(
    "--backend",
    type=click.Choice(BACKENDS),
    default="local",
    show_default=True,
    help="Where the workers run: local processes, or Ray actors (pip install 'flipforge[ray]').",
)
_address_option = click.option(
    "--address",
    default=None,
    metavar="HOST:PORT",
    show_default="start Ray on this machine",
    help="With --backend ray: the Ray cluster to join (its head, `ray start --head`).",
)
_workers_option = click.option(
    "--workers",
    "-w",
    type=int,
    default=None,
    show_default="one per CPU",
    help="Worker processes (at most 4 per CPU without --force).",
)
_force_option = click.option("--force", is_flag=True, show_default="off", help="Allow more than 4 workers per CPU.")
_json_option = click.option(
    "--json", "as_json", is_flag=True, show_default="off", help="End with a one-line JSON summary on stdout."
)
_quiet_option = click.option(
    "--quiet",
    "-q",
    is_flag=True,
    show_default="off",
    help="No progress output (a scheme that could not be saved is still printed).",
)


def _time_option(help_text: str):  # noqa: ANN202 (a click decorator)
    """``--time/-t DURATION``, read by ``parse_duration``."""
    return click.option(
        "--time", "-t", "time_", default=None, metavar="DURATION", show_default="no limit", help=help_text
    )


@click.command("search", cls=SearchCommand, help=_SEARCH_HELP)
@click.argument("target", metavar="TARGET")
@click.option("--domain", "-d", default="F2", show_default=True, help="F2, F3 or ZT (integers in {-1,0,1}).")
@click.option(
    "--target-rank",
    "-r",
    type=int,
    default=None,
    show_default="the best-known rank of the format",
    help="Stop when a scheme of this rank is found.",
)
@_time_option("Time budget: 90, 90s, 15m, 2h, 1d.")
@_workers_option
@click.option(
    "--seed",
    "-s",
    type=int,
    default=None,
    show_default="random, printed",
    help="Seed from 0 to 2^64-1; the same seed and one worker repeat a run exactly.",
)
@click.option(
    "--start",
    default="auto",
    show_default=True,
    metavar="auto|naive|blocks|db|builtin:NAME|PATH",
    help="Start scheme(s): auto (blocks for a flip-pool search of a format with a side of 5 or more, and over F3 "
    "where blocks are walked over ZT; else naive), naive, blocks (a direct sum of short searches on the halves "
    "of the largest side, recursively: a far lower start on large and rectangular formats, built in seconds, "
    "its time counted in the run's), builtin:strassen, builtin:winograd, builtin:naive:NxMxP, a file or folder, or db "
    "(the database's best schemes of the format, and of the formats one index larger, projected, or smaller, "
    "extended).",
)
@click.option(
    "--searcher",
    default=DEFAULT_SEARCHER,
    show_default=True,
    metavar="NAME",
    help="Search strategy (each one's options are listed below).",
)
@click.option(
    "--pool-size",
    "-k",
    type=int,
    default=_POOL_SIZE_DEFAULT,
    show_default=True,
    help="Distinct schemes per rank kept (the walkers move down to a rank once its pool is full).",
)
@click.option("--run-dir", default=None, metavar="DIR", show_default="runs/<run-id>", help="Run directory.")
@click.option(
    "--db",
    "db_path",
    default=None,
    metavar="PATH",
    show_default="$FLIPFORGE_DB or runs/flipforge.db",
    help="Scheme database for every new best.",
)
@click.option(
    "--no-db",
    is_flag=True,
    show_default="off",
    help="Do not write to a database (best schemes still go to the run directory).",
)
@click.option(
    "--lift",
    "lift_to",
    type=click.Choice(["ZT", "Z", "Q"], case_sensitive=False),
    default=None,
    show_default="no lifting",
    help="Lift new bests (F2/F3 searches) to this ring in the background, the last one before the run stops, "
    "and store both.",
)
@click.option(
    "--beyond",
    is_flag=True,
    show_default="off",
    help="Without --target-rank: aim one below the best-known rank (a record).",
)
@_backend_option
@_address_option
@_force_option
@_json_option
@_quiet_option
@friendly_errors
def search_command(
    target: str,
    domain: str,
    target_rank: int | None,
    time_: str | None,
    workers: int | None,
    seed: int | None,
    start: str,
    searcher: str,
    pool_size: int,
    run_dir: str | None,
    db_path: str | None,
    no_db: bool,
    lift_to: str | None,
    beyond: bool,
    backend: str,
    address: str | None,
    force: bool,
    as_json: bool,
    quiet: bool,
    **searcher_values: Any,
) -> None:
    params = _searcher_values(searcher, searcher_values)
    workers = _check_workers(workers, force, backend)
    seed = _check_seed(seed)
    seconds = parse_duration(time_)
    engine = _backend(backend, address)
    from flipforge.search.run import create_run

    run = create_run(
        target,
        domain,
        seed=seed,
        target_rank=target_rank,
        pool_size=pool_size,
        params=params,
        searcher=searcher,
        start=start,
        run_dir=run_dir,
        db=None if no_db else (db_path or default_db_path()),
        beyond=beyond,
        lift_to=lift_to.upper() if lift_to else None,
        note=lambda text: click.echo(f"flipforge: note: {text}", err=True),
    )
    with run.lock():
        state = run.state()
        config = run.config()
        if config.target_rank is None:
            goal = "no target rank (until time or Ctrl-C)"
        else:
            goal = f"target rank {config.target_rank}" + (f" ({config.target_source})" if config.target_source else "")
        click.echo(
            f"run {run.run_id} ({run.path}): {config.label} over {config.domain} from rank "
            f"{state['start_rank']} ({config.start}), {goal}, {workers} {searcher} worker(s) on {engine.name}, "
            f"seed {seed}",
            err=True,
        )
        _run(run, workers, seconds, quiet, as_json, backend=engine)


@click.command("resume", cls=OneLineCommand)
@click.argument("run_ref", metavar="RUN")
@_time_option("Time budget for this session: 90, 90s, 15m, 2h, 1d.")
@_workers_option
@click.option(
    "--db",
    "db_path",
    default=None,
    metavar="PATH",
    show_default="the run's database",
    help="Scheme database for this session's new bests.",
)
@click.option("--no-db", is_flag=True, show_default="off", help="Do not write to a database in this session.")
@_backend_option
@_address_option
@_force_option
@_json_option
@_quiet_option
@friendly_errors
def resume_command(
    run_ref: str,
    time_: str | None,
    workers: int | None,
    db_path: str | None,
    no_db: bool,
    backend: str,
    address: str | None,
    force: bool,
    as_json: bool,
    quiet: bool,
) -> None:
    """Continue a run from its last checkpoint (on either backend, whichever it started on).

    RUN is a run id under runs/ (or $FLIPFORGE_RUNS) or a run directory. The checkpoint's pools
    and the run's best schemes are re-checked exactly before they are trusted (a checkpoint that
    does not hold is refused), a best-<rank>.json saved after the last checkpoint is taken
    into account, and no best file is ever overwritten. The walkers get fresh seeds derived from
    the run's seed and the session number. A run that is already running (in another process)
    is refused.

    \b
    Exit status as for `flipforge search`.
    """
    if db_path is not None and no_db:
        fail("give --db PATH or --no-db, not both")
    workers = _check_workers(workers, force, backend)
    seconds = parse_duration(time_)
    engine = _backend(backend, address)
    run = find_run(run_ref)
    with run.lock():
        from flipforge.search.run import load_checkpoint  # numba loads here, not for --help

        loaded = load_checkpoint(run)
        state = loaded[0]
        click.echo(
            f"resuming {run.run_id}: best rank {state['best_rank']} after {format_count(state.get('flips', 0))} "
            f"flips, session {int(state.get('sessions', 0)) + 1}, {workers} worker(s) on {engine.name}",
            err=True,
        )
        db: str | bool = False if no_db else (db_path or True)
        _run(run, workers, seconds, quiet, as_json, db=db, loaded=loaded, backend=engine)


def _row(run: RunDir) -> dict[str, Any]:
    """One run as ``flipforge runs`` lists it; a broken one has status "broken" and an error."""
    try:
        run.check_files()  # a FIFO or a device in place of a run file is never opened
        cfg, st = run.config(), run.state()
    except (FlipforgeError, OSError) as exc:
        return {"run": run.run_id, "status": "broken", "error": str(exc)}
    status = st.get("status", "?")
    if run.running_pid() is not None:
        status = "running"
    elif status == "running":
        status = "killed"  # its process died without a last checkpoint: resume it
    return {
        "run": run.run_id,
        "target": cfg.label,
        "domain": cfg.domain,
        "best_rank": st.get("best_rank"),
        "target_rank": cfg.target_rank,
        "start_rank": st.get("start_rank"),
        "status": status,
        "flips": st.get("flips", 0),
        "seconds": st.get("seconds", 0.0),
        "best_scheme": str(run.path / st["best_file"]) if st.get("best_file") else None,
    }


_runs_dir_option = click.option(
    "--runs-dir",
    default=None,
    metavar="DIR",
    show_default="$FLIPFORGE_RUNS or runs/",
    help="Where runs live.",
)


@click.group("runs", cls=OneLineGroup, invoke_without_command=True)
@_runs_dir_option
@click.option("--json", "as_json", is_flag=True, show_default="off", help="Print a JSON array, one object per run.")
@click.pass_context
@friendly_errors
def runs_command(ctx: click.Context, runs_dir: str | None, as_json: bool) -> None:
    """List the runs and their best ranks, oldest first.

    A run whose files cannot be read is listed as broken, with the reason; a run whose process
    died without a last checkpoint is "killed" (resume it). `flipforge runs show RUN` prints a
    run's history (sessions, bests with time and flips, workers lost) and can plot it.
    """
    if ctx.invoked_subcommand is not None:
        return
    root = Path(runs_dir) if runs_dir else default_runs_root()
    rows = [_row(run) for run in list_runs(root)]
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    if not rows:
        click.echo(f"no runs under {root}")
        return
    click.echo(f"{'run':42s} {'target':10s} {'dom':3s} {'best':>5s} {'goal':>5s} {'status':11s} {'flips':>9s} time")
    for r in rows:
        if r["status"] == "broken":
            click.echo(f"{r['run']:42s} broken: {r['error']}")
            continue
        goal = "-" if r["target_rank"] is None else str(r["target_rank"])
        click.echo(
            f"{r['run']:42s} {r['target']:10s} {r['domain']:3s} {r['best_rank']!s:>5s} {goal:>5s} "
            f"{r['status']:11s} {format_count(r['flips']):>9s} {format_duration(r['seconds'])}"
        )


_SHOW_HELP = """Print the history of one or more runs: sessions, bests, workers lost.

RUN is a run id under the runs folder or a run directory. For each session: when it started,
its workers and time limit, how it ended (reached, time, interrupted by a signal, killed), every
new best with the run time, the session time, the flips and the worker that found it, workers
lost (with their exit code), lifts, rejected schemes and database errors. The history is read
from the run's events.jsonl; a last line cut short by kill -9, unknown events and missing fields
are skipped or shown as "?".

--plot FILE.png draws best rank against time and against flips (log scales), one line per
run; it needs matplotlib (pip install 'flipforge[plot]').

\b
Examples:
  flipforge runs show 4x4x4-F2-20261122-155306
  flipforge runs show runs/a runs/b --plot history.png
  flipforge runs show r1 --json
"""


@runs_command.command("show", cls=OneLineCommand, help=_SHOW_HELP)
@click.argument("runs", nargs=-1, required=True, metavar="RUN...")
@_runs_dir_option
@click.option("--json", "as_json", is_flag=True, show_default="off", help="Print a JSON array, one history per run.")
@click.option("--plot", "plot_file", default=None, metavar="FILE.png", show_default="none", help="Also draw a PNG.")
@click.pass_context
@friendly_errors
def runs_show_command(
    ctx: click.Context, runs: tuple[str, ...], runs_dir: str | None, as_json: bool, plot_file: str | None
) -> None:
    """Print the history of one or more runs (and plot it with --plot)."""
    from flipforge.search.history import format_history, read_history

    parent = ctx.parent.params if ctx.parent is not None else {}
    runs_dir = runs_dir or parent.get("runs_dir")
    as_json = as_json or bool(parent.get("as_json"))
    root = Path(runs_dir) if runs_dir else default_runs_root()
    target = None
    if plot_file is not None:
        from .plot import check_plot_path, load_matplotlib

        target = check_plot_path(plot_file)
        load_matplotlib()  # say at once that it is missing, before reading anything
    histories = [read_history(find_run(ref, root)) for ref in runs]
    if as_json:
        click.echo(json.dumps([h.as_dict() for h in histories], indent=1))
    else:
        click.echo("\n\n".join(format_history(h) for h in histories))
    if target is not None:
        from .plot import plot_histories

        plot_histories(histories, target)
        click.echo(f"plot: {target}", err=True)
