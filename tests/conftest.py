"""Shared fixtures: the reference data beside the repository (tests skip when it is absent)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

REFERENCE = Path(
    os.environ.get("FLIPFORGE_REFERENCE", Path(__file__).resolve().parents[1].parent / "shared" / "reference")
)


@pytest.fixture(scope="session")
def reference() -> Path:
    if not (REFERENCE / "scheme_index.csv").exists():
        pytest.skip(f"reference data not found at {REFERENCE} (set FLIPFORGE_REFERENCE)")
    return REFERENCE


@pytest.fixture(scope="session")
def flipforge_cmd() -> list[str]:
    """The installed console command, as users start it."""
    exe = Path(sys.executable).parent / "flipforge"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("flipforge")
    if not found:
        pytest.skip("the flipforge command is not installed")
    return [found]
