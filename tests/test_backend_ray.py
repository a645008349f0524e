"""The ``ray`` backend on a real Ray cluster: ``ray start --head`` on loopback, started by this module.

The cluster runs in its own temporary directory and process tree (``ray start --block``), so the
tests find its actor processes (titled ``ray::FlipforgeWorker...``) among its descendants and
end exactly that tree at teardown, never another Ray on this machine. Skipped when Ray is not
installed (``pip install 'flipforge[ray]'``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ray = pytest.importorskip("ray", reason="Ray is not installed (pip install 'flipforge[ray]')")

from contract_backend import BackendContract, FailingSearcher, make_spec  # noqa: E402
from flipforge.schemes import read_schemes  # noqa: E402
from flipforge.search.backends import Backend  # noqa: E402
from flipforge.search.backends.ray import RayBackend  # noqa: E402
from flipforge.search.searchers import SEARCHERS  # noqa: E402
from flipforge.verify import verify  # noqa: E402

TESTS = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
ACTOR_TITLE = "ray::FlipforgeWorker"
CLUSTER_ENV = {"RAY_AUTH_MODE": "disabled", "RAY_USAGE_STATS_ENABLED": "0"}
START_TIMEOUT = 90.0


def register_failing_searcher() -> None:
    """Ray's worker setup hook for this module's jobs: the contract's failing searcher exists
    in the actors too (they do not inherit the test process's registry)."""
    from flipforge.search.searchers import SEARCHERS

    SEARCHERS[FailingSearcher.name] = FailingSearcher


# --- processes -------------------------------------------------------------------------------------


def _process_table() -> dict[int, tuple[int, str]]:
    """pid -> (parent pid, command line) of every live, non-zombie process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z":
            table[int(entry.name)] = (int(fields[1]), cmdline)
    return table


def _descendants(root: int) -> dict[int, str]:
    """The live descendants of ``root``: pid -> command line."""
    table = _process_table()
    found: dict[int, str] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, (ppid, cmd) in table.items():
            if ppid == parent and pid not in found:
                found[pid] = cmd
                frontier.append(pid)
    return found


def _alive(pid: int) -> bool:
    return pid in _process_table()


def _wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not check():
        if time.monotonic() > end:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(0.2)


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


# --- the cluster -----------------------------------------------------------------------------------


@dataclass
class Cluster:
    """A one-node Ray cluster on loopback, started by ``ray start --head --block`` (``proc``)."""

    address: str
    proc: subprocess.Popen
    temp_dir: Path
    log: Path

    def processes(self) -> dict[int, str]:
        return _descendants(self.proc.pid)

    def actors(self) -> dict[int, str]:
        """The cluster's flipforge actor processes: pid -> process title."""
        return {pid: cmd for pid, cmd in self.processes().items() if cmd.startswith(ACTOR_TITLE)}

    def assert_no_actors(self, timeout: float = 15.0) -> None:
        """No flipforge actor process is left (killing one takes the raylet a moment)."""
        end = time.monotonic() + timeout
        while self.actors() and time.monotonic() < end:
            time.sleep(0.2)
        assert not self.actors(), f"actor processes left: {self.actors()}"


def _start_cluster() -> Cluster:
    gcs, node_manager, object_manager, agent_grpc, agent_http, metrics, env_agent = _free_ports(7)
    temp_dir = Path(tempfile.mkdtemp(prefix="ffray-"))  # short: Ray's socket paths must fit in 107 bytes
    log = temp_dir / "ray-start.log"
    cmd = [
        str(BIN / "ray"), "start", "--head", "--block", "--node-ip-address=127.0.0.1", f"--port={gcs}",
        "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp_dir}",
        f"--node-manager-port={node_manager}",
        f"--object-manager-port={object_manager}", f"--dashboard-agent-grpc-port={agent_grpc}",
        f"--dashboard-agent-listen-port={agent_http}", f"--metrics-export-port={metrics}",
        f"--runtime-env-agent-port={env_agent}",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **CLUSTER_ENV})
    cluster = Cluster(f"127.0.0.1:{gcs}", proc, temp_dir, log)
    end = time.monotonic() + START_TIMEOUT
    while "Ray runtime started" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() > end:
            text = log.read_text(errors="replace")
            _stop_cluster(cluster)
            pytest.fail(f"ray start failed (exit {proc.poll()}):\n{text[-3000:]}")
        time.sleep(0.2)
    return cluster


def _stop_cluster(cluster: Cluster) -> None:
    """End the cluster's process tree (SIGTERM, then SIGKILL to what is left), by pid only."""
    tree = cluster.processes()
    if cluster.proc.poll() is None:
        cluster.proc.send_signal(signal.SIGINT)  # ``ray start --block`` stops its processes on Ctrl-C
        try:
            cluster.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            cluster.proc.kill()
            cluster.proc.wait(timeout=10)
    left = {**tree, **cluster.processes()}
    for pid in left:
        if _alive(pid):
            os.kill(pid, signal.SIGTERM)
    end = time.monotonic() + 10
    while any(_alive(pid) for pid in left) and time.monotonic() < end:
        time.sleep(0.2)
    for pid in left:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
    shutil.rmtree(cluster.temp_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    """A real local cluster for this module; this process joins it as a driver (which the
    backends then reuse), with the failing searcher registered in its workers."""
    saved = {k: os.environ.get(k) for k in CLUSTER_ENV}
    os.environ.update(CLUSTER_ENV)
    c = _start_cluster()
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        ray.init(
            address=c.address,
            log_to_driver=False,
            logging_level="WARNING",
            runtime_env={
                "env_vars": {"PYTHONPATH": str(TESTS)},
                "worker_process_setup_hook": f"{__name__}.register_failing_searcher",
            },
        )
        for sig, handler in handlers.items():  # ray.init takes SIGTERM; the later tests need it back
            signal.signal(sig, handler)
        yield c
    finally:
        ray.shutdown()
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        tree = c.processes()
        _stop_cluster(c)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        left = [pid for pid in tree if _alive(pid)]
        assert not left, f"processes of the test cluster left after teardown: {left}"


@pytest.fixture(autouse=True)
def no_actor_left(cluster: Cluster) -> Iterator[None]:
    """After every test of this module, no flipforge actor of the cluster runs any more."""
    yield
    cluster.assert_no_actors()


def _cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, **CLUSTER_ENV}
    return subprocess.run([str(BIN / "flipforge"), *args], capture_output=True, text=True, timeout=timeout, env=env)


def _events(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]


# --- the command line --------------------------------------------------------------------------------


def test_cli_search_on_the_cluster_reaches_the_target(cluster: Cluster, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    out = _cli(
        "search", "3x3x3", "-d", "F2", "-r", "23", "--backend", "ray", "--address", cluster.address,
        "-w", "2", "--seed", "1", "--no-db", "--run-dir", str(run_dir), "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)  # nothing but the summary on stdout (Ray's logs stay quiet)
    assert summary["status"] == "reached" and summary["best_rank"] == 23
    best = run_dir / "best-23.json"
    assert best.exists() and Path(summary["best_scheme"]) == best.resolve()
    check = _cli("verify", str(best))
    assert check.returncode == 0, check.stdout + check.stderr
    (scheme,) = read_schemes(best)
    assert verify(scheme, "F2").valid
    starts = [e for e in _events(run_dir) if e["event"] == "start"]
    assert starts and starts[0]["backend"] == "ray" and starts[0]["workers"] == 2


@pytest.mark.parametrize(
    ("searcher", "target", "domain", "rank"), [("evolution", "3x3x3", "ZT", "23"), ("numeric", "2x2x2", "Q", "7")]
)
def test_the_issue_14_searchers_run_on_the_cluster(cluster: Cluster, tmp_path: Path, searcher, target, domain, rank):  # noqa: ANN001, ANN201
    run_dir = tmp_path / "run"
    out = _cli(
        "search", target, "-d", domain, "-r", rank, "--searcher", searcher, "--backend", "ray",
        "--address", cluster.address, "-w", "2", "--seed", "1", "--no-db", "--run-dir", str(run_dir), "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["best_rank"] == int(rank)
    (scheme,) = read_schemes(run_dir / f"best-{rank}.json")
    assert verify(scheme, domain).valid


def test_cli_without_an_address_runs_its_own_ray_and_ends_it(tmp_path: Path) -> None:
    ray_tmp = Path(tempfile.mkdtemp(prefix="ffrl-"))  # the private instance's files, to find its processes
    env = {**os.environ, **CLUSTER_ENV, "RAY_TMPDIR": str(ray_tmp)}
    env.pop("RAY_ADDRESS", None)
    run_dir = tmp_path / "run"
    args = ["search", "3x3x3", "-r", "23", "-w", "2", "--backend", "ray", "--seed", "2", "--no-db"]
    try:
        out = subprocess.run(
            [str(BIN / "flipforge"), *args, "--run-dir", str(run_dir), "--json"],
            capture_output=True,
            text=True,
            timeout=180,
            env=env,
        )
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["best_rank"] == 23
        assert [e["backend"] for e in _events(run_dir) if e["event"] == "start"] == ["ray"]

        def leftovers() -> list[int]:
            return [pid for pid, (_, cmd) in _process_table().items() if str(ray_tmp) in cmd]

        _wait_for(lambda: not leftovers(), 15, "the private Ray instance to end")
    finally:
        shutil.rmtree(ray_tmp, ignore_errors=True)


def test_a_killed_actor_is_replaced_and_the_run_resumes_locally(cluster: Cluster, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    args = ["search", "4x4x4", "-d", "F2", "-r", "40", "-t", "8", "-w", "2", "--seed", "1", "--no-db"]
    args += ["--backend", "ray", "--address", cluster.address, "--run-dir", str(run_dir), "--json", "-q"]
    proc = subprocess.Popen(
        [str(BIN / "flipforge"), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **CLUSTER_ENV},
    )
    try:
        _wait_for(lambda: len(cluster.actors()) == 2, 60, "the run's two actors")
        time.sleep(3)  # both are searching by now
        victim = min(cluster.actors())
        os.kill(victim, signal.SIGKILL)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 1, err  # rank 40 is out of reach: the time ran out
    summary = json.loads(out)
    assert summary["status"] == "time" and summary["error"] is None and summary["best_rank"] < 64
    events = _events(run_dir)
    lost = [e for e in events if e["event"] == "worker_lost"]
    assert len(lost) == 1 and lost[0]["respawn"] == 1 and lost[0]["exitcode"] is None, lost
    assert lost[0]["reason"].startswith(f"Ray actor lost (pid {victim} "), lost
    assert events[-1]["event"] == "stop" and events[-1]["status"] == "time"
    cluster.assert_no_actors()

    again = _cli("resume", str(run_dir), "--backend", "local", "-t", "2", "-w", "2", "--json", "-q")
    assert again.returncode == 1, again.stderr
    resumed = json.loads(again.stdout)
    assert resumed["status"] == "time" and resumed["best_rank"] <= summary["best_rank"]
    assert resumed["flips"] > summary["flips"]
    starts = [e for e in _events(run_dir) if e["event"] == "start"]
    assert [s["backend"] for s in starts] == ["ray", "local"] and [s["session"] for s in starts] == [1, 2]


def test_killing_the_driver_ends_its_actors(cluster: Cluster, tmp_path: Path) -> None:
    """Ray ends the actors of a driver that dies (kill -9 leaves no orphans on the cluster)."""
    args = ["search", "4x4x4", "-d", "F2", "-r", "40", "-t", "60", "-w", "2", "--no-db", "-q"]
    args += ["--backend", "ray", "--address", cluster.address, "--run-dir", str(tmp_path / "run")]
    proc = subprocess.Popen([str(BIN / "flipforge"), *args], env={**os.environ, **CLUSTER_ENV})
    try:
        _wait_for(lambda: len(cluster.actors()) == 2, 60, "the run's two actors")
    finally:
        proc.kill()
        proc.wait()
    cluster.assert_no_actors(timeout=20)


def test_without_ray_the_cli_says_how_to_install_it(tmp_path: Path) -> None:
    code = (
        "import sys; sys.modules['ray'] = None\n"  # ``import ray`` now raises ImportError
        "from flipforge.search.backends import get_backend\n"
        "from flipforge.schemes import SchemeError\n"
        "try:\n    get_backend('ray')\nexcept SchemeError as exc:\n    print(exc)\n"
        "from flipforge.search.cli.main import main\n"
        "sys.argv = ['flipforge', 'search', '3x3x3', '--backend', 'ray', '--no-db']\n"
        "main()\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert "pip install 'flipforge[ray]'" in out.stdout
    assert out.returncode == 2, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'flipforge[ray]'" in lines[0], out.stderr
    assert not (tmp_path / "runs").exists()  # refused before any run was made


def test_an_unreachable_cluster_is_one_line(tmp_path: Path) -> None:
    (port,) = _free_ports(1)
    t0 = time.monotonic()
    out = _cli("search", "3x3x3", "--backend", "ray", "--address", f"127.0.0.1:{port}", "--no-db", timeout=120)
    assert out.returncode == 2, out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "cannot reach" in out.stderr, out.stderr
    assert time.monotonic() - t0 < 90


# --- the backend contract ----------------------------------------------------------------------------


class TestRayBackendContract(BackendContract):
    """tests/contract_backend.py on the module's cluster."""

    @pytest.fixture(autouse=True)
    def _on_cluster(self, cluster: Cluster) -> None:
        self.cluster = cluster

    @pytest.fixture
    def backend_factory(self, cluster: Cluster) -> Callable[[], Backend]:
        return lambda: RayBackend(cluster.address)

    def kill_one_worker(self, backend: Backend, worker: int) -> None:
        assert isinstance(backend, RayBackend)
        pid = ray.get(backend.actors[worker].pid.remote(), timeout=30)
        assert pid in self.cluster.actors()
        os.kill(pid, signal.SIGKILL)
        _wait_for(lambda: not _alive(pid), 10, f"actor process {pid} to end")

    def assert_no_workers_left(self, backend: Backend) -> None:
        assert isinstance(backend, RayBackend)
        for actor in backend.actors:
            with pytest.raises(ray.exceptions.RayActorError):
                ray.get(actor.pid.remote(), timeout=30)
        self.cluster.assert_no_actors()

    def failing_spec(self, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
        """The actors have the failing searcher from this module's worker setup hook."""
        monkeypatch.setitem(SEARCHERS, FailingSearcher.name, FailingSearcher)  # the driver checks the name
        return make_spec(FailingSearcher.name)
