import pandas as pd
import pytest
from sweep_helpers import tiny_spec

from grokscope.sweep import plan, read_results, run_sweep


class Interrupted(Exception):
    """Raised from the after-step hook: the process stops mid-pack, deterministically (notes-on-issues)."""


def test_interrupted_sweep_resumes_and_trains_nothing_twice(tmp_path):
    spec = tiny_spec(base={"patience": 1000})  # 2 packs of 8 members, 20 steps, resume checkpoints every 5
    first_pack, second_pack = (p.name for p in plan(spec))
    reference = read_results(run_sweep(spec, tmp_path / "whole", threads=1))

    def interrupt(pack: str, step: int) -> None:
        if pack == second_pack and step == 13:
            raise Interrupted

    with pytest.raises(Interrupted):
        run_sweep(spec, tmp_path / "cut", threads=1, after_step=interrupt)
    sweep_dir = tmp_path / "cut" / spec.name
    assert set(read_results(sweep_dir)["pack"]) == {first_pack}  # the finished pack's rows are already there

    trained: list[tuple[str, int]] = []
    run_sweep(spec, tmp_path / "cut", threads=1, after_step=lambda pack, step: trained.append((pack, step)))
    assert {pack for pack, _ in trained} == {second_pack}  # the finished pack is not trained again
    assert [step for _, step in trained] == list(range(11, 21))  # from the resume checkpoint at step 10
    pd.testing.assert_frame_equal(read_results(sweep_dir), reference)

    again: list[tuple[str, int]] = []
    run_sweep(spec, tmp_path / "cut", threads=1, after_step=lambda pack, step: again.append((pack, step)))
    assert again == []
    pd.testing.assert_frame_equal(read_results(sweep_dir), reference)


def test_a_different_spec_under_the_same_name_is_refused(tmp_path):
    run_sweep(tiny_spec(seed=[0], frac=[0.5]), tmp_path, threads=1)
    with pytest.raises(Exception, match="out: .* holds a different sweep spec"):
        run_sweep(tiny_spec(seed=[1], frac=[0.5]), tmp_path, threads=1)
