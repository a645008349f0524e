"""Clears this folder's numba cache when any kernel source it depends on has changed (see
``flipforge.schemes.kernel_cache``): the search kernels call each other, the CSE kernels of
``schemes`` and read the domain codes of ``search/params.py``. Imported first by every kernel
module here, so it runs once per process before any kernel is loaded."""

from __future__ import annotations

from pathlib import Path

from flipforge.schemes import kernel_cache
from flipforge.schemes.kernel_cache import kernel_sources, refresh

HERE = Path(__file__).resolve().parent
SCHEMES = Path(kernel_cache.__file__).resolve().parent
SOURCES = [*kernel_sources(HERE), *kernel_sources(SCHEMES), HERE.parent / "params.py"]
refresh(HERE / "__pycache__", SOURCES)
