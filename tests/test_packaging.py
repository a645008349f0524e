"""The wheel that `pip install .` builds maps the code folders into the flipforge namespace."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_wheel_holds_the_flipforge_namespace(tmp_path: Path):
    out = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("flipforge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for module in (
        "flipforge/schemes/scheme.py",
        "flipforge/schemes/formats/native.py",
        "flipforge/verify/brent.py",
        "flipforge/search/cli/main.py",
    ):
        assert module in names
    assert not any(n.startswith(("schemes/", "verify/", "search/", "tests/")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "flipforge = flipforge.search.cli.main:main" in text and "verify-scheme" in text
