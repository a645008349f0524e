"""What every subcommand shares: error handling, scheme sources (files, folders, built-ins), output."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import wraps
from pathlib import Path
from typing import Any

import click
from flipforge.schemes import (
    BUILTIN_PREFIX,
    FlipforgeError,
    Scheme,
    TensorError,
    builtin_scheme,
    iter_scheme_files,
    parse_target,
    read_entries,
)
from flipforge.schemes.formats import as_target

__all__ = [
    "EXIT_OK",
    "EXIT_FAIL",
    "EXIT_BAD_INPUT",
    "Source",
    "iter_sources",
    "one_source",
    "friendly_errors",
    "fail",
    "note_exit",
    "broken_pipe_exit",
    "from_option",
    "out_option",
    "emit_json",
    "shown",
    "first_sentence",
    "HelpGroup",
    "OneLineCommand",
    "OneLineGroup",
]

EXIT_OK, EXIT_FAIL, EXIT_BAD_INPUT = 0, 1, 2


def shown(text: object) -> str:
    """A path or a message as printable text: a file name that is not UTF-8 (its bytes held as
    surrogate escapes, or given as bytes) shows those bytes as ``\\xNN`` instead of crashing output."""
    s = os.fsdecode(text) if isinstance(text, (bytes, os.PathLike)) else str(text)
    try:
        raw = s.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # a lone surrogate that is no escaped byte
        return s.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")


def from_option(many: bool = False, dest: str = "fmt", target: bool = True) -> Callable[[Any], Any]:
    """``--from FMT``: read the file (``many``: every file) as this format instead of detecting it;
    with it (``target``) ``--target NAME``, what the files hold where they cannot say
    (``iter_sources`` reads it)."""
    what = "every file" if many else "the file"
    from_fmt = click.option(
        "--from",
        dest,
        default=None,
        metavar="FMT",
        show_default="detected from each file" if many else "detected",
        help=f"Read {what} as this format (see `flipforge formats`).",
    )
    target_option = click.option(
        "--target",
        default=None,
        metavar="TARGET",
        expose_value=False,
        callback=_remember_target,
        show_default="from the file",
        help="What the schemes compute (3x3x3, ug-444, pm-22): flip-cpd files are read as this target "
        "instead of the one their name says; any other scheme of another target is refused.",
    )
    return (lambda func: from_fmt(target_option(func))) if target else from_fmt


def _remember_target(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        try:
            if not parse_target(value).is_named:
                raise TensorError("name a target (3x3x3, ug-444, pm-22), not a tensor file")
        except FlipforgeError as exc:
            raise click.BadParameter(str(exc)) from None
    ctx.meta["flipforge.target"] = value


def _current_target() -> str | None:
    ctx = click.get_current_context(silent=True)
    return ctx.meta.get("flipforge.target") if ctx is not None else None


def out_option(default_text: str, help_text: str) -> Callable[[Any], Any]:
    """``--out/-o FILE``: where a command writes its one result (``default_text`` when not given)."""
    return click.option("--out", "-o", default=None, show_default=default_text, metavar="FILE", help=help_text)


def fail(message: str, code: int = EXIT_BAD_INPUT) -> None:
    """One clear line on stderr and the exit code (2 = bad input)."""
    one_line = " ".join(part.strip() for part in shown(message).splitlines() if part.strip())
    click.echo(f"flipforge: error: {one_line}", err=True)
    sys.exit(code)


_exit_so_far = EXIT_OK


def note_exit(code: int) -> None:
    """The exit status a command has decided so far (1 once a scheme is invalid, ...): kept when
    the reader of its output goes away (``verify ... | head -1`` still exits 1)."""
    global _exit_so_far
    _exit_so_far = max(_exit_so_far, code)


def quiet_stdout() -> None:
    """Point stdout at /dev/null: after a broken pipe, Python's final flush must not fail again."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


def broken_pipe_exit() -> None:
    """The reader of stdout went away: exit quietly with the status decided so far."""
    quiet_stdout()
    sys.exit(_exit_so_far)


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
            broken_pipe_exit()

    return wrapper


_ABBREVIATIONS = {"e.g.", "i.e.", "etc.", "cf.", "vs.", "resp.", "approx."}


def first_sentence(text: str | None) -> str:
    """The first sentence of a docstring's first paragraph, whole ("e.g." does not end it)."""
    paragraph = (text or "").strip().split("\n\n")[0]
    words = [w for w in paragraph.split() if w != "\b"]
    for i, word in enumerate(words):
        if word.endswith(".") and word.lstrip("(").lower() not in _ABBREVIATIONS:
            return " ".join(words[: i + 1])
    return " ".join(words)


class HelpGroup(click.Group):
    """A command group whose command list shows each command's first whole sentence, wrapped
    (click's default cuts it to the terminal width, or at "e.g.")."""

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = []
        for name in self.list_commands(ctx):
            cmd = self.get_command(ctx, name)
            if cmd is None or cmd.hidden:
                continue
            rows.append((name, cmd.short_help or first_sentence(cmd.help)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class OneLineCommand(click.Command):
    """A command whose usage errors (a bad option value, a missing argument) are one line
    ``flipforge: error: ...`` and exit status 2, like every other bad input."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.UsageError as exc:
            fail(exc.format_message())
            raise  # not reached: fail exits


_NO_ARGS_IS_HELP: Any = getattr(click.exceptions, "NoArgsIsHelpError", ())  # click >= 8.2: a group alone shows help


class OneLineGroup(HelpGroup):
    """A group whose usage errors (an unknown subcommand, a bad option of the group itself) are
    one line ``flipforge: error: ...`` and exit 2; its commands made with ``@group.command`` are
    OneLineCommands. A group given no arguments still shows its help."""

    command_class = OneLineCommand

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except _NO_ARGS_IS_HELP:
            raise
        except click.UsageError as exc:
            fail(exc.format_message())
            raise  # not reached: fail exits

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        try:
            return super().resolve_command(ctx, args)
        except click.UsageError as exc:
            fail(exc.format_message())
            raise  # not reached: fail exits


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


def iter_sources(paths: tuple[str, ...], fmt: str | None) -> Iterator[Source]:
    """Every scheme in the given files and folders (walked recursively) and built-ins.

    A file that cannot be read (or any entry of it) yields one Source with ``error`` set and
    the others go on. Paths and errors are printable text (``shown``), whatever bytes a name holds.
    """
    for raw in paths:
        if raw.startswith(BUILTIN_PREFIX):
            try:
                entry = builtin_scheme(raw)
                wanted = _current_target()
                if wanted is not None:
                    entry = as_target(entry, parse_target(wanted), raw)
                yield Source(raw, 0, 1, entry) if isinstance(entry, Scheme) else Source(raw, 0, 1, None, shown(entry))
            except FlipforgeError as exc:
                yield Source(shown(raw), 0, 1, None, shown(exc))
            continue
        if not Path(raw).exists() and not Path(raw).is_symlink():
            yield Source(shown(raw), 0, 1, None, f"{shown(raw)}: no such file or folder")
            continue
        found = False
        for path in iter_scheme_files([raw]):
            found = True
            label = shown(path)
            try:
                entries = read_entries(path, fmt, _current_target())
            except FlipforgeError as exc:
                yield Source(label, 0, 1, None, shown(exc))
                continue
            for i, entry in enumerate(entries):
                if isinstance(entry, FlipforgeError):
                    yield Source(label, i, len(entries), None, shown(entry))
                    continue
                if label != str(path) and entry.meta.get("source") == str(path):
                    entry = entry.with_meta(source=label)
                yield Source(label, i, len(entries), entry)
        if not found:
            yield Source(shown(raw), 0, 1, None, f"{shown(raw)}: no scheme files found in this folder")


def emit_json(rows: list[dict[str, Any]]) -> None:
    """A JSON array with one object per line: valid JSON that is also easy to grep."""
    body = ",\n".join("  " + json.dumps(r, default=str) for r in rows)
    click.echo("[\n" + body + "\n]" if rows else "[]")


def one_source(path: str, fmt: str | None) -> Source:
    """The single readable scheme in PATH (a command that takes one scheme), or exit 2 saying why."""
    sources = list(iter_sources((path,), fmt))
    if len(sources) != 1:
        fail(
            f"{shown(path)} holds {len(sources)} schemes; give one file with one scheme"
            " (flipforge convert splits files)"
        )
    if sources[0].scheme is None:
        fail(f"cannot read {sources[0].error}")
    return sources[0]
