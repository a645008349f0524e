"""Numba's on-disk cache, cleared when the kernel sources it was compiled from have changed.

numba checks a cached kernel against its own file's time stamp only: a kernel that calls a
kernel of another file (``walk`` calls ``moves.flip``; the cost kernels call the CSE kernels)
or reads another file's constants keeps its stale machine code after an upgrade in place
(``git pull`` in an editable install). Each kernel folder keeps, beside the cache in its
``__pycache__``, a digest of the sources its kernels depend on; when they differ, the folder's
cached kernels are deleted before any is loaded, and numba compiles them afresh. A cache moved
elsewhere with ``NUMBA_CACHE_DIR`` is not touched.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

__all__ = ["kernel_sources", "refresh"]

STAMP = "flipforge-kernels.sha256"


def kernel_sources(folder: Path) -> list[Path]:
    """The Python files of ``folder`` that hold cached numba kernels."""
    return [p for p in sorted(folder.glob("*.py")) if b"cache=True" in p.read_bytes()]


def refresh(cache_dir: Path, sources: Iterable[Path]) -> bool:
    """Delete the numba cache files in ``cache_dir`` when the digest of ``sources`` is not the one
    recorded there (no record counts as a change), then record it. True when files were deleted.
    A folder that cannot be written is left alone: numba cannot cache there either."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return False
    digest = hashlib.sha256()
    for path in sorted(set(sources)):
        digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    stamp = cache_dir / STAMP
    try:
        if stamp.read_text().strip() == digest.hexdigest():
            return False
    except OSError:
        pass
    stale = [p for p in cache_dir.glob("*.nb[ic]")] if cache_dir.is_dir() else []
    try:
        for p in stale:
            p.unlink(missing_ok=True)
        cache_dir.mkdir(exist_ok=True)
        tmp = cache_dir / f"{STAMP}.{os.getpid()}"
        tmp.write_text(digest.hexdigest() + "\n")
        os.replace(tmp, stamp)
    except OSError:
        return False
    return bool(stale)


HERE = Path(__file__).resolve().parent
refresh(HERE / "__pycache__", kernel_sources(HERE))
