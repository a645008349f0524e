"""The ``flipforge`` console command: one group, one module per subcommand."""

from __future__ import annotations

import contextlib
import errno
import sys

import click
from flipforge.schemes import FORMATS

from ._common import OneLineGroup, broken_pipe_exit, quiet_stdout
from .approximate_cmd import approximate_command
from .bench_cmd import bench_group
from .campaign_cmd import campaign_command
from .code_cmd import export_command, reduce_command
from .convert_cmd import convert_command
from .cost_cmd import cost_command
from .db_cmd import db_group
from .equiv_cmd import equiv_command
from .graph_cmd import graph_command
from .info_cmd import info_command
from .lift_cmd import lift_command
from .meta_cmd import meta_group
from .search_cmd import resume_command, runs_command, search_command
from .select_cmd import select_command
from .verify_cmd import verify_command

__all__ = ["cli", "main", "verify_scheme_main"]


@click.group(cls=OneLineGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="flipforge")
def cli() -> None:
    """flipforge: discover, prove and export fast bilinear (matrix multiplication) schemes.

    A scheme for <n,m,p> is a rank-r decomposition (U, V, W) of the matrix multiplication
    tensor; the third factor indexes C transposed (w[k*n+i] is the coefficient in C[i][k]).
    Every command reads all published formats (see `flipforge formats`).
    """


@cli.command("formats")
def formats_command() -> None:
    """List the scheme file formats flipforge reads and writes."""
    for f in FORMATS.values():
        rw = "read/write" if f.writer else "read"
        ext = ", ".join(e or "(none)" for e in f.extensions)
        click.echo(f"{f.name:14s} {rw:10s} {ext:14s} {f.description}")


cli.add_command(verify_command)
cli.add_command(info_command)
cli.add_command(convert_command)
cli.add_command(search_command)
cli.add_command(resume_command)
cli.add_command(runs_command)
cli.add_command(bench_group)
cli.add_command(db_group)
cli.add_command(reduce_command)
cli.add_command(export_command)
cli.add_command(cost_command)
cli.add_command(lift_command)
cli.add_command(approximate_command)
cli.add_command(equiv_command)
cli.add_command(graph_command)
cli.add_command(select_command)
cli.add_command(meta_group)
cli.add_command(campaign_command)


def _safe_streams() -> None:
    """Never crash while printing: a character stdout/stderr cannot encode (a file name that is not
    UTF-8, a terminal in ASCII) is written as an escape instead of raising UnicodeEncodeError."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and getattr(stream, "errors", "strict") == "strict":
            with contextlib.suppress(ValueError, OSError):  # a stream that cannot be reconfigured stays
                reconfigure(errors="backslashreplace")


_OUTPUT_ERRNOS = {errno.ENOSPC, errno.EIO, errno.EPIPE, errno.EFBIG, errno.EDQUOT, errno.EBADF}


def _run(entry: click.Command, prog: str) -> None:
    """Run a click entry point: bad input is handled inside; an output that cannot be written (a
    full disk, an I/O error) is one line and exit 3; a reader that went away exits quietly with
    the status decided so far; anything else is a bug, still one line and no traceback."""
    _safe_streams()
    code: int | str | None = 0
    try:
        entry(prog_name=prog)
    except SystemExit as exc:
        code = exc.code
    except BrokenPipeError:
        broken_pipe_exit()
    except OSError as exc:
        _output_error(prog, exc)
    except Exception as exc:  # a bug, not bad input: still one line, no traceback
        _internal(prog, exc)
    try:
        sys.stdout.flush()  # what is still buffered: a full disk shows here, not at interpreter exit
    except BrokenPipeError:
        quiet_stdout()
    except OSError as exc:
        _output_error(prog, exc)
    sys.exit(code)


def _output_error(prog: str, exc: OSError) -> None:
    if exc.errno not in _OUTPUT_ERRNOS:
        _internal(prog, exc)
    quiet_stdout()
    with contextlib.suppress(OSError):
        click.echo(f"{prog}: error: cannot write the output: {exc.strerror or exc}", err=True)
    sys.exit(3)


def _internal(prog: str, exc: Exception) -> None:
    with contextlib.suppress(OSError):
        click.echo(f"{prog}: internal error: {type(exc).__name__}: {exc} (please report it)", err=True)
    sys.exit(3)


def main() -> None:
    """Entry point of ``flipforge``."""
    _run(cli, "flipforge")


def verify_scheme_main() -> None:
    """Entry point of ``verify-scheme``, the same as ``flipforge verify``."""
    _run(verify_command, "verify-scheme")
