"""What every subcommand shares: error handling, scheme sources (files, folders, built-ins), output."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any

import click
from flipforge.schemes import FlipforgeError, FormatError, Scheme, iter_scheme_files, read_entries

__all__ = [
    "EXIT_OK",
    "EXIT_FAIL",
    "EXIT_BAD_INPUT",
    "Source",
    "iter_sources",
    "one_source",
    "friendly_errors",
    "fail",
    "emit_json",
]

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2
BUILTIN_PREFIX = "builtin:"


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    """One clear line on stderr and the exit code (2 = bad input)."""
    click.echo(f"flipforge: error: {message}", err=True)
    sys.exit(code)


def friendly_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn FlipforgeErrors into one line + exit 2, and never show a traceback to a user."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FlipforgeError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            click.echo("flipforge: interrupted", err=True)
            sys.exit(130)
        except BrokenPipeError:
            sys.exit(0)

    return wrapper


@dataclass
class Source:
    """One scheme (or one unreadable entry) with where it came from."""

    path: str
    index: int
    count: int
    scheme: Scheme | None
    error: str | None = None

    @property
    def label(self) -> str:
        return self.path if self.count <= 1 else f"{self.path}[{self.index}]"


def _builtin(name: str) -> Scheme:
    spec = name[len(BUILTIN_PREFIX) :]
    if spec == "strassen":
        return Scheme.strassen()
    if spec == "winograd":
        return Scheme.strassen_winograd()
    if spec.startswith("naive:"):
        return Scheme.naive(spec[len("naive:") :])
    raise FormatError(f"unknown built-in {name!r}: use builtin:strassen, builtin:winograd or builtin:naive:NxMxP")


def iter_sources(paths: tuple[str, ...], fmt: str | None) -> Iterator[Source]:
    """Every scheme in the given files and folders (walked recursively) and built-ins.

    A file that cannot be read yields one Source with ``error`` set; the others go on.
    """
    for raw in paths:
        if raw.startswith(BUILTIN_PREFIX):
            try:
                yield Source(raw, 0, 1, _builtin(raw))
            except FlipforgeError as exc:
                yield Source(raw, 0, 1, None, str(exc))
            continue
        if not Path(raw).exists():
            yield Source(raw, 0, 1, None, f"{raw}: no such file or folder")
            continue
        found = False
        for path in iter_scheme_files([raw]):
            found = True
            try:
                entries = read_entries(path, fmt)
            except FlipforgeError as exc:
                yield Source(str(path), 0, 1, None, str(exc))
                continue
            for i, entry in enumerate(entries):
                if isinstance(entry, FlipforgeError):
                    yield Source(str(path), i, len(entries), None, str(entry))
                else:
                    yield Source(str(path), i, len(entries), entry)
        if not found:
            yield Source(raw, 0, 1, None, f"{raw}: no scheme files found in this folder")


def emit_json(rows: list[dict[str, Any]]) -> None:
    """A JSON array with one object per line: valid JSON that is also easy to grep."""
    body = ",\n".join("  " + json.dumps(r, default=str) for r in rows)
    click.echo("[\n" + body + "\n]" if rows else "[]")


def one_source(path: str, fmt: str | None) -> Source:
    """The single readable scheme in PATH (a command that takes one scheme), or exit 2 saying why."""
    sources = list(iter_sources((path,), fmt))
    if len(sources) != 1:
        fail(f"{path} holds {len(sources)} schemes; give one file with one scheme (flipforge convert splits files)")
    if sources[0].scheme is None:
        fail(f"cannot read {sources[0].error}")
    return sources[0]
