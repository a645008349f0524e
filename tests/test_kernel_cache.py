"""numba's cache is cleared when a kernel source it depends on changes (an upgrade in place)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flipforge.schemes.kernel_cache import STAMP, kernel_sources, refresh


def _package(tmp_path: Path) -> tuple[Path, list[Path]]:
    (tmp_path / "moves.py").write_text("@njit(cache=True)\ndef flip(): return 1\n")
    (tmp_path / "walk.py").write_text("@njit(cache=True)\ndef walk(): return flip()\n")
    (tmp_path / "plain.py").write_text("x = 1\n")
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    return cache, kernel_sources(tmp_path)


def _cached(cache: Path) -> None:
    for name in ("walk.walk-2.py311.nbi", "walk.walk-2.py311.1.nbc", "plain.cpython-311.pyc"):
        (cache / name).write_bytes(b"x")


def test_a_changed_callee_in_another_file_clears_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    cache, sources = _package(tmp_path)
    assert [p.name for p in sources] == ["moves.py", "walk.py"]  # only files with cached kernels
    _cached(cache)
    assert refresh(cache, sources)  # no record yet: whatever is cached may be stale
    assert sorted(p.name for p in cache.iterdir()) == sorted(["plain.cpython-311.pyc", STAMP])
    _cached(cache)
    assert not refresh(cache, sources)  # same sources: the cache stays
    assert (cache / "walk.walk-2.py311.1.nbc").exists()
    (tmp_path / "moves.py").write_text("@njit(cache=True)\ndef flip(): return 2\n")  # walk.py is unchanged
    assert refresh(cache, sources)
    assert not any(p.suffix in (".nbi", ".nbc") for p in cache.iterdir())
    assert (cache / "plain.cpython-311.pyc").exists()


def test_a_cache_moved_by_numba_cache_dir_is_not_touched(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache, sources = _package(tmp_path)
    _cached(cache)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert not refresh(cache, sources)
    assert (cache / "walk.walk-2.py311.nbi").exists() and not (cache / STAMP).exists()


def test_the_search_kernels_record_the_sources_they_were_loaded_with(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    from flipforge.search import kernels
    from flipforge.search.kernels import walk  # noqa: F401

    names = {p.name for p in kernels.SOURCES}
    assert {"walk.py", "moves.py", "cse_kernels.py", "params.py"} <= names
    assert not refresh(kernels.HERE / "__pycache__", kernels.SOURCES)  # already recorded at import
