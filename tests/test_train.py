"""The trainer through its public entry points: learning, exact resume after SIGKILL, NaN handling, DDP under
torchrun against one process, and multi-view evaluation against a hand computation."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from actionbook.errors import ConfigError
from actionbook.experiment import Experiment
from actionbook.runs import read_record
from actionbook.train import TrainingFailed, train
from actionbook.train.evaluate import classification_metrics, view_logits
from actionbook.train.optim import build_optimizer, lr_at
from conftest import tiny_kinetics_set


@pytest.fixture(scope="module")
def tiny_kinetics(tmp_path_factory) -> Path:
    """A small synth-kinetics: 4 appearance classes, 12 training and 12 validation clips each, 8 frames."""
    root = tmp_path_factory.mktemp("data") / "synth-kinetics"
    tiny_kinetics_set(root, train_per_class=12, val_per_class=12, seed=1)
    return root


def _experiment(root: Path, **overrides) -> Experiment:
    values = dict(dataset="synth-kinetics", data_root=str(root), model="tsn_r18", frames=4, input_size=32,
                  scale_size=36, batch_size=8, epochs=2, lr=0.02, lr_scheduler="cosine", workers=0,
                  device="cpu", log_every=1, seed=3)
    values.update(overrides)
    return Experiment.from_dict(values)


def _params_file(tmp_path: Path, exp: Experiment) -> Path:
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(exp.to_dict()))
    return path


def _cli(*args, env_extra=None, **kwargs):
    env = {**os.environ, "OMP_NUM_THREADS": "1", **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "actionbook.cli", *args], env=env, **kwargs)


def _weights(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["model"]


def test_lr_schedules():
    exp = Experiment.from_dict(dict(model="tsn_r18", lr=0.1, epochs=10, lr_scheduler="multisteps", lr_steps=[3, 6],
                                    dataset="synth-kinetics"))
    assert [round(lr_at(exp, e, 0, 5), 6) for e in (0, 3, 6)] == [0.1, 0.01, 0.001]
    cosine = exp.replace(lr_scheduler="cosine", warmup_epochs=1)
    assert lr_at(cosine, 0, 0, 4) == pytest.approx(0.1 / 4)  # linear warm-up, per iteration
    assert lr_at(cosine, 5, 0, 4) == pytest.approx(0.05)


def test_multiview_scores_are_averaged_logits():
    class Lookup(torch.nn.Module):  # logits = the mean pixel of each of 3 channels
        def forward(self, x):
            return x.mean(dim=(2, 3, 4))

    clips = torch.arange(2 * 3 * 3 * 1 * 2 * 2, dtype=torch.float).view(2, 3, 3, 1, 2, 2)  # N=2, V=3 views
    by_hand = torch.stack([torch.stack([clips[n, v].mean(dim=(1, 2, 3)) for v in range(3)]).mean(0)
                           for n in range(2)])
    assert torch.allclose(view_logits(Lookup(), clips), by_hand)

    logits = torch.tensor([[3.0, 1, 0, 0, 0, 0], [0, 2.0, 3, 0, 0, 0], [-1, 0.1, 0.2, 0.3, 1.0, 0.5]])
    labels = torch.tensor([0, 1, 0])
    m = classification_metrics(logits, labels, num_classes=6)
    assert m["top1"] == pytest.approx(100 / 3)  # only sample 0 is right
    assert m["top5"] == pytest.approx(100 * 2 / 3)  # sample 2's label has the lowest of its six logits
    assert m["mean_class_acc"] == pytest.approx(25.0)  # class 0: 1 of 2 right, class 1: 0 of 1
    assert m["per_class_acc"][:2] == [50.0, 0.0] and m["per_class_acc"][2] is None
    assert m["confusion"][1][2] == 1 and m["confusion"][0][4] == 1


def test_optimizer_choice():
    exp = Experiment.from_dict(dict(model="tsn_r18", dataset="synth-kinetics", optimizer="adamw", lr=5e-4))
    model = torch.nn.Linear(3, 2)
    assert isinstance(build_optimizer(model, exp), torch.optim.AdamW)
    assert isinstance(build_optimizer(model, exp.replace(optimizer="sgd")), torch.optim.SGD)
    with pytest.raises(ConfigError, match="optimizer must be one of sgd, adamw, got .adam."):
        exp.replace(optimizer="adam")


def test_a_small_model_learns_synth_kinetics(tiny_kinetics, tmp_path):
    # 48 steps from scratch learn the two scenes (50%) but rarely the objects: 40-58% over 10 seeds and thread
    # counts, measured; a model that learned nothing predicts one class (25%). 48 validation clips keep one clip's
    # luck (2 points) from deciding.
    exp = _experiment(tiny_kinetics, epochs=8, lr=0.05, test_clips=2, test_crops=3)
    record = train(exp, tmp_path / "run", progress=False)
    assert record["status"] == "completed"
    val = record["metrics"]["val"]
    assert val["protocol"]["clips"] == 1 and val["samples"] == 48
    assert val["top1"] >= 35.0, record["history"]  # chance is 25%
    test = record["metrics"]["test"]
    assert (test["protocol"]["clips"], test["protocol"]["crops"]) == (2, 3)
    assert record["complexity"]["params"] > 0 and record["provenance"]["versions"]["torch"]
    assert record["dataset"]["train"] and record["bad_files"]["bad"] == 0
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert {"iter", "epoch"} <= {x["kind"] for x in lines}


def _wait_for_log_lines(run_dir: Path, count: int) -> None:
    log, deadline = run_dir / "metrics.jsonl", time.time() + 120
    while time.time() < deadline:
        if log.is_file() and sum(1 for _ in log.open()) >= count:
            return
        time.sleep(0.05)
    raise AssertionError(f"{log} never reached {count} lines")


def test_sigterm_then_sigkill_then_resume_is_bit_identical(tiny_kinetics, tmp_path):
    exp = _experiment(tiny_kinetics, epochs=2, checkpoint_every=1, dropout=0.5)
    params = _params_file(tmp_path, exp)
    reference, stopped = tmp_path / "reference", tmp_path / "stopped"
    assert _cli("train", str(params), "--run-dir", str(reference), "--quiet").wait() == 0

    proc = _cli("train", str(params), "--run-dir", str(stopped), "--quiet")
    _wait_for_log_lines(stopped, 2)
    proc.send_signal(signal.SIGTERM)  # a clean stop: checkpoint, record, exit 0
    assert proc.wait() == 0
    assert read_record(stopped)["status"] == "interrupted"

    proc = _cli("train", str(params), "--run-dir", str(stopped), "--quiet")
    _wait_for_log_lines(stopped, 6)  # into epoch 1 (6 iterations per epoch) ...
    proc.send_signal(signal.SIGKILL)  # ... then no chance to clean up
    proc.wait()
    assert read_record(stopped)["status"] == "running"

    assert _cli("train", str(params), "--run-dir", str(stopped), "--quiet").wait() == 0
    assert read_record(stopped)["status"] == "completed"
    a, b = _weights(reference), _weights(stopped)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_non_finite_loss_fails_cleanly_and_keeps_the_checkpoint(tiny_kinetics, tmp_path):
    exp = _experiment(tiny_kinetics, epochs=3, lr=1e12, checkpoint_every=1)
    with pytest.raises(TrainingFailed, match="non-finite loss"):
        train(exp, tmp_path / "run", progress=False)
    record = read_record(tmp_path / "run")
    assert record["status"] == "failed" and "non-finite loss" in record["reason"]
    state = torch.load(tmp_path / "run" / "checkpoints" / "last.pt", weights_only=True)
    assert all(torch.isfinite(t).all() for t in state["model"].values() if t.is_floating_point())


def test_ddp_two_processes_equal_one(tiny_kinetics, tmp_path):
    exp = _experiment(tiny_kinetics, epochs=1, iters_per_epoch=3, freeze_bn=True, dropout=0.0)
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    assert _cli("train", str(_params_file(tmp_path, exp)), "--run-dir", str(single), "--quiet").wait() == 0
    two = exp.replace(nproc=2)
    assert _cli("train", str(_params_file(tmp_path, two)), "--run-dir", str(ddp), "--quiet").wait() == 0
    record = read_record(ddp)
    assert record["status"] == "completed" and record["provenance"]["world_size"] == 2
    a, b = _weights(single), _weights(ddp)
    worst = max((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].is_floating_point())
    # float32 all-reduce adds the two half-batches' gradients in another order than one process does: a few 1e-5
    # after three steps; a wrong shard or a missed average moves weights by 1e-2 and more
    assert worst < 1e-4


@pytest.mark.slow
def test_ddp_with_ordinary_bn_is_not_one_process(tiny_kinetics, tmp_path):
    """Ordinary BN normalises each process's share with its own statistics: 2 processes and 1 at the same global
    batch then train different weights (the docs say equality holds with frozen or synchronised BN only)."""
    exp = _experiment(tiny_kinetics, epochs=1, iters_per_epoch=3, freeze_bn=False, dropout=0.0)
    single, ddp = tmp_path / "single", tmp_path / "ddp"
    assert _cli("train", str(_params_file(tmp_path, exp)), "--run-dir", str(single), "--quiet").wait() == 0
    assert _cli("train", str(_params_file(tmp_path, exp.replace(nproc=2))), "--run-dir", str(ddp),
                "--quiet").wait() == 0
    a, b = _weights(single), _weights(ddp)
    worst = max((a[k].double() - b[k].double()).abs().max().item() for k in a if a[k].is_floating_point())
    assert worst > 1e-3
