"""The run orchestrator: start or resume a search, drive the worker processes, keep the run safe.

The parent process never walks. It starts W worker processes (``worker.worker_main``), takes
their reports, re-checks every new best scheme exactly before saving it, writes the
checkpoint at least every ``checkpoint_every`` seconds and at exit, and stops on the target,
the time budget or Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from flipforge.schemes import (
    FlipforgeError,
    Scheme,
    SchemeError,
    Tensor,
    iter_scheme_files,
    load_tensor,
    matmul_tensor,
    parse_format,
    read_entries,
)
from flipforge.schemes import native_text as scheme_text
from flipforge.schemes.db import SchemeDB, best_known_table
from flipforge.schemes.tensor import sorted_format_name
from flipforge.verify import VerifyResult, verify
from flipforge.verify.lift import lift

from .packing import Packed, check_width, naive_scheme, pack, search_domain, unpack
from .rundir import RunConfig, RunDir, atomic_write, default_runs_root, new_run_id, target_label
from .store import open_db
from .walk import kernels_cached, prepare_kernels
from .worker import pools_from_wire, pools_to_wire, worker_main

__all__ = ["Reporter", "Summary", "create_run", "execute", "load_target", "start_pools"]

CHECKPOINT_EVERY = 30.0
MAX_RESPAWNS = 3


class Reporter(Protocol):
    """What the run tells its user; the CLI supplies a terminal or a plain-text one."""

    def update(self, snap: dict[str, Any]) -> None: ...

    def best(self, rank: int, path: Path, seconds: float) -> None: ...

    def note(self, text: str) -> None: ...


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
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "extra"}
        d.update(self.extra)
        return d


def load_target(spec: str) -> Tensor:
    """A format (``3x3x3``) or a ``.npy`` tensor file; raises TensorError with the reason."""
    tensor = load_tensor(spec) if spec.endswith(".npy") else matmul_tensor(parse_format(spec))
    check_width(tensor)
    return tensor


def _verified(packed: Packed, tensor: Tensor, meta: dict[str, Any] | None = None) -> tuple[Scheme, VerifyResult]:
    scheme = unpack(packed, tensor, meta)
    result = verify(scheme, scheme.domain)
    if not result.valid:
        raise SchemeError(f"rank-{packed.rank} scheme is not valid over {scheme.domain}: {result.summary()}")
    return scheme, result


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
            return row[domain], row["citation"]
    return None, None


def start_pools(tensor: Tensor, domain: str, start: str) -> dict[int, list[Packed]]:
    """The start pools: the naive scheme, or every scheme for this target in a file or folder."""
    if start == "naive":
        schemes = [naive_scheme(tensor)]
    else:
        if not Path(start).exists():
            raise SchemeError(f"--start {start}: no such file or folder (use 'naive' or a scheme file)")
        schemes = [
            e
            for path in iter_scheme_files([start])
            for e in read_entries(path)
            if isinstance(e, Scheme) and e.tensor == tensor
        ]
        if not schemes:
            raise SchemeError(f"--start {start}: no scheme for {tensor.label()} in it")
    pools: dict[int, list[Packed]] = {}
    for s in schemes:
        packed = pack(s, domain)
        try:
            _verified(packed, tensor)
        except SchemeError as exc:
            raise SchemeError(f"--start {start}: {exc}") from None
        pools.setdefault(packed.rank, []).append(packed)
    return pools


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
) -> RunDir:
    """Check the inputs, create the run directory and its first checkpoint.

    Without ``target_rank`` the target is the best-known rank of the format over the domain
    (``beyond``: one below it, a new record); ``db`` is the scheme database for new bests.
    """
    domain = search_domain(domain)
    tensor = load_target(target)
    if target_rank is not None and target_rank < 1:
        raise SchemeError(f"--target-rank must be at least 1, not {target_rank}")
    db_path = str(Path(db).resolve()) if db is not None else None
    # opening the database here makes a bad one bad input now, not an error later in the run
    with open_db(db_path) if db_path else contextlib.nullcontext() as database:
        known, citation = default_target(tensor, domain, database)
    target_source = None
    if target_rank is None and known is not None:
        target_rank = known - 1 if beyond else known
        target_source = f"best known over {domain}: {known} ({citation})" + ("; --beyond: one below" if beyond else "")
    if pool_size < 1:
        raise SchemeError(f"--pool-size must be at least 1, not {pool_size}")
    if lift_to is not None and (domain == "ZT" or lift_to.upper() not in ("ZT", "Z", "Q")):
        raise SchemeError("--lift needs a search over F2 or F3 and a target ZT, Z or Q")
    pools = start_pools(tensor, domain, start)
    label = target_label(tensor)
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
    run.write_checkpoint(state, pools)
    run.event("created", target=label, domain=domain, seed=seed, target_rank=target_rank, start_rank=start_rank)
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
) -> Summary:
    """Run (or continue) the search of ``run`` with W workers until target, time or Ctrl-C."""
    if workers < 1:
        raise SchemeError(f"--workers must be at least 1, not {workers}")
    if time_limit is not None and time_limit <= 0:
        raise SchemeError(f"--time must be positive, not {time_limit}")
    config = run.config()
    tensor = run.tensor(config)
    state, pools = run.read_checkpoint(config.domain)
    session = int(state.get("sessions", 0)) + 1
    state["sessions"] = session
    target = config.target_rank
    best_rank = int(state["best_rank"])
    flips_before = int(state.get("flips", 0))
    seconds_before = float(state.get("seconds", 0.0))
    seeds = np.random.SeedSequence([config.seed, session]).generate_state(workers, np.uint64)

    def summary(status: str, session_flips: int, elapsed: float, error: str | None = None) -> Summary:
        return Summary(
            run=run.run_id,
            run_dir=str(run.path.resolve()),
            status=status,
            best_rank=best_rank,
            start_rank=int(state["start_rank"]),
            target_rank=target,
            reached_target=target is not None and best_rank <= target,
            best_scheme=str(run.path.resolve() / state["best_file"]) if state.get("best_file") else None,
            flips=flips_before + session_flips,
            seconds=round(seconds_before + elapsed, 3),
            session_seconds=round(elapsed, 3),
            session_flips=session_flips,
            domain=config.domain,
            target=config.label,
            error=error,
        )

    if target is not None and best_rank <= target:
        return summary("reached", 0, 0.0)

    if not kernels_cached() and reporter:
        reporter.note("compiling the search kernels (first run only, about a minute; later runs load them)")
    prepare_kernels()
    db = open_db(config.db) if config.db else None
    ctx = _context()
    out = ctx.Queue()
    stop = ctx.Event()
    wire = pools_to_wire(pools)
    params = {"pool_size": config.pool_size, **config.params}
    parent = os.getpid()

    def start_worker(w: int, seed: int, pools_wire: Any) -> Any:
        proc = ctx.Process(
            target=worker_main,
            args=(w, config.domain, pools_wire, params, seed, target, out, stop, parent),
            daemon=True,
            name=f"flipforge-worker-{w}",
        )
        proc.start()
        return proc

    procs = [start_worker(w, int(seeds[w]), wire) for w in range(workers)]
    respawns = [0] * workers
    run.event("start", session=session, workers=workers, seed=config.seed, time_limit=time_limit)
    state["status"] = "running"

    t0 = time.monotonic()
    flips = [0] * workers
    working = [None] * workers
    sizes: list[dict[int, int]] = [{} for _ in range(workers)]
    snaps: list[dict[int, list[Packed]] | None] = [None] * workers
    done = [False] * workers
    status, error = "time", None
    last_ckpt = last_update = t0

    def latest_pools() -> dict[int, list[Packed]]:
        """Every worker's last pool snapshot (the start pools for one that has not sent any)."""
        return _merge_pools([s if s is not None else pools for s in snaps], config.pool_size * workers)

    def checkpoint(elapsed: float) -> None:
        merged = latest_pools()
        state.update(flips=flips_before + sum(flips), seconds=round(seconds_before + elapsed, 3), best_rank=best_rank)
        run.write_checkpoint(state, merged)

    def handle(msg: tuple) -> None:
        nonlocal best_rank, status, error
        kind, w = msg[0], msg[1]
        if kind == "best":
            _, _, rank, fp, fn, wflips, search_seconds = msg
            flips[w] = max(flips[w], wflips)
            if rank >= best_rank:
                return
            elapsed = time.monotonic() - t0
            meta = {
                "found_by": "flipforge flip-graph search",
                "run": run.run_id,
                "seed": config.seed,
                "session": session,
                "worker": w,
                "flips": flips_before + sum(flips),
                "seconds": round(seconds_before + elapsed, 3),
            }
            try:
                scheme, proof = _verified(Packed(fp, fn, config.domain), tensor, meta)
            except SchemeError as exc:  # a kernel bug must never become a "found" scheme
                run.event("rejected", rank=rank, worker=w, reason=str(exc))
                return
            best_rank = rank
            name = f"best-{rank}.json"
            atomic_write(run.path / name, scheme_text(scheme))
            state.update(best_rank=rank, best_file=name)
            if db is not None:
                try:
                    db.add(
                        scheme,
                        config.domain,
                        proof,
                        run=run.run_id,
                        seed=config.seed,
                        worker=w,
                        source=f"{run.path / name}",
                    )
                except FlipforgeError as exc:  # the scheme file is saved; say so and go on
                    run.event("db_error", rank=rank, reason=str(exc))
                    if reporter:
                        reporter.note(f"could not store rank {rank} in the database: {exc}")
            if config.lift:
                _lift_best(run, scheme, rank, config, db, reporter, w)
            run.event(
                "best",
                rank=rank,
                worker=w,
                flips=meta["flips"],
                seconds=meta["seconds"],
                search_seconds=round(search_seconds, 4),
                file=name,
            )
            if reporter:
                reporter.best(rank, run.path / name, meta["seconds"])
        elif kind == "stats":
            _, _, flips[w], working[w], sizes[w] = msg
        elif kind == "pools":
            snaps[w] = pools_from_wire(msg[2], config.domain)
            flips[w] = max(flips[w], msg[3])
        elif kind == "done":
            flips[w] = max(flips[w], msg[2])
            done[w] = True
        elif kind == "error":
            status, error = "error", f"worker {w}: {msg[2]}"

    try:
        while True:
            with contextlib.suppress(queue.Empty):
                handle(out.get(timeout=0.2))
            if all(done) or not any(p.is_alive() for p in procs):
                _drain(out, handle)  # a worker that reached the target has exited; read what it sent
            now = time.monotonic()
            if target is not None and best_rank <= target:
                status = "reached"
                break
            if status == "error":
                break
            if time_limit is not None and now - t0 >= time_limit:
                status = "time"
                break
            if all(done):
                status = "error"
                error = error or "every worker stopped before the target (see events.jsonl)"
                break
            lost = [w for w, p in enumerate(procs) if not done[w] and not p.is_alive()]
            if lost:
                _drain(out, handle)
            for w in (w for w in lost if not done[w]):
                # a worker that died (killed, out of memory, crashed) is replaced from the latest pools
                respawns[w] += 1
                code = procs[w].exitcode
                run.event("worker_lost", worker=w, exitcode=code, respawn=respawns[w])
                if reporter:
                    reporter.note(f"worker {w} ended unexpectedly (exit code {code}); starting a new one")
                if respawns[w] > MAX_RESPAWNS:
                    status, error = "error", f"worker {w} keeps ending unexpectedly (last exit code {code})"
                    break
                merged = latest_pools()
                reseed = np.random.SeedSequence([config.seed, session, w, respawns[w]]).generate_state(1, np.uint64)
                procs[w] = start_worker(w, int(reseed[0]), pools_to_wire(merged))
            if status == "error":
                break
            if now - last_ckpt >= checkpoint_every:
                checkpoint(now - t0)
                last_ckpt = now
            if reporter and now - last_update >= 0.5:
                last_update = now
                reporter.update(_snapshot(now - t0, flips, flips_before, best_rank, target, working, sizes))
    except KeyboardInterrupt:
        status = "interrupted"
    finally:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if _main_thread() else None
        try:
            stop.set()
            deadline = time.monotonic() + 10.0
            while not all(done) and time.monotonic() < deadline and any(p.is_alive() for p in procs):
                with contextlib.suppress(queue.Empty):
                    handle(out.get(timeout=0.2))
            for p in procs:
                p.join(timeout=1.0)
                if p.is_alive():
                    p.terminate()
            elapsed = time.monotonic() - t0
            state["status"] = status
            checkpoint(elapsed)
            run.event(
                "stop",
                status=status,
                best_rank=best_rank,
                flips=flips_before + sum(flips),
                seconds=round(seconds_before + elapsed, 3),
                error=error,
            )
        finally:
            if previous is not None:
                signal.signal(signal.SIGINT, previous)
            if db is not None:
                db.close()
    return summary(status, sum(flips), elapsed, error)


def _lift_best(
    run: RunDir, scheme: Scheme, rank: int, config: RunConfig, db: SchemeDB | None, reporter: Any, worker: int
) -> None:
    """Lift a new best from F2/F3 to the ring asked for with --lift; store it beside the original."""
    result = lift(scheme, config.lift or "Q")
    if not result.lifted:
        run.event("lift_failed", rank=rank, reason=result.reason)
        return
    name = f"best-{rank}-{result.domain}.json"
    atomic_write(run.path / name, scheme_text(result.scheme))  # type: ignore[arg-type]
    run.event("lifted", rank=rank, domain=result.domain, steps=result.steps, file=name)
    if reporter:
        reporter.note(f"rank {rank} lifted to {result.domain} -> {run.path / name}")
    if db is not None:
        try:
            db.add(
                result.scheme,
                result.domain,
                run=run.run_id,
                seed=config.seed,
                worker=worker,
                source=str(run.path / name),
            )
        except FlipforgeError as exc:
            run.event("db_error", rank=rank, reason=str(exc))


def _drain(out: Any, handle: Any) -> None:
    while True:
        try:
            handle(out.get(timeout=0.05))
        except queue.Empty:
            return


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


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
