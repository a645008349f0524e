"""Where a verified new best goes: the run directory, the scheme database, its lifted copy.

Only the orchestrator calls these (never a worker), and only with a scheme that was checked
exactly. A best the run directory cannot take (disk full, removed, read-only) is still stored
in the database and kept as native JSON for the reporter and the summary: nothing found is lost.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from flipforge.schemes import FlipforgeError, Scheme
from flipforge.schemes import native_text as scheme_text
from flipforge.schemes.db import SchemeDB
from flipforge.verify import VerifyResult
from flipforge.verify.lift import LiftResult, lift

from .rundir import RunConfig, RunDir, atomic_write

__all__ = ["Reporter", "BestSinks", "one_line"]


def _lift_into(scheme: Scheme, ring: str, box: dict[str, Any]) -> None:
    """A lift in a background thread (a daemon: Ctrl-C never waits on it); errors become a reason."""
    try:
        box["result"] = lift(scheme, ring)
    except Exception as exc:  # reported as a failed lift, never lost in the thread
        box["error"] = f"{type(exc).__name__}: {exc}"


class Reporter(Protocol):
    """What the run tells its user; the CLI supplies a terminal or a plain-text one."""

    def update(self, snap: dict[str, Any]) -> None: ...

    def best(self, rank: int, path: Path, seconds: float) -> None: ...

    def note(self, text: str) -> None: ...

    def unsaved(self, text: str) -> None:
        """A verified scheme (native JSON, one line) that the run directory could not take."""


def one_line(scheme: Scheme) -> str:
    """Native JSON on one line (what the CLI prints for a scheme it could not save)."""
    return json.dumps(json.loads(scheme_text(scheme)), separators=(",", ":"))


class BestSinks:
    """File, database and lift for each verified best, in that order; remembers what failed."""

    def __init__(
        self,
        run: RunDir,
        config: RunConfig,
        db: SchemeDB | None,
        reporter: Reporter | None,
        event: Callable[..., None],
    ) -> None:
        self.run, self.config, self.db, self.reporter, self.event = run, config, db, reporter, event
        self.disk_error: str | None = None  # the first failed write to the run directory
        self.unsaved: list[str] = []
        self.to_lift: tuple[Scheme, int, int] | None = None  # the newest best not lifted yet
        self._lifting: tuple[threading.Thread, dict[str, Any], int, int] | None = None

    def disk_failed(self, exc: OSError) -> None:
        """Remember the first failed write to the run directory (the run then stops)."""
        if self.disk_error is None:
            self.disk_error = f"cannot write to the run directory {self.run.path} ({exc.strerror or exc})"

    def accept(self, scheme: Scheme, proof: VerifyResult, worker: int) -> str | None:
        """Save a verified best; returns its file name, or None when the directory refused it."""
        rank = scheme.rank
        name = self._write(f"best-{rank}", scheme, unique=True)
        self._store(scheme, self.config.domain, proof, worker, name or f"best-{rank}.json", rank)
        if name is None:
            self._keep(scheme)
        if self.config.lift:
            self.to_lift = (scheme, rank, worker)  # lifted by lift_pending: bursts of bests lift once
        return name

    def lift_pending(self, wait: bool = False) -> None:
        """Lift the newest best not lifted yet (--lift) in a background thread, one at a time, so
        the run keeps polling its workers: a lift of a 4x4x4 scheme can take 20 s, and a burst of
        new bests lifts only the last. A finished lift is saved and stored here, in the caller's
        thread (the database connection belongs to it). ``wait`` finishes every pending lift."""
        while True:
            if self._lifting is not None:
                thread, box, rank, worker = self._lifting
                if wait:
                    thread.join()
                if thread.is_alive():
                    return
                self._lifting = None
                self._save_lift(box.get("result"), box.get("error"), rank, worker)
            if self.to_lift is None:
                return
            scheme, rank, worker = self.to_lift
            self.to_lift = None
            box: dict[str, Any] = {}
            args = (scheme, self.config.lift or "Q", box)
            thread = threading.Thread(target=_lift_into, args=args, name=f"lift-{rank}", daemon=True)
            thread.start()
            self._lifting = (thread, box, rank, worker)
            if not wait:
                return

    def _write(self, stem: str, scheme: Scheme, unique: bool) -> str | None:
        """``stem.json`` (``stem-<n>.json`` when ``unique`` and it exists: never overwrite a best)."""
        if self.disk_error is not None:
            return None
        try:
            name, n = f"{stem}.json", 2
            while unique and (self.run.path / name).exists():
                name, n = f"{stem}-{n}.json", n + 1
            atomic_write(self.run.path / name, scheme_text(scheme))
            return name
        except OSError as exc:
            self.disk_failed(exc)
            return None

    def _store(
        self, scheme: Scheme, domain: str, proof: VerifyResult | None, worker: int, name: str, rank: int
    ) -> None:
        if self.db is None:
            return
        try:
            self.db.add(
                scheme,
                domain,
                proof,
                run=self.run.run_id,
                seed=self.config.seed,
                worker=worker,
                source=str(self.run.path / name),
            )
        except FlipforgeError as exc:  # the scheme file is saved (or printed); say so and go on
            self.event("db_error", rank=rank, reason=str(exc))
            if self.reporter:
                self.reporter.note(f"could not store rank {rank} in the database: {exc}")

    def _keep(self, scheme: Scheme) -> None:
        """A verified scheme the run directory did not take: the summary and the reporter get it."""
        text = one_line(scheme)
        self.unsaved.append(text)
        if self.reporter:
            self.reporter.unsaved(text)

    def _save_lift(self, result: LiftResult | None, error: str | None, rank: int, worker: int) -> None:
        """Store a lifted best beside the original (or log why it did not lift)."""
        if result is None or not result.lifted or result.scheme is None:
            self.event("lift_failed", rank=rank, reason=error or (result.reason if result else "no result"))
            return
        name = self._write(f"best-{rank}-{result.domain}", result.scheme, unique=False)
        if name is not None:
            self.event("lifted", rank=rank, domain=result.domain, steps=result.steps, file=name)
            if self.reporter:
                self.reporter.note(f"rank {rank} lifted to {result.domain} -> {self.run.path / name}")
        self._store(result.scheme, result.domain, None, worker, name or f"best-{rank}-{result.domain}.json", rank)
        if name is None:
            self._keep(result.scheme)
