"""`actionbook convert`: every IBM checkpoint layout maps onto its model, the load report accounts for every
tensor, a converted file evaluates end to end and fine-tunes, and bad or foreign files are one-line errors with no
code run. (The logit equivalence with the IBM code was measured outside the project: tests/data/ibm_layouts.json.)"""

import json
from pathlib import Path

import pytest
import torch

from actionbook.cli import main
from actionbook.convert import ORIGIN, convert_checkpoint, load_converted, model_for_converted
from actionbook.convert.convert import map_keys
from actionbook.convert.ibm import merge_tam_taps
from actionbook.errors import ConfigError
from actionbook.models import build_model
from actionbook.train.checkpoint import load_checkpoint, load_matching
from conftest import tiny_kinetics_set

LAYOUTS = json.loads((Path(__file__).parent / "data" / "ibm_layouts.json").read_text())
PYSLOWFAST = json.loads((Path(__file__).parent / "data" / "pyslowfast_layouts.json").read_text())


def _options(tag: str) -> tuple[str, dict]:
    """"tam_r18/dw_conv=False" -> ("tam_r18", {"dw_conv": False})."""
    name, _, variant = tag.partition("/")
    options = {}
    for item in filter(None, variant.split(",")):
        key, _, value = item.partition("=")
        options[key] = {"True": True, "False": False}.get(value, int(value) if value.isdigit() else value)
    return name, options


@pytest.mark.parametrize("tag", sorted(LAYOUTS["layouts"]))
def test_every_key_of_every_ibm_layout_maps_onto_its_model(tag):
    name, options = _options(tag)
    with torch.device("meta"):
        state = {k: torch.empty(shape) for k, shape in LAYOUTS["layouts"][tag]}
        model = build_model(name, num_classes=7, frames=8, **options)
    state = {k.removeprefix("module."): v for k, v in state.items()}
    merged, _ = merge_tam_taps(state)
    target = model.state_dict()
    mapped, dropped, unknown = map_keys("ibm", merged, target)
    assert not unknown and not dropped
    assert set(mapped) == set(target)
    assert all(merged[src].shape == target[key].shape for key, src in mapped.items())


def test_the_recorded_ibm_logit_differences_are_within_tolerance():
    diffs = LAYOUTS["max_abs_logit_diff"]
    families = {tag.split("/")[0].split("_")[0] for tag in diffs}
    assert families == {"tsn", "tam", "i3d", "s3d"}
    assert any(tag.endswith("/max") for tag in diffs) and any(tag.endswith("/none") for tag in diffs)
    assert max(diffs.values()) <= 1e-4


@pytest.mark.parametrize("tag", sorted(PYSLOWFAST["layouts"]))
def test_every_key_of_every_pyslowfast_layout_maps_onto_its_model(tag):
    """PySlowFast is not a package: its networks' layouts and logit differences were recorded outside the project."""
    frames = 32 if tag.startswith("SLOWFAST") else 8
    with torch.device("meta"):
        state = {k: torch.empty(shape) for k, shape in PYSLOWFAST["layouts"][tag]}
        target = build_model(tag.split("->")[1], num_classes=7, frames=frames).state_dict()
    mapped, dropped, unknown = map_keys("pyslowfast", state, target)
    assert not unknown and not dropped and set(mapped) == set(target)
    assert all(state[src].shape == target[key].shape for key, src in mapped.items())
    assert PYSLOWFAST["max_abs_logit_diff"][tag] <= 1e-4


def _ibm_file(tmp_path: Path, tag: str = "tsn_r18", name: str = "released.pth.tar") -> Path:
    """A checkpoint in the IBM layout of `tag`, random values, as the IBM train.py saves it."""
    generator = torch.Generator().manual_seed(0)
    state = {k: torch.rand(shape, generator=generator) if shape else torch.tensor(0)
             for k, shape in LAYOUTS["layouts"][tag]}
    path = tmp_path / name
    torch.save({"epoch": 50, "arch": "kinetics400-rgb-resnet-18-f8-cosine-bs64-e50", "state_dict": state}, path)
    return path


def test_an_ibm_tam_checkpoint_converts_with_a_report_of_every_tensor(tmp_path):
    path = _ibm_file(tmp_path, "tam_r18")
    converted = convert_checkpoint(path, "ibm", "tam_r18")
    report, state = converted.report, converted.checkpoint
    assert state["frames"] == 8 and state["num_classes"] == 7  # from the run name and the classifier
    loaded = len(report.same_name) + len(report.renamed) + len(report.reshaped)
    assert loaded == len(build_model("tam_r18", 7, 8).state_dict())
    assert len(report.reshaped) == 8 and "prev_se" in report.reshaped[0][0]
    assert "8 reshaped" in report.summary() and "DataParallel" in report.summary()
    raw = torch.load(path, weights_only=True)["state_dict"]
    taps = [raw[f"module.layer1.0.tam.{t}_se.fc1.weight"] for t in ("prev", "curr", "next")]
    assert torch.equal(state["model"]["layer1.0.tam.weight"][:, :, 1], taps[1])


def test_the_command_writes_a_file_that_weights_only_loading_reads(tmp_path, capsys):
    out = tmp_path / "tsn.pt"
    assert main(["convert", str(_ibm_file(tmp_path)), "--from", "ibm", "--model", "tsn_r18", "--out", str(out)]) == 0
    assert "122 model tensors loaded" in capsys.readouterr().out
    state = torch.load(out, weights_only=True)
    assert {"model", "model_name", "num_classes", "source"} <= set(state)
    assert state["source"]["codebase"] == "ibm" and len(state["source"]["sha256"]) == 64
    model = build_model("tsn_r18", num_classes=state["num_classes"], frames=state["frames"])
    model.load_state_dict(state["model"])
    # --set pretrained=FILE: the trainer loads what matches and names the classifier it could not
    other = build_model("tsn_r18", num_classes=3, frames=8)
    report = load_matching(other, load_checkpoint(out)["model"])
    assert [m.split(":")[0] for m in report["mismatched"]] == ["fc.weight", "fc.bias"]


class Payload:
    """Unpickling this would create a file: proof that code in a checkpoint ran."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_a_pickle_with_code_in_it_is_refused_and_nothing_runs(tmp_path, capsys):
    marker = tmp_path / "code-ran"
    path = tmp_path / "evil.pth"
    torch.save({"state_dict": {"fc.weight": torch.zeros(2, 2)}, "extra": Payload(marker)}, path)
    code = main(["convert", str(path), "--from", "ibm", "--model", "tsn_r18", "--out", str(tmp_path / "x.pt")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "nothing in it was run" in err
    assert not marker.exists() and not (tmp_path / "x.pt").exists()


def test_a_truncated_file_is_one_line(tmp_path):
    path = _ibm_file(tmp_path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(ConfigError, match="truncated or corrupt"):
        convert_checkpoint(path, "ibm", "tsn_r18")


def test_another_networks_weights_are_one_line_naming_what_does_not_fit(tmp_path):
    with pytest.raises(ConfigError, match=r"is not a checkpoint of tsn_r34: .*model tensors the checkpoint lacks"):
        convert_checkpoint(_ibm_file(tmp_path), "ibm", "tsn_r34")
    with pytest.raises(ConfigError, match=r"20 shapes that differ \(conv1.weight \(64, 3, 7, 7\) -> conv1.weight "
                                          r"\(64, 3, 3, 7, 7\)"):
        convert_checkpoint(_ibm_file(tmp_path), "ibm", "i3d_r18")
    with pytest.raises(ConfigError, match=r"checkpoint keys the model does not have \(conv1.weight, bn1.weight"):
        convert_checkpoint(_ibm_file(tmp_path), "ibm", "tsn_inception_v1")


def test_an_unknown_layout_or_model_is_one_line(tmp_path):
    path = _ibm_file(tmp_path)
    with pytest.raises(ConfigError, match="expected a state dict under 'model_state'"):
        convert_checkpoint(path, "pyslowfast", "tsn_r18")
    with pytest.raises(ConfigError, match="unknown model 'tsn_r9'"):
        convert_checkpoint(path, "ibm", "tsn_r9")
    with pytest.raises(ConfigError, match="unknown checkpoint source 'caffe'"):
        convert_checkpoint(path, "caffe", "tsn_r18")


def test_a_class_count_mismatch_is_refused_unless_the_classifier_is_replaced(tmp_path):
    path = _ibm_file(tmp_path)
    with pytest.raises(ConfigError, match="has 7 classes, 5 were asked for: pass --replace-classifier"):
        convert_checkpoint(path, "ibm", "tsn_r18", num_classes=5)
    report = convert_checkpoint(path, "ibm", "tsn_r18", num_classes=5, replace_classifier=True).report
    assert report.classifier_replaced and "classifier replaced" in report.summary()
    assert {key for key, _ in report.initialised} == {"fc.weight", "fc.bias"}


def test_the_classifier_is_matched_to_the_datas_classes_by_name(tmp_path):
    names = [f"class {i}" for i in range(7)]
    state = convert_checkpoint(_ibm_file(tmp_path), "ibm", "tsn_r18", class_names=names).checkpoint
    data_order = names[::-1]  # the dataset lists the same classes in another order
    model, note = model_for_converted(state, data_order)
    assert torch.equal(model.state_dict()["fc.weight"], state["model"]["fc.weight"].flip(0))
    assert note == "classifier rows matched to the data's classes by name (6 of 7 reordered)"
    with pytest.raises(ConfigError, match=r"1 classes of the data are not among the checkpoint's class names "
                                          r"\(walking\)"):
        model_for_converted(state, names[:-1] + ["walking"])
    with pytest.raises(ConfigError, match="3 class names for a classifier of 7 classes"):
        convert_checkpoint(_ibm_file(tmp_path), "ibm", "tsn_r18", class_names=names[:3])


def _converted_tsn_and_data(tmp_path):
    """A 3-class synth-kinetics set and an IBM TSN-R18 checkpoint converted through the command (7 classes)."""
    root = tmp_path / "synth-kinetics"
    tiny_kinetics_set(root, num_classes=3, train_per_class=1, val_per_class=2, seed=2)
    converted = tmp_path / "tsn.pt"
    assert main(["convert", str(_ibm_file(tmp_path)), "--from", "ibm", "--model", "tsn_r18", "--out",
                 str(converted)]) == 0
    return root, converted


def test_a_converted_checkpoint_evaluates_end_to_end_and_keeps_every_prediction(tmp_path, capsys):
    root, converted = _converted_tsn_and_data(tmp_path)
    out = tmp_path / "released-eval"
    assert main(["evaluate", str(converted), "--dataset", "synth-kinetics", "--data-root", str(root), "--views",
                 "1x1", "2x3", "--input-size", "32", "--scale-size", "36", "--frame-interval", "1", "--workers", "0",
                 "--device", "cpu", "--out", str(out), "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "classifier replaced: the checkpoint has 7 classes, the data 3" in printed
    record = json.loads((out / "record.json").read_text())
    assert record["origin"] == ORIGIN == "evaluated from released weights"
    assert record["released"]["sha256"] == load_converted(converted)["source"]["sha256"]
    assert record["released"]["protocol_basis"].startswith("IBM README")
    assert set(record["metrics"]) == {"views-1x1", "views-2x3"}
    kept = torch.load(out / "eval" / "views-2x3.logits.pt", weights_only=True)
    assert kept["logits"].shape == (6, 6, 3) and kept["labels"].shape == (6,)
    assert len(set(kept["videos"])) == 6 and kept["protocol"]["crops"] == 3


@pytest.mark.slow
def test_the_evaluate_notebook_evaluates_a_converted_checkpoint(tmp_path):
    """notebooks/evaluate.ipynb with `released`: the same evaluation through a real kernel (nbval, as
    tests/test_notebooks.py runs every notebook)."""
    import subprocess
    import sys

    import nbformat
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    from actionbook.paths import notebooks_dir

    root, converted = _converted_tsn_and_data(tmp_path)
    params = dict(released=str(converted), dataset="synth-kinetics", data_root=str(root), views=[[1, 1]], workers=0,
                  protocol_overrides=dict(input_size=32, scale_size=36, frame_interval=1))
    copy = tmp_path / "evaluate.ipynb"
    nbformat.write(parameterize_notebook(load_notebook_node(str(notebooks_dir() / "evaluate.ipynb")), params), copy)
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-q",
                           "-p", "no:cacheprovider", "-o", "addopts=", str(copy)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    record = json.loads((tmp_path / "tsn-eval" / "record.json").read_text())
    assert record["origin"] == ORIGIN and set(record["metrics"]) == {"views-1x1"}
