"""The scheme database: every distinct verified scheme once, with provenance, and best-known ranks.

SQLite (stdlib ``sqlite3``) in WAL mode with foreign keys on and a busy timeout, so several
worker processes and several searches can write at once while readers keep reading. Each
write is one short ``BEGIN IMMEDIATE`` transaction. A scheme is identified by its canonical
hash (term order and per-term scaling normalised, domain and tensor mixed in).

The database refuses unverified schemes: it is opened with a ``verifier`` (``flipforge.verify``'s
``verify``, passed in by the caller because schemes/ must not import verify/) and runs it on
every scheme before storing it.

Rows are grouped by *target key* (the ``target`` column): the sorted format (``3x4x5``) for
matrix multiplication, whose rank does not depend on the order of n, m, p; the name of a
structured or polynomial product (``ug-444``, ``pm-22``), where permuting dimensions is no
symmetry; for any other tensor its label and a digest of its entries
(``tensor[4x4x4]#1f0c...``), so two different tensors never share a row. The literature's
best-known ranks (``data/best_known.csv`` for matmul, ``data/best_known_structured.csv`` for
structured products; one citation per target and class) are read from the installed package,
never from a database, so a fixed citation reaches every database at once; the ``best_known``
table keeps the literature as seeded plus the records flipforge stored below it.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass, fields
from functools import lru_cache, wraps
from importlib import resources
from numbers import Integral
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from .canonical import canonical_hash, tensor_digest
from .domain import Domain
from .errors import FlipforgeError
from .files import special_kind
from .formats.native import from_native_dict, to_native_dict
from .metrics import coefficient_class, naive_additions
from .scheme import Scheme
from .tensor import Tensor, sorted_format_name

__all__ = [
    "DatabaseError",
    "SchemeDB",
    "StoredScheme",
    "default_db_path",
    "best_known_table",
    "literature",
    "tensor_key",
    "rank_classes",
    "SCHEMA_VERSION",
    "RANK_CLASSES",
    "SORT_ORDERS",
    "MAX_ID",
]

SCHEMA_VERSION = 3
RANK_CLASSES = ("F2", "F3", "ZT", "Z", "Q")
MAX_ID = 2**63 - 1
"""The largest id SQLite can store (a signed 64-bit integer)."""
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
    # 2: non-matmul rows keyed by the tensor's entries, literature rows refreshed (SchemeDB._migrate_2)
    2: ["CREATE INDEX IF NOT EXISTS schemes_by_created ON schemes (created, id)"],
    # 3: the row key names the target (3x4x5, ug-444, pm-22, name#digest), not only a sorted format
    3: [
        "ALTER TABLE schemes RENAME COLUMN sorted_format TO target",
        "ALTER TABLE best_known RENAME COLUMN sorted_format TO target",
    ],
}

SORT_ORDERS: dict[str, str] = {
    "rank": "length(target), target, rank, additions_naive, id",
    "additions": "additions_naive, rank, id",
    "created": "created DESC, id DESC",
}
"""``db list --sort``: by format then rank (then additions); fewest additions first; newest first."""


class DatabaseError(FlipforgeError):
    """A database file that cannot be used (not SQLite, newer schema, not writable, ...)."""


def default_db_path() -> Path:
    """``$FLIPFORGE_DB`` or ``runs/flipforge.db``."""
    return Path(os.environ.get("FLIPFORGE_DB", Path("runs") / "flipforge.db"))


@lru_cache(maxsize=1)
def literature() -> dict[tuple[str, str], tuple[int, str]]:
    """(target key, class) -> (rank, citation) from the shipped tables: ``data/best_known.csv``
    (matrix multiplication, keyed by sorted format) and ``data/best_known_structured.csv``
    (structured products, keyed by name such as ``ug-444``).

    Only what the literature gives: a pair that is not there has no published value.
    """
    data = resources.files("flipforge.schemes").joinpath("data")
    out: dict[tuple[str, str], tuple[int, str]] = {}
    for name in ("best_known.csv", "best_known_structured.csv"):
        for r in csv.DictReader(data.joinpath(name).read_text(encoding="utf-8").splitlines()):
            key = r["target"] if "target" in r else sorted_format_name((int(r["n"]), int(r["m"]), int(r["p"])))
            for cls in r["classes"].split():
                if cls not in RANK_CLASSES or (key, cls) in out:
                    raise ValueError(f"{name}: bad or repeated class {cls!r} for {key}")
                out[(key, cls)] = (int(r["rank"]), r["citation"])
    return out


def target_kind(key: str) -> str:
    """``matmul`` for a sorted format key (``3x4x5``), ``structured`` for ``ug-444``, ``poly`` for
    ``pm-22``, else ``file`` (a tensor's label#digest)."""
    if _format_key(key)[0] == 0:
        return "matmul"
    if "#" in key:
        return "file"
    return "poly" if key.startswith("pm-") else "structured"


def best_known_table() -> list[dict[str, Any]]:
    """The literature's best-known ranks per format (numbers and citations only).

    Each row: ``format``, one rank per class (None where the literature gives none), ``citations``
    (class -> citation) and ``citation`` (all of them in one line, classes named where they differ).
    """
    rows: dict[str, dict[str, Any]] = {}
    for (fmt, cls), (rank, cite) in literature().items():
        row = rows.setdefault(
            fmt, {"format": fmt, "kind": target_kind(fmt), **dict.fromkeys(RANK_CLASSES), "citations": {}}
        )
        row[cls] = rank
        row["citations"][cls] = cite
    for row in rows.values():
        by_cite: dict[str, list[str]] = {}
        for cls in RANK_CLASSES:
            if cls in row["citations"]:
                by_cite.setdefault(row["citations"][cls], []).append(cls)
        if len(by_cite) == 1:
            row["citation"] = next(iter(by_cite))
        else:
            row["citation"] = "; ".join(f"{'/'.join(classes)}: {cite}" for cite, classes in by_cite.items())
    return sorted(rows.values(), key=lambda r: _format_key(r["format"]))


def tensor_key(tensor: Tensor) -> tuple[str, str]:
    """(``tensor`` column, row key) of a target: ("matmul", "3x4x5") for matrix multiplication,
    whose rank does not depend on the order of n, m, p; (kind, name) for a structured or polynomial
    product ("structured", "ug-444"), where permuting dimensions is no symmetry; else
    (name:digest, label#digest) so that different tensors never share a row."""
    if tensor.fmt is not None:
        return "matmul", sorted_format_name(tensor.fmt)
    if tensor.is_named:
        return tensor.kind, tensor.key
    digest = tensor_digest(tensor)
    return f"{tensor.name}:{digest}", f"{tensor.label()}#{digest[:8]}"


def rank_classes(domain: str, coefficients: str) -> list[str]:
    """The best-known classes a verified scheme counts for (an integer scheme also holds mod 2 and 3)."""
    if domain in ("F2", "F3"):
        return [domain]
    if domain.startswith(("F", "GF")) or domain == "QI":
        return []  # other prime fields, and Q(i): no best-known class (a Q(i) rank says nothing about Q)
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
    target: str
    tensor: str
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

    @property
    def key(self) -> str:
        """The row name shown to users: the format for matmul, label#digest for other tensors."""
        return self.format if self.tensor == "matmul" else self.target

    def as_dict(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "scheme_json"}


_COLUMNS = ", ".join("scheme AS scheme_json" if f.name == "scheme_json" else f.name for f in fields(StoredScheme))

Verifier = Callable[[Scheme, Domain], Any]
F = TypeVar("F", bound=Callable[..., Any])


def _sql_errors(func: F) -> F:
    """Turn sqlite errors (a corrupt page, a full disk, an id SQLite cannot hold) into DatabaseError."""

    @wraps(func)
    def wrapper(self: SchemeDB, *args: Any, **kwargs: Any) -> Any:
        try:
            return func(self, *args, **kwargs)
        except sqlite3.Error as exc:
            raise DatabaseError(self._explain(exc)) from None
        except OverflowError as exc:
            raise DatabaseError(f"{self.path}: a number is too large for the database ({exc})") from None

    return wrapper  # type: ignore[return-value]


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
            self.conn = self._connect(readonly)
            try:
                version = self._version()  # refuses other programs' files before anything is written
                if readonly and version < SCHEMA_VERSION and os.access(self.path, os.W_OK):
                    # an older database: bring it up to date once (a read-only user reads it as it is)
                    self.conn.close()
                    self.conn = self._connect(False)
                    self._set_wal()
                    self._migrate(self._version())
                    self.conn.close()
                    self.conn = self._connect(True)
                elif not readonly:
                    self._set_wal()
                    self._migrate(version)
            except BaseException:
                self.conn.close()
                raise
        except sqlite3.Error as exc:
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
        """Refuse, quickly and in one line, anything that is not a database file we may use."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            st = None
        except NotADirectoryError:
            raise DatabaseError(f"{self.path}: a parent of this path is a file, not a folder") from None
        except OSError as exc:
            raise DatabaseError(f"{self.path}: cannot open the database ({exc.strerror or exc})") from None
        if st is None:
            if self.readonly:
                raise DatabaseError(f"{self.path}: no such database (flipforge db import creates one)")
            parent = next((p for p in self.path.absolute().parents if p.exists()), None)
            if parent is not None and not parent.is_dir():
                raise DatabaseError(f"{self.path}: {parent} is a file, not a folder")
            return
        if stat.S_ISDIR(st.st_mode):
            raise DatabaseError(f"{self.path}: is a folder, not a database file")
        if not stat.S_ISREG(st.st_mode):
            kind = special_kind(st.st_mode)
            raise DatabaseError(f"{self.path}: not a regular file ({kind}); give a database file")
        if st.st_size == 0:
            if self.readonly:
                raise DatabaseError(f"{self.path}: empty file, no database yet (flipforge db import creates one)")
            return
        try:
            with open(self.path, "rb") as fh:
                head = fh.read(100)
        except OSError as exc:
            raise DatabaseError(f"{self.path}: cannot read the database ({exc.strerror or exc})") from None
        if not head.startswith(_SQLITE_MAGIC):
            raise DatabaseError(f"{self.path}: not an SQLite database (refusing to touch it)")
        if len(head) < 100 or st.st_size < 512:
            raise DatabaseError(f"{self.path}: truncated SQLite database ({st.st_size} bytes)")

    def _connect(self, readonly: bool) -> sqlite3.Connection:
        uri = f"file:{_uri_path(self.path)}?mode={'ro' if readonly else 'rwc'}"
        conn = sqlite3.connect(uri, uri=True, timeout=60.0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA busy_timeout = 60000")
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _set_wal(self) -> None:
        self.conn.execute("PRAGMA journal_mode = WAL")
        # in WAL mode NORMAL survives any process crash; only an OS crash may lose the last commits
        self.conn.execute("PRAGMA synchronous = NORMAL")

    def _version(self) -> int:
        """The schema version, 0 for a new file; refuses other programs' and newer databases."""
        tables = {name for (name,) in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "schema_version" not in tables:
            if tables:
                raise DatabaseError(
                    f"{self.path}: an SQLite database of another program (no flipforge tables); refusing to touch it"
                )
            if self.readonly:
                raise DatabaseError(f"{self.path}: empty database (flipforge db import fills it)")
            return 0
        row = self.conn.execute("SELECT max(version) FROM schema_version").fetchone()
        version = int(row[0] or 0)
        if version > SCHEMA_VERSION:
            raise DatabaseError(
                f"{self.path}: schema version {version} is newer than this flipforge understands "
                f"({SCHEMA_VERSION}); upgrade flipforge"
            )
        return version

    def _explain(self, exc: sqlite3.Error) -> str:
        text = str(exc)
        if "readonly" in text or "unable to open" in text:
            return f"{self.path}: cannot write the database here ({text}); use --db or FLIPFORGE_DB elsewhere"
        if "not a database" in text:
            return f"{self.path}: not an SQLite database"
        if "malformed" in text or "corrupt" in text:
            return f"{self.path}: the database file is damaged ({text}); restore it or use another --db"
        if "locked" in text or "busy" in text:
            return f"{self.path}: the database is locked by another process ({text}); try again"
        if "disk is full" in text or "disk I/O" in text:
            return f"{self.path}: cannot write the database ({text})"
        return f"{self.path}: database error ({text})"

    def _migrate(self, version: int) -> None:
        if version == 0:
            self.conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            with SchemeDB._Tx(self):  # also for a read-only user bringing an older file up to date
                if self._version() >= target:  # another process migrated meanwhile
                    continue
                for sql in _MIGRATIONS[target]:
                    self.conn.execute(sql)
                if target == 1:
                    self._seed_best_known()
                if target == 2:
                    self._migrate_2()
                if target == 3:
                    self._seed_best_known()  # the structured products' literature
                self.conn.execute("INSERT INTO schema_version VALUES (?)", (target,))

    def _seed_best_known(self) -> None:
        now = _now()
        for (fmt, cls), (rank, cite) in literature().items():
            self.conn.execute(
                "INSERT OR IGNORE INTO best_known VALUES (?, ?, ?, ?, NULL, ?)", (fmt, cls, rank, cite, now)
            )

    def _migrate_2(self) -> None:
        """Key non-matmul rows by their tensor's entries (not its name) and refresh the literature rows."""
        rows = self.conn.execute("SELECT id, domain, scheme FROM schemes WHERE tensor != 'matmul'").fetchall()
        for scheme_id, domain, text in rows:
            try:
                scheme = from_native_dict(json.loads(text), f"db:{scheme_id}")
            except (FlipforgeError, ValueError):
                continue
            tensor_col, key = tensor_key(scheme.tensor)
            self.conn.execute(
                "UPDATE schemes SET tensor = ?, sorted_format = ? WHERE id = ?", (tensor_col, key, scheme_id)
            )
            try:
                new_hash = canonical_hash(scheme, domain)
                self.conn.execute("UPDATE schemes SET hash = ? WHERE id = ?", (new_hash, scheme_id))
            except (FlipforgeError, sqlite3.IntegrityError):
                pass  # the same scheme stored twice under two tensor names: keep both rows
        # records of non-matmul rows were keyed by the tensor's name alone
        self.conn.execute("DELETE FROM best_known WHERE sorted_format LIKE '%[%'")
        self.conn.execute("DELETE FROM best_known WHERE scheme_id IS NULL")
        self._seed_best_known()
        # a record that is not below the (possibly corrected) literature is no record
        for (fmt, cls), (rank, cite) in literature().items():
            self.conn.execute(
                "UPDATE best_known SET rank = ?, citation = ?, scheme_id = NULL, updated = ? "
                "WHERE sorted_format = ? AND class = ? AND rank >= ? AND scheme_id IS NOT NULL",
                (rank, cite, _now(), fmt, cls, rank),
            )

    class _Tx:
        """BEGIN IMMEDIATE ... COMMIT (or ROLLBACK); nested inside a batch it does nothing."""

        def __init__(self, db: SchemeDB) -> None:
            self.db = db
            self.outer = not db._in_tx

        def __enter__(self) -> None:
            if self.outer:
                try:
                    self.db.conn.execute("BEGIN IMMEDIATE")
                except sqlite3.Error as exc:
                    raise DatabaseError(self.db._explain(exc)) from None
                self.db._in_tx = True

        def __exit__(self, kind: object, *rest: object) -> None:
            if not self.outer:
                return
            self.db._in_tx = False
            try:
                if kind is None:
                    self.db.conn.execute("COMMIT")
                elif self.db.conn.in_transaction:
                    self.db.conn.execute("ROLLBACK")
            except sqlite3.Error as exc:
                if self.db.conn.in_transaction:
                    self.db.conn.execute("ROLLBACK")
                if kind is None:
                    raise DatabaseError(self.db._explain(exc)) from None

    def _write(self) -> SchemeDB._Tx:
        if self.readonly:
            raise DatabaseError(f"{self.path}: opened read-only")
        return SchemeDB._Tx(self)

    def batch(self) -> SchemeDB._Tx:
        """Group many ``add`` calls into one transaction (imports): ``with db.batch(): ...``.

        It commits when the block ends normally and rolls back when it raises; an import that
        wants to keep what it has done on Ctrl-C finishes the block first (see ``flipforge db import``).
        """
        return self._write()

    # -- writing ---------------------------------------------------------------------------

    @_sql_errors
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
        dom = Domain.parse(domain if domain is not None else (scheme.domain or "Q"), extension=True)
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
        tensor_col, row_key = tensor_key(scheme.tensor)
        prov = {k: _column_value(provenance.get(k)) for k in ("run", "seed", "worker", "source", "imported_from")}
        row = (
            key,
            _column_value(tensor_col),
            _column_value(scheme.tensor.label()),
            _column_value(row_key),
            dom.name,
            scheme.rank,
            coeffs,
            int(sum(int((a != 0).sum()) for a in scheme.factors)),
            naive_additions(scheme, dom),
            json.dumps(to_native_dict(stored), separators=(",", ":")),
            *prov.values(),
            _now(),
        )
        with self._write():
            cur = self.conn.execute(
                "INSERT OR IGNORE INTO schemes (hash, tensor, format, target, domain, rank, coefficients, "
                "nnz, additions_naive, verified, scheme, run, seed, worker, source, imported_from, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            if cur.rowcount == 0:
                (existing,) = self.conn.execute("SELECT id FROM schemes WHERE hash = ?", (key,)).fetchone()
                return int(existing), False
            new_id = int(cur.lastrowid)  # type: ignore[arg-type]
            run = prov["run"]
            by = f"flipforge search, run {run}" if run else f"imported: {prov['source'] or 'unknown'}"
            self._improve_best_known(str(row[3]), dom.name, coeffs, scheme.rank, new_id, by)
            return new_id, True

    def _improve_best_known(self, fmt: str, domain: str, coeffs: str, rank: int, scheme_id: int, by: str) -> None:
        """Lower the best-known rank of each class this scheme counts for, crediting ``by``."""
        for cls in rank_classes(domain, coeffs):
            self.conn.execute(
                "INSERT INTO best_known VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (target, class) DO UPDATE SET rank = excluded.rank, citation = excluded.citation, "
                "scheme_id = excluded.scheme_id, updated = excluded.updated WHERE excluded.rank < best_known.rank",
                (fmt, cls, rank, by, scheme_id, _now()),
            )

    # -- reading ---------------------------------------------------------------------------

    def _rows(self, sql: str, args: tuple = ()) -> list[StoredScheme]:
        cur = self.conn.execute(sql, args)
        names = [d[0] for d in cur.description]
        # integers beyond 64 bits (a seed of 2^64 - 1) are stored as the BLOB of their digits
        return [
            StoredScheme(**{k: int(v) if isinstance(v, bytes) else v for k, v in zip(names, r, strict=True)})
            for r in cur
        ]

    @staticmethod
    def _where(fmt: str | None, domain: str | None, rank: int | None) -> tuple[str, list[Any]]:
        where, args = [], []
        if fmt is not None:
            where.append("target = ?")
            args.append(fmt)
        if domain is not None:
            where.append("domain = ?")
            args.append(domain)
        if rank is not None:
            where.append("rank = ?")
            args.append(rank)
        return (f" WHERE {' AND '.join(where)}" if where else ""), args

    @_sql_errors
    def list(
        self,
        fmt: str | None = None,
        domain: str | None = None,
        rank: int | None = None,
        *,
        sort: str = "rank",
        limit: int | None = None,
    ) -> list[StoredScheme]:
        """Schemes matching the filters (``fmt`` a tensor key: a sorted format such as ``3x4x5``).

        ``sort``: ``rank`` (by format, rank, additions), ``additions`` (fewest first) or
        ``created`` (newest first); ``limit``: at most that many (None: all).
        """
        if sort not in SORT_ORDERS:
            raise DatabaseError(f"unknown sort order {sort!r}: use one of {', '.join(SORT_ORDERS)}")
        clause, args = self._where(fmt, domain, rank)
        sql = f"SELECT {_COLUMNS} FROM schemes{clause} ORDER BY {SORT_ORDERS[sort]}"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(max(0, limit))
        return self._rows(sql, tuple(args))

    @_sql_errors
    def get(self, scheme_id: int) -> StoredScheme | None:
        """The row with this id, or None (also for ids SQLite cannot hold)."""
        if not 1 <= scheme_id <= MAX_ID:
            return None
        rows = self._rows(f"SELECT {_COLUMNS} FROM schemes WHERE id = ?", (scheme_id,))
        return rows[0] if rows else None

    @_sql_errors
    def count(self, fmt: str | None = None, domain: str | None = None, rank: int | None = None) -> int:
        """How many schemes match the filters (all of them without filters)."""
        clause, args = self._where(fmt, domain, rank)
        return int(self.conn.execute(f"SELECT count(*) FROM schemes{clause}", args).fetchone()[0])

    def best_known(self, fmt: str, cls: str) -> int | None:
        """The best-known rank of a sorted format (``3x4x5``) in a class F2/F3/ZT/Z/Q."""
        row = self.best_known_row(fmt, cls)
        return row[0] if row else None

    @_sql_errors
    def best_known_row(self, fmt: str, cls: str) -> tuple[int, str] | None:
        """(rank, citation) of the best known for a tensor key and class: the literature (shipped
        with flipforge), or a record in this database when it is lower."""
        lit = literature().get((fmt, cls))
        row = self.conn.execute(
            "SELECT rank, citation FROM best_known WHERE target = ? AND class = ? AND scheme_id IS NOT NULL",
            (fmt, cls),
        ).fetchone()
        record = (int(row[0]), str(row[1])) if row else None
        if lit is None or (record is not None and record[0] < lit[0]):
            return record
        return lit

    @_sql_errors
    def best(self) -> list[dict[str, Any]]:
        """Per tensor key: our best rank per class next to the literature's (None: no published value).

        ``status``: ``match`` (equal), ``new`` (below the literature), ``behind``, ``unknown`` (we
        have a scheme, the literature gives no value for this class) or ``-`` (nothing stored).
        """
        ours: dict[tuple[str, str], int] = {}
        tensors: dict[str, str] = {}
        for key, tensor, domain, coeffs, rank in self.conn.execute(
            "SELECT target, tensor, domain, coefficients, min(rank) FROM schemes "
            "GROUP BY target, tensor, domain, coefficients"
        ):
            tensors[key] = tensor
            for cls in rank_classes(domain, coeffs):
                ours[(key, cls)] = min(ours.get((key, cls), rank), rank)
        lit = literature()
        keys = sorted({k for k, _ in ours} | {f for f, _ in lit}, key=_format_key)
        out = []
        for key in keys:
            kind = target_kind(key)
            row: dict[str, Any] = {"format": key, "kind": kind, "tensor": tensors.get(key, kind)}
            for cls in RANK_CLASSES:
                mine = ours.get((key, cls))
                known = lit.get((key, cls)) if kind != "file" else None
                row[cls] = {
                    "ours": mine,
                    "best_known": known[0] if known else None,
                    "by": known[1] if known else None,
                    "status": _status(mine, known[0] if known else None),
                }
            out.append(row)
        return out

    @_sql_errors
    def integrity_check(self) -> str:
        return str(self.conn.execute("PRAGMA integrity_check").fetchone()[0])


def _column_value(value: Any) -> Any:
    """A provenance value SQLite can store: text with undecodable bytes of file names as \\xNN
    escapes, integers beyond 64 bits (a 2^64 - 1 seed) as the BLOB of their digits (as text SQLite
    would turn them into inexact REALs), None as NULL."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            try:
                return value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            except UnicodeEncodeError:
                return value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Integral):
        value = int(value)
        return value if -(2**63) <= value <= MAX_ID else str(value).encode()
    return value


def _status(mine: int | None, best: int | None) -> str:
    if mine is None:
        return "-"
    if best is None:
        return "unknown"
    if mine < best:
        return "new"
    return "match" if mine == best else "behind"


def _format_key(fmt: str) -> tuple:
    parts = fmt.split("x")
    return (0, *(int(p) for p in parts)) if len(parts) == 3 and all(p.isdigit() for p in parts) else (1, fmt)


def _uri_path(path: Path) -> str:
    """A path for an SQLite ``file:`` URI: ``?``, ``#``, ``%`` and non-UTF-8 bytes in names escaped."""
    return quote(os.fsencode(path), safe="/")


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S")
