"""The book's shared conventions (report/): the accuracy convention, the plot grammar's intervals, the sources,
and the speed chapter's sanity checks on records."""

from __future__ import annotations

import matplotlib
import numpy as np
import pytest

matplotlib.use("Agg")

from actionbook.report.accuracy import epoch_accuracy  # noqa: E402
from actionbook.report.sources import SOURCES, framework_name, sources_markdown  # noqa: E402
from actionbook.report.style import bar_kwargs, clipped_yerr, point  # noqa: E402
from actionbook.studies.mmaction.chapter import record_problems, trusted_records  # noqa: E402


def test_best_epoch_with_the_final_one_beside_it():
    record = {"history": [{"epoch": 1, "val_top1": 40.0, "val_top5": 90.0},
                          {"epoch": 2, "val_top1": 70.0, "val_top5": 95.0},
                          {"epoch": 3, "val_top1": 70.0, "val_top5": 96.0},
                          {"epoch": 4, "val_top1": 66.5, "val_top5": 97.0}]}
    acc = epoch_accuracy(record)
    assert (acc.best_top1, acc.best_epoch, acc.best_top5) == (70.0, 2, 95.0)  # ties: the first best, as IBM keeps
    assert (acc.final_top1, acc.final_epoch) == (66.5, 4)
    assert acc.text() == "70.00 (final 66.50)"


def test_accuracy_without_history_is_the_final_metrics_and_none_without_any():
    acc = epoch_accuracy({"metrics": {"val": {"top1": 55.0, "top5": 80.0}}})
    assert acc.best_top1 == acc.final_top1 == 55.0 and acc.text() == "55.00"
    assert epoch_accuracy({"metrics": {}}) is None


def test_intervals_are_clipped_to_0_100():
    lo_hi = clipped_yerr([95.0, 3.0, 50.0], [10.0, 10.0, float("nan")])
    np.testing.assert_allclose(lo_hi, [[10.0, 3.0, 0.0], [5.0, 10.0, 0.0]])


def test_hollow_means_published_and_nothing_else():
    fig, ax = matplotlib.pyplot.subplots()
    point(ax, 1, 50, "TAM", 16, "published")
    point(ax, 2, 40, "TAM", 16, "this project", pooling=True)
    faces = [matplotlib.colors.to_hex(line.get_markerfacecolor()) for line in ax.lines]
    assert faces[0] == "#ffffff" and faces[1] != "#ffffff" and len(ax.lines) == 3  # + the pooling dot
    assert bar_kwargs("TAM", "published")["color"] == "white"
    with pytest.raises(ValueError, match="source"):
        point(ax, 1, 1, "TAM", 8, "reproduced")
    matplotlib.pyplot.close(fig)


def test_sources_link_the_paper_and_repositories_at_commits():
    md = sources_markdown(["paper", "ibm-table", "mmaction-table"])
    assert "https://arxiv.org/abs/2010.11757" in md and "/blob/c88e74b/" in md and "/blob/bc33ac79/" in md
    assert all(url.startswith("https://") for _, url in SOURCES.values())
    assert framework_name("mmaction-lite") == "MMAction2"


def _speed(variant: str, mean: float, n: int = 40, load=(0.5, 0.8), cores: int = 2) -> dict:
    return {"case": "tsn", "device": "cpu", "variant": variant, "time": {"mean": mean, "n": n},
            "load": {"loadavg_before": [load[0], 0, 0], "loadavg_after": [load[1], 0, 0]} if load else {},
            "provenance": {"hardware": {"cpu_count": cores, "cpu": "Test CPU"}}, "setting": "tsn_x",
            "options": {"label": "eager fp32"}, "created": "2026-01-01T00:00:00+00:00"}


def test_speed_records_pass_only_the_sanity_checks():
    good = [_speed("train", 1.0), _speed("compute", 0.8)]
    assert all(record_problems(r, good) == [] for r in good)
    assert "5 measured iterations" in record_problems(_speed("train", 1.0, n=5), [])[0]
    assert "load 9.8 on 2 cores" in record_problems(_speed("train", 1.0, load=(9.8, 3.0)), [])[0]
    assert "not recorded" in record_problems(_speed("train", 1.0, load=None), [])[0]
    slow = [_speed("train", 1.0), _speed("compute", 1.2)]
    assert all("slower than the whole iteration" in record_problems(r, slow)[0] for r in slow)
    kept, rejected = trusted_records(good + [_speed("opt-bf16", 0.5, n=5)])
    assert len(kept) == 2 and len(rejected) == 1 and "measured iterations" in rejected.iloc[0]["Rejected because"]
