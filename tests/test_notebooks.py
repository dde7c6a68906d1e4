"""The notebooks: nbval executes every one of them (copies parameterised with tiny parameters, all cells run in a
real kernel) in `make test`; the train notebook's parameters are the Experiment's fields with CPU-scale defaults;
a bad parameter stops the first cell with a one-line message."""

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from papermill.iorw import load_notebook_node
from papermill.parameterize import parameterize_notebook

from actionbook.cli import main
from actionbook.data import VideoClipDataset
from actionbook.errors import ConfigError
from actionbook.experiment import Experiment
from actionbook.models import registry
from actionbook.notebook import EXPERIMENT_FIELDS, NotebookError, build_experiment, build_plan, train_defaults
from actionbook.paths import notebooks_dir
from actionbook.runs import read_record

NOTEBOOKS = notebooks_dir()


@pytest.fixture
def data_env(small_data, monkeypatch) -> Path:
    """Kernels started from here (papermill, nbval) find the small datasets as the default synthetic ones."""
    monkeypatch.setenv("ACTIONBOOK_DATA", str(small_data))
    return small_data


def tiny_parameters(tmp: Path) -> dict[str, dict]:
    """Every notebook, in execution order (evaluate scores the checkpoint the train notebook leaves)."""
    run = str(tmp / "run")
    return {
        "train.ipynb": dict(model="tsn_r18", frames=4, input_size=32, batch_size=4, epochs=1, iters_per_epoch=2,
                            workers=0, run_dir=run),
        "evaluate.ipynb": dict(run_dir=run, clips=[1, 2], crops=[1, 3], limit=8, workers=0),
        "model_zoo.ipynb": dict(rows=["st2stv2-TAM-b3-sum-resnet-50-f16-cosine-bs48-e75",
                                      "kinetics400-i3d-resnet-50-tp-f64-multisteps-syncbn-bs36-e45"]),
        "benchmark.ipynb": dict(setting="tsn_r50_1x1x3_100e_kinetics400_rgb", device="cpu", batch=1, input_size=32,
                                warmup=1, iters=2, workers=0, run_dir=str(tmp / "bench")),
    }


def test_every_notebook_has_tiny_parameters(tmp_path):
    assert sorted(p.name for p in NOTEBOOKS.glob("*.ipynb")) == sorted(tiny_parameters(tmp_path))


def test_nbval_executes_every_notebook(tmp_path, data_env, capsys):
    copies = []
    for name, params in tiny_parameters(tmp_path).items():
        nb = parameterize_notebook(load_notebook_node(str(NOTEBOOKS / name)), params)
        copy = tmp_path / name
        nbformat.write(nb, copy)
        copies.append(str(copy))
    # --nbval-lax: every cell runs and must not raise (outputs, which differ run to run, are not compared);
    # --nbval-current-env: the kernel runs this interpreter
    proc = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "--nbval-current-env", "-q",
                           "-p", "no:cacheprovider", "-o", "addopts=", *copies],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    record = read_record(tmp_path / "run")
    assert record["status"] == "completed" and record["experiment"]["model"] == "tsn_r18"
    assert 0 <= record["metrics"]["val"]["top1"] <= 100
    assert (tmp_path / "run" / "eval" / "views-2x3.json").is_file()
    assert read_record(tmp_path / "bench")["metrics"]["speed"]["mean_iter_s"] > 0

    # the same multi-view evaluation from the command line, on the checkpoint the notebook trained
    assert main(["evaluate", str(tmp_path / "run"), "--views", "1x1", "2x3", "--limit", "4", "--workers", "0",
                 "--quiet", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["clips"], r["crops"], r["views"], r["videos"]) for r in rows] == [(1, 1, 1, 4), (2, 3, 6, 4)]
    assert main(["evaluate", str(tmp_path / "run"), "--views", "2x4"]) == 2  # 4 crops: a one-line error


def test_train_parameters_are_the_experiment_fields_at_cpu_scale():
    defaults = train_defaults()
    assert list(defaults) == [*EXPERIMENT_FIELDS, "run_dir"]  # same names, same order as the dataclass
    exp = Experiment.from_dict({k: v for k, v in defaults.items() if k != "run_dir"})
    assert exp.dataset.startswith("synth-") and exp.pretrained == "none"  # a fresh machine, no download
    assert exp.iters_per_epoch and exp.input_size <= 64 and exp.nproc == 1 and exp.batch_size <= 16


def _papermill_train(out: Path, name: str, value: str) -> subprocess.CompletedProcess:
    """papermill on the train notebook with one `-p name value`, as a user runs it."""
    cmd = [str(Path(sys.executable).parent / "papermill"), str(NOTEBOOKS / "train.ipynb"), str(out), "-p", name,
           value]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300)


def test_unknown_papermill_parameter_stops_the_first_cell_in_one_line(tmp_path):
    proc = _papermill_train(tmp_path / "out.ipynb", "learning_rate", "0.1")
    assert proc.returncode != 0
    assert "ConfigError: unknown parameter(s) learning_rate (did you mean lr?)" in proc.stderr


def test_bad_parameter_stops_the_first_cell_in_one_line(tmp_path):
    out = tmp_path / "out.ipynb"
    proc = _papermill_train(out, "model", "resnet9000")
    assert proc.returncode != 0
    assert "ConfigError: unknown model 'resnet9000'; valid models:" in proc.stderr
    executed = nbformat.read(out, as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert len(errors) == 1 and len(errors[0]["traceback"]) == 1  # one line, no traceback
    first_code = next(c for c in executed.cells if c.cell_type == "code" and "build_experiment" in c.source)
    assert any(o.get("output_type") == "error" for o in first_code.outputs)


@pytest.mark.parametrize("overrides, message", [
    ({"model": "resnet9000"}, "unknown model 'resnet9000'"),
    ({"model": "tsn_r50", "temporal_pooling": "max", "frames": 12}, "cannot take frames=12"),
    ({"frames": 0}, "frames must be at least 1"),
    ({"dataset": "st2stv2"}, "data_root is not set"),
    ({"dataset": "st2stv2", "data_root": "/nonexistent/st2stv2"}, "not found"),
    ({"dataset": "imagenet"}, "dataset 'imagenet' unknown"),
    ({"sync_bn": True, "device": "cpu"}, "sync_bn=True needs CUDA"),
    ({"pretrained": "imagenet", "imagenet_checkpoint": "/nonexistent/resnet50.pth"}, "no resnet50 ImageNet weights"),
    ({"pretrained": "/nonexistent/f8.pt"}, "pretrained checkpoint '/nonexistent/f8.pt' does not exist"),
])
def test_first_cell_errors_are_one_line(overrides, message):
    namespace = {**train_defaults(), **overrides}
    with pytest.raises(NotebookError, match=message) as info:
        build_plan(build_experiment(namespace))
    assert "\n" not in str(info.value)
    assert info.value._render_traceback_() == [f"ConfigError: {info.value}"]
    assert not isinstance(info.value, ConfigError)  # IPython shows it through _render_traceback_, in one line


def test_notebooks_are_clean_sources():
    """No stored outputs or execution counts in the committed notebooks; the kernel is the project's."""
    for path in NOTEBOOKS.glob("*.ipynb"):
        nb = json.loads(path.read_text())
        assert nb["metadata"]["kernelspec"]["name"] == "actionbook", path.name
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert cell["outputs"] == [] and cell["execution_count"] is None, path.name
        tags = [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]
        assert len(tags) == 1, path.name


def test_train_notebook_builds_the_model_and_datasets_once(tmp_path, data_env, monkeypatch):
    """The notebook shows the plan the trainer then executes: one model on a real device and one dataset per split
    for a whole run (models built on the meta device to count params and FLOPs are not counted)."""
    import torch
    from IPython.core.interactiveshell import InteractiveShell

    built = {"models": 0, "datasets": 0}
    for name in ("tsn_r18",):
        entry = registry.model_entry(name)

        def counting(*args, _builder=entry.builder, **kwargs):
            built["models"] += torch.empty(0).device.type != "meta"
            return _builder(*args, **kwargs)

        monkeypatch.setitem(registry._REGISTRY, name, dataclasses.replace(entry, builder=counting))
    dataset_init = VideoClipDataset.__init__

    def counting_init(self, *args, **kwargs):
        built["datasets"] += 1
        dataset_init(self, *args, **kwargs)

    monkeypatch.setattr(VideoClipDataset, "__init__", counting_init)
    source = nbformat.read(NOTEBOOKS / "train.ipynb", as_version=4)
    cells = [c.source for c in source.cells if c.cell_type == "code"]
    shell = InteractiveShell.instance()
    shell.enable_gui = lambda gui=None: None  # `%matplotlib inline` in a shell without a kernel
    try:
        assert shell.run_cell(cells[0]).success  # the parameters cell, then papermill's injected values
        shell.user_ns.update(model="tsn_r18", frames=4, input_size=32, batch_size=4, epochs=2, iters_per_epoch=2,
                             run_dir=str(tmp_path / "run"), test_clips=2)
        for cell in cells[1:]:
            result = shell.run_cell(cell)
            assert result.success, result.error_in_exec or result.error_before_exec
    finally:
        InteractiveShell.clear_instance()
    assert read_record(tmp_path / "run")["status"] == "completed"
    assert built == {"models": 1, "datasets": 3}  # train, val and the multi-view test split
