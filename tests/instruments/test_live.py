import torch
from conftest import tiny_config

from grokscope import footprint as footprint_module
from grokscope import metric_names as names
from grokscope import train
from grokscope.dataset import RunData
from grokscope.models import Ensemble
from grokscope.training.evaluate import Evaluator


def test_measures_logged_for_additive_tasks(tmp_path):
    for task in ("x+y", "x-y"):
        run = train(tiny_config(task=task, seeds=(0, 1)), tmp_path / task)
        with run.metrics() as store:
            logged = set(store.names())
            assert {names.WEIGHT_NORM_SQ, names.GINI_EMBED, names.GINI_NEURON_LOGIT, names.N_KEY_FREQUENCIES_LIVE} <= logged
            steps, norms = store.vector_series(names.EMBED_NORMS, 1)
            assert len(norms[0]) == 6 and steps[0] == 0  # p = 13: frequencies 1..6
            assert store.meta("instrument_note") is None


def test_other_tasks_skip_fourier_measures_with_a_note(tmp_path):
    run = train(tiny_config(task="x^2+y^2", p=13), tmp_path)
    with run.metrics() as store:
        assert names.WEIGHT_NORM_SQ in store.names() and names.GINI_EMBED not in store.names()
        assert "skipped" in store.meta("instrument_note")


def test_member_chunks_give_the_same_evaluation(monkeypatch):
    config = tiny_config(seeds=(0, 1, 2))
    data = RunData.build(config, torch.device("cpu"))
    model = Ensemble.create(config)
    whole_scalars, whole_vectors = Evaluator(config, data, torch.device("cpu"))(model)
    monkeypatch.setattr(footprint_module, "EVAL_BYTES", 1)  # one member per chunk
    chunk_scalars, chunk_vectors = Evaluator(config, data, torch.device("cpu"))(model)
    for name, value in whole_scalars.items():
        torch.testing.assert_close(chunk_scalars[name], value, equal_nan=True)
    for name, value in whole_vectors.items():
        torch.testing.assert_close(chunk_vectors[name], value)
    assert whole_scalars[names.TEST_ACC].shape == (3,)
