"""The kernels' domain codes (kept free of numba so the command line starts fast)."""

from __future__ import annotations

__all__ = ["F2", "F3", "ZT", "DOMAIN_CODES"]

F2, F3, ZT = 0, 1, 2
DOMAIN_CODES = {"F2": F2, "F3": F3, "ZT": ZT}
