"""Run directories: config, checkpoint, events and best schemes on disk, written crash-safely.

A run directory holds

- ``config.json``: what was asked (target tensor, domain, seed, walk parameters), written once;
- ``tensor.npy``: the target, when it is not matrix multiplication;
- ``checkpoint.json``: the pools and counters, replaced atomically (write, fsync, rename);
- ``events.jsonl``: one JSON object per line (start, best, stop), appended and flushed;
- ``best-<rank>.json``: every new best scheme, exactly verified, in native JSON;
- ``lock``: the pid of the process searching in it; a POSIX lock on it (released by the kernel
  when that process ends, however it ends) keeps a second search or resume out.

Everything read back from disk is checked for shape and type here (``RunError`` names the file
and the reason); whether the schemes in a checkpoint hold is checked by ``run.load_checkpoint``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import math
import os
import re
import stat
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from flipforge.schemes import FlipforgeError, Tensor, parse_target
from flipforge.schemes.files import special_kind

from .packing import RUN_DOMAINS, Packed, check_width
from .searchers import DEFAULT_SEARCHER, get_searcher, make_params

__all__ = [
    "RunError",
    "RunConfig",
    "RunDir",
    "BEST_FILE",
    "default_runs_root",
    "find_run",
    "list_runs",
    "new_run_id",
    "atomic_write",
    "resume_hint",
    "pid_alive",
    "check_regular",
    "read_run_file",
    "RUN_DOMAINS",
]

CHECKPOINT_VERSION = 1
MAX_SEED = 2**64 - 1
MAX_RANK = 1 << 20
MAX_PID = 2**22  # Linux's pid_max limit; a bigger "pid" in a lock file is no process
LIFT_RINGS = ("ZT", "Z", "Q")
RUN_FILES = ("config.json", "tensor.npy", "checkpoint.json", "events.jsonl", "lock")
BEST_FILE = re.compile(r"best-(\d+)(?:-(\d+))?\.json")  # best-49.json, best-49-2.json (never overwritten)
_BEST_FILE_ANY = re.compile(r"best-\d+(?:-[A-Za-z0-9]+)?\.json")  # also the lifted best-49-Z.json

# run directories this process holds the lock of: resolved path -> [fd, depth]. POSIX locks
# belong to the process and are dropped when it closes *any* descriptor of the file, so the
# process never opens a held lock file a second time (and a nested lock() just counts).
_HELD: dict[Path, list[int]] = {}


class RunError(FlipforgeError):
    """A run directory that is missing, unreadable, inconsistent or in use."""


def default_runs_root() -> Path:
    """``$FLIPFORGE_RUNS`` or ``./runs``."""
    return Path(os.environ.get("FLIPFORGE_RUNS", "runs"))


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` so that a crash leaves either the old or the new contents, never half.

    On failure (disk full, read-only) the temporary file is removed and the OSError raised.
    """
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists (and is not a zombie)."""
    if not 0 < pid <= MAX_PID:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def _not_regular(path: Path, mode: int) -> RunError:
    return RunError(f"{path}: cannot read it (not a regular file: {special_kind(mode)})")


def check_regular(path: Path) -> bool:
    """True for a regular file (or a link to one), False when absent; RunError for anything else
    (a FIFO, a device, a folder, a dangling link): such a file is never opened, it could block."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise RunError(f"{path}: cannot read it (a symbolic link to nothing)") from None
        return False
    except OSError as exc:
        raise RunError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    if not stat.S_ISREG(st.st_mode):
        raise _not_regular(path, st.st_mode)
    return True


def _open_regular(path: Path, flags: int, mode: int = 0o644) -> int:
    """``os.open`` that never blocks on a FIFO and refuses anything but a regular file.

    OSError (FileNotFoundError included) as ``os.open`` raises it; RunError for a non-regular file.
    """
    fd = os.open(path, flags | os.O_NONBLOCK | os.O_CLOEXEC, mode)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise _not_regular(path, st.st_mode)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def read_run_file(path: Path, limit: int | None = None) -> bytes:
    """The bytes of a run file (at most ``limit``), never blocking on a FIFO or reading a device.

    FileNotFoundError when absent (for the caller to word); RunError for a non-regular file or an
    unreadable one.
    """
    try:
        check_regular(path)
        fd = _open_regular(path, os.O_RDONLY)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise RunError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    chunks, size = [], 0
    try:
        while limit is None or size < limit:
            chunk = os.read(fd, 1 << 20 if limit is None else min(1 << 20, limit - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise RunError(f"{path}: cannot read it ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
    return b"".join(chunks)


def _read_text(path: Path) -> str:
    data = read_run_file(path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RunError(f"{path}: cannot read it (not UTF-8: {exc.reason} at byte {exc.start})") from None


def _parse_pid(text: str) -> int | None:
    """A pid from a lock file's text: ASCII digits only, in 1..MAX_PID; anything else is None."""
    if re.fullmatch(r"[0-9]{1,10}", text) is None:
        return None
    pid = int(text)
    return pid if 1 <= pid <= MAX_PID else None


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _expect(ok: bool, where: Path, what: str) -> None:
    if not ok:
        raise RunError(f"{where}: {what}")


@dataclass
class RunConfig:
    """Everything a run needs to start or resume, as stored in ``config.json``."""

    target: str  # "3x3x3" for matmul, or "tensor.npy" (a file inside the run directory)
    domain: str
    seed: int
    target_rank: int | None
    pool_size: int
    params: dict[str, Any] = field(default_factory=dict)  # the searcher's options (pool_size apart)
    start: str = "naive"
    label: str = ""
    db: str | None = None  # the scheme database every new best goes into (absolute path), or None
    target_source: str | None = None  # where the target rank came from when not given
    lift: str | None = None  # lift new bests to this ring (ZT, Z or Q)
    searcher: str = DEFAULT_SEARCHER

    def searcher_params(self) -> dict[str, Any]:
        """The searcher's options: ``params``, plus ``pool_size`` for a searcher that has pools."""
        cls = get_searcher(self.searcher)
        pool = {"pool_size": self.pool_size} if "pool_size" in cls.Params.__dataclass_fields__ else {}
        return {**pool, **self.params}

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str, where: Path = Path("config.json")) -> RunConfig:
        """Parse and type-check ``config.json``; RunError names what is wrong."""
        try:
            body = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise RunError(f"{where}: not valid JSON ({exc})") from None
        _expect(isinstance(body, dict), where, "not a run configuration (a JSON object was expected)")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(body) - known)
        _expect(not unknown, where, f"unknown field(s) {', '.join(map(repr, unknown))}")
        missing = [k for k in ("target", "domain", "seed", "target_rank", "pool_size") if k not in body]
        _expect(not missing, where, f"missing field(s) {', '.join(missing)}")
        for key in ("target", "domain", "start", "label", "searcher"):
            _expect(isinstance(body.get(key, ""), str), where, f"{key} must be a string")
        for key in ("db", "target_source", "lift"):
            _expect(body.get(key) is None or isinstance(body[key], str), where, f"{key} must be a string or null")
        domain = body["domain"]
        _expect(domain in RUN_DOMAINS, where, f"domain must be one of {', '.join(RUN_DOMAINS)}, not {domain!r}")
        lift = body.get("lift")
        ok = lift is None or (lift in LIFT_RINGS and domain in ("F2", "F3"))
        _expect(ok, where, f"lift must be null or one of {', '.join(LIFT_RINGS)} (for F2/F3 runs), not {lift!r}")
        target = body["target"]
        if target != "tensor.npy":
            try:
                named = parse_target(target) if not target.endswith(".npy") and ":" not in target else None
            except (FlipforgeError, ValueError) as exc:
                why = f"target must name one such as 3x3x3 or ug-444, or tensor.npy ({exc})"
                raise RunError(f"{where}: {why}") from None
            _expect(named is not None, where, "target must name a target such as 3x3x3 or ug-444, or tensor.npy")
        _expect(_is_int(body["seed"]) and 0 <= body["seed"] <= MAX_SEED, where, "seed must be an integer in 0..2^64-1")
        tr = body["target_rank"]
        _expect(tr is None or (_is_int(tr) and 1 <= tr <= MAX_RANK), where, "target_rank must be a positive integer")
        ps = body["pool_size"]
        _expect(_is_int(ps) and 1 <= ps <= MAX_RANK, where, "pool_size must be a positive integer")
        params = body.get("params", {})
        _expect(isinstance(params, dict), where, "params must be an object")
        config = cls(**body)
        try:
            make_params(config.searcher, config.searcher_params())
            runs_over = get_searcher(config.searcher).domains
        except FlipforgeError as exc:
            raise RunError(f"{where}: params: {exc}") from None
        why = f"domain {domain!r}: the {config.searcher} searcher runs over {', '.join(runs_over)}"
        _expect(domain in runs_over, where, why)
        return config


def new_run_id(root: Path, label: str, domain: str) -> str:
    """``<label>-<domain>-<yyyymmdd-hhmmss>``, with a suffix when that already exists."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)
    base = f"{safe}-{domain}-{stamp}"
    run_id, n = base, 2
    while (root / run_id).exists():
        run_id, n = f"{base}-{n}", n + 1
    return run_id


def _uint64_rows(value: Any, rank: int, where: Path, what: str) -> np.ndarray:
    """A (rank, 3) array of integers in [0, 2^64) from JSON, or RunError.

    Each value is checked as a Python int first: numpy would turn a list mixing values below and
    from 2^63 into float64 (losing bits) or object, so ``np.asarray`` cannot be trusted here.
    """
    _expect(isinstance(value, list) and len(value) == rank, where, f"{what}: expected {rank} rows")
    ok = all(
        isinstance(row, list) and len(row) == 3 and all(_is_int(x) and 0 <= x <= MAX_SEED for x in row) for row in value
    )
    _expect(ok, where, f"{what}: expected {rank} rows of 3 integers in 0..2^64-1")
    return np.array(value, dtype=np.uint64).reshape(rank, 3)


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

    @property
    def lock_file(self) -> Path:
        return self.path / "lock"

    def create(self, config: RunConfig, tensor: Tensor) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=False)
        except FileExistsError:
            raise RunError(f"{self.path}: already exists; pick another --run-dir or resume it") from None
        except OSError as exc:
            raise RunError(f"{self.path}: cannot create the run directory ({exc.strerror or exc})") from None
        try:
            if not tensor.is_named:
                np.save(self.path / "tensor.npy", tensor.array)
            atomic_write(self.config_file, config.to_json())
        except OSError as exc:
            raise RunError(f"{self.path}: cannot write to the run directory ({exc.strerror or exc})") from None

    def config(self) -> RunConfig:
        try:
            text = _read_text(self.config_file)
        except FileNotFoundError:
            raise RunError(f"{self.path}: not a run directory (no config.json)") from None
        return RunConfig.from_json(text, self.config_file)

    def check_files(self) -> None:
        """RunError unless every run file is a regular file or absent (checked before any is opened,
        so a FIFO or a device in place of one never blocks a listing, a resume or a worker)."""
        if not os.access(self.path, os.R_OK | os.X_OK):
            try:
                os.listdir(self.path)
            except OSError as exc:
                raise RunError(f"{self.path}: cannot read the run folder ({exc.strerror or exc})") from None
        for name in RUN_FILES:
            check_regular(self.path / name)

    def tensor(self, config: RunConfig) -> Tensor:
        spec: str | Path = config.target
        if config.target.endswith(".npy"):
            spec = self.path / config.target
            check_regular(spec)
        tensor = parse_target(spec)
        check_width(tensor)
        return tensor

    # --- the lock ------------------------------------------------------------------------------

    def lock_pid(self) -> int | None:
        """The pid written in the lock file (whether or not that process still runs), or None."""
        if self.path.resolve() in _HELD:
            return os.getpid()
        try:
            text = read_run_file(self.lock_file, 64).decode("ascii", errors="replace").strip()
        except (OSError, RunError):
            return None
        return _parse_pid(text)

    def running_pid(self) -> int | None:
        """The pid of the live process searching in this run, or None.

        The lock itself is tested (a shared lock is tried and released at once): a pid left in the
        file by a process that died, or reused since by another one, is no running search. Where
        the file system has no POSIX locks, whether that pid lives decides.
        """
        if self.path.resolve() in _HELD:
            return os.getpid()
        try:
            check_regular(self.lock_file)
            fd = _open_regular(self.lock_file, os.O_RDONLY)
        except (OSError, RunError):
            return None
        try:
            try:
                fcntl.lockf(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except OSError as exc:
                if exc.errno in (errno.EACCES, errno.EAGAIN):  # held by a live process
                    pid = _parse_pid(os.pread(fd, 64, 0).decode("ascii", errors="replace").strip())
                    return pid if pid is not None else 0
                pid = self.lock_pid()  # no POSIX locks here: the pid decides
                return pid if pid is not None and pid_alive(pid) else None
            fcntl.lockf(fd, fcntl.LOCK_UN)
            return None
        except OSError:
            return None
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run's lock (nested calls in one process share it).

        A second process gets RunError "run X is already running (pid N)"; a lock file left by a
        process that died is taken over (the kernel released its lock). On a file system without
        POSIX locks the run goes on unlocked.
        """
        key = self.path.resolve()
        held = _HELD.get(key)
        if held is not None:
            held[1] += 1
            try:
                yield
            finally:
                held[1] -= 1
            return
        self.check_files()
        try:
            fd = _open_regular(self.lock_file, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise RunError(f"{self.path}: cannot write to the run directory ({exc.strerror or exc})") from None
        if not self._take(fd):  # no POSIX locks on this file system: go on unlocked
            os.close(fd)
            yield
            return
        _HELD[key] = [fd, 1]
        try:
            yield
        finally:
            del _HELD[key]
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # a clean end leaves no pid behind
            os.close(fd)  # releases the lock

    def _take(self, fd: int) -> bool:
        """Lock the open lock file and write our pid in it; False when the file system has no locks."""
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EAGAIN):
                return False
            try:
                text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
            finally:
                os.close(fd)
            raise RunError(f"run {self.run_id} is already running (pid {text or '?'})") from None
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        except OSError as exc:
            os.close(fd)
            raise RunError(f"{self.path}: cannot write to the run directory ({exc.strerror or exc})") from None
        return True

    # --- the checkpoint --------------------------------------------------------------------------

    def write_checkpoint(self, state: dict[str, Any], pools: dict[int, list[Packed]]) -> None:
        body = dict(state)
        body["version"] = CHECKPOINT_VERSION
        body["updated"] = time.strftime("%Y-%m-%dT%H:%M:%S")
        body["pools"] = {
            str(r): [{"fp": s.fp.tolist(), "fn": s.fn.tolist()} for s in members]
            for r, members in sorted(pools.items())
        }
        atomic_write(self.checkpoint_file, json.dumps(body, separators=(",", ":")) + "\n")

    def _checkpoint_body(self) -> dict[str, Any]:
        where = self.checkpoint_file
        try:
            text = _read_text(where)
        except FileNotFoundError:
            bests = self.best_files()
            if bests:
                raise RunError(
                    f"{where}: the checkpoint is missing; the run's best schemes ({len(bests)} best-<rank>.json, "
                    f"lowest rank {bests[0][0]}) are in {self.path}: start a new search from them with "
                    f"--start {self.path}"
                ) from None
            raise RunError(f"{where}: the checkpoint is missing (the run never started)") from None
        try:
            body = json.loads(text)
        except (ValueError, RecursionError) as exc:
            raise RunError(f"{where}: not valid JSON ({exc})") from None
        _expect(isinstance(body, dict), where, "not a checkpoint (a JSON object was expected)")
        version = body.get("version")
        _expect(version == CHECKPOINT_VERSION, where, f"checkpoint version {version!r} is not supported")
        self._check_state(body)
        return body

    def _check_state(self, body: dict[str, Any]) -> None:
        where = self.checkpoint_file
        for key in ("sessions", "flips"):
            v = body.get(key, 0)
            _expect(_is_int(v) and 0 <= v < 2**63, where, f"{key} must be a non-negative integer, not {v!r}")
        secs = body.get("seconds", 0.0)
        ok = isinstance(secs, (int, float)) and not isinstance(secs, bool) and math.isfinite(secs) and secs >= 0
        _expect(ok, where, f"seconds must be a non-negative number, not {secs!r}")
        for key in ("start_rank", "best_rank"):
            v = body.get(key)
            _expect(_is_int(v) and 1 <= v <= MAX_RANK, where, f"{key} must be a positive integer, not {v!r}")
        cost = body.get("best_cost")
        _expect(cost is None or (_is_int(cost) and 0 <= cost < 2**63), where, f"best_cost must be null or a "
                f"non-negative integer, not {cost!r}")  # fmt: skip
        best = body.get("best_file")
        ok = best is None or (isinstance(best, str) and _BEST_FILE_ANY.fullmatch(best) is not None)
        _expect(ok, where, f"best_file must be null or a file name best-<rank>.json, not {best!r}")
        _expect(isinstance(body.get("status", ""), str), where, "status must be a string")

    def read_checkpoint(self, domain: str) -> tuple[dict[str, Any], dict[int, list[Packed]]]:
        """The counters and the pools, checked for shape and type (not yet for validity)."""
        body = self._checkpoint_body()
        where = self.checkpoint_file
        raw = body.pop("pools", None)
        _expect(isinstance(raw, dict) and raw, where, "pools must be a non-empty object {rank: [schemes]}")
        pools: dict[int, list[Packed]] = {}
        for key, members in raw.items():
            _expect(key.isdigit() and 1 <= int(key) <= MAX_RANK, where, f"pool rank {key!r} is not a positive integer")
            rank = int(key)
            _expect(isinstance(members, list), where, f"pool {rank}: expected a list of schemes")
            bucket = pools.setdefault(rank, [])
            for i, m in enumerate(members):
                _expect(isinstance(m, dict) and set(m) == {"fp", "fn"}, where, f"pool {rank}[{i}]: expected fp and fn")
                fp = _uint64_rows(m["fp"], rank, where, f"pool {rank}[{i}] fp")
                fn = _uint64_rows(m["fn"], rank, where, f"pool {rank}[{i}] fn")
                bucket.append(Packed(fp, fn, domain))
        return body, pools

    def state(self) -> dict[str, Any]:
        """The checkpoint's counters without the pools (checked for type; RunError otherwise)."""
        body = self._checkpoint_body()
        body.pop("pools", None)
        return body

    def best_files(self) -> list[tuple[int, Path]]:
        """Every ``best-<rank>.json`` (and ``best-<rank>-<n>.json``) of the run, lowest rank first."""
        found = []
        with contextlib.suppress(OSError):
            for p in self.path.iterdir():
                m = BEST_FILE.fullmatch(p.name)
                if m:
                    found.append((int(m.group(1)), p))
        return sorted(found)

    def event(self, kind: str, **fields: Any) -> None:
        """Append one line (written through at once: a killed process loses none; no fsync, it is a log)."""
        line = json.dumps({"event": kind, "time": time.strftime("%Y-%m-%dT%H:%M:%S"), **fields})
        try:
            check_regular(self.events_file)
            fd = _open_regular(self.events_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        except RunError as exc:  # a FIFO or a folder in its place: a failed write, like a full disk
            raise OSError(errno.EINVAL, str(exc)) from None
        with open(fd, "a", encoding="utf-8", closefd=True) as fh:
            fh.write(line + "\n")


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


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def _looks_like_run(path: Path) -> bool:
    """A folder with any run file in it, or one that cannot be read (it may be a run: list it)."""
    try:
        names = os.listdir(path)
    except OSError:
        return True
    return any(n in RUN_FILES or _BEST_FILE_ANY.fullmatch(n) for n in names)


def list_runs(root: Path | None = None) -> list[RunDir]:
    """Every run directory under the root, oldest first: any folder with a run file (config.json,
    checkpoint.json, events.jsonl, lock, best-<rank>.json), readable or not, and any folder that
    cannot be read (``flipforge runs`` shows those as broken, with the reason)."""
    base = root or default_runs_root()
    try:
        children = list(base.iterdir()) if base.is_dir() else []
    except OSError as exc:
        raise RunError(f"{base}: cannot list the runs ({exc.strerror or exc})") from None
    runs = [RunDir(p) for p in children if not p.name.startswith(".") and _is_dir(p) and _looks_like_run(p)]
    return sorted(runs, key=lambda r: (_mtime(r.config_file), r.run_id))


def _is_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def resume_hint(run: RunDir) -> str:
    return f"resume with: flipforge resume {run.run_id if run.path.parent == default_runs_root() else run.path}"
