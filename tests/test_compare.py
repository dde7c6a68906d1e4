"""`actionbook compare`: the paired top-1 difference of two evaluations on the same videos, with a bootstrap 95%
interval and McNemar's exact test, checked on constructed predictions whose answer is known."""

import math

import pytest
import torch

from actionbook import runs
from actionbook.cli import main
from actionbook.compare import compare_runs, mcnemar_p, paired_comparison
from actionbook.errors import ConfigError


def test_mcnemar_is_the_exact_binomial_test_of_the_discordant_videos():
    assert mcnemar_p(0, 10) == pytest.approx(2 / 2**10)
    assert mcnemar_p(3, 3) == 1.0 and mcnemar_p(0, 0) == 1.0
    assert mcnemar_p(2, 8) == pytest.approx(2 * sum(math.comb(10, k) for k in range(3)) / 2**10)
    assert mcnemar_p(8, 2) == mcnemar_p(2, 8)


def test_the_paired_difference_and_its_bootstrap_interval():
    a = torch.tensor([True] * 60 + [False] * 40)
    b = torch.tensor([True] * 70 + [False] * 30)  # B right on 10 more videos, wrong on none A gets right
    result = paired_comparison(a, b, resamples=4000, seed=1)
    assert (result.top1_a, result.top1_b, result.difference) == (60.0, 70.0, 10.0)
    assert (result.only_a_right, result.only_b_right) == (0, 10)
    # resampling 100 videos of which 10 differ: the difference is Binomial(100, 0.1) points, 95% within ~[4, 16]
    low, high = result.interval
    assert 3 <= low <= 5.5 and 14.5 <= high <= 17
    same = paired_comparison(a, a, resamples=500)
    assert same.interval == (0.0, 0.0) and same.p_value == 1.0


def _evaluated_run(folder, right: list[bool], videos: list[str]):
    """A run folder whose test evaluation kept these predictions (3 classes, 2 views; label 0 for every video)."""
    logits = torch.zeros(len(right), 2, 3)
    for i, ok in enumerate(right):
        logits[i, :, 0 if ok else 1] = 1.0
    result = {"top1": 100.0 * sum(right) / len(right), "protocol": {"split": "val", "clips": 2, "crops": 1},
              runs.PREDICTIONS: {"logits": logits, "labels": torch.zeros(len(right), dtype=torch.long),
                                 "videos": videos, "protocol": {}}}
    runs.write_eval(folder, "test", result)
    return folder


def test_two_runs_are_paired_by_video_not_by_position(tmp_path, capsys):
    names = [f"v{i}.mp4" for i in range(40)]
    a = _evaluated_run(tmp_path / "a", [i < 20 for i in range(40)], names)
    # B: the same videos in reverse order, right on the first 30 (by name) plus one video A never saw
    b = _evaluated_run(tmp_path / "b", [i < 30 for i in range(40)][::-1] + [True], names[::-1] + ["extra.mp4"])
    result = compare_runs(a, b, resamples=1000)
    assert result.videos == 40 and result.difference == 25.0
    assert (result.only_a_right, result.only_b_right) == (0, 10)
    assert main(["compare", str(a), str(b), "--resamples", "1000"]) == 0
    out = capsys.readouterr().out
    assert "B - A = +25.00 points, bootstrap 95% interval [+" in out and "McNemar exact p = 0.001953" in out


def test_runs_without_kept_predictions_are_one_line(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with pytest.raises(ConfigError, match="no evaluation with kept predictions in common"):
        compare_runs(tmp_path / "a", tmp_path / "b")
