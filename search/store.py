"""The scheme database as flipforge's commands open it: with the exact verifier plugged in."""

from __future__ import annotations

from pathlib import Path

from flipforge.schemes.db import SchemeDB, default_db_path
from flipforge.verify import verify

__all__ = ["open_db"]


def open_db(path: str | Path | None = None, readonly: bool = False) -> SchemeDB:
    """The database at ``path`` (default ``$FLIPFORGE_DB`` or runs/flipforge.db); it verifies every
    scheme it is given before storing it."""
    return SchemeDB(path or default_db_path(), verify, readonly=readonly)
