"""The Ray backend: each unfinished pack is one Ray task; rows come back to the driver, which writes the table.

Workers write each pack's run directory under the sweep directory, whose absolute path the driver sends: on a
cluster of several machines it must be on a filesystem every node sees (NFS or similar), and a task that does not
see the sweep's sweep.json refuses in one line rather than create a second, private sweep directory on its node.
Before anything is written the driver checks the address (its form, that something listens there within
PROBE_S seconds, that it speaks Ray's gRPC) and the cluster's resources (a node with `threads` CPUs, a GPU where a
pack runs on one). A task asks for `threads` CPUs and `gpus_per_pack` GPUs (1 by default; a fraction shares a GPU
among small packs) only when its pack's device is CUDA (or "auto" on a cluster that has GPUs); torch in the task uses exactly `threads` threads. Each task checks that its node runs the
driver's grokscope version. The results table gains a `node` column: the node that trained each pack. Progress (step, accuracies, the node) streams to the driver through a small actor.
Every Ray failure reaches the user as one line naming the pack. Ray is an optional extra:
`pip install 'grokscope[ray]'`.
"""

from __future__ import annotations

import contextlib
import re
import socket
from pathlib import Path
from typing import Any, Iterator

import torch

from ..errors import ConfigError, GrokscopeError, RunNotFoundError
from .directory import SWEEP_FILE, is_finished, pack_dir
from .packing import Pack
from .results import pack_rows, read_results

PROBE_S = 3.0  # seconds to wait for the address to answer before refusing it
NODE_COLUMN = "node"  # the results table's column, on the Ray backend only
POLL_S = 0.5  # how often the driver collects the packs' progress while they train
_HOST_PORT = re.compile(r"^(?P<host>[A-Za-z0-9.\-]+|\[[0-9A-Fa-f:]+\]):(?P<port>[0-9]{1,5})$")


def check_ray() -> None:
    """Raise ConfigError (before anything is written) when Ray is not installed."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise ConfigError("backend: ray needs the optional extra: pip install 'grokscope[ray]'") from None


def parse_address(address: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of `HOST:PORT` (scheme "gcs": a head node's GCS) or `ray://HOST:PORT` (scheme "ray": Ray
    Client); None for "auto" (Ray finds the cluster this machine belongs to).

    Raises:
        ConfigError: any other form, or a port outside 1..65535.
    """
    if address == "auto":
        return None
    scheme, rest = ("ray", address[len("ray://"):]) if address.startswith("ray://") else ("gcs", address)
    found = _HOST_PORT.match(rest)
    if not found or not 1 <= int(found["port"]) <= 65535:
        raise ConfigError(f"address: expected HOST:PORT (the head's `ray start --head --port`), ray://HOST:PORT or "
                          f"auto, got {address!r}")
    if scheme == "ray":
        try:
            import grpc  # noqa: F401
            import ray.util.client  # noqa: F401
        except ImportError:
            raise ConfigError("address: ray:// needs Ray Client: pip install 'ray[client]'") from None
    return scheme, found["host"].strip("[]"), int(found["port"])


def probe_address(address: str) -> None:
    """Check within about PROBE_S seconds that a Ray cluster answers at `address` (ray.init itself retries a wrong
    address for minutes, or forever where another server listens).

    Raises:
        ConfigError: a malformed address. GrokscopeError: nothing listens there, or what listens is no gRPC server.
    """
    parsed = parse_address(address)
    if parsed is None:
        return
    _, host, port = parsed
    try:
        socket.create_connection((host, port), timeout=PROBE_S).close()
    except OSError as error:
        raise GrokscopeError(f"address: nothing answers at {host}:{port} ({error.strerror or error}); start the "
                             f"head with `ray start --head --port {port}` or give its address") from None
    import grpc

    channel = grpc.insecure_channel(f"{host}:{port}")
    try:
        grpc.channel_ready_future(channel).result(timeout=PROBE_S)
    except grpc.FutureTimeoutError:
        raise GrokscopeError(f"address: {host}:{port} answers but is not a Ray cluster (no gRPC within "
                             f"{PROBE_S:g} s)") from None
    finally:
        channel.close()


def pack_gpus(pack: Pack, cluster_gpus: float, per_pack: float = 1) -> float:
    """GPUs a pack's task asks for: `per_pack` on a CUDA device, or for "auto" where the cluster has any; else none."""
    device = pack.config.device
    return per_pack if device.startswith("cuda") or (device == "auto" and cluster_gpus > 0) else 0


def check_resources(packs: list[Pack], threads: int, gpus_per_pack: float = 1) -> None:
    """Refuse (ConfigError, before anything is written) a request no alive node can satisfy, which Ray would wait on
    forever: `threads` CPUs, or a GPU for a pack on CUDA."""
    import ray

    nodes = [node["Resources"] for node in ray.nodes() if node.get("Alive")]
    most_cpus = max((r.get("CPU", 0) for r in nodes), default=0)
    if threads > most_cpus:
        raise ConfigError(f"threads: each pack asks for {threads} CPUs, and the largest node of the Ray cluster has "
                          f"{most_cpus:g}; use --threads {max(1, int(most_cpus))} or fewer")
    gpus = sum(r.get("GPU", 0) for r in nodes)
    needy = [p for p in packs if pack_gpus(p, gpus, gpus_per_pack)]
    if needy and not any(r.get("GPU", 0) >= gpus_per_pack and r.get("CPU", 0) >= threads for r in nodes):
        raise ConfigError(f"device: pack {needy[0].name} runs on CUDA and no node of the Ray cluster has "
                          f"{gpus_per_pack:g} GPU and {threads} CPUs; set device = \"cpu\" in the spec, lower "
                          "--gpus-per-pack or add a GPU node")


@contextlib.contextmanager
def ray_cluster(address: str | None, packs: list[Pack], threads: int, gpus_per_pack: float = 1) -> Iterator[None]:
    """Connected to `address` (or a local instance started here, or the one this process already has), its
    resources checked against the packs; shut down on leaving only if it was started here.

    Raises:
        ConfigError: a malformed address or a request no node satisfies. GrokscopeError: no cluster at the address.
    """
    import ray

    started = not ray.is_initialized()
    if started:
        if address is not None:
            probe_address(address)
        try:
            ray.init(address=address, include_dashboard=False, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise GrokscopeError(f"address: cannot join the Ray cluster at {address or 'a local instance'} "
                                 f"({_first_line(error)})") from None
    try:
        check_resources(packs, threads, gpus_per_pack)
        yield
    finally:
        if started:
            ray.shutdown()


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


class _Reporter:
    """A Ray actor the tasks send their trainer Progress to and the driver drains: (pack name, node, Progress)."""

    def __init__(self) -> None:
        self.updates: list[tuple[str, str, Any]] = []

    def update(self, pack_name: str, node: str, progress: Any) -> None:
        self.updates.append((pack_name, node, progress))

    def drain(self) -> list[tuple[str, str, Any]]:
        updates, self.updates = self.updates, []
        return updates


def _start_reporter() -> Any:
    """The progress actor, on the driver's node where Ray can place it there (it outlives a worker node's loss)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=True)
    return ray.remote(num_cpus=0, scheduling_strategy=here)(_Reporter).remote()


def _this_node() -> str:
    """'ADDRESS NODEID8': the address this node joined the cluster with and the start of its node id (two nodes on
    one machine share an address); the host name outside a Ray worker."""
    import ray

    if not ray.is_initialized():
        return socket.gethostname()
    node_id = ray.get_runtime_context().get_node_id()
    address = next((n["NodeManagerAddress"] for n in ray.nodes() if n["NodeID"] == node_id), "?")
    return f"{address} {node_id[:8]}"


def _train_pack_task(sweep_dir: str, pack: Pack, axes: list[str], threads: int, version: str,
                     reporter: Any = None) -> tuple[list[dict[str, Any]], str]:
    """Runs inside a Ray worker: check this node runs the driver's grokscope and sees the sweep directory, train
    the pack with pinned threads, return (its rows, this node's address)."""
    import grokscope

    from .runner import train_pack

    node = _this_node()
    if grokscope.__version__ != version:
        raise GrokscopeError(f"node {node} runs grokscope {grokscope.__version__}, the driver {version}; install the "
                             "same version on every node")
    if not (Path(sweep_dir) / SWEEP_FILE).is_file():
        raise RunNotFoundError(f"sweep: node {node} does not see {sweep_dir} (no {SWEEP_FILE} there); the sweep "
                               "directory must be on a filesystem every node shares (docs/sweeps.md)")
    run_dir = pack_dir(Path(sweep_dir), pack)
    progress = None if reporter is None else (lambda p: reporter.update.remote(pack.name, node, p))
    torch.set_num_threads(threads)
    train_pack(run_dir, pack, progress=progress)
    return pack_rows(run_dir, pack, axes), node


def with_node(rows: list[dict[str, Any]], node: str | None) -> list[dict[str, Any]]:
    """The rows with the `node` column: the address of the Ray node that trained the pack (None: not known)."""
    return [{**row, NODE_COLUMN: node} for row in rows]


def previous_nodes(sweep_dir: Path) -> dict[str, str]:
    """pack name -> the node an earlier run of this sweep recorded for it in results.parquet (a re-run keeps them)."""
    try:
        frame = read_results(sweep_dir)
    except RunNotFoundError:
        return {}
    if NODE_COLUMN not in frame.columns:
        return {}
    return {pack: node for pack, node in zip(frame["pack"], frame[NODE_COLUMN]) if isinstance(node, str)}


def _failure(pack: Pack, error: Exception) -> GrokscopeError:
    """A Ray failure of one pack's task as one line: the task's own GrokscopeError with the pack named, a missing
    grokscope on a node, or a worker or node that died once Ray's retries were spent."""
    import ray.exceptions

    cause = getattr(error, "cause", None)
    if isinstance(cause, GrokscopeError):
        failure = type(cause)(f"pack {pack.name}: {cause}")
        failure.exit_code = cause.exit_code
        return failure
    if "No module named 'grokscope'" in str(error):
        return GrokscopeError(f"pack {pack.name}: a node of the Ray cluster cannot import grokscope; install "
                              "grokscope (the driver's version) on every node")
    if isinstance(error, (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                          ray.exceptions.ActorDiedError, ray.exceptions.OwnerDiedError)):
        return GrokscopeError(f"pack {pack.name}: the Ray worker training it died and Ray's retries are spent "
                              f"({type(error).__name__}); run the sweep again to resume it from its checkpoint")
    return GrokscopeError(f"pack {pack.name}: {_first_line(cause if cause is not None else error)}")


def run_ray(sweep_dir: Path, tally, *, threads: int, gpus_per_pack: float = 1) -> None:
    """Train the tally's unfinished packs as Ray tasks on the connected cluster (ray_cluster); finished ones are read
    here, as locally. While they train, their progress reaches tally.report with the node that trains each."""
    import ray

    import grokscope

    gpus = ray.cluster_resources().get("GPU", 0)
    reporter = _start_reporter() if tally.progress is not None else None
    pending: dict[Any, Pack] = {}
    by_name = {pack.name: pack for pack in tally.packs}
    nodes = previous_nodes(sweep_dir)
    for pack in tally.packs:
        run_dir = pack_dir(sweep_dir, pack)
        if is_finished(run_dir):
            tally.add(pack, with_node(pack_rows(run_dir, pack, tally.axes), nodes.get(pack.name)), write=False)
            continue
        task = ray.remote(num_cpus=threads, num_gpus=pack_gpus(pack, gpus, gpus_per_pack))(_train_pack_task)
        pending[task.remote(str(sweep_dir), pack, tally.axes, threads, grokscope.__version__, reporter)] = pack
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1, timeout=POLL_S)
        if reporter is not None:
            try:
                updates = ray.get(reporter.drain.remote())
            except ray.exceptions.RayError:  # its node died (the driver's rarely does): progress per finished pack
                reporter, updates = None, []
            for name, node, progress in updates:
                if name not in tally.rows:  # an update that lands after its pack finished is stale
                    tally.report(by_name[name], progress, node=node)
        if not done:
            continue
        pack = pending.pop(done[0])
        try:
            rows, node = ray.get(done[0])
        except ray.exceptions.RayError as error:
            for ref in pending:
                ray.cancel(ref)
            raise _failure(pack, error) from None
        tally.add(pack, with_node(rows, node))
