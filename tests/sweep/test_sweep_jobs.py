import pandas as pd
import pytest
from sweep_helpers import tiny_spec

from grokscope.errors import ConfigError
from grokscope.sweep import read_results, run_sweep
from grokscope.sweep.directory import is_finished


def test_parallel_local_packs_give_the_sequential_table(tmp_path):
    spec = tiny_spec(max_pack=4, frac=[0.4, 0.6], seed=[0, 1])  # 4 packs of 2, two processes at a time
    sequential = read_results(run_sweep(spec, tmp_path / "one", threads=1))
    sweep_dir = run_sweep(spec, tmp_path / "two", jobs=2)  # one thread per process by default
    parallel = read_results(sweep_dir)
    assert len(parallel) == 8 and all(is_finished(p) for p in (sweep_dir / "packs").iterdir())
    pd.testing.assert_frame_equal(parallel, sequential)
    again = read_results(run_sweep(spec, tmp_path / "two", jobs=2))  # a re-run trains nothing and keeps the table
    pd.testing.assert_frame_equal(again, sequential)


@pytest.mark.parametrize("jobs, backend, message", [(0, "local", "jobs: must be a positive integer"),
                                                    (2, "ray", "jobs: only with backend local")])
def test_bad_job_counts_are_refused_before_anything_is_written(tmp_path, jobs, backend, message):
    with pytest.raises(ConfigError, match=message):
        run_sweep(tiny_spec(), tmp_path / "out", jobs=jobs, backend=backend)
    assert not (tmp_path / "out").exists()
