"""The scheme database: every distinct verified scheme once, with provenance, and best-known ranks.

SQLite (stdlib ``sqlite3``) in WAL mode with foreign keys on and a busy timeout, so several
worker processes and several searches can write at once while readers keep reading. Each
write is one short ``BEGIN IMMEDIATE`` transaction. A scheme is identified by its canonical
hash (term order and per-term scaling normalised, domain and tensor mixed in).

The database refuses unverified schemes: it is opened with a ``verifier`` (``flipforge.verify``'s
``verify``, passed in by the caller because schemes/ must not import verify/) and runs it on
every scheme before storing it.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from .canonical import canonical_hash
from .domain import Domain
from .errors import FlipforgeError
from .formats.native import from_native_dict, to_native_dict
from .metrics import coefficient_class, naive_additions
from .scheme import Scheme
from .tensor import sorted_format_name

__all__ = [
    "DatabaseError",
    "SchemeDB",
    "StoredScheme",
    "default_db_path",
    "best_known_table",
    "SCHEMA_VERSION",
    "RANK_CLASSES",
]

SCHEMA_VERSION = 1
RANK_CLASSES = ("F2", "F3", "ZT", "Z", "Q")
_SQLITE_MAGIC = b"SQLite format 3\x00"

_MIGRATIONS: dict[int, list[str]] = {
    1: [
        """CREATE TABLE schemes (
            id INTEGER PRIMARY KEY,
            hash TEXT NOT NULL UNIQUE,
            tensor TEXT NOT NULL,
            format TEXT NOT NULL,
            sorted_format TEXT NOT NULL,
            domain TEXT NOT NULL,
            rank INTEGER NOT NULL,
            coefficients TEXT NOT NULL,
            nnz INTEGER NOT NULL,
            additions_naive INTEGER NOT NULL,
            additions_reduced INTEGER,
            verified INTEGER NOT NULL CHECK (verified = 1),
            scheme TEXT NOT NULL,
            run TEXT, seed INTEGER, worker INTEGER,
            source TEXT, imported_from TEXT,
            created TEXT NOT NULL)""",
        "CREATE INDEX schemes_by_format ON schemes (sorted_format, domain, rank)",
        "CREATE INDEX schemes_by_additions ON schemes (sorted_format, rank, additions_naive)",
        """CREATE TABLE best_known (
            sorted_format TEXT NOT NULL,
            class TEXT NOT NULL CHECK (class IN ('F2', 'F3', 'ZT', 'Z', 'Q')),
            rank INTEGER NOT NULL,
            citation TEXT NOT NULL,
            scheme_id INTEGER REFERENCES schemes (id),
            updated TEXT NOT NULL,
            PRIMARY KEY (sorted_format, class))""",
    ],
}


class DatabaseError(FlipforgeError):
    """A database file that cannot be used (not SQLite, newer schema, not writable, ...)."""


def default_db_path() -> Path:
    """``$FLIPFORGE_DB`` or ``runs/flipforge.db``."""
    return Path(os.environ.get("FLIPFORGE_DB", Path("runs") / "flipforge.db"))


def best_known_table() -> list[dict[str, Any]]:
    """The literature's best-known ranks shipped with flipforge (numbers and citations only)."""
    text = resources.files("flipforge.schemes").joinpath("data/best_known.csv").read_text(encoding="utf-8")
    rows = []
    for r in csv.DictReader(text.splitlines()):
        fmt = f"{r['n']}x{r['m']}x{r['p']}"
        rows.append({"format": fmt, "citation": r["citation"], **{c: int(r[c]) for c in RANK_CLASSES}})
    return rows


def _sorted_format(fmt: tuple[int, int, int] | None, label: str) -> str:
    return sorted_format_name(fmt) if fmt else label


def rank_classes(domain: str, coefficients: str) -> list[str]:
    """The best-known classes a verified scheme counts for (an integer scheme also holds mod 2 and 3)."""
    if domain in ("F2", "F3"):
        return [domain]
    if domain.startswith("F"):
        return []
    classes = ["Q"]
    if coefficients in ("ZT", "Z"):
        classes += ["Z", "F2", "F3"]
    if coefficients == "ZT":
        classes.append("ZT")
    return classes


@dataclass
class StoredScheme:
    """One row of ``schemes`` (the scheme itself is parsed on demand)."""

    id: int
    hash: str
    format: str
    domain: str
    rank: int
    coefficients: str
    nnz: int
    additions_naive: int
    additions_reduced: int | None
    run: str | None
    seed: int | None
    worker: int | None
    source: str | None
    imported_from: str | None
    created: str
    scheme_json: str

    def scheme(self) -> Scheme:
        return from_native_dict(json.loads(self.scheme_json), f"db:{self.id}")

    def as_dict(self) -> dict[str, Any]:
        d = {k: v for k, v in self.__dict__.items() if k != "scheme_json"}
        return d


_COLUMNS = (
    "id, hash, format, domain, rank, coefficients, nnz, additions_naive, additions_reduced, run, seed, worker, "
    "source, imported_from, created, scheme"
)

Verifier = Callable[[Scheme, Domain], Any]


class SchemeDB:
    """A connection to one database file. Use as a context manager or call ``close()``."""

    def __init__(self, path: str | Path | None = None, verifier: Verifier | None = None, *, readonly: bool = False):
        self.path = Path(path) if path is not None else default_db_path()
        self.verifier = verifier
        self.readonly = readonly
        self._in_tx = False
        self._check_file()
        try:
            if not readonly:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            uri = f"file:{self.path}?mode={'ro' if readonly else 'rwc'}"
            self.conn = sqlite3.connect(uri, uri=True, timeout=60.0, isolation_level=None)
            self.conn.execute("PRAGMA busy_timeout = 60000")
            if not readonly:
                self.conn.execute("PRAGMA journal_mode = WAL")
                # in WAL mode NORMAL survives any process crash; only an OS crash may lose the last commits
                self.conn.execute("PRAGMA synchronous = NORMAL")
            self.conn.execute("PRAGMA foreign_keys = ON")
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(self._explain(exc)) from None
        except OSError as exc:
            raise DatabaseError(f"{self.path}: cannot open the database ({exc.strerror or exc})") from None

    def __enter__(self) -> SchemeDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.conn.close()

    # -- opening ---------------------------------------------------------------------------

    def _check_file(self) -> None:
        if self.path.is_dir():
            raise DatabaseError(f"{self.path}: is a folder, not a database file")
        if self.path.exists() and self.path.stat().st_size > 0:
            with open(self.path, "rb") as fh:
                if fh.read(16) != _SQLITE_MAGIC:
                    raise DatabaseError(f"{self.path}: not an SQLite database (refusing to touch it)")
        elif self.readonly:
            raise DatabaseError(f"{self.path}: no such database")

    def _explain(self, exc: sqlite3.DatabaseError) -> str:
        text = str(exc)
        if "readonly" in text or "unable to open" in text:
            return f"{self.path}: cannot write the database here ({text}); use --db or FLIPFORGE_DB elsewhere"
        if "not a database" in text:
            return f"{self.path}: not an SQLite database"
        return f"{self.path}: database error ({text})"

    def _migrate(self) -> None:
        self.conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        row = self.conn.execute("SELECT max(version) FROM schema_version").fetchone()
        version = row[0] or 0
        if version > SCHEMA_VERSION:
            raise DatabaseError(
                f"{self.path}: schema version {version} is newer than this flipforge understands "
                f"({SCHEMA_VERSION}); upgrade flipforge"
            )
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with self._write():
                for sql in _MIGRATIONS[target]:
                    self.conn.execute(sql)
                self.conn.execute("INSERT INTO schema_version VALUES (?)", (target,))
                if target == 1:
                    self._seed_best_known()

    def _seed_best_known(self) -> None:
        now = _now()
        for row in best_known_table():
            for cls in RANK_CLASSES:
                self.conn.execute(
                    "INSERT OR IGNORE INTO best_known VALUES (?, ?, ?, ?, NULL, ?)",
                    (row["format"], cls, row[cls], row["citation"], now),
                )

    class _Tx:
        """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK); nested inside a batch it does nothing."""

        def __init__(self, db: SchemeDB) -> None:
            self.db = db
            self.outer = not db._in_tx

        def __enter__(self) -> None:
            if self.outer:
                self.db.conn.execute("BEGIN IMMEDIATE")
                self.db._in_tx = True

        def __exit__(self, kind: object, *rest: object) -> None:
            if self.outer:
                self.db._in_tx = False
                self.db.conn.execute("COMMIT" if kind is None else "ROLLBACK")

    def _write(self) -> SchemeDB._Tx:
        if self.readonly:
            raise DatabaseError(f"{self.path}: opened read-only")
        return SchemeDB._Tx(self)

    def batch(self) -> SchemeDB._Tx:
        """Group many ``add`` calls into one transaction (imports): ``with db.batch(): ...``."""
        return self._write()

    # -- writing ---------------------------------------------------------------------------

    def add(
        self, scheme: Scheme, domain: Domain | str | None = None, proof: Any = None, **provenance: Any
    ) -> tuple[int, bool]:
        """Verify and store a scheme; returns (id, True) when new, (existing id, False) for a duplicate.

        ``domain`` defaults to the scheme's claimed domain. ``proof``, a passing VerifyResult the
        caller just computed for this scheme and domain, saves verifying twice. Provenance keys:
        run, seed, worker, source, imported_from. Raises DatabaseError when the scheme is not valid.
        """
        if self.verifier is None:
            raise DatabaseError("this database was opened without a verifier and cannot store schemes")
        dom = Domain.parse(domain if domain is not None else (scheme.domain or "Q"))
        if proof is not None and getattr(proof, "valid", False) and str(getattr(proof, "domain", "")) == dom.name:
            result = proof  # the caller has just verified this scheme over this domain
        else:
            result = self.verifier(scheme, dom)
        if not getattr(result, "valid", result):
            summary = result.summary() if hasattr(result, "summary") else "invalid"
            raise DatabaseError(
                f"refusing an unverified scheme ({scheme.tensor.label()} rank {scheme.rank}): {summary}"
            )
        key = canonical_hash(scheme, dom)
        stored = scheme.with_meta(**{k: v for k, v in provenance.items() if v is not None})
        stored = Scheme(stored.tensor, stored.u, stored.v, stored.w, dom, stored.meta)
        coeffs = coefficient_class(scheme)
        label = scheme.tensor.label()
        row = (
            key,
            "matmul" if scheme.fmt else scheme.tensor.name,
            label,
            _sorted_format(scheme.fmt, label),
            dom.name,
            scheme.rank,
            coeffs,
            int(sum(int((a != 0).sum()) for a in scheme.factors)),
            naive_additions(scheme, dom),
            json.dumps(to_native_dict(stored), separators=(",", ":")),
            provenance.get("run"),
            provenance.get("seed"),
            provenance.get("worker"),
            provenance.get("source"),
            provenance.get("imported_from"),
            _now(),
        )
        try:
            with self._write():
                cur = self.conn.execute(
                    "INSERT OR IGNORE INTO schemes (hash, tensor, format, sorted_format, domain, rank, coefficients, "
                    "nnz, additions_naive, verified, scheme, run, seed, worker, source, imported_from, created) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
                    row,
                )
                if cur.rowcount == 0:
                    (existing,) = self.conn.execute("SELECT id FROM schemes WHERE hash = ?", (key,)).fetchone()
                    return int(existing), False
                new_id = int(cur.lastrowid)
                run = provenance.get("run")
                by = f"flipforge search, run {run}" if run else f"imported: {provenance.get('source') or 'unknown'}"
                self._improve_best_known(_sorted_format(scheme.fmt, label), dom.name, coeffs, scheme.rank, new_id, by)
                return new_id, True
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(self._explain(exc)) from None

    def _improve_best_known(self, fmt: str, domain: str, coeffs: str, rank: int, scheme_id: int, by: str) -> None:
        """Lower the best-known rank of each class this scheme counts for, crediting ``by``."""
        for cls in rank_classes(domain, coeffs):
            self.conn.execute(
                "INSERT INTO best_known VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (sorted_format, class) DO UPDATE SET rank = excluded.rank, citation = excluded.citation, "
                "scheme_id = excluded.scheme_id, updated = excluded.updated WHERE excluded.rank < best_known.rank",
                (fmt, cls, rank, by, scheme_id, _now()),
            )

    # -- reading ---------------------------------------------------------------------------

    def _rows(self, sql: str, args: tuple = ()) -> Iterator[StoredScheme]:
        try:
            for r in self.conn.execute(sql, args):
                yield StoredScheme(*r[:15], scheme_json=r[15])
        except sqlite3.DatabaseError as exc:
            raise DatabaseError(self._explain(exc)) from None

    def list(self, fmt: str | None = None, domain: str | None = None, rank: int | None = None) -> list[StoredScheme]:
        """Schemes matching the filters (format in any order of n, m, p), by format, rank, additions."""
        where, args = [], []
        if fmt is not None:
            where.append("sorted_format = ?")
            args.append(fmt)
        if domain is not None:
            where.append("domain = ?")
            args.append(domain)
        if rank is not None:
            where.append("rank = ?")
            args.append(rank)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        sql = f"SELECT {_COLUMNS} FROM schemes{clause} ORDER BY sorted_format, rank, additions_naive, id"
        return list(self._rows(sql, tuple(args)))

    def get(self, scheme_id: int) -> StoredScheme | None:
        rows = list(self._rows(f"SELECT {_COLUMNS} FROM schemes WHERE id = ?", (scheme_id,)))
        return rows[0] if rows else None

    def count(self) -> int:
        return int(self.conn.execute("SELECT count(*) FROM schemes").fetchone()[0])

    def best_known(self, fmt: str, cls: str) -> int | None:
        """The best-known rank of a sorted format (``3x4x5``) in a class F2/F3/ZT/Z/Q."""
        row = self.best_known_row(fmt, cls)
        return row[0] if row else None

    def best_known_row(self, fmt: str, cls: str) -> tuple[int, str] | None:
        """(rank, citation) of the best known for a sorted format and class."""
        row = self.conn.execute(
            "SELECT rank, citation FROM best_known WHERE sorted_format = ? AND class = ?", (fmt, cls)
        ).fetchone()
        return (int(row[0]), str(row[1])) if row else None

    def best(self) -> list[dict[str, Any]]:
        """Per format: our best rank per class next to the best-known rank."""
        ours: dict[tuple[str, str], int] = {}
        for fmt, domain, coeffs, rank in self.conn.execute(
            "SELECT sorted_format, domain, coefficients, min(rank) FROM schemes "
            "GROUP BY sorted_format, domain, coefficients"
        ):
            for cls in rank_classes(domain, coeffs):
                key = (fmt, cls)
                ours[key] = min(ours.get(key, rank), rank)
        known: dict[tuple[str, str], tuple[int, str]] = {
            (f, c): (r, cit)
            for f, c, r, cit in self.conn.execute("SELECT sorted_format, class, rank, citation FROM best_known")
        }
        formats = sorted({f for f, _ in ours} | {f for f, _ in known}, key=_format_key)
        out = []
        for fmt in formats:
            row: dict[str, Any] = {"format": fmt}
            for cls in RANK_CLASSES:
                mine = ours.get((fmt, cls))
                best = known.get((fmt, cls))
                row[cls] = {
                    "ours": mine,
                    "best_known": best[0] if best else None,
                    "by": best[1] if best else None,
                    "status": _status(mine, best[0] if best else None, best[1] if best else None),
                }
            out.append(row)
        return out

    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])


def _status(mine: int | None, best: int | None, by: str | None) -> str:
    if mine is None:
        return "-"
    if best is None or mine < best:
        return "new"
    if mine == best:
        return "record" if (by or "").startswith("flipforge") else "match"
    return "behind"


def _format_key(fmt: str) -> tuple:
    parts = fmt.split("x")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else (999, fmt)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")
