"""Where workers run: ``local`` processes (the default) or a ``ray`` cluster, behind one seam."""

from __future__ import annotations

from flipforge.schemes import SchemeError

from .base import (
    MAX_RESPAWNS,
    SHUTDOWN_WAIT,
    Backend,
    Done,
    Event,
    Failed,
    Found,
    Lost,
    Pools,
    Status,
    WorkerLoop,
    WorkerSpec,
    merge_pools,
)

__all__ = [
    "BACKENDS",
    "get_backend",
    "Backend",
    "Done",
    "Event",
    "Failed",
    "Found",
    "Lost",
    "Pools",
    "Status",
    "WorkerLoop",
    "WorkerSpec",
    "merge_pools",
    "MAX_RESPAWNS",
    "SHUTDOWN_WAIT",
]

BACKENDS = ("local", "ray")
RAY_INSTALL = "pip install 'flipforge[ray]'"


def get_backend(name: str = "local", address: str | None = None) -> Backend:
    """A backend by name: ``local`` (processes on this machine) or ``ray`` (a local Ray instance,
    or the cluster at ``address``). SchemeError for an unknown name, or for Ray when not installed."""
    if name == "local":
        if address is not None:
            raise SchemeError("--address is for --backend ray (the local backend runs on this machine)")
        from .local import LocalBackend

        return LocalBackend()
    if name == "ray":
        try:
            import ray  # noqa: F401
        except ImportError:
            raise SchemeError(f"--backend ray needs Ray, which is not installed: {RAY_INSTALL}") from None
        from .ray import RayBackend

        return RayBackend(address)
    raise SchemeError(f"no backend named {name!r} (known: {', '.join(BACKENDS)})")
