"""Gradient accumulation: K micro-batches of B/K per step train what one batch of B trains (frozen BN), with the
same sample order and LR schedule; the record says how the batch was made."""

from pathlib import Path

import pytest
import torch

from actionbook.errors import ConfigError
from actionbook.experiment import Experiment, changed_fields
from actionbook.train import train
from actionbook.train.distributed import DistContext, ShardedBatchSampler
from conftest import tiny_kinetics_set


@pytest.fixture(scope="module")
def tiny_kinetics(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data") / "synth-kinetics"
    tiny_kinetics_set(root, train_per_class=6, val_per_class=2, seed=1)
    return root


def _experiment(root: Path, **overrides) -> Experiment:
    values = dict(dataset="synth-kinetics", data_root=str(root), model="tsn_r18", frames=4, input_size=32,
                  scale_size=36, batch_size=8, epochs=1, iters_per_epoch=3, lr=0.02, workers=0, device="cpu",
                  seed=3, dropout=0.0, freeze_bn=True)
    values.update(overrides)
    return Experiment.from_dict(values)


def _weights(run_dir: Path) -> dict:
    return torch.load(run_dir / "checkpoints" / "last.pt", weights_only=True)["model"]


def _worst_relative(a: dict, b: dict) -> float:
    return max(((a[k].double() - b[k].double()).abs().max() / a[k].double().abs().max().clamp_min(1e-12)).item()
               for k in a if a[k].is_floating_point())


def test_two_micro_batches_of_half_equal_one_batch_with_frozen_bn(tiny_kinetics, tmp_path):
    whole = train(_experiment(tiny_kinetics), tmp_path / "whole", progress=False)
    halves = train(_experiment(tiny_kinetics, accumulate_steps=2), tmp_path / "halves", progress=False)
    assert halves["batch"] == {"global": 8, "processes": 1, "micro_batch": 4, "accumulate_steps": 2,
                               "bn_statistics": "frozen (running statistics): equal to the global batch in one step"}
    # Equal up to rounding: oneDNN sums a batch of 4 in another order than one of 8, and after three steps the worst
    # weight moved by 1.7e-5 of its tensor's largest (3e-7 without the channels_last stages); a wrong scale or a lost
    # micro-batch moves them by percents.
    assert _worst_relative(_weights(tmp_path / "whole"), _weights(tmp_path / "halves")) < 1e-4
    assert [h["lr"] for h in halves["history"]] == [h["lr"] for h in whole["history"]]
    assert halves["history"][0]["train_loss"] == pytest.approx(whole["history"][0]["train_loss"], rel=1e-5)


def test_micro_batches_split_each_ranks_share_in_order():
    def batches(world, steps):
        out = []
        for rank in range(world):
            ctx = DistContext(rank, world, rank, torch.device("cpu"))
            sampler = ShardedBatchSampler(20, 8, ctx, shuffle=True, seed=5, drop_last=True, micro_batches=steps)
            out.append(list(sampler))
        return out

    [whole], [quarters] = batches(1, 1), batches(1, 4)
    assert len(quarters) == 4 * len(whole) == 8 and all(len(q) == 2 for q in quarters)
    assert [i for q in quarters for i in q] == [i for b in whole for i in b]  # same clips, same order
    two_ranks = batches(2, 2)  # each rank's share of every global batch, in two micro-batches of 2
    for step, batch in enumerate(whole):
        assert sorted(two_ranks[0][2 * step] + two_ranks[0][2 * step + 1] + two_ranks[1][2 * step]
                      + two_ranks[1][2 * step + 1]) == sorted(batch)


def test_a_batch_that_does_not_split_is_a_one_line_error():
    with pytest.raises(ConfigError, match="batch_size 12 .* nnodes=1 x nproc=2 .* accumulate_steps=4"):
        Experiment.from_dict(dict(model="tsn_r18", dataset="synth-kinetics", batch_size=12, nproc=2,
                                  accumulate_steps=4))


def test_a_run_recorded_before_accumulation_existed_is_the_same_run_at_k1():
    exp = Experiment.from_dict(dict(model="tsn_r18", dataset="synth-kinetics", batch_size=8))
    older = {k: v for k, v in exp.to_dict().items() if k not in ("accumulate_steps", "nnodes")}
    assert changed_fields(older, exp.to_dict()) == []
    assert changed_fields(older, exp.replace(accumulate_steps=2).to_dict()) == ["accumulate_steps"]
