"""What the book's chapters call: run records -> status per published row (the IBM chapter), the run index and
provenance tables (report/), compute estimates (the full-scale chapter), the figures."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from actionbook.experiment import Experiment  # noqa: E402
from actionbook.models import model_entry  # noqa: E402
from actionbook.report import catalog, markdown  # noqa: E402
from actionbook.report.provenance import notebook_execution, provenance_markdown  # noqa: E402
from actionbook.studies.full_scale import chapter as full_scale  # noqa: E402
from actionbook.studies.full_scale import figures as full_scale_figures  # noqa: E402
from actionbook.studies.ibm import chapter as ibm  # noqa: E402
from actionbook.studies.ibm import figures as ibm_figures  # noqa: E402
from actionbook.studies.ibm import notebook as ibm_notebook  # noqa: E402
from actionbook.studies.ibm import rows  # noqa: E402
from actionbook.studies.ibm.rows import experiment_from_row  # noqa: E402
from actionbook.studies.zoo.chapter import counted_vs_published  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
SSV2_TAM = "st2stv2-TAM-b3-sum-resnet-50-f16-cosine-bs48-e75"
K400_I3D = "kinetics400-i3d-resnet-50-tp-f16-cosine-bs72-e100"


def provenance(gpu: str | None = None, world: int = 1) -> dict:
    return {"git": {"commit": "0123456789abcdef", "dirty": False},
            "versions": {"python": "3.11.2", "torch": "2.14.1", "cuda": "12.8" if gpu else None, "numpy": "2.3"},
            "hardware": {"cpu": "Test CPU", "cpu_count": 2, "torch_threads": 2, "gpu": gpu,
                         "gpu_count": 8 if gpu else 0},
            "host": "testhost", "world_size": world, "seed": 0}


def make_run(runs: Path, name: str, *, dataset: str, model: str, frames: int, epochs: int, status="completed",
             top1=50.0, top5=80.0, iters_per_epoch=None, epochs_done=None, notebook=True, gpu=None, world=1,
             temporal_pooling=None, folder=None) -> Path:
    run = runs / (folder or name)
    run.mkdir(parents=True)
    history = [{"epoch": e + 1, "train_loss": 1.0 / (e + 1), "train_top1": 10.0 * e,
                "val_top1": top1 * (e + 1) / epochs, "val_top5": top5, "lr": 0.01, "mean_iter_s": 0.5}
               for e in range(epochs_done or epochs)]
    proto = {"split": "val", "clips": 1, "crops": 1, "frames": frames, "input_size": 224, "dataset": dataset}
    record = {
        "schema": 1, "status": status, "reason": None if status == "completed" else "stopped",
        "experiment": {"name": name, "dataset": dataset, "model": model, "frames": frames, "epochs": epochs,
                       "iters_per_epoch": iters_per_epoch, "input_size": 224, "batch_size": 8,
                       "temporal_pooling": temporal_pooling},
        "metrics": {"val": {"top1": top1, "top5": top5, "mean_class_acc": top1, "samples": 100, "protocol": proto},
                    "best_val_top1": top1},
        "history": history,
        "complexity": {"params": 23_903_918, "conv_macs": 65_663_926_272, "fvcore_flops": 65_700_000_000,
                       "input": f"1x3x{frames}x224x224", "conv_macs_224": 65_663_926_272},
        "timings": {"train_s": 3600.0, "mean_iter_s": 0.5},
        "provenance": provenance(gpu, world),
    }
    (run / "record.json").write_text(json.dumps(record))
    if notebook:
        nb = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Train\n"]}],
              "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
                           "papermill": {"duration": 125.5, "start_time": "2025-01-01T00:00:00",
                                         "end_time": "2025-01-01T00:02:05", "version": "2.7.0"}},
              "nbformat": 4, "nbformat_minor": 5}
        (run / "train.ipynb").write_text(json.dumps(nb))
    return run


@pytest.fixture
def book(tmp_path) -> Path:
    (tmp_path / "book" / "runs").mkdir(parents=True)
    return tmp_path / "book"


# ---- published rows --------------------------------------------------------------------------------------------

def test_published_ibm_rows_and_their_models():
    pub = rows.published_ibm()
    assert len(pub) == 28
    assert (pub["section"] == rows.SSV2).sum() == 12 and (pub["section"] == rows.K400).sum() == 16
    assert set(pub["family"]) == {"TSN", "TAM", "I3D", "S3D"}
    row = pub.set_index("row").loc[SSV2_TAM]
    assert (row["model"], row["frames"], row["label"]) == ("tam_r50", 16, "TAM ResNet-50")
    assert model_entry("i3d").backbone_label == "Inception-v1"
    assert model_entry("s3d_r50").backbone_label == "ResNet-50"



def test_a_run_reproduces_its_row_or_stands_in_for_the_row_of_its_twin_dataset():
    row, recipe = ibm_notebook.recipe_comparison(experiment_from_row(SSV2_TAM))
    compared = recipe["compared"]
    assert row.row == SSV2_TAM
    # only where it starts from differs: the row's params file starts from its 8-frame stage's checkpoint
    assert compared[compared == "differs"].index.tolist() == ["pretrained"]
    assert compared["lr"].startswith("assumed") and compared["nproc"].startswith("assumed")
    exp = Experiment(model="tam_r50", frames=64, dataset="synth-kinetics")
    row, recipe = ibm_notebook.recipe_comparison(exp)
    assert row.row == "kinetics400-TAM-b3-sum-resnet-50-f64-multisteps-syncbn-bs36-e45"  # same model, nearest frames
    assert recipe.loc["dataset", "compared"] == "differs" and recipe.loc["frames", "compared"] == "same"
    assert ibm_notebook.this_run_label(exp, 4) == "this run (synthetic, 4 classes, 224 px)"
    assert "different experiment" in ibm_notebook.published_label(exp)
    assert ibm_notebook.this_run_label(experiment_from_row(SSV2_TAM)).startswith("reproduced")
    assert ibm_notebook.recipe_comparison(Experiment(model="mmaction_tsn_r50"))[0] is None


# ---- run records and status -------------------------------------------------------------------------------------

def test_no_runs_means_not_yet_run(book):
    status = ibm.ibm_status(catalog.load_runs(book / "runs"))
    assert set(status["status"]) == {"not yet run"}
    counts = ibm.status_counts(status)
    assert counts.loc["total", "not yet run"] == 28 and counts.loc["SSv2", "not yet run"] == 12


def test_status_reproduced_partial_proxy(book):
    runs_dir = book / "runs"
    make_run(runs_dir, SSV2_TAM, dataset="st2stv2", model="tam_r50", frames=16, epochs=75, top1=60.5, top5=87.0,
             gpu="NVIDIA H100 80GB HBM3", world=8)
    make_run(runs_dir, K400_I3D, dataset="kinetics400", model="i3d_r50", frames=16, epochs=100,
             iters_per_epoch=10, temporal_pooling="max")
    make_run(runs_dir, "proxy-s3d", dataset="synth-something", model="s3d", frames=8, epochs=3, notebook=False,
             temporal_pooling="max")
    (runs_dir / "broken").mkdir()
    (runs_dir / "broken" / "record.json").write_text("{not json")
    runs = catalog.load_runs(runs_dir)
    assert [r.name for r in runs] == sorted([SSV2_TAM, K400_I3D, "proxy-s3d"])
    status = ibm.ibm_status(runs).set_index("row")

    tam = status.loc[SSV2_TAM]
    assert tam["status"] == "reproduced" and tam["reproduced_top1"] == 60.5
    assert tam["hardware"] == "8x NVIDIA H100 80GB HBM3"
    assert tam["run"].docname == f"/book/runs/{SSV2_TAM}/train"

    i3d = status.loc[K400_I3D]
    assert i3d["status"] == "partial run" and "capped at 10 iterations per epoch" in i3d["gaps"]

    s3d_rows = [r for r in status.index if r.startswith("st2stv2-s3d-tp-max")]
    assert all(status.loc[r, "status"] == "proxy only" for r in s3d_rows)
    assert status.loc["st2stv2-inception-v1-f16-cosine-bs72-e75", "status"] == "not yet run"

    md = ibm.ibm_section_markdown(status.reset_index(), rows.SSV2)
    assert "{doc}`notebook </book/runs/" + SSV2_TAM + "/train>`" in md
    assert "{bdg-success}`reproduced`" in md and "-1.43" in md  # 60.5 - 61.929
    assert "{download}`proxy-s3d (record) </book/runs/proxy-s3d/record.json>`" in md  # no notebook: its record
    assert "nan" not in md


def test_smaller_proxy_backbone_stands_in_for_the_row(book):
    make_run(book / "runs", "synth-kinetics-tam_r18-f8", dataset="synth-kinetics", model="tam_r18", frames=8,
             epochs=5)
    status = ibm.ibm_status(catalog.load_runs(book / "runs")).set_index("row")
    proxied = sorted(status.index[status["status"] == "proxy only"])
    assert proxied == ["kinetics400-TAM-b3-sum-resnet-50-f16-cosine-bs48-e100",
                       "kinetics400-TAM-b3-sum-resnet-50-f64-multisteps-syncbn-bs36-e45"]
    assert not ibm.same_kind("tam_r18", "tam_inception_v1") and not ibm.same_kind("tsn_r18", "tam_r50")


def test_partial_run_describes_what_is_missing(book):
    make_run(book / "runs", SSV2_TAM, dataset="st2stv2", model="tam_r50", frames=16, epochs=75, epochs_done=5,
             status="interrupted")
    status = ibm.ibm_status(catalog.load_runs(book / "runs")).set_index("row")
    assert status.loc[SSV2_TAM, "status"] == "partial run"
    assert "interrupted" in status.loc[SSV2_TAM, "gaps"] and "5 of 75 epochs done" in status.loc[SSV2_TAM, "gaps"]


def test_hardware_labels():
    assert catalog.hardware_label(provenance()) == "CPU: Test CPU (2 threads)"
    assert catalog.hardware_label(provenance(world=4)) == "CPU: Test CPU (2 threads), 4 processes"
    assert catalog.hardware_label(provenance("NVIDIA A100", world=2)) == "2x NVIDIA A100"
    assert catalog.hardware_label({}) == "unknown hardware"




def test_runs_and_provenance_tables(book):
    make_run(book / "runs", SSV2_TAM, dataset="st2stv2", model="tam_r50", frames=16, epochs=75)
    runs = catalog.load_runs(book / "runs")
    md = catalog.runs_markdown(runs)
    assert "TAM ResNet-50 (`tam_r50`)" in md and "65.664 G" in md
    prov = provenance_markdown(runs)
    assert "`0123456789`" in prov and "2.1 min" in prov and "torch 2.14.1" in prov
    assert catalog.runs_markdown([]) == "*No run recorded yet.*"
    assert notebook_execution(runs[0].notebook)["duration_s"] == 125.5


# ---- tables and formatting ----------------------------------------------------------------------------------------

def test_markdown_table_escapes_pipes():
    import pandas as pd

    md = markdown.markdown_table(pd.DataFrame([{"a": "x|y", "b": 1}]))
    assert md.splitlines() == ["| a | b |", "|---|---|", "| x\\|y | 1 |"]
    assert markdown.markdown_table(pd.DataFrame()) == "*(empty)*"


def test_counted_vs_published():
    assert counted_vs_published(5, 5, True) == "5 ✓"
    assert counted_vs_published(5, 6, False) == "5 ✗ (published 6)"
    assert counted_vs_published(5, None, None) == "5 (none published)"


# ---- compute estimates ---------------------------------------------------------------------------------------------

def test_published_throughput_from_mmaction_timings():
    rates = full_scale.published_throughputs()
    tsn_macs = 12_261_408_768  # 3 segments of ResNet-50 at 224
    assert rates["2D"].macs_per_s == pytest.approx(3 * tsn_macs * 32 / 0.2966)
    assert rates["3D"].macs_per_s < rates["2D"].macs_per_s


def test_compute_estimate_formula():
    rates = {k: full_scale.Throughput(k, 1e12, "test", "test") for k in ("2D", "3D")}
    est = full_scale.compute_estimates(rates).set_index("row")
    row = est.loc[SSV2_TAM]
    expected = 3 * 65_663_926_272 * 168_913 * 75 + 65_663_926_272 * 24_777 * 75
    assert row["total_macs"] == pytest.approx(expected)
    assert row["gpu_hours"] == pytest.approx(expected / 1e12 / 3600)
    assert row["days_on_gpus"] == pytest.approx(expected / 1e12 / 86400 / 8)
    assert est.loc[K400_I3D, "throughput"] == "3D" and row["throughput"] == "2D"


def test_cost_of_a_row_is_a_range_from_the_row_alone_to_its_chain():
    rates = {k: full_scale.Throughput(k, 1e12, "test", "test", frames_per_s=300.0, mib_per_gmac=20.0)
             for k in ("2D", "3D")}
    chains = full_scale.chain_estimates(rates).set_index("row")
    f64 = "st2stv2-TAM-b3-sum-resnet-50-f64-multisteps-syncbn-bs36-e35"
    alone = full_scale.compute_estimates(rates).set_index("row").loc[f64, "gpu_hours"]
    assert chains.loc[f64, "hours_alone"] == pytest.approx(alone)
    assert len(chains.loc[f64, "chain"]) == 4 and chains.loc[f64, "hours_chain"] > 2 * alone
    # the 16-frame row is a stage of the 64-frame row's chain, at its own cost
    assert chains.loc[f64, "stage_hours"][1] == pytest.approx(chains.loc[SSV2_TAM, "hours_alone"])
    # memory at 36 / 8 clips per GPU, 20 MiB per G conv MACs of the batch
    assert chains.loc[f64, "memory_gib_low"] == pytest.approx(20 * 262.655705088 * 4.5 / 1024)
    assert full_scale.every_stage_hours(chains.reset_index()) < chains["hours_chain"].sum()
    md = full_scale.cost_range_markdown(chains.reset_index())
    assert "f8 → f16 → f32 → f64" in md and " – " in md
    assert "GB" in full_scale.storage_markdown()


# ---- figures --------------------------------------------------------------------------------------------------------

def test_figures_from_published_and_reproduced(book):
    pub = rows.published_ibm()
    fig = ibm_figures.accuracy_vs_flops(pub)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert len(fig.axes) == 2 and "published (hollow)" in legend and "this project (filled)" not in legend
    make_run(book / "runs", SSV2_TAM, dataset="st2stv2", model="tam_r50", frames=16, epochs=75, top1=60.0)
    rep = ibm.reproduced_points(ibm.ibm_status(catalog.load_runs(book / "runs")))
    assert len(rep) == 1
    fig = ibm_figures.accuracy_vs_flops(pub, rep)
    assert "this project (filled)" in [t.get_text() for t in fig.legends[0].get_texts()]
    fig = ibm_figures.accuracy_vs_frames(pub, rep)
    faces = [matplotlib.colors.to_hex(line.get_markerfacecolor()) for line in fig.axes[0].lines
             if line.get_marker() not in ("None", "", None)]
    # 12 hollow published rows, 4 temporal-pooling dots (black), 1 filled reproduced point
    assert (faces.count("#ffffff"), faces.count("#000000"), len(faces)) == (12, 4, 17)
    rates = {k: full_scale.Throughput(k, 1e12, "t", "t", mib_per_gmac=20.0) for k in ("2D", "3D")}
    fig = full_scale_figures.cost_ranges(full_scale.chain_estimates(rates))
    assert len(fig.axes) == 2 and len(fig.axes[0].patches) == 2 * 12  # SSv2: 12 rows, alone and chain
    matplotlib.pyplot.close("all")


# ---- the book's dependency tracking ----------------------------------------------------------------------------------

def test_fingerprint_moves_when_a_record_changes(tmp_path):
    sys.path.insert(0, str(PROJECT / "book" / "_ext"))
    try:
        import actionbook_deps
    finally:
        sys.path.pop(0)
    run = tmp_path / "book" / "runs" / "x"
    run.mkdir(parents=True)
    (run / "record.json").write_text("{}")
    first = actionbook_deps.fingerprint(tmp_path, actionbook_deps.DEFAULT_WATCH)
    assert actionbook_deps.fingerprint(tmp_path, actionbook_deps.DEFAULT_WATCH) == first
    (run / "record.json").write_text('{"status": "completed"}')
    assert actionbook_deps.fingerprint(tmp_path, actionbook_deps.DEFAULT_WATCH) != first
