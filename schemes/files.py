"""Naming what a path is when it is not a regular file, so that every reader refuses it alike.

FIFOs, devices and sockets are never opened for reading (a FIFO would block, a device never
ends); the readers, the run directory and the database all say which kind they refused.
"""

from __future__ import annotations

import stat

__all__ = ["special_kind"]

_KINDS = {
    stat.S_IFIFO: "a FIFO",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


def special_kind(mode: int) -> str:
    """``"a FIFO"``, ``"a character device"``, ... for the ``st_mode`` of something that is not a
    regular file (``"special"`` for a kind without a name here)."""
    return _KINDS.get(stat.S_IFMT(mode), "special")
