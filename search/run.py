"""The run orchestrator: start or resume a search, drive the worker processes, keep the run safe.

The parent process never walks. It starts W worker processes (``worker.worker_main``), takes
their reports, re-checks every new best scheme exactly before saving it, writes the
checkpoint at every new best, at least every ``checkpoint_every`` seconds and at exit, and
stops on the target, the time budget or a stop signal (Ctrl-C, SIGTERM, SIGHUP). It holds the
run directory's lock for the whole session. When the run directory cannot be written (disk
full, removed, read-only) it stops at once; a best scheme that could not be saved there is
still stored in the database and handed to the reporter (the CLI prints it as native JSON), so
nothing found is lost.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from flipforge.schemes import (
    BUILTIN_PREFIX,
    FlipforgeError,
    Scheme,
    SchemeError,
    Tensor,
    builtin_scheme,
    iter_scheme_files,
    parse_target,
    read_entries,
    read_schemes,
)
from flipforge.schemes import native_text as scheme_text
from flipforge.schemes.db import SchemeDB, best_known_table
from flipforge.schemes.tensor import sorted_format_name
from flipforge.verify import VerifyResult, verify
from flipforge.verify.lift import lift

from .kernels.walk import kernels_cached, prepare_kernels
from .packing import Packed, check_width, pack, search_domain, unpack
from .params import check_tuning
from .rundir import (
    BEST_FILE,
    MAX_RANK,
    MAX_SEED,
    RunConfig,
    RunDir,
    RunError,
    atomic_write,
    check_regular,
    default_runs_root,
    new_run_id,
)
from .store import open_db
from .worker import STOP_SIGNALS, pools_from_wire, pools_to_wire, signals_blocked, worker_main

__all__ = [
    "Interrupted",
    "Reporter",
    "Summary",
    "create_run",
    "execute",
    "load_checkpoint",
    "load_target",
    "start_pools",
    "check_nonzero",
]

CHECKPOINT_EVERY = 30.0
MAX_RESPAWNS = 3
SHUTDOWN_WAIT = 5.0  # seconds the workers get to send their last pools after the stop


class Reporter(Protocol):
    """What the run tells its user; the CLI supplies a terminal or a plain-text one."""

    def update(self, snap: dict[str, Any]) -> None: ...

    def best(self, rank: int, path: Path, seconds: float) -> None: ...

    def note(self, text: str) -> None: ...

    def unsaved(self, text: str) -> None:
        """A verified scheme (native JSON, one line) that the run directory could not take."""


class Interrupted(KeyboardInterrupt):
    """A stop signal that came before the workers started (nothing was changed on disk)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class _StopSignals:
    """SIGINT, SIGTERM and SIGHUP while a session runs in this (main) thread.

    Until the workers start a signal raises ``Interrupted``; from then on it is only recorded in
    ``caught`` (the loop checks it several times a second), and a second one sets ``again`` (the
    shutdown stops waiting for the workers). A signal this process ignores (nohup) stays ignored.
    """

    def __init__(self) -> None:
        self.caught: int | None = None
        self.again = False
        self.raising = True
        self.previous: dict[int, Any] = {}

    def __enter__(self) -> _StopSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in STOP_SIGNALS:
                prev = signal.getsignal(sig)
                if prev is not signal.SIG_IGN:
                    self.previous[sig] = prev
                    signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.caught is None:
            self.caught = signum
        else:
            self.again = True
        if self.raising:
            raise Interrupted(signum)

    def __exit__(self, *exc: object) -> None:
        for sig, prev in self.previous.items():
            signal.signal(sig, prev if prev is not None else signal.SIG_DFL)


@dataclass
class Summary:
    """The outcome of one session of a run (the ``--json`` summary)."""

    run: str
    run_dir: str
    status: str  # reached | time | interrupted | error
    best_rank: int
    start_rank: int
    target_rank: int | None
    reached_target: bool
    best_scheme: str | None
    flips: int
    seconds: float
    session_seconds: float
    session_flips: int
    domain: str
    target: str
    error: str | None = None
    signal: str | None = None  # SIGINT | SIGTERM | SIGHUP when interrupted
    checkpoint_saved: bool = True
    unsaved: list[str] = field(default_factory=list)  # native JSON of bests the run directory did not take
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k not in ("extra", "unsaved")}
        d["unsaved"] = len(self.unsaved)
        d.update(self.extra)
        return d


def load_target(spec: str) -> Tensor:
    """A format (``3x3x3``) or a ``.npy`` tensor file; raises TensorError with the reason."""
    tensor = parse_target(spec)
    check_width(tensor)
    return tensor


def _proof(scheme: Scheme) -> VerifyResult:
    """The exact verdict over the scheme's domain; SchemeError when it does not hold."""
    result = verify(scheme, scheme.domain)
    if not result.valid:
        raise SchemeError(f"rank-{scheme.rank} scheme is not valid over {scheme.domain}: {result.summary()}")
    return result


def _verified(packed: Packed, tensor: Tensor, meta: dict[str, Any] | None = None) -> tuple[Scheme, VerifyResult]:
    scheme = unpack(packed, tensor, meta)
    return scheme, _proof(scheme)


def _check_packed(packed: Packed, tensor: Tensor) -> None:
    """Raise SchemeError unless ``packed`` is exactly how ``pack`` writes a valid scheme."""
    try:
        scheme = unpack(packed, tensor)
        canon = pack(scheme, packed.domain)
    except FlipforgeError as exc:
        raise SchemeError(str(exc)) from None
    same = canon.rank == packed.rank and np.array_equal(canon.fp, packed.fp) and np.array_equal(canon.fn, packed.fn)
    if not same:
        raise SchemeError(f"not a packed {tensor.label()} scheme (stray bits or an empty term)")
    _proof(scheme)  # the scheme unpacked once serves both checks


def _one_line(scheme: Scheme) -> str:
    """Native JSON on one line (what the CLI prints for a scheme it could not save)."""
    return json.dumps(json.loads(scheme_text(scheme)), separators=(",", ":"))


def load_checkpoint(
    run: RunDir, config: RunConfig | None = None, tensor: Tensor | None = None
) -> tuple[dict[str, Any], dict[int, list[Packed]]]:
    """The run's checkpoint, trusted only after an exact re-check; RunError names what does not hold.

    Every pool member must be a canonical packing of a valid scheme of the run's target, and the
    best scheme the checkpoint names must exist, have the best rank and hold. A ``best-<r>.json``
    below the checkpoint's best rank (saved just before a crash, before the checkpoint caught up)
    is re-checked the same way and joins the pools, so a resume never starts above a best on disk.
    """
    config = config or run.config()
    tensor = tensor or run.tensor(config)
    domain = config.domain
    state, raw = run.read_checkpoint(domain)
    where = run.checkpoint_file
    pools: dict[int, list[Packed]] = {}
    keys: set[bytes] = set()

    def add(p: Packed) -> None:
        if p.key() not in keys:
            keys.add(p.key())
            pools.setdefault(p.rank, []).append(p)

    for rank, members in sorted(raw.items()):
        for i, p in enumerate(members):
            try:
                _check_packed(p, tensor)
            except SchemeError as exc:
                raise RunError(f"{where}: pool {rank}[{i}]: {exc}; the checkpoint is not trusted") from None
            add(p)
    best_rank, best_file = int(state["best_rank"]), state.get("best_file")
    if pools and min(pools) < best_rank:
        raise RunError(f"{where}: its pools hold rank {min(pools)}, below its best rank {best_rank}; not trusted")
    if best_file is not None:
        m = BEST_FILE.fullmatch(best_file)
        if m is None or int(m.group(1)) != best_rank:
            raise RunError(f"{where}: best_file {best_file!r} does not match its best rank {best_rank}; not trusted")
        add(_best_from_file(run.path / best_file, tensor, domain))
    for rank, path in run.best_files():  # lowest first: only one below the best rank is needed
        if rank < best_rank:
            add(_best_from_file(path, tensor, domain))
            best_rank, best_file = rank, path.name
    if not pools or min(pools) > best_rank:
        raise RunError(f"{where}: claims best rank {best_rank} but holds no valid scheme of that rank; not trusted")
    state.update(best_rank=best_rank, best_file=best_file)
    return state, pools


def _best_from_file(path: Path, tensor: Tensor, domain: str) -> Packed:
    """A run's best-<r>.json, packed, after the same exact check as the checkpoint's pools."""
    try:
        check_regular(path)
        schemes = read_schemes(path)
        if len(schemes) != 1 or schemes[0].tensor != tensor:
            raise SchemeError(f"not one scheme of {tensor.label()}")
        packed = pack(schemes[0], domain)
        m = BEST_FILE.fullmatch(path.name)
        if m and int(m.group(1)) != packed.rank:
            raise SchemeError(f"holds a rank-{packed.rank} scheme")
        _check_packed(packed, tensor)
    except FlipforgeError as exc:
        raise RunError(f"{path}: {exc}; the run's best scheme is not trusted (fix or remove it)") from None
    return packed


def default_target(tensor: Tensor, domain: str, db: SchemeDB | None) -> tuple[int | None, str | None]:
    """The best-known rank of a matmul format over the search domain: the database's table
    (literature plus flipforge's records) or, without a database, the shipped literature table."""
    if tensor.fmt is None:
        return None, None
    fmt = sorted_format_name(tensor.fmt)
    if db is not None:
        row = db.best_known_row(fmt, domain)
        return (row[0], row[1]) if row else (None, None)
    for row in best_known_table():
        if row["format"] == fmt:
            return row.get(domain), row["citations"].get(domain)
    return None, None


def _start_schemes(tensor: Tensor, start: str, note: Any = None) -> list[Scheme]:
    """The start schemes for ``tensor``. In a file or folder, entries that cannot be read (a
    dangling link, a bad file) are skipped with a note as long as one scheme for the target remains."""
    if start == "naive":
        return [Scheme.naive(tensor)]
    skipped: list[str] = []
    if start.startswith(BUILTIN_PREFIX):
        candidates = [builtin_scheme(start)]
    elif not Path(start).exists() and not Path(start).is_symlink():
        raise SchemeError(f"--start {start}: no such file or folder (use 'naive', a scheme file or builtin:NAME)")
    else:
        candidates = []
        for path in iter_scheme_files([start]):
            try:
                entries = read_entries(path)
            except FlipforgeError as exc:
                skipped.append(str(exc))
                continue
            for e in entries:
                if isinstance(e, Scheme):
                    candidates.append(e)
                else:
                    skipped.append(str(e))
    schemes = [s for s in candidates if s.tensor == tensor]
    if not schemes:
        why = f" ({len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} could not be read: {skipped[0]})"
        raise SchemeError(f"--start {start}: no scheme for {tensor.label()} in it" + (why if skipped else ""))
    if skipped and note is not None:
        note(
            f"--start {start}: skipped {len(skipped)} entr{'y' if len(skipped) == 1 else 'ies'} that could not be "
            f"read (first: {skipped[0]}); starting from {len(schemes)} scheme(s) for {tensor.label()}"
        )
    return schemes


def start_pools(tensor: Tensor, domain: str, start: str, note: Any = None) -> dict[int, list[Packed]]:
    """The start pools: the naive scheme, a built-in (``builtin:strassen``), or every scheme for
    this target in a file or folder (``note`` is told about entries skipped there)."""
    pools: dict[int, list[Packed]] = {}
    for s in _start_schemes(tensor, start, note):
        packed = pack(s, domain)
        try:
            _verified(packed, tensor)
        except SchemeError as exc:
            raise SchemeError(f"--start {start}: {exc}") from None
        pools.setdefault(packed.rank, []).append(packed)
    return pools


def check_nonzero(tensor: Tensor, domain: str) -> None:
    """SchemeError when the target is zero over the domain (rank 0: there is nothing to search)."""
    arr = np.asarray(tensor.array)
    modulus = {"F2": 2, "F3": 3}.get(domain)
    nonzero = bool(np.any(arr % modulus != 0)) if modulus else bool(np.any(arr != 0))
    if not nonzero:
        raise SchemeError(f"the target tensor is zero over {domain}: its rank is 0; nothing to search")


def create_run(
    target: str,
    domain: str,
    *,
    seed: int = 0,
    target_rank: int | None = None,
    pool_size: int = 50,
    params: dict[str, int] | None = None,
    start: str = "naive",
    run_dir: str | Path | None = None,
    runs_root: Path | None = None,
    db: str | Path | None = None,
    beyond: bool = False,
    lift_to: str | None = None,
    note: Any = None,
) -> RunDir:
    """Check the inputs, create the run directory and its first checkpoint.

    Without ``target_rank`` the target is the best-known rank of the format over the domain
    (``beyond``: one below it, a new record); ``db`` is the scheme database for new bests.
    """
    domain = search_domain(domain)
    tensor = load_target(target)
    check_nonzero(tensor, domain)
    if not 0 <= seed <= MAX_SEED:
        raise SchemeError(f"--seed must be an integer from 0 to 2^64-1, not {seed}")
    if target_rank is not None and not 1 <= target_rank <= MAX_RANK:
        raise SchemeError(f"--target-rank must be from 1 to {MAX_RANK}, not {target_rank}")
    if not 1 <= pool_size <= MAX_RANK:
        raise SchemeError(f"--pool-size must be from 1 to {MAX_RANK}, not {pool_size}")
    try:
        check_tuning(dict(params or {}), flags=True)
    except ValueError as exc:
        raise SchemeError(str(exc)) from None
    db_path = str(Path(db).resolve()) if db is not None else None
    # opening the database here makes a bad one bad input now, not an error later in the run
    with open_db(db_path) if db_path else contextlib.nullcontext() as database:
        known, citation = default_target(tensor, domain, database)
    target_source = None
    if target_rank is None and known is not None:
        target_rank = known - 1 if beyond else known
        target_source = f"best known over {domain}: {known} ({citation})" + ("; --beyond: one below" if beyond else "")
    if lift_to is not None and (domain == "ZT" or lift_to.upper() not in ("ZT", "Z", "Q")):
        raise SchemeError("--lift needs a search over F2 or F3 and a target ZT, Z or Q")
    pools = start_pools(tensor, domain, start, note)
    label = tensor.label(with_shape=False)
    root = runs_root or default_runs_root()
    path = Path(run_dir) if run_dir else root / new_run_id(root, label, domain)
    config = RunConfig(
        target="tensor.npy" if not tensor.is_matmul else label,
        domain=domain,
        seed=seed,
        target_rank=target_rank,
        pool_size=pool_size,
        params=dict(params or {}),
        start=start,
        label=label,
        db=db_path,
        target_source=target_source,
        lift=lift_to,
    )
    run = RunDir(path)
    run.create(config, tensor)
    start_rank = min(pools)
    state = {"status": "new", "sessions": 0, "flips": 0, "seconds": 0.0, "start_rank": start_rank}
    state.update(best_rank=start_rank, best_file=None)
    try:
        run.write_checkpoint(state, pools)
        run.event("created", target=label, domain=domain, seed=seed, target_rank=target_rank, start_rank=start_rank)
    except OSError as exc:
        raise RunError(f"{run.path}: cannot write to the run directory ({exc.strerror or exc})") from None
    return run


def _merge_pools(snapshots: list[dict[int, list[Packed]]], limit: int) -> dict[int, list[Packed]]:
    merged: dict[int, list[Packed]] = {}
    seen: set[bytes] = set()
    for snap in snapshots:
        for rank, members in snap.items():
            bucket = merged.setdefault(rank, [])
            for s in members:
                key = s.key()
                if key not in seen and len(bucket) < limit:
                    seen.add(key)
                    bucket.append(s)
    return {r: m for r, m in merged.items() if m}


def _context() -> Any:
    import multiprocess

    methods = multiprocess.get_all_start_methods()
    return multiprocess.get_context("fork" if "fork" in methods else "spawn")


def execute(
    run: RunDir,
    workers: int,
    time_limit: float | None,
    reporter: Reporter | None = None,
    checkpoint_every: float = CHECKPOINT_EVERY,
    *,
    db: str | Path | bool = True,
    loaded: tuple[dict[str, Any], dict[int, list[Packed]]] | None = None,
) -> Summary:
    """Run (or continue) the search of ``run`` with W workers until target, time or a stop signal.

    ``db``: True for the run's database, False for none, or a path (this session only).
    ``loaded``: the result of ``load_checkpoint`` when the caller already has it (under the lock).
    A stop signal before the workers start raises ``Interrupted``; afterwards it ends the session
    with status "interrupted" and ``Summary.signal`` set.
    """
    if workers < 1:
        raise SchemeError(f"--workers must be at least 1, not {workers}")
    if time_limit is not None and not (math.isfinite(time_limit) and time_limit > 0):
        raise SchemeError(f"--time must be a positive number of seconds, not {time_limit}")
    config = run.config()
    tensor = run.tensor(config)
    with _StopSignals() as signals, run.lock():
        state, pools = loaded if loaded is not None else load_checkpoint(run, config, tensor)
        db_path = config.db if db is True else (None if db is False else str(Path(db).resolve()))
        session = _Session(run, config, tensor, state, pools, reporter, signals)
        return session.execute(workers, time_limit, checkpoint_every, db_path)


class _Session:
    """One session of a run: the workers, their messages, the checkpoints and the shutdown."""

    def __init__(
        self,
        run: RunDir,
        config: RunConfig,
        tensor: Tensor,
        state: dict[str, Any],
        pools: dict[int, list[Packed]],
        reporter: Reporter | None,
        signals: _StopSignals,
    ) -> None:
        self.run, self.config, self.tensor, self.state = run, config, tensor, state
        self.pools, self.reporter, self.signals = pools, reporter, signals
        self.session = int(state.get("sessions", 0)) + 1
        state["sessions"] = self.session
        self.target = config.target_rank
        self.best_rank = int(state["best_rank"])
        self.flips_before = int(state.get("flips", 0))
        self.seconds_before = float(state.get("seconds", 0.0))
        self.status, self.error = "time", None
        self.db: SchemeDB | None = None
        self.disk_error: str | None = None  # the first failed write to the run directory
        self.checkpoint_saved = True
        self.unsaved: list[str] = []
        # verified bests of this session: always in the checkpoint, whatever the workers' snapshots
        self.found: dict[int, list[Packed]] = {}
        self.checked: dict[bytes, bool] = {p.key(): True for members in pools.values() for p in members}
        self.pending: list[dict[str, Any]] = []  # bests saved, not yet in a checkpoint nor announced
        self.procs: list[Any] = []
        self.t0 = time.monotonic()

    # --- outcome ---------------------------------------------------------------------------------

    def summary(self, session_flips: int, elapsed: float) -> Summary:
        best_file = self.state.get("best_file")
        caught = self.signals.caught if self.status == "interrupted" else None
        return Summary(
            run=self.run.run_id,
            run_dir=str(self.run.path.resolve()),
            status=self.status,
            best_rank=self.best_rank,
            start_rank=int(self.state["start_rank"]),
            target_rank=self.target,
            reached_target=self.target is not None and self.best_rank <= self.target,
            best_scheme=str(self.run.path.resolve() / best_file) if best_file else None,
            flips=self.flips_before + session_flips,
            seconds=round(self.seconds_before + elapsed, 3),
            session_seconds=round(elapsed, 3),
            session_flips=session_flips,
            domain=self.config.domain,
            target=self.config.label,
            error=self.error,
            signal=signal.Signals(caught).name if caught else None,
            checkpoint_saved=self.checkpoint_saved,
            unsaved=list(self.unsaved),
        )

    # --- the run directory -----------------------------------------------------------------------

    def _disk_failed(self, exc: OSError) -> None:
        """A write to the run directory failed: stop the session (once) and say why."""
        if self.disk_error is None:
            reason = exc.strerror or str(exc)
            self.disk_error = f"cannot write to the run directory {self.run.path} ({reason})"
            self.status, self.error = "error", self.disk_error

    def event(self, kind: str, **fields: Any) -> None:
        if self.disk_error is None:
            try:
                self.run.event(kind, **fields)
            except OSError as exc:
                self._disk_failed(exc)

    def _trusted(self, pools: dict[int, list[Packed]]) -> dict[int, list[Packed]]:
        """Only members that hold (each checked once): a kernel bug never reaches a checkpoint."""
        out: dict[int, list[Packed]] = {}
        for rank, members in pools.items():
            for p in members:
                key = p.key()
                ok = self.checked.get(key)
                if ok is None:
                    try:
                        _check_packed(p, self.tensor)
                        ok = True
                    except SchemeError as exc:
                        ok = False
                        self.event("rejected", rank=rank, reason=f"pool member: {exc}")
                    self.checked[key] = ok
                if ok:
                    out.setdefault(rank, []).append(p)
        return out

    def checkpoint(self, elapsed: float, flips: list[int], snaps: list[Any]) -> None:
        """Write the pools (this session's bests first) and counters, then announce the new bests."""
        self._write_checkpoint(elapsed, flips, snaps)
        self._announce()

    def _write_checkpoint(self, elapsed: float, flips: list[int], snaps: list[Any]) -> None:
        if self.disk_error is not None:
            self.checkpoint_saved = False
            return
        started = [s if s is not None else self.pools for s in snaps[: len(self.procs)]] or [self.pools]
        merged = _merge_pools([self.found, *map(self._trusted, started)], self.config.pool_size * len(snaps))
        self.state.update(
            flips=self.flips_before + sum(flips),
            seconds=round(self.seconds_before + elapsed, 3),
            best_rank=self.best_rank,
        )
        try:
            self.run.write_checkpoint(self.state, merged)
            self.checkpoint_saved = True
        except OSError as exc:
            self.checkpoint_saved = False
            self._disk_failed(exc)

    def _best_name(self, rank: int) -> str:
        """``best-<rank>.json``, or ``best-<rank>-<n>.json`` when that exists: never overwrite a best."""
        name, n = f"best-{rank}.json", 2
        while (self.run.path / name).exists():
            name, n = f"best-{rank}-{n}.json", n + 1
        return name

    def save_best(self, scheme: Scheme, rank: int, worker: int, proof: VerifyResult) -> str | None:
        """The best in the run directory and the database; None when the directory refused it."""
        name: str | None = None
        if self.disk_error is None:
            try:
                name = self._best_name(rank)
                atomic_write(self.run.path / name, scheme_text(scheme))
            except OSError as exc:
                name = None
                self._disk_failed(exc)
        if self.db is not None:
            try:
                self.db.add(
                    scheme,
                    self.config.domain,
                    proof,
                    run=self.run.run_id,
                    seed=self.config.seed,
                    worker=worker,
                    source=str(self.run.path / (name or f"best-{rank}.json")),
                )
            except FlipforgeError as exc:  # the scheme file is saved (or printed); say so and go on
                self.event("db_error", rank=rank, reason=str(exc))
                if self.reporter:
                    self.reporter.note(f"could not store rank {rank} in the database: {exc}")
        if name is None:
            self._keep(scheme)
        return name

    def _keep(self, scheme: Scheme) -> None:
        """A verified scheme the run directory did not take: the summary and the reporter get it."""
        text = _one_line(scheme)
        self.unsaved.append(text)
        if self.reporter:
            self.reporter.unsaved(text)

    # --- the session -----------------------------------------------------------------------------

    def execute(self, workers: int, time_limit: float | None, checkpoint_every: float, db_path: str | None) -> Summary:
        config, reporter, signals = self.config, self.reporter, self.signals
        target = self.target
        if target is not None and self.best_rank <= target:
            self.status = "reached"
            return self.summary(0, 0.0)
        if not kernels_cached() and reporter:
            reporter.note("compiling the search kernels (first run only, about a minute; later runs load them)")
        prepare_kernels()
        self.db = open_db(db_path) if db_path else None
        seeds = np.random.SeedSequence([config.seed, self.session]).generate_state(workers, np.uint64)
        ctx = _context()
        out = ctx.Queue()
        stop = ctx.Event()
        wire = pools_to_wire(self.pools)
        params = {"pool_size": config.pool_size, **config.params}
        parent = os.getpid()
        procs = self.procs

        def start_worker(w: int, seed: int, pools_wire: Any) -> Any:
            proc = ctx.Process(
                target=worker_main,
                args=(w, config.domain, pools_wire, params, seed, target, out, stop, parent),
                daemon=True,
                name=f"flipforge-worker-{w}",
            )
            with signals_blocked():  # the worker starts deaf to the stop signals, then ignores them
                proc.start()
            return proc

        respawns = [0] * workers
        flips = [0] * workers
        working: list[int | None] = [None] * workers
        sizes: list[dict[int, int]] = [{} for _ in range(workers)]
        snaps: list[dict[int, list[Packed]] | None] = [None] * workers
        done = [False] * workers
        self.state["status"] = "running"
        self.t0 = t0 = time.monotonic()
        last_ckpt = last_update = t0

        def latest_pools() -> dict[int, list[Packed]]:
            """The bests and every worker's last pool snapshot (the start pools for one without)."""
            mine = [s if s is not None else self.pools for s in snaps[: len(procs)]]
            return _merge_pools([self.found, *mine], config.pool_size * workers)

        def handle(msg: tuple) -> None:
            kind, w = msg[0], msg[1]
            if kind == "best":
                _, _, rank, fp, fn, wflips, search_seconds = msg
                flips[w] = max(flips[w], wflips)
                if rank >= self.best_rank:
                    return
                self.on_best(Packed(fp, fn, config.domain), w, sum(flips), search_seconds)
            elif kind == "stats":
                _, _, flips[w], working[w], sizes[w] = msg
            elif kind == "pools":
                snaps[w] = pools_from_wire(msg[2], config.domain)
                flips[w] = max(flips[w], msg[3])
            elif kind == "done":
                flips[w] = max(flips[w], msg[2])
                done[w] = True
            elif kind == "error":
                self.status, self.error = "error", f"worker {w}: {msg[2]}"

        try:
            signals.raising = False  # from here on a signal is a flag the loop reads
            for w in range(workers):
                if signals.caught is not None:  # a stop during start-up stops the start-up
                    break
                procs.append(start_worker(w, int(seeds[w]), wire))
            self.t0 = t0 = last_ckpt = last_update = time.monotonic()  # the budget starts with the workers
            self.event(
                "start",
                session=self.session,
                workers=len(procs),
                seed=config.seed,
                time_limit=time_limit,
                seconds=round(self.seconds_before, 3),
                flips=self.flips_before,
            )
            while True:
                if signals.caught is not None:
                    self.status = "interrupted"
                    break
                with contextlib.suppress(queue.Empty):
                    handle(out.get(timeout=0.2))
                    _drain(out, handle, timeout=0.0, limit=64)  # bests that came together: one checkpoint
                if all(done) or not any(p.is_alive() for p in procs):
                    _drain(out, handle)  # a worker that reached the target has exited; read what it sent
                now = time.monotonic()
                if target is not None and self.best_rank <= target:
                    self.status = "reached"
                    break
                if self.status == "error":
                    break
                if time_limit is not None and now - t0 >= time_limit:
                    self.status = "time"
                    break
                if all(done):
                    self.status = "error"
                    self.error = self.error or "every worker stopped before the target (see events.jsonl)"
                    break
                lost = [w for w, p in enumerate(procs) if not done[w] and not p.is_alive()]
                if lost:
                    _drain(out, handle)
                for w in (w for w in lost if not done[w]):
                    # a worker that died (killed, out of memory, crashed) is replaced from the latest pools
                    respawns[w] += 1
                    code = procs[w].exitcode
                    self.event("worker_lost", worker=w, exitcode=code, respawn=respawns[w])
                    if reporter:
                        reporter.note(f"worker {w} ended unexpectedly (exit code {code}); starting a new one")
                    if respawns[w] > MAX_RESPAWNS:
                        self.status = "error"
                        self.error = f"worker {w} keeps ending unexpectedly (last exit code {code})"
                        break
                    reseed = np.random.SeedSequence([config.seed, self.session, w, respawns[w]]).generate_state(
                        1, np.uint64
                    )
                    procs[w] = start_worker(w, int(reseed[0]), pools_to_wire(latest_pools()))
                if self.status == "error":
                    break
                if self.pending or now - last_ckpt >= checkpoint_every:
                    self.checkpoint(now - t0, flips, snaps)
                    last_ckpt = now
                if reporter and now - last_update >= 0.5:
                    last_update = now
                    snap = _snapshot(now - t0, flips, self.flips_before, self.best_rank, target, working, sizes)
                    reporter.update(snap)
        except KeyboardInterrupt:  # only when the signals could not be installed (not the main thread)
            self.status = "interrupted"
        finally:
            signals.raising = False
            try:
                self._shutdown(stop, out, handle, done, flips, snaps)
            finally:
                if self.db is not None:
                    self.db.close()
        return self.summary(sum(flips), time.monotonic() - t0)

    def on_best(self, packed: Packed, w: int, total_flips: int, search_seconds: float) -> None:
        """A worker's new best: verify it exactly and save it; the loop checkpoints, then announces it."""
        config, run = self.config, self.run
        elapsed = time.monotonic() - self.t0
        meta = {
            "found_by": "flipforge flip-graph search",
            "run": run.run_id,
            "seed": config.seed,
            "session": self.session,
            "worker": w,
            "flips": self.flips_before + total_flips,
            "seconds": round(self.seconds_before + elapsed, 3),
        }
        try:
            scheme, proof = _verified(packed, self.tensor, meta)
        except SchemeError as exc:  # a kernel bug must never become a "found" scheme
            self.event("rejected", rank=packed.rank, worker=w, reason=str(exc))
            return
        rank = packed.rank
        self.best_rank = rank
        self.found.setdefault(rank, []).append(packed)
        self.checked[packed.key()] = True
        name = self.save_best(scheme, rank, w, proof)
        if name is not None:
            self.state.update(best_rank=rank, best_file=name)
        if config.lift:
            self._lift_best(scheme, rank, w)
        best = {"rank": rank, "worker": w, "flips": meta["flips"], "seconds": meta["seconds"]}
        self.pending.append({**best, "search_seconds": round(search_seconds, 4), "file": name})

    def _announce(self) -> None:
        """Log and report the bests the checkpoint now holds (so anything announced survives kill -9)."""
        pending, self.pending = self.pending, []
        for best in pending:
            self.event("best", **best)
            if self.reporter and best["file"] is not None:
                self.reporter.best(best["rank"], self.run.path / best["file"], best["seconds"])

    def _lift_best(self, scheme: Scheme, rank: int, worker: int) -> None:
        """Lift a new best from F2/F3 to the ring asked for with --lift; store it beside the original."""
        run, config, reporter = self.run, self.config, self.reporter
        result = lift(scheme, config.lift or "Q")
        if not result.lifted:
            self.event("lift_failed", rank=rank, reason=result.reason)
            return
        name = f"best-{rank}-{result.domain}.json"
        saved = False
        if self.disk_error is None:
            try:
                atomic_write(run.path / name, scheme_text(result.scheme))  # type: ignore[arg-type]
                saved = True
            except OSError as exc:
                self._disk_failed(exc)
        if saved:
            self.event("lifted", rank=rank, domain=result.domain, steps=result.steps, file=name)
            if reporter:
                reporter.note(f"rank {rank} lifted to {result.domain} -> {run.path / name}")
        if self.db is not None:
            try:
                self.db.add(
                    result.scheme,
                    result.domain,
                    run=run.run_id,
                    seed=config.seed,
                    worker=worker,
                    source=str(run.path / name),
                )
            except FlipforgeError as exc:
                self.event("db_error", rank=rank, reason=str(exc))
        if not saved:
            self._keep(result.scheme)  # type: ignore[arg-type]

    def _shutdown(self, stop: Any, out: Any, handle: Any, done: list[bool], flips: list[int], snaps: list[Any]) -> None:
        """Stop the workers (their last pools are read for a while), checkpoint, log the stop."""
        procs = self.procs
        stop.set()
        deadline = time.monotonic() + SHUTDOWN_WAIT
        started = range(len(procs))
        while (
            not all(done[w] for w in started)
            and time.monotonic() < deadline
            and any(p.is_alive() for p in procs)
            and not self.signals.again  # a second Ctrl-C: do not wait for the last pools
        ):
            with contextlib.suppress(queue.Empty):
                handle(out.get(timeout=0.2))
        _drain(out, handle, timeout=0.0)
        for p in procs:
            p.join(timeout=max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(timeout=1.0)
        elapsed = time.monotonic() - self.t0
        self.state["status"] = self.status
        self.checkpoint(elapsed, flips, snaps)
        caught = self.signals.caught if self.status == "interrupted" else None
        self.event(
            "stop",
            status=self.status,
            signal=signal.Signals(caught).name if caught else None,
            best_rank=self.best_rank,
            flips=self.flips_before + sum(flips),
            seconds=round(self.seconds_before + elapsed, 3),
            error=self.error,
        )


def _drain(out: Any, handle: Any, timeout: float = 0.05, limit: int | None = None) -> None:
    """Handle queued messages until none comes within ``timeout`` (or ``limit`` were handled)."""
    n = 0
    while limit is None or n < limit:
        try:
            handle(out.get(timeout=timeout) if timeout > 0 else out.get_nowait())
        except queue.Empty:
            return
        n += 1


def _snapshot(
    elapsed: float,
    flips: list[int],
    before: int,
    best: int,
    target: int | None,
    working: list,
    sizes: list[dict[int, int]],
) -> dict[str, Any]:
    total = sum(flips)
    return {
        "elapsed": elapsed,
        "flips": before + total,
        "rate": total / elapsed if elapsed > 0 else 0.0,
        "best_rank": best,
        "target_rank": target,
        "working": [w for w in working if w is not None],
        "pool_sizes": [s.get(w, 0) for s, w in zip(sizes, working, strict=True) if w is not None],
    }
