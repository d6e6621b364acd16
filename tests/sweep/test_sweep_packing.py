import pandas as pd
import torch
from sweep_helpers import tiny_spec

from grokscope import load, train
from grokscope.sweep import pack_cells, plan, read_results, run_sweep
from grokscope.sweep.directory import pack_dir

TRAINING_SIDE = ("train", "test", "test_mirror")


def test_packs_group_cells_of_one_shape_and_respect_max_pack():
    spec = tiny_spec(max_pack=5)
    packs = pack_cells(spec.cells(), spec.max_pack)
    assert [p.n_members for p in packs] == [5, 3, 5, 3]
    assert sorted(c.index for p in packs for c in p.cells) == list(range(16))
    for pack in packs:
        assert len({c.config.task for c in pack.cells}) == 1
        assert pack.config.seeds == tuple(c.coords["seed"] for c in pack.cells)
        assert pack.config.per_member("frac") == tuple(c.coords["frac"] for c in pack.cells)
        assert pack.config.per_member("lr") == tuple(c.coords["lr"] for c in pack.cells)
    model_sizes = tiny_spec(d_model=[8, 16], seed=[0, 1])
    assert [p.n_members for p in plan(model_sizes)] == [2, 2, 2, 2]  # another shape, another pack


def test_lever_strengths_ride_in_one_ensemble_and_reach_their_members():
    """Grokfast's strength, ⊥Grad, init scale and label noise are per member: one pack, each member its cell's value."""
    spec = tiny_spec(base=dict(grokfast="ema"), seed=[0, 1], grokfast_lamb=[0.0, 2.0], orthogonal_grad=[False, True],
                     init_scale=[1.0, 2.0], label_noise=[0.0, 0.1])
    packs = plan(spec)
    assert [p.n_members for p in packs] == [32, 32]  # one per task (the spec's two cases)
    for pack in packs:
        for e, cell in enumerate(pack.cells):
            member = pack.config.member(e)
            for field in ("grokfast_lamb", "orthogonal_grad", "init_scale", "label_noise"):
                assert getattr(member, field) == cell.coords[field]
            assert member.seeds == (cell.coords["seed"],)
    lambs_unset = tiny_spec(base=dict(grokfast="ema"), seed=[0, 1])
    assert [p.config.grokfast_lamb for p in plan(lambs_unset)] == [None, None]  # unset stays the filter's published default


def test_every_cell_is_trained_exactly_once_with_its_own_hyperparameters(tmp_path):
    spec = tiny_spec(max_pack=5)
    steps: list[tuple[str, int]] = []
    sweep_dir = run_sweep(spec, tmp_path, threads=1, after_step=lambda pack, step: steps.append((pack, step)))
    packs = plan(spec)
    for pack in packs:
        run = load(pack_dir(sweep_dir, pack))
        trained = [s for name, s in steps if name == pack.name]
        assert trained == list(range(1, run.status()["step"] + 1))  # each update once
        assert run.config.seeds == tuple(c.coords["seed"] for c in pack.cells)
        assert run.config.per_member("frac") == tuple(c.coords["frac"] for c in pack.cells)
        assert run.config.per_member("lr") == tuple(c.coords["lr"] for c in pack.cells)
        assert run.config.per_member("wd") == tuple(0.5 if c.coords["task"] == "x-y" else 1.0 for c in pack.cells)
    table = read_results(sweep_dir)
    assert list(table["cell"]) == list(range(16))
    for cell in spec.cells():
        row = table.iloc[cell.index]
        assert (row["task"], row["frac"], row["lr"], row["seed"]) == (
            cell.coords["task"], cell.coords["frac"], cell.coords["lr"], cell.coords["seed"])
        assert row["wd"] == cell.config.wd


def test_packed_member_equals_the_cell_trained_alone(tmp_path):
    """float64 on CPU: within 1e-10 relative (notes-on-issues), weights, losses and accuracies."""
    spec = tiny_spec(base={"patience": 1000})  # no early stop: packed and lone runs train the same steps
    sweep_dir = run_sweep(spec, tmp_path / "sweeps", threads=1)
    table = read_results(sweep_dir)
    packs = {c.index: (pack, e) for pack in plan(spec) for e, c in enumerate(pack.cells)}
    for cell in (spec.cells()[i] for i in (0, 7, 13)):
        pack, e = packs[cell.index]
        packed = load(pack_dir(sweep_dir, pack))
        lone = train(cell.config, tmp_path / f"lone{cell.index}")
        for name, tensor in lone.model().params.items():
            torch.testing.assert_close(packed.model().params[name][e:e + 1], tensor, rtol=1e-10, atol=1e-12)
        # Losses and accuracies, not the instruments: their key-frequency sets take an argmax over
        # frequencies per neuron, and on a 20-step model near-ties flip on 1e-12 differences.
        with packed.metrics() as p, lone.metrics() as q:
            ours = {(s, n): v for m, s, n, v in p.rows() if m == e and n.split("/")[0] in TRAINING_SIDE}
            theirs = {(s, n): v for m, s, n, v in q.rows() if n.split("/")[0] in TRAINING_SIDE}
        assert ours.keys() == theirs.keys() and len(ours) > 0
        for key, value in theirs.items():
            assert (value is None and ours[key] is None) or abs(ours[key] - value) <= 1e-10 * max(1.0, abs(value)), key
        member = lone.summary()["members"][0]
        row = table.iloc[cell.index]
        for column in ("steps_to_memorize", "steps_to_generalize"):
            assert (None if pd.isna(row[column]) else int(row[column])) == member[column]
        assert row["final_train_acc"] == member["final_train_acc"]


def test_the_fast_expansion_equals_validating_every_cell_alone():
    """cells() validates a setting once and checks each seed alone (RunConfig.with_seed); packing reads fields off
    the frozen config: the same cells and packs as a full validation of every cell, and a bad seed is still caught."""
    import pytest

    from grokscope import get_preset
    from grokscope.errors import ConfigError
    from grokscope.sweep.spec import _config_fields

    spec = tiny_spec(seed=[0, 1, 2], lr=[1e-2, 3e-2], d_model=[8, 16])
    base = get_preset(spec.preset).replace(**_config_fields(spec.base))
    cells = spec.cells()
    assert [c.config for c in cells] == [base.replace(**_config_fields(c.coords)) for c in cells]
    assert [c.config.to_dict() for c in cells] == [base.replace(**_config_fields(c.coords)).to_dict() for c in cells]
    packs = plan(spec)
    assert [p.config for p in packs] == [p.cells[0].config.replace(
        seeds=tuple(c.config.seeds[0] for c in p.cells),
        **{k: tuple(c.config.per_member(k)[0] for c in p.cells) for k in p.config.per_member_values()}) for p in packs]
    with pytest.raises(ConfigError, match=r"^seed: must be an integer in 0\.\.\d+ \(int64\), got -1"):
        cells[0].config.with_seed(-1)
    with pytest.raises(ConfigError, match=r"seed: must be an integer .* \(cell .*seed=True"):
        tiny_spec(seed=[0, True]).cells()
    with pytest.raises(ConfigError, match="with_seed needs a one-member config"):
        base.replace(seeds=(0, 1)).with_seed(3)
