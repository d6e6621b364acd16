import pandas as pd
import pytest
import ray
from sweep_helpers import tiny_spec, two_cpu_ray_instance

from grokscope.sweep import read_results, run_sweep


@pytest.fixture
def local_ray():
    with two_cpu_ray_instance():
        yield


def test_ray_backend_produces_the_local_table(tmp_path, local_ray):
    spec = tiny_spec(max_pack=4, frac=[0.4, 0.6], seed=[0, 1])  # 4 packs of 2: two run at once on 2 CPUs
    local = read_results(run_sweep(spec, tmp_path / "local", threads=1))
    remote = read_results(run_sweep(spec, tmp_path / "ray", backend="ray", threads=1))
    assert ray.is_initialized()  # the test's instance was reused, not shut down
    assert remote["node"].notna().all()  # the node that trained each pack, on Ray only
    pd.testing.assert_frame_equal(remote.drop(columns="node"), local)
    assert len(remote) == 8
