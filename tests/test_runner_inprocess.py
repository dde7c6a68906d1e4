"""`actionbook run --in-process`: a batch trained in one process, no kernel per run, under the runner's rules (the
skip rule, failed records, the executed notebook when asked)."""

from pathlib import Path

import nbformat
import pytest
import yaml

from actionbook.errors import ConfigError
from actionbook.notebook import train_defaults
from actionbook.runner import run_batch
from actionbook.runs import read_metrics, read_record, runner_state
from conftest import tiny_kinetics_set


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("data") / "synth-kinetics"
    tiny_kinetics_set(root, train_per_class=2, val_per_class=1, seed=4)
    return root


def _params(folder: Path, name: str, data_root: Path | None = None, **values) -> Path:
    params = {k: v for k, v in train_defaults().items() if k != "run_dir"}  # a complete params file, like -f
    params.update({"name": name, "dataset": "synth-kinetics", "data_root": str(data_root), "model": "tsn_r18",
                   "frames": 4, "input_size": 32, "batch_size": 4, "epochs": 1, "iters_per_epoch": 2, "workers": 0,
                   "log_every": 1, **values})
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


def _quiet(message: str) -> None:
    pass


def test_in_process_record_mode_trains_here_and_keeps_the_rules(tmp_path, data_root):
    good, bad = _params(tmp_path, "good", data_root), _params(tmp_path, "bad", data_root, frames=0)
    runs = tmp_path / "runs"
    first, failed = run_batch([good, bad], runs_dir=runs, log=_quiet, in_process="record")
    assert first.status == "completed", first.reason
    assert read_record(runs / "good")["status"] == "completed"
    assert not (runs / "good" / "train.ipynb").exists()  # the notebook left out
    assert runner_state(runs / "good")["in_process"] == "record"
    assert failed.status == "failed" and "frames must be at least 1" in failed.reason
    assert read_record(runs / "bad")["status"] == "failed"
    assert run_batch([good], runs_dir=runs, log=_quiet, in_process="record")[0].status == "skipped"


def test_in_process_notebook_mode_shows_the_finished_run(tmp_path, data_root):
    runs = tmp_path / "runs"
    (result,) = run_batch([_params(tmp_path, "shown", data_root)], runs_dir=runs, log=_quiet, in_process="notebook")
    assert result.status == "completed", result.reason
    executed = nbformat.read(runs / "shown" / "train.ipynb", as_version=4)
    images = [o for c in executed.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images  # the curves of the finished run
    iters, epochs = read_metrics(runs / "shown")
    assert len(iters) == 2 and len(epochs) == 1  # trained once: the notebook found the run finished


def test_an_unknown_in_process_mode_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError, match="in_process must be one of"):
        run_batch([_params(tmp_path, "x")], runs_dir=tmp_path / "runs", log=_quiet, in_process="kernel")
