"""The Backend contract (tests/contract_backend.py) for the local backend: forked processes."""

from __future__ import annotations

import os
import signal

import pytest
from contract_backend import BackendContract
from flipforge.search.backends.local import LocalBackend


class TestLocalBackend(BackendContract):
    @pytest.fixture
    def backend_factory(self):  # noqa: ANN201
        return LocalBackend

    def kill_one_worker(self, backend: LocalBackend, worker: int) -> None:
        proc = backend.procs[worker]
        assert proc.is_alive()
        os.kill(proc.pid, signal.SIGKILL)
        proc.join(timeout=10)
        assert not proc.is_alive()

    def assert_no_workers_left(self, backend: LocalBackend) -> None:
        alive = [p.pid for p in backend.procs if p.is_alive()]
        assert not alive, f"worker processes still alive after stop(): {alive}"
        for p in backend.procs:  # reaped, not zombies
            assert p.exitcode is not None
