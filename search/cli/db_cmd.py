"""``flipforge db``: import, list, show, compare with the best known, export."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import click
from flipforge.schemes import Domain, FlipforgeError, write_schemes
from flipforge.schemes.db import (
    MAX_ID,
    RANK_CLASSES,
    SORT_ORDERS,
    DatabaseError,
    SchemeDB,
    StoredScheme,
    tensor_key,
)
from flipforge.schemes.targets import KINDS as TARGET_KINDS
from flipforge.schemes.targets import parse_target
from flipforge.search.store import open_db
from flipforge.verify import verify

from ._common import (
    EXIT_BAD_INPUT,
    EXIT_FAIL,
    EXIT_OK,
    OneLineGroup,
    Source,
    fail,
    friendly_errors,
    from_option,
    iter_sources,
    shown,
)
from .progress import WorkProgress

__all__ = ["db_group"]

_BATCH = 500
"""Schemes per import transaction at most ..."""
_FLUSH_SECONDS = 2.0
"""... and at most this long between commits, so an interrupted import keeps nearly all its work."""
DEFAULT_LIMIT = 50
_DB_HELP = "Database file (also accepted before the subcommand)."
_DB_DEFAULT = "$FLIPFORGE_DB or runs/flipforge.db"


def _db_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--db PATH`` on a subcommand, so ``flipforge db list --db F`` works like ``flipforge db --db F list``."""
    return click.option("--db", "db_here", default=None, metavar="PATH", show_default=_DB_DEFAULT, help=_DB_HELP)(func)


def _db_path(group_value: str | None, here: str | None) -> str | None:
    """The one database path given (before or after the subcommand), or None for the default."""
    if group_value is not None and here is not None and Path(group_value) != Path(here):
        fail(f"--db given twice with different files ({group_value} and {here}); give it once")
    return here if here is not None else group_value


@click.group("db", cls=OneLineGroup, short_help="Store, list and compare verified schemes in a database.")
@click.option("--db", "db_path", default=None, metavar="PATH", show_default=_DB_DEFAULT, help=_DB_HELP)
@click.pass_context
def db_group(ctx: click.Context, db_path: str | None) -> None:
    """The scheme database: every distinct verified scheme once, with provenance, and best-known ranks.

    \b
    Examples:
      flipforge db import ../shared/reference
      flipforge db best
      flipforge db list --format 3x3x3 --domain F2 --limit 10
      flipforge db show 42 --db my.db
      flipforge db export --format 2x2x2 out/
    """
    ctx.obj = db_path


# -- import ---------------------------------------------------------------------------------


class _Signals:
    """SIGINT and SIGTERM stop the import, but never in the middle of a commit.

    Outside ``deferred()`` a signal raises KeyboardInterrupt at once; inside, the commit finishes
    first (a second signal there does not wait). ``received`` is the first signal's number.
    """

    def __init__(self) -> None:
        self.received: int | None = None
        self._deferring = False
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        again = self.received is not None
        if self.received is None:
            self.received = signum
        if not self._deferring or again:
            raise KeyboardInterrupt

    def __enter__(self) -> _Signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError):  # not the main thread: leave the handlers alone
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)

    @contextlib.contextmanager
    def deferred(self) -> Iterator[None]:
        self._deferring = True
        try:
            yield
        finally:
            self._deferring = False


def _sources(paths: tuple[str, ...], fmt: str | None) -> Iterator[Source]:
    """Every scheme of every path; a path whose reading fails in an unexpected way is one
    unreadable entry and the other paths still come."""
    for raw in paths:
        try:
            yield from iter_sources((raw,), fmt)
        except FlipforgeError as exc:
            yield Source(raw, 0, 1, None, str(exc))
        except (OSError, MemoryError, RecursionError, ValueError, TypeError, IndexError, KeyError) as exc:
            yield Source(raw, 0, 1, None, f"{raw}: reading stopped ({type(exc).__name__}: {exc})")


def _note(text: str) -> None:
    """A line on stderr that a progress bar on the terminal moves above itself (click.echo would
    write past rich's redirection, into the bar's line)."""
    print(text, file=sys.stderr, flush=True)


class _Importer:
    """Verifies sources and stores the valid ones in batches, counting every outcome."""

    def __init__(self, db: SchemeDB, sig: _Signals, domain: Domain | None = None) -> None:
        self.db, self.sig, self.domain = db, sig, domain
        self.counts = {"imported": 0, "duplicates": 0, "invalid": 0, "unreadable": 0}
        self.invalid: list[str] = []
        self.pending: list[tuple[Source, Any]] = []
        self.last_flush = time.monotonic()
        self.stopping = False  # set once a signal is being handled: the last flush must not raise
        self.note: Callable[[str], None] = _note  # the progress display's echo while one is shown

    def take(self, src: Source) -> None:
        """Verify one source (outside any transaction) and queue it for storing when valid."""
        if src.scheme is None:
            self.counts["unreadable"] += 1
            self.note(f"flipforge: cannot read {shown(str(src.error))}")
            return
        try:
            res = verify(src.scheme, self.domain)
        except FlipforgeError as exc:
            self.counts["invalid"] += 1
            self.invalid.append(f"{shown(src.label)}: {exc}")
            return
        except (ArithmeticError, ValueError, TypeError, IndexError, MemoryError, RecursionError) as exc:
            # a bug or a scheme too large to check: this one is named and counted, the others go on
            self.counts["unreadable"] += 1
            self.note(f"flipforge: cannot check {shown(src.label)}: {type(exc).__name__}: {exc} (please report it)")
            return
        if not res.valid:
            self.counts["invalid"] += 1
            self.invalid.append(f"{shown(src.label)}: {res.summary()}")
            return
        self.pending.append((src, res))
        if len(self.pending) >= _BATCH or time.monotonic() - self.last_flush >= _FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Store the queued schemes in one transaction; the counts change only once it is committed."""
        self.last_flush = time.monotonic()
        if not self.pending:
            return
        done = {"imported": 0, "duplicates": 0, "invalid": 0}
        rejected: list[str] = []
        with self.sig.deferred(), self.db.batch():
            for src, res in self.pending:
                origin = src.path if src.path.startswith("builtin:") else os.path.abspath(src.path)
                try:
                    _, new = self.db.add(src.scheme, res.domain, res, source=src.label, imported_from=origin)
                except DatabaseError:
                    raise
                except FlipforgeError as exc:  # e.g. a coefficient the stored domain cannot hold
                    done["invalid"] += 1
                    rejected.append(f"{shown(src.label)}: {exc}")
                    continue
                done["imported" if new else "duplicates"] += 1
        for key, n in done.items():
            self.counts[key] += n
        self.invalid += rejected
        self.pending.clear()
        if self.sig.received is not None and not self.stopping:
            raise KeyboardInterrupt  # a signal came during the commit: stop now that it is done


@db_group.command("import", short_help="Verify schemes from files, folders or built-ins and store the valid ones.")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@from_option(many=True)
@click.option(
    "--domain",
    "-d",
    default="auto",
    show_default=True,
    metavar="DOMAIN",
    help="Check and store every scheme over this domain (F2, F3, F<p>, ZT, Z, Q); auto: the domain "
    "each file claims, else the ring of its coefficients.",
)
@click.option("--json", "as_json", is_flag=True, show_default="off", help="Print one JSON object with the counts.")
@_db_option
@click.pass_obj
@friendly_errors
def import_command(
    group_db: str | None,
    paths: tuple[str, ...],
    fmt: str | None,
    domain: str,
    as_json: bool,
    db_here: str | None,
) -> None:
    """Verify schemes (files, whole folders or built-ins) and store the distinct valid ones.

    Each scheme is stored over the domain its file claims, else the ring of its coefficients
    (--domain F2 checks and stores a folder of F2 schemes whose names do not say mod2).
    Invalid schemes are listed and never stored; a file that cannot be read is named and counted,
    and the other files are still imported. A progress bar shows on a terminal (a line every 10 s
    in a pipe). Ctrl-C or SIGTERM stops the import after committing what was verified so far,
    prints the summary and exits 130 (143 for SIGTERM). Exit status: 0 all imported or
    duplicates, 1 some scheme invalid, 2 some input unreadable or a database error.
    """
    t0 = time.perf_counter()
    dom = None if domain.strip().lower() == "auto" else Domain.parse(domain)
    db_error: str | None = None
    with open_db(_db_path(group_db, db_here)) as db, _Signals() as sig:
        imp = _Importer(db, sig, dom)
        try:
            with WorkProgress("importing", total=None) as prog:
                imp.note = prog.echo
                for src in _sources(paths, fmt):
                    imp.take(src)
                    prog.advance()
                imp.flush()
        except KeyboardInterrupt:
            if sig.received is None:
                sig.received = signal.SIGINT
            imp.stopping = True
            try:
                imp.flush()  # what was verified is kept; a second Ctrl-C here gives it up
            except KeyboardInterrupt:
                pass
            except DatabaseError as exc:
                db_error = str(exc)
        except DatabaseError as exc:
            db_error = str(exc)
        try:
            total: int | str = db.count()
        except DatabaseError:
            total = "?"
    seconds = round(time.perf_counter() - t0, 2)
    counts = imp.counts
    if db_error is not None:
        click.echo(f"flipforge: error: {db_error}", err=True)
    if sig.received is not None:
        name = "SIGTERM" if sig.received == signal.SIGTERM else "Ctrl-C"
        click.echo(f"flipforge: interrupted ({name}); kept what was imported so far", err=True)
    if as_json:
        extra = {"interrupted": sig.received is not None, "error": db_error}
        click.echo(json.dumps({**counts, "invalid_schemes": imp.invalid, "stored": total, "seconds": seconds, **extra}))
    else:
        for line in imp.invalid:
            click.echo(f"INVALID (not stored) {line}")
        click.echo(
            f"imported {counts['imported']}, duplicates {counts['duplicates']}, invalid {counts['invalid']}, "
            f"unreadable {counts['unreadable']}; {total} scheme(s) in {shown(str(db.path))} ({seconds} s)"
            + ("; interrupted" if sig.received is not None else "")
        )
    if sig.received is not None:
        sys.exit(128 + sig.received)
    if db_error is not None or counts["unreadable"]:
        sys.exit(EXIT_BAD_INPUT)
    sys.exit(EXIT_FAIL if counts["invalid"] else EXIT_OK)


# -- list, show, export ---------------------------------------------------------------------


def _tensor_key(fmt: str | None) -> str | None:
    """The stored key of ``--target``: a sorted matmul format, a structured or polynomial product's
    name, or a tensor key as `db best` shows it."""
    if fmt is None:
        return None
    if "[" in fmt and "#" in fmt:
        return fmt
    tensor = parse_target(fmt)
    if not tensor.is_named:
        fail(f"--target {fmt}: name a target (3x3x3, ug-444, pm-22) or a tensor key as `db best` shows it")
    return tensor_key(tensor)[1]


def _domain(domain: str | None) -> str | None:
    return Domain.parse(domain).name if domain else None


class _WholeNumber(click.ParamType):
    """A whole number from ``low`` to 2^63 - 1 (what SQLite holds); anything else is bad input."""

    name = "integer"

    def __init__(self, low: int) -> None:
        self.low = low

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> int:
        text = str(value).strip()
        if text.isascii() and text.lstrip("-").isdigit() and self.low <= int(text) <= MAX_ID:
            return int(text)
        self.fail(f"{value!r} is not a whole number from {self.low} to 2^63-1", param, ctx)


_RANK = _WholeNumber(1)
_format_option = click.option(
    "--target",
    "--format",
    "fmt",
    default=None,
    metavar="TARGET",
    show_default="all",
    help="Only this target: a format (any order of n, m, p), a structured product such as ug-444, "
    "pm-22, or a tensor key as `db best` shows it.",
)
_domain_option = click.option(
    "--domain",
    "-d",
    default=None,
    metavar="DOMAIN",
    show_default="all",
    help="Only schemes stored over this domain (F2, F3, ZT, Z, Q).",
)
_rank_option = click.option(
    "--rank", "-r", type=_RANK, default=None, metavar="N", show_default="all", help="Only this rank."
)


@db_group.command("list", short_help="List stored schemes with their rank, domain and provenance.")
@_format_option
@_domain_option
@_rank_option
@click.option(
    "--sort",
    type=click.Choice(list(SORT_ORDERS)),
    default="rank",
    show_default=True,
    help="rank: by format, rank, then additions; additions: fewest first; created: newest first.",
)
@click.option(
    "--limit",
    "-n",
    type=_WholeNumber(0),
    default=None,
    metavar="N",
    show_default=f"{DEFAULT_LIMIT}; all with --json",
    help="Show at most N schemes; 0 shows all.",
)
@click.option("--json", "as_json", is_flag=True, show_default="off", help="Print a JSON array, one object per scheme.")
@_db_option
@click.pass_obj
@friendly_errors
def list_command(
    group_db: str | None,
    fmt: str | None,
    domain: str | None,
    rank: int | None,
    sort: str,
    limit: int | None,
    as_json: bool,
    db_here: str | None,
) -> None:
    """List stored schemes, by default by format, rank and naive additions.

    The table shows the first 50 matches and says how many more there are (--limit 0 shows all);
    --json prints every match unless --limit is given.
    """
    key, dom = _tensor_key(fmt), _domain(domain)
    if limit is None:
        limit = 0 if as_json else DEFAULT_LIMIT
    with open_db(_db_path(group_db, db_here), readonly=True) as db:
        rows = db.list(key, dom, rank, sort=sort, limit=limit or None)
        total = db.count(key, dom, rank) if limit and len(rows) == limit else len(rows)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=None))
        return
    width = max([8, *(len(shown(r.key)) for r in rows)])
    click.echo(f"{'id':>6s} {'format':{width}s} {'rank':>4s} {'domain':6s} {'coeffs':6s} {'adds':>5s}  source")
    for r in rows:
        where = shown(r.run or r.source or "")
        click.echo(
            f"{r.id:6d} {shown(r.key):{width}s} {r.rank:4d} {r.domain:6s} {r.coefficients:6s} "
            f"{r.additions_naive:5d}  {where}"
        )
    if total > len(rows):
        click.echo(f"{len(rows)} of {total} scheme(s) shown; {total - len(rows)} more (--limit 0 shows all)")
    else:
        click.echo(f"{total} scheme(s)")


def _scheme_id(text: str) -> int:
    """A scheme id from the command line: a whole number from 1 to 2^63 - 1, else exit 2."""
    s = text.strip()
    if not s.isascii() or not s.isdigit():
        fail(f"bad scheme id {text!r}: expected a whole number such as 42 (see flipforge db list)")
    value = int(s)
    if not 1 <= value <= MAX_ID:
        fail(f"bad scheme id {text}: ids run from 1 to {MAX_ID} (see flipforge db list)")
    return value


@db_group.command(
    "show",
    short_help="Show one stored scheme with its provenance and metrics.",
    context_settings={"ignore_unknown_options": True},  # `db show -1` is a bad id, not an unknown option
)
@click.argument("scheme_id", metavar="ID")
@click.option(
    "--json", "as_json", is_flag=True, show_default="off", help="Print the row and the scheme as one JSON object."
)
@_db_option
@click.pass_obj
@friendly_errors
def show_command(group_db: str | None, scheme_id: str, as_json: bool, db_here: str | None) -> None:
    """Show one stored scheme: provenance, metrics and the scheme in native JSON.

    ID is a number from `flipforge db list`. Exit status: 0 shown, 1 no scheme with this id,
    2 a bad id or database.
    """
    ident = _scheme_id(scheme_id)
    with open_db(_db_path(group_db, db_here), readonly=True) as db:
        row = db.get(ident)
    if row is None:
        fail(f"no scheme with id {ident}", EXIT_FAIL)
        return
    if as_json:
        click.echo(json.dumps({**row.as_dict(), "scheme": json.loads(row.scheme_json)}))
        return
    for key, value in row.as_dict().items():
        if value is not None:
            click.echo(f"{key:18s} {shown(str(value))}")
    click.echo(json.dumps(json.loads(row.scheme_json)))


@db_group.command("best", short_help="Compare the best stored rank of each target with the literature.")
@click.option("--json", "as_json", is_flag=True, show_default="off", help="Print a JSON array, one object per target.")
@click.option(
    "--target-kind",
    type=click.Choice(["all", *TARGET_KINDS]),
    default="all",
    show_default=True,
    help="Only matrix multiplication, structured products (the flip-cpd paper's table), polynomial "
    "products or file tensors.",
)
@_db_option
@click.pass_obj
@friendly_errors
def best_command(group_db: str | None, as_json: bool, target_kind: str, db_here: str | None) -> None:
    """Per target: our best rank in each class (F2, F3, ZT, Z, Q) against the best known.

    The best known is the literature's value shipped with flipforge (with its citation in
    --json): matrix multiplication from the published tables, structured products (ug-444,
    ss-222, ...) from Khoruzhii, Gelß & Pokutta 2025; ? where the literature gives none. Marks:
    = we match it, ! we are below it (a new record), > we are behind, ? no literature value to
    compare with. Integer schemes also count for F2 and F3 (they hold mod p). Other target
    tensors get rows of their own (name[shape]#digest).

    \b
    Example: flipforge db best --target-kind structured
    """
    with open_db(_db_path(group_db, db_here), readonly=True) as db:
        rows = [r for r in db.best() if target_kind in ("all", r["kind"])]
    if as_json:
        click.echo(json.dumps(rows))
        return
    mark = {"match": "=", "new": "!", "behind": ">", "unknown": "?", "-": " "}
    width = max([8, *(len(shown(r["format"])) for r in rows)])
    click.echo(f"{'target':{width}s} " + " ".join(f"{c + ' ours/best':>16s}" for c in RANK_CLASSES))
    for row in rows:
        cells = []
        for cls in RANK_CLASSES:
            c = row[cls]
            ours = "-" if c["ours"] is None else str(c["ours"])
            best = "?" if c["best_known"] is None else str(c["best_known"])
            cells.append(f"{ours + '/' + best + ' ' + mark[c['status']]:>16s}")
        click.echo(f"{shown(row['format']):{width}s} " + " ".join(cells))


@db_group.command("export", short_help="Write stored schemes into a folder, one file per scheme.")
@click.argument("folder", metavar="DIR")
@_format_option
@_domain_option
@_rank_option
@click.option("--to", "to_fmt", default="native", show_default=True, help="Output format (see `flipforge formats`).")
@_db_option
@click.pass_obj
@friendly_errors
def export_command(
    group_db: str | None,
    folder: str,
    fmt: str | None,
    domain: str | None,
    rank: int | None,
    to_fmt: str,
    db_here: str | None,
) -> None:
    """Write stored schemes into DIR, one file each: <format>-r<rank>-<domain>-<id>.<ext>."""
    from flipforge.schemes.formats import get_format

    spec = get_format(to_fmt)
    if spec.writer is None:
        fail(f"format {to_fmt} is read-only")
    key, dom = _tensor_key(fmt), _domain(domain)
    with open_db(_db_path(group_db, db_here), readonly=True) as db:
        rows: list[StoredScheme] = db.list(key, dom, rank)
    out = Path(folder)
    if out.exists() and not out.is_dir():
        fail(f"{folder}: is a file, not a folder")
    try:
        for r in rows:
            write_schemes([r.scheme()], out / f"{r.format}-r{r.rank}-{r.domain}-{r.id}{spec.extensions[0]}", to_fmt)
    except OSError as exc:
        fail(f"{folder}: cannot write ({exc.strerror or exc})")
    click.echo(f"wrote {len(rows)} scheme(s) to {shown(str(out))}")
