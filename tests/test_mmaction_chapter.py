"""The speed chapter (actionbook.studies.mmaction.chapter and figures): the published speed table, with or without
this project's speed records, each record labelled with its hardware."""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

from actionbook.measure.speed import SCHEMA  # noqa: E402
from actionbook.studies.full_scale.chapter import measured_throughputs  # noqa: E402
from actionbook.studies.mmaction import chapter, figures  # noqa: E402

H100 = "NVIDIA H100 80GB HBM3"


def test_published_speed_table_without_records():
    md = chapter.speed_markdown(chapter.speed_frame([]))
    assert md.count("(published)") == 15  # every row of the seed table
    assert "0.5873" in md  # the open-mmaction I3D cell, corrected a hour after the seed
    assert "†" in md  # blank seed cells filled from the same day's table


def test_speed_records_are_labelled_with_their_hardware(tmp_path):
    provenance = {"git": {"commit": "0123456789abcdef", "dirty": False},
                  "versions": {"python": "3.11.2", "torch": "2.14.1", "cuda": "12.8", "numpy": "2.3"},
                  "hardware": {"cpu": "Test CPU", "cpu_count": 2, "torch_threads": 2, "gpu": H100, "gpu_count": 8},
                  "host": "testhost", "world_size": 1, "seed": 0}
    record = {"schema": SCHEMA, "kind": "speed", "case": "tsn", "setting": "tsn_r50_1x1x3_100e_kinetics400_rgb",
              "device": "cuda", "device_name": H100, "variant": "train",
              "input": {"batch": 32, "published_batch": 32, "input_size": 224},
              "time": {"mean": 0.1, "std": 0.01, "median": 0.1, "n": 50, "skipped": 50},
              "data": {"data_share": 0.2}, "memory": {"mib": 8000.0, "kind": "cuda max allocated"},
              "mfu": {"mfu": 0.3}, "flops": {"forward_conv_macs": 32 * 12_261_408_768},
              "published": [{"framework": "mmaction-lite", "s_iter": 0.2966, "memory_mib": 8339}],
              "note": "", "provenance": provenance}
    (tmp_path / "tsn.cuda.train.json").write_text(json.dumps(record))
    records = chapter.load_speed(tmp_path)
    frame = chapter.speed_frame(records)
    assert list(frame["hardware"]) == [f"1x {H100}"]
    md = chapter.speed_markdown(frame)
    assert f"**1x {H100}**" in md and "0.1000 (0.0100)" in md
    rate = measured_throughputs(records)  # one kind only: no estimate (needs 2D and 3D)
    assert rate == {}
    fig = figures.speed_panels(chapter.published_seed_cases(), frame)
    assert len(fig.axes) == 2
    assert fig.axes[1].patches[0].get_width() == 0.1 / 32  # seconds per clip: s/iter over the batch


def test_step_records_show_the_speed_up_and_its_split(tmp_path):
    assert "No step records yet" in chapter.steps_markdown(tmp_path)
    time = {"today": 0.2, "today_fast_runtime": 0.16, "fast": 0.1}
    record = {"kind": "step", "model": "tsn_r18", "threads": {"intra_op_threads": 2},
              "measured": "2026-12-02T18:00:00+00:00", "protocol": {"iters": 30, "batch": [8, 3, 8, 32, 32]},
              "paths": {name: {"time": {"median": t}, "mfu": {"mfu": 0.02 / t},
                               "executed": {"vs_fp32_peak": 0.015 / t}} for name, t in time.items()},
              "speedup": 2.0, "speedup_from_runtime": 1.25, "speedup_from_kernels": 1.6,
              "load": {"loadavg_before": [0.5, 0.4, 0.3], "loadavg_after": [1.1, 0.6, 0.4]}}
    (tmp_path / "step.tsn_r18.json").write_text(json.dumps(record))
    (tmp_path / "data_included.tam_r18.json").write_text(json.dumps(
        {"kind": "data_included", "ratio": 0.81, "protocol": {"batch": [8, 3, 8, 32, 32]}}))
    text = chapter.steps_markdown(tmp_path)
    row = next(line for line in text.splitlines() if "tsn_r18" in line)
    assert "2.00x" in row and "1.25x" in row and "1.60x" in row and "0.5 / 1.1" in row
    assert "| 20% / 15% |" in row  # the fast path against the fp32 matmul peak, declared and executed FLOPs
    assert "**0.81x**" in text and "64 frames" in text
