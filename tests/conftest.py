"""Shared fixtures: the reference data beside the repository (tests skip when it is absent)."""

from __future__ import annotations

import os
import shutil
import subprocess
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


def denied_runner(probe: Path) -> list[str] | None:
    """A command prefix under which ``probe`` (a mode-000 file or folder) cannot be read: nothing for
    a normal user; as root, setpriv dropping the capabilities that let root read anything; None
    when this machine offers no way (the caller skips)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if not setpriv:
        return None
    prefix = [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-dac_override,-dac_read_search"]
    reader = ["ls"] if probe.is_dir() else ["cat"]
    try:
        check = subprocess.run([*prefix, *reader, str(probe)], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return prefix if check.returncode != 0 else None


@pytest.fixture(autouse=True)
def _signal_state_is_restored(request):
    """Each test leaves SIGINT/SIGTERM handlers and the signal mask as it found them (a search
    started later inherits an ignored or blocked signal and could not be stopped); a test that
    changed them is named in the warning summary."""
    import signal
    import warnings

    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    yield
    changed = [sig.name for sig, h in handlers.items() if signal.getsignal(sig) is not h]
    if signal.pthread_sigmask(signal.SIG_BLOCK, []) != mask:
        changed.append("mask")
    for sig, h in handlers.items():
        signal.signal(sig, h if h is not None else signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    if changed:
        warnings.warn(f"{request.node.nodeid} changed the signal state: {', '.join(changed)}", stacklevel=1)


_WARM_UP: list[subprocess.Popen] = []


def pytest_sessionstart(session):
    """Compile the numba kernels on the second core while the first tests run (tests/warm_kernels.py):
    a fresh clone would otherwise compile them one by one on the test's own core."""
    if os.environ.get("FLIPFORGE_NO_WARM_UP"):
        return
    script = Path(__file__).with_name("warm_kernels.py")
    _WARM_UP.append(
        subprocess.Popen(
            [sys.executable, str(script)],
            cwd=script.parent,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    )


def pytest_sessionfinish(session, exitstatus):
    for proc in _WARM_UP:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def pytest_collection_modifyitems(config, items):
    """The real-cluster Ray tests run last: Ray leaves threads and helper processes in the pytest
    process until it exits, and no other test (the Ctrl-C tests above all) should run beside them."""
    items.sort(key=lambda item: item.path.name == "test_backend_ray.py")
