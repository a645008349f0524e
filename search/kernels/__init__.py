"""The numba kernels of the flip-graph walk: plain numpy arrays in, plain arrays out.

``arith`` (F2/F3/ZT arithmetic on (+1, -1) uint64 bitplanes), ``index`` (the walk state in one
int64 arena), ``moves`` (flip, reduction, plus transition, split) and ``walk`` (the walk policies
as compiled loops). Nothing here knows Scheme objects, runs or files; this package imports nothing
itself, so that loading the CLI never compiles or loads numba code.
"""
