"""`actionbook gpu-check --dry-run`: the GPU check's plan validates and prints without a GPU."""

import pytest

from actionbook import gpu_check
from actionbook.cli import main


def test_dry_run_validates_and_prints_every_step(tmp_path, capsys):
    assert main(["gpu-check", "--dry-run", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    for step in gpu_check.plan_steps(gpus=1):
        assert f"  {step.name} " in out
    assert "bench seed --device cuda" in out and not (tmp_path / "gpu-check.json").exists()


def test_two_gpus_add_ddp_with_nccl_and_every_step_is_a_valid_experiment(tmp_path):
    names = [step.name for step in gpu_check.plan_steps(gpus=2)]
    assert "ddp-nccl" in names and "ddp-nccl" not in [s.name for s in gpu_check.plan_steps(gpus=1)]
    for step in gpu_check.plan_steps(gpus=2):
        if step.argv is None:
            exp = gpu_check._experiment(step, tmp_path)
            assert exp.device == "cuda" and exp.name == f"gpu-check-{step.name}"


@pytest.mark.skipif(gpu_check.torch.cuda.is_available(), reason="a GPU is here: the check would run")
def test_without_a_gpu_the_check_says_so(tmp_path):
    with pytest.raises(SystemExit, match="no CUDA device"):
        gpu_check.run_check(tmp_path)
