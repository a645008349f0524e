"""Checks made before any scheme file is read: a regular, readable file of sane size.

A FIFO or a device (``/dev/zero``) would block or never end, a huge file or a crafted header
(``.npy`` shapes, ``.npz`` members, ``.sms`` sizes) would exhaust memory: every reader calls these
first, and each refusal is a FormatError that names the file.
This module imports only numpy and the error classes, so ``schemes.tensor`` may use it too.
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
from pathlib import Path
from typing import BinaryIO

import numpy as np

from ..errors import FormatError
from ..files import special_kind

__all__ = [
    "MAX_INPUT_BYTES",
    "MAX_DENSE_ENTRIES",
    "MAX_NPZ_MEMBERS",
    "check_input_file",
    "check_folder",
    "check_dense_size",
    "load_npy",
    "npy_header",
    "check_npz",
]

MAX_INPUT_BYTES = 256 * 1024 * 1024
"""The largest scheme file read (and the most an .npy or .npz may hold once decompressed)."""

MAX_DENSE_ENTRIES = 1 << 24
"""The most coefficients one factor matrix may announce (16M: sides up to 64 give at most
rank 64^3 = 262144 terms of width 4096 = 2^30 entries, far beyond any known scheme)."""

MAX_NPZ_MEMBERS = 100_000


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.0f} MB"


def check_input_file(path: Path, max_bytes: int = MAX_INPUT_BYTES) -> int:
    """Refuse anything that is not a regular, readable file of at most ``max_bytes``; its size."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        why = "a link to a missing file" if os.path.islink(path) else "no such file"
        raise FormatError(f"{path}: {why}") from None
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        check_folder(path)
        raise FormatError(f"{path}: is a directory (name the files, or use a command that walks folders)")
    if not stat.S_ISREG(st.st_mode):
        raise FormatError(f"{path}: not a regular file ({special_kind(st.st_mode)}); refusing to read it")
    if st.st_size > max_bytes:
        raise FormatError(f"{path}: too large to be a scheme file ({_mb(st.st_size)}; at most {_mb(max_bytes)})")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        raise FormatError(f"{path}: cannot read ({exc.strerror or exc})") from None
    os.close(fd)
    return st.st_size


def check_folder(path: Path) -> None:
    """Raise a FormatError naming a folder that cannot be listed."""
    try:
        with os.scandir(path) as it:
            next(it, None)
    except OSError as exc:
        raise FormatError(f"{path}: cannot read this folder ({exc.strerror or exc})") from None


def check_dense_size(rows: int, cols: int, where: str, limit: int = MAX_DENSE_ENTRIES) -> None:
    """Refuse a matrix shape before it is allocated: sizes must be >= 0 and rows·cols <= ``limit``."""
    if rows < 0 or cols < 0:
        raise FormatError(f"{where}: negative matrix size {rows} x {cols}")
    if rows * cols > limit:
        raise FormatError(f"{where}: a {rows} x {cols} matrix is too large for a scheme (at most {limit} entries)")


def npy_header(fh: BinaryIO, where: str) -> tuple[tuple[int, ...], bool, np.dtype]:
    """(shape, fortran order, dtype) of an .npy stream, read without trusting it."""
    try:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=10_000)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=10_000)
        else:
            raise ValueError(f"unsupported .npy version {version}")
    except (ValueError, TypeError, OSError, EOFError, SyntaxError, MemoryError, RecursionError) as exc:
        raise FormatError(f"{where}: not a readable .npy array ({_why(exc)})") from None
    if any(not isinstance(d, int) or d < 0 for d in shape):
        raise FormatError(f"{where}: not a readable .npy array (bad shape {shape})")
    return tuple(shape), bool(fortran), dtype


def _why(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."


def _data_bytes(shape: tuple[int, ...], dtype: np.dtype) -> int:
    return math.prod(shape) * dtype.itemsize


def load_npy(path: Path, max_bytes: int = MAX_INPUT_BYTES) -> np.ndarray:
    """An .npy array (no pickles) whose header was checked against the file size and ``max_bytes``."""
    size = check_input_file(path, max_bytes)
    try:
        with open(path, "rb") as fh:
            shape, fortran, dtype = npy_header(fh, str(path))
            if dtype.hasobject:
                raise FormatError(f"{path}: .npy arrays of Python objects are not read (they are pickles)")
            need = _data_bytes(shape, dtype)
            have = size - fh.tell()
            if need > have:
                raise FormatError(f"{path}: truncated .npy array (the header announces {need} bytes, {have} follow)")
            data = fh.read(need)
        arr = np.frombuffer(data, dtype=dtype)
        return arr.reshape(shape, order="F" if fortran else "C")
    except FormatError:
        raise
    except (ValueError, TypeError, OSError, EOFError, MemoryError) as exc:
        raise FormatError(f"{path}: not a readable .npy array ({_why(exc)})") from None


def check_npz(zf: zipfile.ZipFile, where: str, max_bytes: int = MAX_INPUT_BYTES) -> None:
    """Refuse a zip bomb: count members and add up their declared uncompressed sizes (the zip
    reader never returns more than a member declares), and check each .npy header against its member."""
    infos = zf.infolist()
    if len(infos) > MAX_NPZ_MEMBERS:
        raise FormatError(f"{where}: {len(infos)} members in one .npz (at most {MAX_NPZ_MEMBERS})")
    total = sum(info.file_size for info in infos)
    if total > max_bytes:
        raise FormatError(f"{where}: the .npz would decompress to {_mb(total)} (at most {_mb(max_bytes)})")
    for info in infos:
        if not info.filename.endswith(".npy"):
            continue
        with zf.open(info) as fh:
            shape, _, dtype = npy_header(fh, f"{where} [{info.filename}]")
            if not dtype.hasobject and _data_bytes(shape, dtype) > info.file_size:
                raise FormatError(
                    f"{where} [{info.filename}]: the header announces {_data_bytes(shape, dtype)} bytes, "
                    f"the member holds {info.file_size}"
                )
