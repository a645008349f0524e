"""Where a verified new best goes: the run directory, the scheme database, its lifted copy.

Only the orchestrator calls these (never a worker), and only with a scheme that was checked
exactly. A best the run directory cannot take (disk full, removed, read-only) is still stored
in the database and kept as native JSON for the reporter and the summary: nothing found is lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from flipforge.schemes import FlipforgeError, Scheme
from flipforge.schemes import native_text as scheme_text
from flipforge.schemes.db import SchemeDB
from flipforge.verify import VerifyResult
from flipforge.verify.lift import lift

from .rundir import RunConfig, RunDir, atomic_write

__all__ = ["Reporter", "BestSinks", "one_line"]


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
            self._lift(scheme, rank, worker)
        return name

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

    def _lift(self, scheme: Scheme, rank: int, worker: int) -> None:
        """Lift a new best from F2/F3 to the ring asked for with --lift; store it beside the original."""
        result = lift(scheme, self.config.lift or "Q")
        if not result.lifted or result.scheme is None:
            self.event("lift_failed", rank=rank, reason=result.reason)
            return
        name = self._write(f"best-{rank}-{result.domain}", result.scheme, unique=False)
        if name is not None:
            self.event("lifted", rank=rank, domain=result.domain, steps=result.steps, file=name)
            if self.reporter:
                self.reporter.note(f"rank {rank} lifted to {result.domain} -> {self.run.path / name}")
        self._store(result.scheme, result.domain, None, worker, name or f"best-{rank}-{result.domain}.json", rank)
        if name is None:
            self._keep(result.scheme)
