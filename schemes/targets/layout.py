"""How the three index ranges of a named target map to matrix entries.

A scheme's factor vectors are indexed by parameters (of A, B or X) and by outputs (of C); export,
explanations and recursion analysis need to know which matrix entries each index stands for.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Operand", "Layout", "matmul_layout"]


@dataclass(frozen=True)
class Operand:
    """How one factor space of a target maps to the entries of a matrix (or a coefficient vector).

    ``cells[idx]`` lists every matrix entry ``(i, j, sign)`` equal to ``sign`` times the value of
    index ``idx``; an output's value is read at its canonical cell. ``dropped`` outputs (suffixes
    a/b/c) have a zero tensor slice: they are not computed.
    """

    name: str
    rows: int
    cols: int
    structure: str
    cells: tuple[tuple[tuple[int, int, int], ...], ...]
    dropped: frozenset[int] = frozenset()

    def size(self) -> int:
        """The number of indices of this factor space."""
        return len(self.cells)

    def read_index(self, idx: int) -> tuple[int, int]:
        """The canonical cell of ``idx`` (its first cell with sign +1): where to read it from a full matrix."""
        for i, j, sign in self.cells[idx]:
            if sign == 1:
                return i, j
        raise ValueError(f"{self.name} index {idx} has no cell with sign +1")

    def entry_name(self, idx: int) -> str:
        """A readable name such as ``a12`` (1-based row and column), ``a1_12`` when a side is >= 10,
        or ``a3`` for a polynomial coefficient."""
        letter = self.name.lower()
        if self.structure == "p":
            return f"{letter}{idx}"
        i, j = self.read_index(idx)
        if self.rows >= 10 or self.cols >= 10:
            return f"{letter}{i + 1}_{j + 1}"
        return f"{letter}{i + 1}{j + 1}"

    def matrix(self, values) -> list[list]:
        """The full ``rows x cols`` matrix whose parameters are ``values`` (zeros where no index maps)."""
        full = [[0] * self.cols for _ in range(self.rows)]
        for idx, cells in enumerate(self.cells):
            for i, j, sign in cells:
                full[i][j] = sign * values[idx]
        return full


@dataclass(frozen=True)
class Layout:
    """The maps of a target's three factor spaces: ``left`` and ``right`` inputs, ``out`` outputs.

    ``same_operand`` is True for X·Xᵀ, where left and right both index the same matrix X (the
    right factor of the product is then Xᵀ).
    """

    left: Operand
    right: Operand
    out: Operand
    same_operand: bool = False


def general_cells(rows: int, cols: int) -> tuple[tuple[tuple[int, int, int], ...], ...]:
    """Row-major cells of a general matrix: index ``i*cols + j`` is entry (i, j)."""
    return tuple(((i, j, 1),) for i in range(rows) for j in range(cols))


def matmul_layout(n: int, m: int, p: int) -> Layout:
    """The layout of <n,m,p> in the cyclic convention: A and B row-major, output ``k*n + i`` is C[i][k]."""
    out = tuple(((i, k, 1),) for k in range(p) for i in range(n))
    return Layout(
        Operand("A", n, m, "g", general_cells(n, m)),
        Operand("B", m, p, "g", general_cells(m, p)),
        Operand("C", n, p, "g", out),
    )
