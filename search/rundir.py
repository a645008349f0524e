"""Run directories: config, checkpoint, events and best schemes on disk, written crash-safely.

A run directory holds

- ``config.json``: what was asked (target tensor, domain, seed, walk parameters), written once;
- ``tensor.npy``: the target, when it is not matrix multiplication;
- ``checkpoint.json``: the pools and counters, replaced atomically (write, fsync, rename);
- ``events.jsonl``: one JSON object per line (start, best, stop), appended and flushed;
- ``best-<rank>.json``: every new best scheme, exactly verified, in native JSON.
"""

from __future__ import annotations

import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from flipforge.schemes import FlipforgeError, Tensor, format_name, load_tensor, matmul_tensor, parse_format

from .packing import Packed
from .params import WalkParams

__all__ = [
    "RunError",
    "RunConfig",
    "RunDir",
    "default_runs_root",
    "find_run",
    "list_runs",
    "new_run_id",
    "atomic_write",
    "resume_hint",
]

CHECKPOINT_VERSION = 1


class RunError(FlipforgeError):
    """A run directory that is missing, unreadable or inconsistent."""


def default_runs_root() -> Path:
    """``$FLIPFORGE_RUNS`` or ``./runs``."""
    return Path(os.environ.get("FLIPFORGE_RUNS", "runs"))


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` so that a crash leaves either the old or the new contents, never half."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


@dataclass
class RunConfig:
    """Everything a run needs to start or resume, as stored in ``config.json``."""

    target: str  # "3x3x3" for matmul, or "tensor.npy" (a file inside the run directory)
    domain: str
    seed: int
    target_rank: int | None
    pool_size: int
    params: dict[str, int] = field(default_factory=dict)
    start: str = "naive"
    label: str = ""
    db: str | None = None  # the scheme database every new best goes into (absolute path), or None
    target_source: str | None = None  # where the target rank came from when not given
    lift: str | None = None  # lift every new best to this ring (ZT, Z or Q)

    def walk_params(self) -> WalkParams:
        return WalkParams(pool_size=self.pool_size, **self.params)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> RunConfig:
        return cls(**json.loads(text))


def new_run_id(root: Path, label: str, domain: str) -> str:
    """``<label>-<domain>-<yyyymmdd-hhmmss>``, with a suffix when that already exists."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)
    base = f"{safe}-{domain}-{stamp}"
    run_id, n = base, 2
    while (root / run_id).exists():
        run_id, n = f"{base}-{n}", n + 1
    return run_id


class RunDir:
    """One run directory on disk."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @property
    def run_id(self) -> str:
        return self.path.name

    @property
    def config_file(self) -> Path:
        return self.path / "config.json"

    @property
    def checkpoint_file(self) -> Path:
        return self.path / "checkpoint.json"

    @property
    def events_file(self) -> Path:
        return self.path / "events.jsonl"

    def create(self, config: RunConfig, tensor: Tensor) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise RunError(f"{self.path}: already exists; pick another --run-dir or resume it") from None
        except OSError as exc:
            raise RunError(f"{self.path}: cannot create the run directory ({exc.strerror or exc})") from None
        if not tensor.is_matmul:
            np.save(self.path / "tensor.npy", tensor.array)
        atomic_write(self.config_file, config.to_json())

    def config(self) -> RunConfig:
        try:
            return RunConfig.from_json(self.config_file.read_text())
        except FileNotFoundError:
            raise RunError(f"{self.path}: not a run directory (no config.json)") from None
        except (ValueError, TypeError) as exc:
            raise RunError(f"{self.config_file}: unreadable ({exc})") from None

    def tensor(self, config: RunConfig) -> Tensor:
        if config.target.endswith(".npy"):
            return load_tensor(self.path / config.target)
        return matmul_tensor(parse_format(config.target))

    def write_checkpoint(self, state: dict[str, Any], pools: dict[int, list[Packed]]) -> None:
        body = dict(state)
        body["version"] = CHECKPOINT_VERSION
        body["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        body["pools"] = {
            str(r): [{"fp": s.fp.tolist(), "fn": s.fn.tolist()} for s in members]
            for r, members in sorted(pools.items())
        }
        atomic_write(self.checkpoint_file, json.dumps(body, separators=(",", ":")) + "\n")

    def read_checkpoint(self, domain: str) -> tuple[dict[str, Any], dict[int, list[Packed]]]:
        try:
            body = json.loads(self.checkpoint_file.read_text())
        except FileNotFoundError:
            raise RunError(f"{self.path}: no checkpoint.json (the run never started)") from None
        except ValueError as exc:
            raise RunError(f"{self.checkpoint_file}: unreadable ({exc})") from None
        if body.get("version") != CHECKPOINT_VERSION:
            raise RunError(f"{self.checkpoint_file}: checkpoint version {body.get('version')} is not supported")
        pools = {
            int(r): [
                Packed(np.array(m["fp"], np.uint64).reshape(-1, 3), np.array(m["fn"], np.uint64).reshape(-1, 3), domain)
                for m in members
            ]
            for r, members in body.pop("pools").items()
        }
        return body, pools

    def state(self) -> dict[str, Any]:
        """The checkpoint's counters without the pools (cheap enough for listings)."""
        try:
            body = json.loads(self.checkpoint_file.read_text())
        except (OSError, ValueError):
            return {}
        body.pop("pools", None)
        return body

    def event(self, kind: str, **fields: Any) -> None:
        line = json.dumps({"event": kind, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **fields})
        with open(self.events_file, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def find_run(ref: str, root: Path | None = None) -> RunDir:
    """A run by directory path or by run id under the runs root."""
    path = Path(ref)
    if not path.is_dir():
        path = (root or default_runs_root()) / ref
    if not path.is_dir():
        raise RunError(f"{ref}: no such run (neither a directory nor a run id under {root or default_runs_root()})")
    run = RunDir(path)
    run.config()
    return run


def list_runs(root: Path | None = None) -> list[RunDir]:
    """Every run directory under the root, oldest first."""
    base = root or default_runs_root()
    if not base.is_dir():
        return []
    runs = [RunDir(p) for p in base.iterdir() if (p / "config.json").is_file()]
    return sorted(runs, key=lambda r: r.config_file.stat().st_mtime)


def target_label(tensor: Tensor) -> str:
    return format_name(tensor.fmt) if tensor.fmt else tensor.name


def resume_hint(run: RunDir) -> str:
    return f"resume with: flipforge resume {run.run_id if run.path.parent == default_runs_root() else run.path}"
