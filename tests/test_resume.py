"""Runs that lose nothing: a run killed at any moment and resumed, or re-run with a run-neutral change, ends with the
record and the weights of the uninterrupted run; one writer per run folder.

A kill is simulated in the process: a `Killed` exception (a BaseException, so nothing in the trainer catches it, as
nothing can catch SIGKILL) is raised at the n-th call of a function the trainer calls at the moment under test.
The subprocess SIGTERM/SIGKILL test lives in test_train.py.
"""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from actionbook import runs
from actionbook.errors import ConfigError
from actionbook.experiment import Experiment
from actionbook.train import evaluate_run, train, trainer
from conftest import tiny_kinetics_set

VOLATILE = ("mean_iter_s", "mean_data_s")  # wall-clock figures differ between any two runs


class Killed(BaseException):
    """Stands for SIGKILL: no handler in the trainer sees it."""


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data") / "synth-kinetics"
    tiny_kinetics_set(root, train_per_class=6, val_per_class=3, seed=2)
    return root


def _experiment(root: Path, **overrides) -> Experiment:
    values = dict(dataset="synth-kinetics", data_root=str(root), model="tsn_r18", frames=4, input_size=32,
                  batch_size=4, epochs=3, iters_per_epoch=3, optimizer="adamw", lr=1e-3, lr_scheduler="cosine",
                  workers=0, device="cpu", log_every=1, seed=5, checkpoint_every=2, test_clips=2)
    values.update(overrides)
    return Experiment.from_dict(values)


def _comparable(record: dict) -> dict:
    history = [{k: v for k, v in e.items() if k not in VOLATILE} for e in record["history"]]
    return {"status": record["status"], "history": history, "metrics": record["metrics"],
            "bad_files": record["bad_files"]}


def _weights(run_dir: Path) -> dict:
    return torch.load(runs.checkpoint_file(run_dir, "last"), weights_only=True)["model"]


@pytest.fixture(scope="module")
def reference(data_root, tmp_path_factory) -> tuple[dict, dict]:
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    record = train(_experiment(data_root), run_dir, progress=False)
    assert record["status"] == "completed" and record["metrics"]["test"]["samples"] == 12
    return _comparable(record), _weights(run_dir)


def _kill_at(monkeypatch, module, name: str, call: int, action=None) -> None:
    """Make the `call`-th call of module.name die (or run `action` instead, then carry on)."""
    original, calls = getattr(module, name), {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == call:
            if action is None:
                raise Killed(f"{name} call {call}")
            action()
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, wrapper)


def _assert_same_as_reference(run_dir: Path, record: dict, reference) -> None:
    expected, weights = reference
    assert _comparable(record) == expected
    assert _comparable(runs.read_record(run_dir)) == expected
    mine = _weights(run_dir)
    assert mine.keys() == weights.keys() and all(torch.equal(mine[k], weights[k]) for k in weights)
    best = torch.load(runs.checkpoint_file(run_dir, "best"), weights_only=True)
    tops = [e["val_top1"] for e in expected["history"]]
    assert best["epoch"] == best["best_epoch"] == tops.index(max(tops)) + 1  # best.pt is the best epoch's end


# (function of trainer, its call that dies): iterations are counted by lr_at (one call per iteration, plus one per
# epoch summary), epoch ends by _mark_best and the checkpoint writer, the final test by evaluate (3 val + 1 test)
KILLS = [
    ("lr_at", 2),  # mid-epoch, before the first checkpoint: a fresh start, metrics.jsonl rewritten
    ("lr_at", 6),  # in epoch 2 after a mid-epoch checkpoint: the epoch's train statistics come from the checkpoint
    ("_mark_best", -1),  # after last.pt of the last new best epoch, before best.pt points at it
    ("evaluate", 4),  # during the final multi-view test
]


@pytest.mark.parametrize("function, call", KILLS, ids=[f"{f}-{c}" for f, c in KILLS])
def test_killed_anywhere_then_resumed_equals_the_uninterrupted_run(data_root, tmp_path, monkeypatch, reference,
                                                                    function, call):
    exp, run_dir = _experiment(data_root), tmp_path / "run"
    with monkeypatch.context() as patch:
        if function == "_mark_best":
            tops = [e["val_top1"] for e in reference[0]["history"]]
            improvements = sum(top > max(tops[:i], default=-1) for i, top in enumerate(tops))
            _kill_at(patch, trainer.Trainer, function, improvements)
        else:
            _kill_at(patch, trainer, function, call)
        with pytest.raises(Killed):
            train(exp, run_dir, progress=False)
    assert runs.read_record(run_dir)["status"] == "running"  # as a SIGKILL leaves it
    _assert_same_as_reference(run_dir, train(exp, run_dir, progress=False), reference)
    lines = runs.metrics_path(run_dir).read_text().splitlines()
    assert len(lines) == len(set(lines))  # no line written twice


def test_killed_while_writing_a_checkpoint(data_root, tmp_path, monkeypatch, reference):
    """Half a checkpoint on disk (the temporary file) and the previous last.pt intact: the resume starts from it."""
    exp, run_dir = _experiment(data_root), tmp_path / "run"

    def half_written(path, state):
        tmp = path.with_name(path.name + ".tmp")
        tmp.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(b"PK\x03\x04 half a zip")
        raise Killed("in torch.save")

    with monkeypatch.context() as patch:
        original = trainer.ckpt.save_checkpoint
        calls = {"n": 0}

        def dying(path, state):
            calls["n"] += 1
            return half_written(path, state) if calls["n"] == 3 else original(path, state)

        patch.setattr(trainer.ckpt, "save_checkpoint", dying)
        with pytest.raises(Killed):
            train(exp, run_dir, progress=False)
    _assert_same_as_reference(run_dir, train(exp, run_dir, progress=False), reference)


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_killed_at_a_random_iteration(data_root, tmp_path, monkeypatch, reference, seed):
    """A kill at a random one of the run's 12 lr_at calls (3 epochs x (3 iterations + the epoch's summary))."""
    exp, run_dir = _experiment(data_root), tmp_path / "run"
    with monkeypatch.context() as patch:
        _kill_at(patch, trainer, "lr_at", random.Random(seed).randint(1, 12))
        with pytest.raises(Killed):
            train(exp, run_dir, progress=False)
    _assert_same_as_reference(run_dir, train(exp, run_dir, progress=False), reference)


def test_sigterm_at_an_epochs_last_iteration_resumes(data_root, tmp_path, monkeypatch, reference):
    """The checkpoint then sits at the epoch's end, before its validation: the resume validates and goes on."""
    exp, run_dir = _experiment(data_root), tmp_path / "run"
    with monkeypatch.context() as patch:
        _kill_at(patch, trainer, "lr_at", 3, action=lambda: os.kill(os.getpid(), signal.SIGTERM))
        record = train(exp, run_dir, progress=False)
    assert record["status"] == "interrupted" and record["reason"] == "SIGTERM"
    _assert_same_as_reference(run_dir, train(exp, run_dir, progress=False), reference)


@pytest.mark.parametrize("call", [2, 4], ids=["validation", "final-test"])
def test_sigterm_during_an_evaluation_stops_and_resumes(data_root, tmp_path, monkeypatch, reference, call):
    exp, run_dir = _experiment(data_root), tmp_path / "run"
    with monkeypatch.context() as patch:
        _kill_at(patch, trainer, "evaluate", call, action=lambda: os.kill(os.getpid(), signal.SIGTERM))
        record = train(exp, run_dir, progress=False)
    assert record["status"] == "interrupted" and record["reason"] == "SIGTERM"
    _assert_same_as_reference(run_dir, train(exp, run_dir, progress=False), reference)


def test_rerun_of_a_finished_run_with_run_neutral_changes_keeps_its_record(data_root, tmp_path, reference):
    run_dir = tmp_path / "run"
    train(_experiment(data_root), run_dir, progress=False)
    for change in ({"workers": 1}, {"log_every": 2, "checkpoint_every": 0}):
        record = train(_experiment(data_root, **change), run_dir, progress=False)
        _assert_same_as_reference(run_dir, record, reference)
    # a finished run that lost its test (killed in it, with an older record) is completed again on re-run
    runs.write_record(run_dir, {**runs.read_record(run_dir), "status": "running"})
    _assert_same_as_reference(run_dir, train(_experiment(data_root, workers=1), run_dir, progress=False), reference)


def test_a_second_writer_gets_a_one_line_error(data_root, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from actionbook import runs\n"
        f"with runs.exclusive({str(run_dir)!r}):\n    print('locked', flush=True); time.sleep(60)")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(ConfigError, match="is in use by pid") as info:
            train(_experiment(data_root), run_dir, progress=False)
        assert "\n" not in str(info.value)
        assert runs.read_record(run_dir) is None  # the other writer's folder is left alone
    finally:
        holder.kill()
        holder.wait()
    # the lock died with its process: the folder is free again
    assert train(_experiment(data_root, epochs=1), run_dir, progress=False)["status"] == "completed"


def test_cli_second_writer_exits_at_once_and_the_first_finishes(data_root, tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(_experiment(data_root, epochs=6).to_dict()))
    run_dir = tmp_path / "run"
    argv = [sys.executable, "-m", "actionbook.cli", "train", str(params), "--run-dir", str(run_dir), "--quiet"]
    first = subprocess.Popen(argv, env={**os.environ, "OMP_NUM_THREADS": "1"})
    try:
        deadline = time.time() + 120
        while not runs.metrics_path(run_dir).is_file():  # the first is training: it holds the lock
            assert time.time() < deadline and first.poll() is None
            time.sleep(0.05)
        second = subprocess.run(argv, capture_output=True, text=True, timeout=120)
        assert second.returncode == 2
        assert second.stderr.strip().count("\n") == 0 and "is in use by pid" in second.stderr
        assert first.wait(timeout=300) == 0
    finally:
        first.kill()
    assert runs.read_record(run_dir)["status"] == "completed"
    for which in ("last", "best"):  # the first writer's checkpoints are whole
        assert torch.load(runs.checkpoint_file(run_dir, which), weights_only=True)["model"]


def test_bad_files_are_one_line_errors(data_root, tmp_path, monkeypatch):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint at all" * 10)
    code = tmp_path / "code.pt"
    torch.save({"model": Experiment}, code)  # a pickle that would run code when loaded
    for path in (garbage, code):
        with pytest.raises(ConfigError, match="is not a checkpoint that loads as plain tensors") as info:
            train(_experiment(data_root, pretrained=str(path), epochs=1), tmp_path / path.stem, progress=False)
        assert "\n" not in str(info.value) and str(path) in str(info.value)
        assert runs.read_record(tmp_path / path.stem)["status"] == "failed"

    # resuming on data with another class count (data_root is run-neutral: a moved copy of the same dataset)
    other = tmp_path / "three-classes"
    tiny_kinetics_set(other, num_classes=3, train_per_class=6, val_per_class=2, seed=2)
    run_dir = tmp_path / "run"
    with monkeypatch.context() as patch:
        _kill_at(patch, trainer, "lr_at", 5)  # killed in epoch 2
        with pytest.raises(Killed):
            train(_experiment(data_root), run_dir, progress=False)
    with pytest.raises(ConfigError, match="was trained on 4 classes, the data now have 3") as info:
        train(_experiment(other), run_dir, progress=False)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match="was trained on 4 classes, the data at .* have 3") as info:
        evaluate_run(run_dir, [(1, 1)], checkpoint="last", data_root=str(other), progress=False)
    assert "\n" not in str(info.value)


def test_ddp_failure_reason_is_the_failing_ranks_own(tmp_path):
    runs.write_rank_error(tmp_path, 0, "RuntimeError: [gloo] Connection closed by peer [127.0.0.1]:29500")
    runs.write_rank_error(tmp_path, 1, "too many unreadable videos: 3 replacements in 8 items")
    assert runs.first_rank_error(tmp_path) == "rank 1: too many unreadable videos: 3 replacements in 8 items"
    runs.clear_rank_errors(tmp_path)
    assert runs.first_rank_error(tmp_path) is None


def test_a_mistyped_data_root_is_not_a_new_dataset(data_root, tmp_path):
    with pytest.raises(ConfigError, match="does not exist: leave it unset") as info:
        train(_experiment(data_root.parent / "synth-kinetcs"), tmp_path / "run", progress=False)
    assert "\n" not in str(info.value) and not (data_root.parent / "synth-kinetcs").exists()
