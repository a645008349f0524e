"""A run before and between sessions: create it, check its inputs, load its checkpoint.

``create_run`` checks everything a user typed (target, domain, seed, searcher options, start
schemes, database) before it writes a run directory; ``load_checkpoint`` trusts a checkpoint only
after every scheme in it was re-checked exactly. The sessions themselves are
``orchestrator.run_session``'s.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

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
from flipforge.schemes.db import SchemeDB, best_known_table, tensor_key
from flipforge.verify import VerifyResult, verify

from .blocks import block_start, resolve_start
from .packing import RUN_DOMAINS, SEARCH_DOMAINS, Packed, check_width, pack, pool_domain, search_domain, unpack
from .rundir import (
    BEST_FILE,
    MAX_RANK,
    MAX_SEED,
    RunConfig,
    RunDir,
    RunError,
    check_regular,
    default_runs_root,
    new_run_id,
)
from .searchers import DEFAULT_SEARCHER, get_searcher, make_params
from .store import open_db

__all__ = [
    "create_run",
    "load_checkpoint",
    "load_target",
    "start_pools",
    "check_nonzero",
    "check_packed",
    "prove",
]


def load_target(spec: str) -> Tensor:
    """A target name (``3x3x3``, ``ug-444``, ``pm-22``) or a ``.npy`` tensor file; TensorError says why not."""
    tensor = parse_target(spec)
    check_width(tensor)
    return tensor


def prove(scheme: Scheme) -> VerifyResult:
    """The exact verdict over the scheme's domain; SchemeError when it does not hold."""
    result = verify(scheme, scheme.domain)
    if not result.valid:
        raise SchemeError(f"rank-{scheme.rank} scheme is not valid over {scheme.domain}: {result.summary()}")
    return result


def _verified(packed: Packed, tensor: Tensor, meta: dict[str, Any] | None = None) -> tuple[Scheme, VerifyResult]:
    scheme = unpack(packed, tensor, meta)
    return scheme, prove(scheme)


def check_packed(packed: Packed, tensor: Tensor) -> None:
    """Raise SchemeError unless ``packed`` is exactly how ``pack`` writes a valid scheme."""
    try:
        scheme = unpack(packed, tensor)
        canon = pack(scheme, packed.domain)
    except FlipforgeError as exc:
        raise SchemeError(str(exc)) from None
    same = canon.rank == packed.rank and np.array_equal(canon.fp, packed.fp) and np.array_equal(canon.fn, packed.fn)
    if not same:
        raise SchemeError(f"not a packed {tensor.label()} scheme (stray bits or an empty term)")
    prove(scheme)  # the scheme unpacked once serves both checks


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
    state, raw = run.read_checkpoint(pool_domain(domain))
    where = run.checkpoint_file
    pools: dict[int, list[Packed]] = {}
    keys: set[bytes] = set()
    held = []  # ranks of best files that hold but cannot join the pools (over Z or Q, not ternary)

    def add(p: Packed | int) -> None:
        if isinstance(p, int):
            held.append(p)
        elif p.key() not in keys:
            keys.add(p.key())
            pools.setdefault(p.rank, []).append(p)

    for rank, members in sorted(raw.items()):
        for i, p in enumerate(members):
            try:
                check_packed(p, tensor)
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
    if min([*pools, *held], default=best_rank + 1) > best_rank:
        raise RunError(f"{where}: claims best rank {best_rank} but holds no valid scheme of that rank; not trusted")
    state.update(best_rank=best_rank, best_file=best_file)
    return state, pools


def _best_from_file(path: Path, tensor: Tensor, domain: str) -> Packed | int:
    """A run's best-<r>.json, packed, after the same exact check as the checkpoint's pools; over
    Z or Q a scheme that is not ternary is proven in the run's ring and only its rank returned."""
    try:
        check_regular(path)
        schemes = read_schemes(path)
        if len(schemes) != 1 or schemes[0].tensor != tensor:
            raise SchemeError(f"not one scheme of {tensor.label()}")
        if domain != pool_domain(domain) and not _ternary(schemes[0]):
            scheme = schemes[0].with_domain(domain)
            m = BEST_FILE.fullmatch(path.name)
            if m and int(m.group(1)) != scheme.rank:
                raise SchemeError(f"holds a rank-{scheme.rank} scheme")
            prove(scheme)
            return scheme.rank
        packed = pack(schemes[0], pool_domain(domain))
        m = BEST_FILE.fullmatch(path.name)
        if m and int(m.group(1)) != packed.rank:
            raise SchemeError(f"holds a rank-{packed.rank} scheme")
        check_packed(packed, tensor)
    except FlipforgeError as exc:
        raise RunError(f"{path}: {exc}; the run's best scheme is not trusted (fix or remove it)") from None
    return packed


def _ternary(scheme: Scheme) -> bool:
    return all(a.dtype != object and np.abs(a).max(initial=0) <= 1 for a in scheme.factors)


def default_target(tensor: Tensor, domain: str, db: SchemeDB | None) -> tuple[int | None, str | None]:
    """The best-known rank of a named target (a matmul format, a structured product) over the search
    domain: the database's table (literature plus flipforge's records) or, without a database, the
    shipped literature table. None for a file tensor."""
    if not tensor.is_named:
        return None, None
    key = tensor_key(tensor)[1]
    if db is not None:
        row = db.best_known_row(key, domain)
        return (row[0], row[1]) if row else (None, None)
    for row in best_known_table():
        if row["format"] == key:
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


def start_pools(
    tensor: Tensor, domain: str, start: str, note: Any = None, db_path: str | None = None, seed: int = 0
) -> dict[int, list[Packed]]:
    """The start pools: the naive scheme, a built-in (``builtin:strassen``), every scheme for
    this target in a file or folder (``note`` is told about entries skipped there), ``db``:
    the database's best schemes of the format and its neighbours (``db_start``), or ``blocks``:
    a direct sum of short searches on smaller formats (``blocks``, deterministic for ``seed``)."""
    pools: dict[int, list[Packed]] = {}
    if start == "blocks":
        if tensor.fmt is None:
            raise SchemeError("--start blocks: needs a matrix multiplication format (NxMxP)")
        if note is not None:
            note("building the start from blocks (short searches on smaller formats; --start naive skips this)")

        def known(block: Tensor) -> int | None:
            return default_target(block, pool_domain(domain), None)[0]

        schemes = [block_start(tensor, pool_domain(domain), seed, known=known)]
    elif start == "db":
        from .db_start import db_start_schemes

        with open_db(db_path, readonly=True) as database:
            schemes = db_start_schemes(tensor, domain, database, note)
    else:
        schemes = _start_schemes(tensor, start, note)
    for s in schemes:
        packed = pack(s, pool_domain(domain))
        try:
            _verified(packed, tensor)
        except SchemeError as exc:
            raise SchemeError(f"--start {start}: {exc}") from None
        pools.setdefault(packed.rank, []).append(packed)
    return pools


def _save_block_start(
    run: RunDir, config: RunConfig, pools: dict[int, list[Packed]], seconds: float
) -> dict[str, Any] | None:
    """A start built from blocks was found by flipforge's own searches: it is the run's first best
    (file, database, ``best`` event), so that a run whose start already meets its target still
    names a verified scheme. None when the directory refused the file (the scheme is in the pools)."""
    from .sinks import BestSinks

    rank = min(pools)
    meta = {"found_by": "flipforge blocks start", "run": run.run_id, "seed": config.seed, "seconds": round(seconds, 3)}
    scheme, proof = _verified(pools[rank][0], run.tensor(config), meta)
    with open_db(config.db) if config.db else contextlib.nullcontext() as database:
        name = BestSinks(run, config, database, None, run.event).accept(scheme, proof, 0)
    if name is None:
        return None
    return {"rank": rank, "worker": 0, "flips": 0, "seconds": round(seconds, 3), "file": name, "start": True}


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
    params: dict[str, Any] | None = None,
    searcher: str = DEFAULT_SEARCHER,
    start: str = "auto",
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
    cls = get_searcher(searcher)
    domain = search_domain(domain, RUN_DOMAINS if set(cls.domains) - set(SEARCH_DOMAINS) else SEARCH_DOMAINS)
    tensor = load_target(target)
    check_nonzero(tensor, domain)
    if not 0 <= seed <= MAX_SEED:
        raise SchemeError(f"--seed must be an integer from 0 to 2^64-1, not {seed}")
    if target_rank is not None and not 1 <= target_rank <= MAX_RANK:
        raise SchemeError(f"--target-rank must be from 1 to {MAX_RANK}, not {target_rank}")
    if not 1 <= pool_size <= MAX_RANK:
        raise SchemeError(f"--pool-size must be from 1 to {MAX_RANK}, not {pool_size}")
    if domain not in cls.domains:
        raise SchemeError(f"the {searcher} searcher runs over {', '.join(cls.domains)}, not {domain}")
    config_params = dict(params or {})
    pool_option = {"pool_size": pool_size} if "pool_size" in cls.Params.__dataclass_fields__ else {}
    cls.check_target(tensor, domain, make_params(searcher, {**pool_option, **config_params}))  # bad input now
    db_path = str(Path(db).resolve()) if db is not None else None
    # opening the database here makes a bad one bad input now, not an error later in the run
    with open_db(db_path) if db_path else contextlib.nullcontext() as database:
        known, citation = default_target(tensor, domain, database)
    target_source = None
    if target_rank is None and known is not None:
        target_rank = known - 1 if beyond else known
        target_source = f"best known over {domain}: {known} ({citation})" + ("; --beyond: one below" if beyond else "")
    if lift_to is not None and (domain not in ("F2", "F3") or lift_to.upper() not in ("ZT", "Z", "Q")):
        raise SchemeError("--lift needs a search over F2 or F3 and a target ZT, Z or Q")
    t_start = time.monotonic()
    start = resolve_start(start, tensor, searcher, domain)
    pools = start_pools(tensor, domain, start, note, db_path, seed)
    start_seconds = time.monotonic() - t_start if start == "blocks" else 0.0
    label = tensor.label(with_shape=False)
    root = runs_root or default_runs_root()
    path = Path(run_dir) if run_dir else root / new_run_id(root, label, domain)
    config = RunConfig(
        target=tensor.key if tensor.is_named else "tensor.npy",
        domain=domain,
        seed=seed,
        target_rank=target_rank,
        pool_size=pool_size,
        params=config_params,
        searcher=searcher,
        start=start,
        label=label,
        db=db_path,
        target_source=target_source,
        lift=lift_to,
    )
    run = RunDir(path)
    run.create(config, tensor)
    start_rank = min(pools)
    # a start that searched (blocks) counts its time as the run's: bests say when they came in all
    state = {"status": "new", "sessions": 0, "flips": 0, "seconds": round(start_seconds, 3), "start_rank": start_rank}
    state.update(best_rank=start_rank, best_file=None)
    try:
        best = _save_block_start(run, config, pools, start_seconds) if start == "blocks" else None
        if best is not None:
            state["best_file"] = best["file"]
        run.write_checkpoint(state, pools)
        run.event(
            "created",
            target=label,
            domain=domain,
            seed=seed,
            target_rank=target_rank,
            start_rank=start_rank,
            start_seconds=round(start_seconds, 3),
        )
        if best is not None:
            run.event("best", **best)
    except OSError as exc:
        raise RunError(f"{run.path}: cannot write to the run directory ({exc.strerror or exc})") from None
    return run
