"""The proxy study: its params files, its profiles, the aggregation of run records (means, CIs over seeds), and its
command."""

from __future__ import annotations

import argparse
import math
from dataclasses import fields
from pathlib import Path

import pytest
import yaml

from actionbook.experiment import Experiment
from actionbook.paths import params_dir
from actionbook.studies.paramfiles import stale_files
from actionbook.studies.proxy import chapter, cli, figures, findings, grid, params, stats

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params" / "proxy"


# ---- params files and profiles --------------------------------------------------------------------------------

def _files(profile: str) -> list[Path]:
    return sorted((PARAMS / profile).glob("*.yaml"))


def test_params_files_are_up_to_date():
    assert stale_files(params_dir(), params.params_files(), (params.FOLDER,)) == [], "run `actionbook params`"


def test_profiles_are_as_documented():
    default, full = grid.PROFILES["default"], grid.PROFILES["full"]
    assert set(default.families) == set(full.families) == {"TSN", "TAM", "I3D", "S3D"}
    assert set(default.datasets) == set(full.datasets) == {"synth-something", "synth-kinetics"}
    assert set(full.pooling) == {"none", "max"} and set(full.frames) == {8, 16}
    assert len(default.seeds) >= 5 and len(full.seeds) > len(default.seeds) and full.epochs > default.epochs
    # the frames axis: TSN and TAM at 4 and 8 frames on synth-something
    something = {(g["family"], g["frames"]) for g in default.grid() if g["dataset"] == "synth-something"}
    assert {("TSN", 4), ("TAM", 4), ("TSN", 8), ("TAM", 8)} <= something and grid.base_frames("default") == 4
    for name, spec in grid.PROFILES.items():
        files = _files(name)
        extra = len(spec.more_frames_families) * len([t for t in spec.more_frames if t not in spec.frames])
        extra_seeds = spec.seeds if spec.more_frames_seeds is None else spec.more_frames_seeds
        assert len(files) == len(spec) + 1 == (len(spec.datasets) * len(spec.backbones) * len(spec.families)
                                               * len(spec.pooling) * len(spec.frames) * len(spec.seeds)
                                               + extra * len(extra_seeds) + 1)
        assert [p.name for p in files] == sorted(p.name for p in params.profile_files(name))
        assert params.profile_files(name)[0].stem == grid.pretrain_name(name)  # the pretraining runs first
    # a run folder is named after its file: no two profiles may share a name
    stems = [p.stem for name in grid.PROFILES for p in _files(name)]
    assert len(stems) == len(set(stems))


def test_profile_files_for_the_runner_exist():
    for name in grid.PROFILES:
        assert all(p.is_file() for p in params.profile_files(name))


def test_every_params_file_is_a_valid_experiment():
    names = {f.name for f in fields(Experiment)}
    checked = {}
    for profile in grid.PROFILES:
        for path in _files(profile):
            values = yaml.safe_load(path.read_text())
            assert set(values) == names, path.name  # every field: no notebook default leaks in
            exp = Experiment(**values)
            assert exp.name == path.stem and f"proxy profile: {profile}" in exp.notes
            if exp.name == grid.pretrain_name(profile):
                assert (exp.dataset, exp.frames, exp.pretrained) == ("synth-images", 1, "none")
                continue
            # every family starts from the profile's pretrained backbone (the same file), with the IBM recipe
            assert exp.pretrained == "imagenet" and exp.imagenet_checkpoint == grid.pretrained_weights(profile)
            # one recipe for every family (the CPU-scale deviation from IBM's, book/proxy.md)
            assert (exp.optimizer, exp.lr, exp.dropout, exp.augment) == ("adamw", 5e-4, 0.0, "none")
            assert exp.eval_every == exp.epochs  # validated once, at the end
            assert exp.dataset in grid.PROXY_DATA
            assert exp.data_root == f"data/proxy/{exp.dataset}"
            assert exp.flip is (exp.dataset != "synth-something")  # a mirrored "left to right" is "right to left"
            key = (exp.model, exp.temporal_pooling)
            if key not in checked:  # one full validation (builds the model on the meta device) per model kind
                checked[key] = Experiment.from_params(path)
    assert len(checked) == 8  # the four families, with and without temporal pooling


def test_names_encode_the_grid():
    assert (grid.experiment_name("full", "synth-something", "i3d_r18", "max", 16, 3)
            == "proxy-full-something-i3d_r18-tp-f16-s3")
    assert grid.experiment_name("default", "synth-kinetics", "tsn_r18", "none", 8, 0) == \
        "proxy-default-kinetics-tsn_r18-f8-s0"


# ---- statistics -----------------------------------------------------------------------------------------------

def test_mean_ci_uses_students_t():
    mean, half, n = stats.mean_ci([1.0, 2.0, 3.0])
    assert (mean, n) == (2.0, 3)
    assert half == pytest.approx(4.303 * 1.0 / math.sqrt(3))
    mean, half, n = stats.mean_ci([5.0])
    assert mean == 5.0 and math.isnan(half) and n == 1
    assert stats.mean_ci([])[2] == 0
    assert stats.t95(1) == pytest.approx(12.706) and stats.t95(10 ** 6) == pytest.approx(1.96)
    assert stats.t95(4) > stats.t95(4.5) > stats.t95(5)


def test_welch_difference():
    diff, half = stats.welch([10.0, 12.0, 14.0], [1.0, 2.0, 3.0])
    assert diff == pytest.approx(10.0)
    # variances 4/3 and 1/3 of the means; Welch-Satterthwaite df = (5/3)^2 / ((4/3)^2/2 + (1/3)^2/2) = 2.94
    se = math.sqrt(4 / 3 + 1 / 3)
    assert half == pytest.approx(stats.t95((5 / 3) ** 2 / ((4 / 3) ** 2 / 2 + (1 / 3) ** 2 / 2)) * se)
    assert math.isnan(stats.welch([1.0], [2.0])[1])


# ---- aggregation on hand-made records -------------------------------------------------------------------------

class FakeRun:
    def __init__(self, record: dict):
        self.record = record
        self.name = record["experiment"]["name"]

    def link(self, text=None):
        return f"`{text or self.name}`"


def _fingerprint(dataset: str, classes: int | None = None) -> dict:
    config = grid.PROXY_DATA[dataset]
    c = classes or config.num_classes
    return {"train": {"num_classes": c, "videos": c * config.train_per_class},
            "val": {"num_classes": c, "videos": c * config.val_per_class}}


def make_record(dataset: str, model: str, seed: int, top1: float, profile: str = "default", frames: int = 4,
                pooling: str | None = None, status: str = "completed", classes: int | None = None) -> FakeRun:
    name = grid.experiment_name(profile, dataset, model, pooling or "none", frames, seed)
    return FakeRun({
        "status": status,
        "experiment": {"name": name, "dataset": dataset, "model": model, "frames": frames, "seed": seed,
                       "temporal_pooling": pooling, "epochs": 6, "notes": [f"proxy profile: {profile}"]},
        "metrics": {"val": {"top1": top1, "top5": 100.0}},
        "dataset": _fingerprint(dataset, classes),
        "complexity": {"conv_macs": 1e9 if model.startswith("i3d") else 3e8, "params": 11e6},
        "history": [{"epoch": 1, "val_top1": top1}],
        "provenance": {"hardware": {"gpu": None}},
    })


@pytest.fixture
def study():
    """Temporal families far above TSN on synth-something, all close on synth-kinetics; 3 seeds each."""
    acc = {("synth-something", "TSN"): (24, 26, 25), ("synth-something", "TAM"): (80, 84, 82),
           ("synth-something", "I3D"): (70, 74, 72), ("synth-something", "S3D"): (75, 79, 77),
           ("synth-kinetics", "TSN"): (70, 72, 74), ("synth-kinetics", "TAM"): (71, 73, 75),
           ("synth-kinetics", "I3D"): (68, 70, 72), ("synth-kinetics", "S3D"): (70, 71, 72)}
    runs = [make_record(d, grid.MODELS["resnet-18"][f], seed, top1)
            for (d, f), values in acc.items() for seed, top1 in enumerate(values)]
    runs.append(make_record("synth-something", "tsn_r18", 9, 99.0, classes=12))  # trained on other data
    runs.append(make_record("synth-something", "tam_r18", 8, 10.0, status="failed"))
    runs.append(FakeRun({"experiment": {"name": "not-a-proxy", "dataset": "synth-something", "model": "tsn_r18"}}))
    return stats.proxy_frame(runs)


def test_proxy_frame_reads_records(study):
    assert len(study) == 26  # 24 + the run on other data + the failed one; the non-proxy run is left out
    assert set(study["profile"]) == {"default"}
    wrong = study[study["seed"] == 9].iloc[0]
    assert not wrong["data_ok"]
    assert len(stats.usable(study)) == 24


def test_summarize_means_and_cis(study):
    summary = stats.summarize(study).set_index(["dataset", "family"])
    tam = summary.loc[("synth-something", "TAM")]
    assert tam["n"] == 3 and tam["mean"] == pytest.approx(82.0)
    assert tam["ci95"] == pytest.approx(4.303 * 2.0 / math.sqrt(3))
    assert tam["lo"] == pytest.approx(82.0 - tam["ci95"]) and (tam["min"], tam["max"]) == (80, 84)
    tsn = summary.loc[("synth-something", "TSN")]
    assert tsn["n"] == 3 and tsn["mean"] == pytest.approx(25.0)  # the 99% on other data is not counted


def test_difference_between_families(study):
    d = stats.difference(study, {"dataset": "synth-something", "family": "TAM"},
                         {"dataset": "synth-something", "family": "TSN"})
    assert d["diff"] == pytest.approx(57.0) and d["n_a"] == d["n_b"] == 3
    paired = stats.difference(study, {"dataset": "synth-something", "family": "TAM"},
                              {"dataset": "synth-something", "family": "TSN"}, pair_by_seed=True)
    assert paired["diff"] == pytest.approx(57.0)
    assert paired["ci95"] == pytest.approx(4.303 * 1.0 / math.sqrt(3))  # differences 56, 58, 57


def test_contrast_is_welch_for_two_groups_and_adds_variances():
    a, b = [10.0, 12.0, 14.0], [1.0, 2.0, 3.0]
    c = stats.contrast([(1.0, a), (-1.0, b)])
    diff, half = stats.welch(a, b)
    assert c["estimate"] == pytest.approx(diff) and c["high"] - c["estimate"] == pytest.approx(half)
    assert c["n"] == 3
    # the mean of two groups minus a third: variance (4/3 + 4/3) / 4 + 1/3 of the estimate
    c = stats.contrast([(0.5, a), (0.5, a), (-1.0, b)])
    assert c["estimate"] == pytest.approx(10.0)
    se2 = 0.25 * 4 / 3 * 2 + 1 / 3
    df = se2 ** 2 / (2 * (0.25 * 4 / 3) ** 2 / 2 + (1 / 3) ** 2 / 2)
    assert c["high"] - c["estimate"] == pytest.approx(stats.t95(df) * math.sqrt(se2))
    assert math.isnan(stats.contrast([(1.0, [1.0]), (-1.0, [2.0])])["low"])
    assert stats.contrast([(1.0, []), (-1.0, [2.0])])["n"] == 0


@pytest.mark.parametrize("low, high, at_least, within, expected", [
    (6.0, 30.0, 5.0, None, "held"),  # the whole interval in the claimed region
    (-3.0, 4.0, 5.0, None, "did not hold"),  # the whole interval outside it
    (-3.8, 25.3, 5.0, None, "inconclusive"),  # across the margin: says nothing either way
    (-22.0, 90.0, 5.0, None, "inconclusive"),
    (-4.0, 6.0, None, 10.0, "held"),  # "close": within ±10
    (12.0, 20.0, None, 10.0, "did not hold"),
    (-25.0, -11.0, None, 10.0, "did not hold"),
    (5.0, 15.0, None, 10.0, "inconclusive"),
    (math.nan, math.nan, 5.0, None, "inconclusive"),
])
def test_verdict_rule(low, high, at_least, within, expected):
    assert findings.verdict(low, high, at_least, within) == expected


def test_findings_on_a_clear_study(study):
    items = {f.finding: f for f in findings.findings(study)}
    headline = [f for f in items.values() if f.headline]
    assert [f.finding for f in headline] == ["temporal families beat TSN on the temporal set",
                                             "the gap shrinks on the appearance set"]
    assert all(f.verdict == "held" for f in headline)
    assert items["temporal families beat TSN on the temporal set"].difference == pytest.approx(52.0)
    assert items["TAM close to TSN on the appearance set"].verdict == "held"
    assert items["TSN worse on the temporal set"].verdict == "held"
    assert items["more frames help TAM"].verdict == "not measured"  # no 16-frame runs here


def test_findings_when_temporal_models_do_not_win():
    runs = [make_record(d, grid.MODELS["resnet-18"][f], seed, 25.0 + seed)
            for d in grid.DATASETS for f in grid.FAMILIES for seed in range(3)]
    first = findings.findings(stats.proxy_frame(runs))[0]
    assert first.headline and first.verdict == "did not hold" and first.difference == pytest.approx(0.0)


def test_seeds_needed_for_an_inconclusive_finding():
    item = findings.Finding("f", "c", "p", "x", 10.0, (0.0, 20.0), 5, 5.0, None, "inconclusive")
    assert findings.seeds_needed(item) == 20  # half-width 10 must shrink to 5: four times the seeds
    assert findings.seeds_needed(findings.Finding("f", "c", "p", "x", 10.0, (6.0, 14.0), 5, 5.0, None,
                                                  "held")) is None


def test_family_table_beside_the_paper(study):
    table = chapter.family_table(study).set_index("Family")
    assert table.loc["TAM", "synth-something top-1 (%)"] == "82.0 ± 5.0 (n=3)"
    assert table.loc["TSN", "paper SSv2 (%)"] == "30.7 (ResNet-50)"
    assert table.loc["S3D", "paper SSv2 (%)"] == "52.7 (Inception-v1, tp)"
    assert table.loc["TAM", "paper K400 (%)"] == "68.4 (ResNet-50)"


def test_paper_reference_picks_one_row_per_family_and_section():
    ref = findings.paper_reference()
    assert len(ref) == 8 and set(ref["family"]) == set(grid.FAMILIES)
    ssv2 = ref[ref["section"] == "Something-Something-V2"].set_index("family")["top1"]
    assert ssv2["TSN"] == pytest.approx(30.7099) and ssv2["TAM"] == pytest.approx(61.929)


def test_plan_lists_every_experiment_of_a_profile(study):
    plan = chapter.plan_table(study, "default")
    assert len(plan) == len(grid.PROFILES["default"])  # the grid; the pretraining has its own table
    assert set(plan["Status"]) <= {"completed", "not yet run", "failed", "completed (other data!)"}


def test_figures_draw(study):
    import matplotlib

    matplotlib.use("Agg")
    for fig in (figures.plot_families(study), figures.plot_vs_flops(study), figures.plot_vs_frames(study)):
        assert fig.axes


# ---- command line ---------------------------------------------------------------------------------------------

def test_proxy_command_line(capsys):
    parser = argparse.ArgumentParser(prog="actionbook")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["proxy", "run", "full", "--keep-checkpoints", "--ignore-code"])
    assert (args.profile, args.keep_checkpoints, args.ignore_code, args.force) == ("full", True, True, False)
    with pytest.raises(SystemExit):
        parser.parse_args(["proxy", "run", "no-such-profile"])
    args = parser.parse_args(["proxy", "files", "default"])
    assert args.func(args) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(p.relative_to(ROOT)) for p in params.profile_files("default")]
    assert all((ROOT / p).is_file() for p in printed)


def test_findings_command_prints_json(tmp_path, capsys):
    """`actionbook proxy findings --json` on records in a runs folder: one object per finding."""
    import json

    for dataset, family, top1 in (("synth-something", "TSN", (25, 26, 24)), ("synth-something", "TAM", (80, 85, 90)),
                                  ("synth-kinetics", "TSN", (70, 72, 74)), ("synth-kinetics", "TAM", (72, 73, 74))):
        for seed, value in enumerate(top1):
            run = make_record(dataset, grid.MODELS["resnet-18"][family], seed, float(value))
            folder = tmp_path / run.name
            folder.mkdir()
            (folder / "record.json").write_text(json.dumps(run.record))
    parser = argparse.ArgumentParser(prog="actionbook")
    cli.add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["proxy", "findings", "--json", "--runs-dir", str(tmp_path)])
    assert args.func(args) == 0
    items = json.loads(capsys.readouterr().out)
    assert {"finding", "claim", "difference", "interval", "n", "verdict", "headline"} <= set(items[0])
    assert [i["headline"] for i in items[:2]] == [True, True] and not any(i["headline"] for i in items[2:])
    assert all(i["verdict"] in ("held", "did not hold", "inconclusive", "not measured") for i in items)
    tam = next(i for i in items if i["finding"] == "TAM beats TSN on the temporal set")
    assert tam["difference"] == pytest.approx(60.0) and tam["n"] == 3 and tam["verdict"] == "held"
    low, high = tam["interval"]
    assert low < 60.0 < high
    # the headline needs I3D and S3D too: with none of their runs, it is not measured
    assert items[0]["verdict"] == "not measured" and items[0]["interval"] == [None, None]


def test_ibm_rows_link_the_proxy_family_result_not_one_seed(tmp_path):
    """An IBM row of a family the proxy ran shows the family's mean and interval over seeds, as a different
    experiment, never one seed's accuracy in the reproduced column."""
    import json

    from actionbook.report.catalog import load_runs
    from actionbook.studies.ibm import chapter as ibm_chapter
    from actionbook.studies.ibm.rows import SSV2

    for seed, top1 in enumerate((80.0, 84.0, 82.0)):
        run = make_record("synth-something", "tam_r18", seed, top1)
        (tmp_path / run.name).mkdir()
        (tmp_path / run.name / "record.json").write_text(json.dumps(run.record))
    status = ibm_chapter.ibm_status(load_runs(tmp_path))
    tam = status[(status["section"] == SSV2) & (status["model"] == "tam_r50")]
    assert set(tam["status"]) == {"proxy only"} and tam["reproduced_top1"].isna().all()
    md = ibm_chapter.ibm_section_markdown(status, SSV2)
    assert "TAM-ResNet-18 on synth-something, 4 frames, 82.0 ± 5.0% over 3 seeds" in md
    assert "proxy-default-something-tam_r18-f4-s0" not in md


@pytest.mark.parametrize("model, inflated, kept", [("tsn_r18", 0, 2), ("tam_r18", 0, 10), ("i3d_r18", 20, 2),
                                                   ("s3d_r18", 20, 98)])
def test_every_family_starts_from_the_exported_pretraining(tmp_path, model, inflated, kept):
    """The pretraining run's last checkpoint (a one-segment TSN on synth-images, as the trainer saves it) is exported
    in torchvision's layout and loaded by the ImageNet loader: every backbone tensor is taken, 3D kernels are
    inflated from it, only the classifier and the temporal modules stay random, and the file's sha256 is
    reported."""
    import hashlib
    import re

    import torch

    from actionbook import runs
    from actionbook.models import build_model
    from actionbook.models.pretrained import load_imagenet
    from actionbook.studies.proxy.run import export_weights

    torch.manual_seed(0)
    pretrained = build_model("tsn_r18", num_classes=40, frames=1)
    last = runs.checkpoint_file(tmp_path / "pretrain", "last")
    last.parent.mkdir(parents=True)
    torch.save({"model": pretrained.state_dict(), "epoch": 4}, last)
    weights = export_weights(tmp_path / "pretrain", tmp_path / "weights.pt")
    state = torch.load(weights, weights_only=True)
    assert state.keys() == pretrained.state_dict().keys()  # torchvision's names, the 40-way classifier included

    video = build_model(model, num_classes=4, frames=8)
    report = load_imagenet(video, weights)
    assert report.sha256 == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert report.sha256[:12] in report.summary()
    # all 120 backbone tensors loaded; random by design: the classifier, TAM's modules, S3D's temporal halves
    assert len(report.loaded) == 120 and len(report.inflated) == inflated and len(report.kept_random) == kept
    assert all(re.search(r"(^|\.)fc\.|\.tam\.|_t\.", k) for k in report.kept_random), report.kept_random
    conv1 = video.state_dict()["conv1.weight"]
    expected = state["conv1.weight"] if conv1.dim() == 4 else state["conv1.weight"].unsqueeze(2).expand_as(conv1)
    assert torch.equal(conv1, expected)
