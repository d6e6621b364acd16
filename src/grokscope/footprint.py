"""What a run will cost, from its config alone: memory, disk and evaluations, estimated before anything is allocated.

A typo (`d_model=100000`, `p=100003`, `--seeds 0-100000`) must be refused in a line, not discovered by the
allocator after the run directory exists. `footprint(config)` counts the bytes of every tensor a run holds from the
shapes alone (ModelSpec.from_config builds no table); `check_footprint` compares the peak with the memory this
machine has free (or the GPU's) and the disk bytes with the free space under the output directory, and names the
field that makes the run too big: the one whose default shrinks the estimate most.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields
from pathlib import Path

from .config import RunConfig
from .errors import ConfigError
from .operations import get_operation

GIB = 2**30
EVAL_BYTES = 1 << 28  # activations per chunk of members in an evaluation (training/evaluate.py): bounds its memory
INT64 = 8
# Fitted 2026-12-03 on the peak RSS of quickstart (E = 1 and 64) and nanda2023 (E = 1); scored on the other presets
# and a 256-member run (docs/reliability.md).
TRAIN_COPIES = 1  # a training step keeps one forward's activations (the backward frees them as it goes)
RETRO_MEMBERS = 4  # instruments/retro.MEMBERS_PER_CHUNK
RETRO_NEURON_COPIES = 6  # the neurons' grid, centered, its spectrum and its square, in float64
RETRO_LOGIT_COPIES = 4  # the grid's logits in float64 and their projections
PYTHON_INT_IN_SET = 100  # bytes of one int in a Python set (the object and its share of the hash table)
# Metrics rows: an evaluation writes one row per member of ~60 scalars and a few [K] vectors (store/metrics.py).
SCALAR_BYTES_PER_ROW = 60 * 24
VECTORS_PER_ROW = 6
# The fields a refusal may name, in the order they are tried: the first whose default shrinks the estimate most.
SIZE_FIELDS = ("seeds", "p", "d_model", "d_mlp", "n_layers", "n_heads", "batch_size", "grokfast_window",
               "parity_examples", "max_steps", "eval_every", "eval_log_points", "checkpoints", "checkpoint_every")


@dataclass(frozen=True)
class Footprint:
    """Bytes a run holds (memory) and writes (disk), member axis included; counted from shapes, nothing allocated.

    parameters: every member's weights; training_state: gradients, optimizer moments and Grokfast's filter;
    data: the pair table, the [E, N] split masks, batch orders and label-noise targets, the schedule's step sets;
    activations: one training
    step's forward and backward over the largest batch; evaluation: one chunk of members over every pair (the
    collapse diagnostics keep its graph); process: the Python process before the run (torch loaded), from /proc.
    checkpoint_disk: the retained weights checkpoints and the resume checkpoint; metrics_disk: the metrics store's
    rows at n_evaluations evaluations.
    """

    n_members: int
    n_params: int
    n_pairs: int
    batch: int
    n_evaluations: int
    parameters: int
    training_state: int
    data: int
    activations: int
    evaluation: int
    process: int
    checkpoint_disk: int
    metrics_disk: int

    @property
    def memory(self) -> int:
        """Peak bytes: what the run holds throughout plus the larger of a training step and an evaluation."""
        return self.process + self.parameters + self.training_state + self.data + max(self.activations, self.evaluation)

    @property
    def device_memory(self) -> int:
        """Peak bytes on an accelerator (the process's own memory stays on the host)."""
        return self.memory - self.process

    @property
    def disk(self) -> int:
        return self.checkpoint_disk + self.metrics_disk

    def memory_parts(self) -> str:
        """The memory estimate's parts, for a refusal or a dry run: 'weights 1.2 GiB, optimizer ...'."""
        parts = (("weights", self.parameters), ("gradients, optimizer and filter state", self.training_state),
                 ("data", self.data), ("training step", self.activations), ("evaluation", self.evaluation))
        return ", ".join(f"{name} {human_bytes(size)}" for name, size in parts)


def human_bytes(size: float) -> str:
    """1536 -> '1.5 KiB'; binary units, one decimal."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(size) < 1024 or unit == "PiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def n_evaluations(config: RunConfig) -> int:
    """An upper bound on the evaluations of a run (training/schedule.eval_steps) from arithmetic alone: every
    eval_every-th step, the last, and the log-spaced ones, never more than the steps there are."""
    return min(config.max_steps + 1, config.max_steps // config.eval_every + 2 + config.eval_log_points)


def eval_chunk_members(n_pairs: int, n_ctx: int, d_mlp: int, n_out: int, d_vocab_out: int, n_members: int) -> int:
    """Members evaluated at once (training/evaluate.Evaluator): as many as keep the MLP activations and logits of
    every pair within EVAL_BYTES, at least one."""
    per_member = n_pairs * max(n_ctx * d_mlp, n_out * d_vocab_out) * 8
    return max(1, min(n_members, EVAL_BYTES // per_member))


def example_activation_bytes(spec, width: int, loss_width: int) -> int:
    """Bytes one example's forward keeps: per layer and position of a transformer the residual stream, q, k, v, z
    and the attention output (d_model each), the MLP's pre- and post-activations (d_mlp each), the attention scores
    and pattern (n_heads · n_ctx each); an MLP's concatenated embeddings and hidden layers; and the scored logits
    with their loss-dtype copy and log-softmax."""
    if spec.arch == "mlp_stack":
        body = spec.n_ctx + 2 * spec.n_layers * spec.d_mlp
    elif spec.arch == "mlp":
        body = spec.n_ctx * spec.d_model + 2 * spec.d_mlp
    else:
        body = spec.n_layers * spec.n_ctx * (6 * spec.d_model + 2 * spec.d_mlp + 2 * spec.n_heads * spec.n_ctx)
    return body * width + len(spec.readout) * spec.d_vocab_out * (width + 2 * loss_width)


def _process_bytes() -> int:
    """This process's resident memory now (Linux /proc; 0 where it cannot be read)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def footprint(config: RunConfig, n_rows: int | None = None) -> Footprint:
    """The run's memory and disk from its config's shapes (no table, model or optimizer is built): the state every
    member holds, one training step's activations over the largest batch (example_activation_bytes), and the larger
    of an evaluation chunk and the retrospective pass's chunk of members over every pair."""
    # models import config: resolved here, at call time
    from .models.init import n_params as count_params
    from .models.spec import ModelSpec

    spec = ModelSpec.from_config(config)
    e = config.n_members
    n_params = count_params(spec)
    width = 4 if config.param_dtype == "float32" else 8
    loss_width = 4 if config.loss_dtype == "float32" else 8
    moments = {"sgd": 1 if config.momentum else 0}.get(config.optimizer, 2)
    filters = {"none": 0, "ema": 1, "ma": config.grokfast_window}[config.grokfast]
    op = get_operation(config.task)
    stored = op.group == "table"  # a stored table (store/table.py): n_rows rows per member, every one may train
    n_pairs = n_rows if stored and n_rows is not None else config.n_examples()
    n_train = n_pairs if stored else max(int(f * n_pairs) for f in config.per_member("frac")) + 1  # + 1: a symmetric split's last group
    batch = n_train if config.batch_size is None else min(config.batch_size, -(-n_train // 2))
    n_out = len(spec.readout)
    per_example = example_activation_bytes(spec, width, loss_width)
    inputs = (e if stored else 1) * (n_pairs * spec.n_ctx * INT64 + n_pairs * n_out * INT64)  # a table's: per member
    label_noise = e * n_pairs * (n_out * INT64 + 1) if any(config.per_member("label_noise")) else 0
    # three [E, N] bool masks, and [E, N] int64 keys, orders and ranks while splitting and shuffling
    evaluations = n_evaluations(config)
    schedule = (evaluations + config.checkpoints + 2) * PYTHON_INT_IN_SET  # the trainer's sets of steps
    data = inputs + 3 * e * n_pairs + 3 * e * n_pairs * INT64 + label_noise + schedule
    chunk = eval_chunk_members(n_pairs, spec.n_ctx, spec.d_mlp, n_out, spec.d_vocab_out, e)
    instrument_copies = 4 if config.instruments else 0  # the Fourier views of the logits, float64
    evaluation = chunk * n_pairs * (per_example * (2 if config.collapse_diagnostics else 1)
                                    + instrument_copies * n_out * spec.d_vocab_out * 8)
    if config.instruments and op.group == "Zp" and config.arch != "mlp_stack":
        # the retrospective pass: a cached forward over every pair and the neurons' 2-D spectra in float64, plus
        # the grid's [n, n, n] logits and their projections, for RETRO_MEMBERS members at a time
        retro = min(e, RETRO_MEMBERS) * n_pairs * (per_example + RETRO_NEURON_COPIES * spec.d_mlp * 8
                                                   + RETRO_LOGIT_COPIES * spec.d_vocab_out * 8)
        evaluation = max(evaluation, retro)
    weights_bytes = e * n_params * width
    resume_bytes = weights_bytes * (2 + moments + filters)
    vector_bytes = VECTORS_PER_ROW * (spec.d_vocab // 2 + 1) * 8 if op.group == "Zp" else 0
    return Footprint(
        n_members=e, n_params=n_params, n_pairs=n_pairs, batch=batch, n_evaluations=evaluations,
        parameters=weights_bytes, training_state=weights_bytes * (1 + moments + filters), data=data,
        activations=TRAIN_COPIES * e * batch * per_example, evaluation=evaluation, process=_process_bytes(),
        checkpoint_disk=weights_bytes * (config.checkpoints + 2) + resume_bytes,
        metrics_disk=evaluations * e * (SCALAR_BYTES_PER_ROW + vector_bytes))


def available_memory(device: str = "cpu") -> int:
    """Bytes this process can still allocate: on CPU the kernel's MemAvailable, within the cgroup's limit where one
    is set; on CUDA the device's free memory."""
    if device.startswith("cuda"):
        import torch

        return int(torch.cuda.mem_get_info(torch.device(device))[0])
    free = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                free = int(line.split()[1]) * 1024
    except OSError:
        pass
    if free is None:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit != "max":
            free = min(free, int(limit) - used)
    except (OSError, ValueError):
        pass
    return max(0, free)


def available_disk(out: Path) -> int:
    """Free bytes on the filesystem that will hold `out` (its nearest existing parent)."""
    import shutil

    path = Path(out).absolute()
    while not path.exists():
        path = path.parent
    return shutil.disk_usage(path).free


def _culprit(config: RunConfig, measure, n_rows: int | None = None) -> str:
    """The size field whose default value shrinks `measure(footprint)` the most (that field is the likely typo)."""
    defaults = {f.name: f.default for f in fields(RunConfig)}
    base, best, name = measure(footprint(config, n_rows)), 1.0, SIZE_FIELDS[0]
    for field in SIZE_FIELDS:
        default = defaults[field]
        if getattr(config, field) == default:
            continue
        try:
            if field == "seeds" and n_rows is not None:
                continue  # a stored table's rows are per member: one member's table is not this run's
            smaller = measure(footprint(config.member(0) if field == "seeds" else config.replace(**{field: default}), n_rows))
        except ConfigError:  # the default does not suit this task or arch (p of S_n, n_heads of d_model)
            continue
        if smaller and base / smaller > best:
            best, name = base / smaller, field
    return name


def _smaller(field: str) -> str:
    return {"seeds": "use fewer seeds", "eval_every": "evaluate less often (a larger eval_every)",
            "checkpoint_every": "checkpoint less often (a larger checkpoint_every, or 0)"}.get(field, f"lower {field}")


def check_footprint(config: RunConfig, out: Path | None = None, *, device: str = "cpu", force: bool = False,
                    concurrent: int = 1, disk_taken: int = 0, n_rows: int | None = None) -> Footprint:
    """The footprint, or ConfigError naming the field when the peak memory exceeds what this machine (or GPU) has
    free, or the disk bytes exceed the free space under `out` (skipped when out is None).

    force: no refusal. concurrent: runs that will train at once, sharing the memory (a sweep's --jobs).
    disk_taken: bytes other runs of the same sweep will write there first. n_rows: a stored table's rows per member.
    """
    size = footprint(config, n_rows)
    if force:
        return size
    on_gpu = device.startswith("cuda")
    need, free = (size.device_memory if on_gpu else size.memory), available_memory(device) // concurrent
    if need > free:
        field = _culprit(config, lambda f: f.device_memory if on_gpu else f.memory, n_rows)
        where = "on the GPU" if on_gpu else "on this machine"
        share = f" (shared by {concurrent} runs at once)" if concurrent > 1 else ""
        raise ConfigError(f"{field}: the run needs about {human_bytes(need)} of memory ({size.memory_parts()}), "
                          f"over the {human_bytes(free)} available {where}{share}; {_smaller(field)}, or --force if "
                          f"you mean it")
    if out is not None:
        disk = available_disk(out) - disk_taken
        if size.disk > disk:
            field = _culprit(config, lambda f: f.disk, n_rows)
            raise ConfigError(f"{field}: the run would write about {human_bytes(size.disk)} (checkpoints "
                              f"{human_bytes(size.checkpoint_disk)}, metrics {human_bytes(size.metrics_disk)} at "
                              f"{size.n_evaluations:,} evaluations), over the {human_bytes(max(disk, 0))} free under "
                              f"{out}; {_smaller(field)}, or --force if you mean it")
    return size


def check_packs(configs, out: Path, *, concurrent: int = 1, force: bool = False) -> None:
    """check_footprint for every pack of a sweep before its directory is written: each pack's memory within this
    machine's share per concurrent pack, and all of them on the disk together. The error names the pack."""
    taken = 0
    for name, config in configs:
        try:
            taken += check_footprint(config, out, device="cpu", force=force, concurrent=concurrent,
                                     disk_taken=taken).disk
        except ConfigError as error:
            raise ConfigError(f"{error} (pack {name})") from None
