"""The numba kernels of the flip-graph walk: plain numpy arrays in, plain arrays out.

``arith`` (F2/F3/ZT arithmetic on (+1, -1) uint64 bitplanes), ``index`` (the walk state in one
int64 arena), ``moves`` (flip, reduction, plus transition, split) and ``walk`` (the walk policies
as compiled loops). Nothing here knows Scheme objects, runs or files. Importing any kernel module
runs this first, and all it does is clear this folder's numba cache when a kernel source it
depends on has changed (``flipforge.schemes.kernel_cache``: the kernels here call each other and
the CSE kernels of ``schemes`` and read the domain codes of ``search/params.py``); it loads no
numba code, so loading the CLI still compiles nothing.
"""

from pathlib import Path

from flipforge.schemes import kernel_cache

HERE = Path(__file__).resolve().parent
SOURCES = [
    *kernel_cache.kernel_sources(HERE),
    *kernel_cache.kernel_sources(Path(kernel_cache.__file__).resolve().parent),
    HERE.parent / "params.py",
]
kernel_cache.refresh(HERE / "__pycache__", SOURCES)
