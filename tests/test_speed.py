"""The speed protocol's bookkeeping (actionbook.measure.speed) and MMAction2's benchmark over it
(actionbook.studies.mmaction): warm-up skipped, statistics, memory kind, records, the ratio table, the CLI.

Timings are never checked against limits; the models are tiny (the real networks only on the meta device).
"""

from __future__ import annotations

import argparse
import ast
import inspect
import json
import statistics

import pytest
import torch
from torch import nn

from actionbook.errors import ConfigError
from actionbook.measure import peaks, speed
from actionbook.models.registry import MMACTION_MEAN, MMACTION_STD
from actionbook.paths import speed_records_dir
from actionbook.studies.mmaction import bench, cases, chapter, cli, peers


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models on a shared machine: one intra-op thread avoids OpenMP waiting on descheduled threads."""
    with speed.torch_threads(1):
        yield


class TinyNet(nn.Module):
    """(N, 3, T, H, W) -> (N, 400): a conv, BN, ReLU, global pool and FC."""

    def __init__(self, width: int = 4):
        super().__init__()
        self.conv = nn.Conv3d(3, width, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm3d(width)
        self.fc = nn.Linear(width, cases.NUM_CLASSES)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3, 4)))


def tiny_workload(batch: int = 2) -> speed.Workload:
    """Two frames of 16x16 per clip, normalised as MMAction2's models are."""
    return speed.Workload.for_model("mmaction_tsn_r50", (batch, 3, 2, 16, 16), cases.NUM_CLASSES)


FAKE_PEAKS = {"fp32": {"dtype": "float32", "size": 256, "flops_per_s": 1e10, "seconds": 0.0},
              "bf16": {"dtype": "bfloat16", "size": 256, "flops_per_s": 1e9, "seconds": 0.0}}


# ---- statistics and cases -------------------------------------------------------------------------------------------

def test_summarize_skips_the_warmup():
    times = [9.0, 8.0, 1.0, 2.0, 3.0, 6.0]
    s = speed.summarize(times, skip=2)
    assert s["n"] == 4 and s["skipped"] == 2
    assert s["warmup_times"] == [9.0, 8.0] and s["times"] == [1.0, 2.0, 3.0, 6.0]
    assert s["mean"] == pytest.approx(3.0)
    assert s["std"] == pytest.approx(statistics.stdev([1.0, 2.0, 3.0, 6.0]))
    assert s["median"] == pytest.approx(2.5)
    assert (s["min"], s["max"]) == (1.0, 6.0)
    assert speed.summarize([0.5], skip=0)["std"] == 0.0
    with pytest.raises(ValueError):
        speed.summarize([1.0, 2.0], skip=2)


def test_every_seed_row_is_a_case():
    from actionbook.studies.mmaction.published import mmaction_rows

    seed = cases.resolve_settings(["seed"])
    mmaction_lite = [r for r in mmaction_rows() if r.framework == "mmaction-lite"]
    assert len(seed) == len(mmaction_lite) == 10
    assert "i3d_heavy" not in seed and "i3d_heavy" in cases.resolve_settings(["all"])
    assert cases.resolve_settings(["tsn_r50_1x1x3_100e_kinetics400_rgb", "tsn"]) == ["tsn"]
    assert cases.resolve_settings(["i3d_r50_fast32x2x1_100e_kinetics400_rgb"]) == ["i3d_fast"]
    assert cases.resolve_settings(["i3d_r50_32x2x1_100e_kinetics400_rgb"]) == ["i3d"]
    with pytest.raises(ConfigError, match="unknown benchmark setting"):
        cases.resolve_settings(["tsn_r101"])


def test_case_defaults_per_device():
    cpu = cases.bench_case("slowfast_4x16", "cpu")
    assert (cpu.batch, cpu.input_size, cpu.published_batch) == (1, 64, 8)
    assert cpu.input_shape == (1, 3, 32, 64, 64) and cpu.sampler == "32x2x1"
    tsn = cases.bench_case("tsn", "cuda")  # a case is data: no GPU needed to describe one
    assert (tsn.batch, tsn.input_size, tsn.frames) == (32, 224, 3)
    assert cases.bench_case("i3d_fast").setting != cases.bench_case("i3d").setting
    assert cases.bench_case("tsm", batch=3, input_size=96).input_shape == (3, 3, 8, 96, 96)
    with pytest.raises(ConfigError):
        cases.bench_case("tsn", batch=0)


def test_cases_normalise_as_mmaction2_did():
    """The registry's mean and std of every case's model are MMAction2's constants (the benchmark's old ones)."""
    for key in cases.CASE_KEYS:
        workload = cases.bench_case(key).workload
        assert (workload.mean, workload.std) == (MMACTION_MEAN, MMACTION_STD)
    clips = torch.randint(0, 256, (1, 3, 2, 4, 4), dtype=torch.uint8)
    mean = torch.tensor(MMACTION_MEAN).view(3, 1, 1, 1)
    std = torch.tensor(MMACTION_STD).view(3, 1, 1, 1)
    assert torch.equal(tiny_workload(1).model_input(clips), (clips.float() / 255 - mean) / std)


def test_implementations_say_where_no_same_network_exists():
    for key in cases.CASE_KEYS:
        impls = {i.name: i for i in peers.implementations(cases.bench_case(key))}
        assert set(impls) == set(peers.IMPLEMENTATIONS)
        for impl in impls.values():
            assert impl.note
            if impl.build is None:
                assert peers.implementation_available(impl) == impl.note
    assert peers.implementations(cases.bench_case("tsn"))[0].build is not None  # torchvision's resnet50
    r2 = {i.name: i for i in peers.implementations(cases.bench_case("r2plus1d_8x8"))}
    assert r2["torchvision"].build is None and r2["pytorchvideo"].build is None


def test_torchvision_tsm_shift_matches_ours():
    from actionbook.models.resnet2d import TemporalShift

    x = torch.randn(2 * 8, 16, 3, 3)
    assert torch.equal(peers._temporal_shift(x, 8, 8), TemporalShift(8, 8)(x))


def test_torchvision_tsn_is_the_same_network():
    case = cases.bench_case("tsn", input_size=32)
    ours = peers.build_ours(case)
    theirs = peers.implementations(case)[0].build(case)
    assert sum(p.numel() for p in theirs.parameters()) == sum(p.numel() for p in ours.parameters())
    from actionbook.measure.flops import count_flops

    assert count_flops(theirs, case.input_shape)["conv_macs"] == count_flops(ours, case.input_shape)["conv_macs"]


def test_training_flops_convention():
    flops = speed.training_flops(TinyNet(), tiny_workload().shape)
    conv = 2 * 2 * 16 * 16 * 4 * 3 * 27  # outputs x (in x kernel volume)
    assert flops["forward_conv_macs"] == conv
    assert flops["forward_macs"] == conv + 2 * 4 * cases.NUM_CLASSES
    assert flops["train_flops_per_iter"] == 6 * flops["forward_macs"]


def test_matmul_peak_is_positive():
    peak = peaks.matmul_peak("cpu", max_size=256, repeats=1)
    assert peak["size"] == 256 and peak["flops_per_s"] > 0


# ---- the protocols ---------------------------------------------------------------------------------------------------

def test_loader_protocol_skips_warmup_and_resets_memory():
    workload = tiny_workload()
    runner = speed.Runner("train", TinyNet, workload)
    out = speed.run_loader(runner, speed.SyntheticLoader(workload), warmup=3, iters=4)
    assert len(runner.warmup_times) == 3 and len(runner.times) == 4 and len(out["data_times"]) == 4
    assert all(0 <= d <= t for d, t in zip(out["data_times"], runner.times))
    assert runner.memory["kind"].startswith("cpu peak RSS growth")
    assert runner.memory["mib"] == pytest.approx(runner.memory["raw_peak_mib"] - runner.memory["baseline_mib"])
    assert runner.params == sum(p.numel() for p in TinyNet().parameters())


def test_interleaved_runners_each_get_their_iterations():
    workload = tiny_workload()
    runners = [speed.Runner("compute", TinyNet, workload),
               speed.Runner("impl-other", lambda: TinyNet(width=6), workload),
               speed.Runner("opt-channels_last", TinyNet, workload, speed.SpeedOptions(channels_last=True))]
    speed.run_interleaved(runners, speed.synthetic_batch(workload), warmup=2, iters=3)
    for r in runners:
        assert len(r.warmup_times) == 2 and len(r.times) == 3
        assert r.memory is not None and "kind" in r.memory
    with pytest.raises(ConfigError):
        speed.run_interleaved(runners, speed.synthetic_batch(workload), warmup=0, iters=0)


def test_speed_options_labels():
    assert speed.SpeedOptions().label() == "eager fp32"
    assert speed.SpeedOptions(amp="bf16", channels_last=True).label() == "bf16+channels_last"
    with pytest.raises(ConfigError, match="fp16"):
        speed.Runner("x", TinyNet, tiny_workload(), speed.SpeedOptions(amp="fp16")).build()


# ---- the whole benchmark, records and tables ---------------------------------------------------------------------

@pytest.fixture
def tiny_bench(monkeypatch):
    """run_bench on the real TSN case, with the networks swapped for TinyNet and fixed matmul peaks."""
    monkeypatch.setattr(bench, "build_ours", lambda case: TinyNet())
    monkeypatch.setattr(bench, "device_peaks", lambda device: FAKE_PEAKS)
    monkeypatch.setattr(bench, "implementations", lambda case: [
        peers.Implementation("other", lambda c: TinyNet(), "the same tiny network elsewhere", "1.0"),
        peers.Implementation("absent", None, "no same network here")])
    monkeypatch.setattr(bench, "implementation_available", lambda impl: None if impl.build else impl.note)


def test_run_bench_writes_one_record_per_variant(tiny_bench, tmp_path):
    plan = bench.BenchPlan(keys=["tsn"], batch=1, input_size=32, warmup=2, iters=3, compare=True,
                           options=["channels_last", "cudnn_benchmark"], loader="synthetic", out=str(tmp_path))
    records = bench.run_bench(plan, progress=None)
    variants = [r["variant"] for r in records]
    assert variants == ["train", "compute", "impl-other", "opt-channels_last"]  # cudnn_benchmark: N/A on the CPU
    files = sorted(p.name for p in tmp_path.glob("*.json"))
    assert files == sorted(f"tsn_r50_1x1x3_100e_kinetics400_rgb.cpu.{v}.json" for v in variants)

    train = json.loads((tmp_path / "tsn_r50_1x1x3_100e_kinetics400_rgb.cpu.train.json").read_text())
    assert train["schema"] == speed.SCHEMA and train["device"] == "cpu"
    assert train["time"]["skipped"] == 2 and train["time"]["n"] == 3 and len(train["time"]["times"]) == 3
    assert train["protocol"]["warmup_skipped"] == 2 and train["protocol"]["published_warmup_skipped"] == 50
    assert 0 <= train["data"]["data_share"] <= 1
    assert train["memory"]["kind"].startswith("cpu peak RSS growth")
    assert train["input"]["batch"] == 1 and train["input"]["published_batch"] == 32
    assert train["input"]["input_size"] == 32
    assert "CPU-scale run" in train["note"] and "batch 1 per device (published 32 per GPU)" in train["note"]
    assert train["flops"]["train_flops_per_iter"] > 0 and train["mfu"]["peak_used"] == "fp32"
    assert train["mfu"]["mfu"] == pytest.approx(
        train["flops"]["train_flops_per_iter"] / train["time"]["mean"] / FAKE_PEAKS["fp32"]["flops_per_s"])
    assert train["published"][0]["framework"] == "mmaction-lite" and train["published"][0]["s_iter"] == 0.2966
    assert {"git", "versions", "hardware"} <= set(train["provenance"])
    assert train["load"]["loadavg_before"] is not None

    compute = next(r for r in records if r["variant"] == "compute")
    assert compute["protocol"]["interleaved_with"] == ["compute", "impl-other", "opt-channels_last"]
    notes = {n.get("implementation") or n.get("option"): n for n in compute["implementations"]}
    assert notes["absent"]["measured"] is False and notes["cudnn_benchmark"]["reason"].startswith("N/A")
    other = next(r for r in records if r["variant"] == "impl-other")
    assert other["compared_to"]["variant"] == "compute"
    assert other["compared_to"]["ratio_mean"] == pytest.approx(other["time"]["mean"] / compute["time"]["mean"])
    rounds = [t / b for t, b in zip(other["time"]["times"], compute["time"]["times"])]
    assert other["compared_to"]["ratio_paired_median"] == pytest.approx(statistics.median(rounds))
    assert other["same_network_check"]["same"] is True

    loaded = speed.load_records(tmp_path)
    assert len(loaded) == 4
    table = chapter.speed_table(loaded)
    assert len(table) == 1 and table[0]["compute_mean"] == compute["time"]["mean"]
    ratios = chapter.ratio_table(loaded)
    assert [r["variant"] for r in ratios] == ["impl-other", "opt-channels_last"]
    impl_row = ratios[0]
    assert impl_row["ours_over_theirs"] == pytest.approx(1 / impl_row["ratio"])
    assert ratios[1]["ours_over_theirs"] is None
    assert chapter.format_ratio_table(ratios).count("\n") == 3  # header, rule, two rows
    assert "| tsn | cpu | 1 | 32 |" in chapter.format_speed_table(table)


def test_best_options_run_only_when_several_help(tiny_bench, tmp_path, monkeypatch):
    real_compare = bench.compare
    monkeypatch.setattr(bench, "compare", lambda record, baseline: real_compare(record, baseline) | {
        "ratio_paired_median": 0.5})  # every option "helps"
    plan = bench.BenchPlan(keys=["tsn"], batch=1, input_size=32, warmup=1, iters=2, options=["bf16", "channels_last"],
                           loader="synthetic", out=None)
    records = bench.run_bench(plan, progress=None)
    best = next(r for r in records if r["variant"] == "opt-best")
    assert best["options"]["label"] == "bf16+channels_last" and best["mfu"]["peak_used"] == "bf16"
    assert best["compared_to"]["baseline"]["n"] == 2
    assert not list(tmp_path.iterdir())  # out=None writes nothing


def test_cli_parses_and_lists(capsys):
    parser = argparse.ArgumentParser(prog="actionbook")
    cli.add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["bench", "tsn", "slowfast_4x16", "--options", "--compare", "--iters", "3"])
    assert args.settings == ["tsn", "slowfast_4x16"] and args.options == "all" and args.compare and args.iters == 3
    assert args.out == str(speed_records_dir())  # the book's records, wherever the command runs from
    assert cli._option_list(args.options) == list(speed.OPTIONS)
    assert cli._option_list("bf16, compile") == ["bf16", "compile"]
    args = parser.parse_args(["bench", "--list"])
    assert args.func(args) == 0
    assert "slowfast_4x16" in capsys.readouterr().out
    args = parser.parse_args(["bench"])
    with pytest.raises(ConfigError, match="name at least one setting"):  # the command line shows it as one line
        args.func(args)


def test_plan_rejects_bad_input():
    with pytest.raises(ConfigError, match="unknown speed option"):
        bench.BenchPlan(keys=["tsn"], options=["fp8"]).resolved()
    with pytest.raises(ConfigError, match="loader"):
        bench.BenchPlan(keys=["tsn"], loader="disk").resolved()
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA device"):
            bench.BenchPlan(keys=["tsn"], device="cuda").resolved()


def test_fastest_table_picks_ours_best_and_fastest_other():
    def rec(variant, impl, label, mean):
        return {"case": "tsn", "device": "cpu", "variant": variant, "implementation": impl, "params": 1,
                "options": {"label": label}, "time": {"mean": mean, "std": 0.0}, "memory": {"mib": 1.0},
                "mfu": {"mfu": 0.1}, "compared_to": {"baseline": {"mean": 1.0, "std": 0.0, "memory_mib": 1.0,
                                                                   "params": 1, "mfu": 0.1}}}

    records = [rec("impl-a", "a", "eager fp32", 0.9), rec("impl-b", "b", "eager fp32", 1.2),
               rec("opt-compile", "actionbook", "compile", 0.8), rec("opt-bf16", "actionbook", "bf16", 3.0)]
    (row,) = chapter.fastest_table(records)
    assert (row["ours_best_variant"], row["fastest_other"]) == ("opt-compile", "a")
    assert row["ours_eager_over_fastest_other"] == pytest.approx(1 / 0.9)
    assert row["ours_best_over_fastest_other"] == pytest.approx(0.8 / 0.9)
    assert "| tsn | cpu | 1.000 | 0.800 (compile) | 0.900 (a) | 1.11 | 0.89 |" in chapter.format_fastest_table([row])


def test_the_protocol_knows_no_study():
    """actionbook.measure.speed is core: it imports nothing from the studies or the report."""
    tree = ast.parse(inspect.getsource(speed))
    imported = [f"{node.module}.{alias.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                for alias in node.names]
    imported += [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
    assert "actionbook.data.to_model_input" in imported  # the one normalisation, read correctly
    assert not [m for m in imported if m.startswith(("actionbook.studies", "actionbook.report"))]
