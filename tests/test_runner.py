"""The batch runner: one run folder per params file, the skip rule (record complete, parameters and code unchanged),
a re-run on a changed parameter or changed code, failures kept and reported while the batch goes on.

The rules are exercised with a small stand-in notebook (seconds per execution) run by papermill in a real kernel;
one test runs the real train notebook end to end through `actionbook run`."""

import fnmatch
import json
from pathlib import Path

import nbformat
import pytest
import yaml

import actionbook
from actionbook import runs
from actionbook.cli import main
from actionbook.notebook import train_defaults
from actionbook.runner import PRESENTATION, code_hash, is_presentation, run_batch, summary_line
from actionbook.runs import RUNNER_FILE, read_record

STUB_PARAMETERS = """
name = "stub"
value = 1.0
fail = False
run_dir = None
log_file = None
"""

STUB_BODY = """
from pathlib import Path

from actionbook.runs import write_record

with open(log_file, "a") as f:
    f.write(f"{name}\\n")
if fail == "one-line":  # how the notebooks report bad input
    from actionbook.notebook import NotebookError

    raise NotebookError(f"unknown model {name!r}")
if fail:
    raise ValueError(f"{name} failed on purpose")
write_record(run_dir, {"status": "completed", "experiment": {"name": name, "value": value},
                       "metrics": {"val": {"top1": value}}})
"""


@pytest.fixture
def stub(tmp_path) -> Path:
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(STUB_PARAMETERS.strip())
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(STUB_BODY.strip())]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "stub.ipynb"
    nbformat.write(nb, path)
    return path


def _params(folder: Path, name: str, **values) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, **values}))
    return path


def _executions(log: Path) -> list[str]:
    return log.read_text().split() if log.is_file() else []


def test_skip_rerun_and_failures(stub, tmp_path):
    runs, log = tmp_path / "runs", tmp_path / "executions.log"
    good = _params(tmp_path, "good", value=42.0, log_file=str(log))
    bad = _params(tmp_path, "bad", fail=True, log_file=str(log))
    other = _params(tmp_path, "other", value=7.0, log_file=str(log))
    kwargs = dict(runs_dir=runs, notebook=stub, log=lambda message: None)

    # a failure in the middle: kept, reported, and the batch goes on
    results = run_batch([good, bad, other], **kwargs)
    assert [r.status for r in results] == ["completed", "failed", "completed"]
    assert _executions(log) == ["good", "bad", "other"]
    assert "ValueError: bad failed on purpose" == results[1].reason
    failed = read_record(runs / "bad")
    assert failed["status"] == "failed" and failed["reason"] == results[1].reason
    executed = nbformat.read(runs / "bad" / "stub.ipynb", as_version=4)  # the executed notebook, error included
    assert any(o.get("ename") == "ValueError" for c in executed.cells for o in c.get("outputs", []))
    for name in ("good", "other"):  # the executed notebook and the record side by side
        assert (runs / name / "stub.ipynb").is_file() and read_record(runs / name)["status"] == "completed"
        state = json.loads((runs / name / RUNNER_FILE).read_text())
        assert set(state["hashes"]) == {"params", "code", "notebook"}
    assert summary_line(results) == "actionbook run: 3 run(s): 2 completed, 0 skipped, 1 failed (bad)"

    # unchanged and complete: skipped; the failed run runs again
    results = run_batch([good, bad, other], **kwargs)
    assert [r.status for r in results] == ["skipped", "failed", "skipped"]
    assert _executions(log)[3:] == ["bad"]

    # a changed parameter re-runs that run only, in a fresh folder
    (runs / "good" / "stale.txt").write_text("from the old run")
    _params(tmp_path, "good", value=43.0, log_file=str(log))
    results = run_batch([good, other], **kwargs)
    assert [r.status for r in results] == ["completed", "skipped"]
    assert read_record(runs / "good")["metrics"]["val"]["top1"] == 43.0
    assert not (runs / "good" / "stale.txt").exists()

    # so does an override given on the command line, and changed code (here: the notebook)
    assert run_batch([other], overrides={"value": 8.0}, **kwargs)[0].status == "completed"
    assert run_batch([other], overrides={"value": 8.0}, **kwargs)[0].status == "skipped"
    stub.write_text(stub.read_text().replace("failed on purpose", "failed deliberately"))
    assert run_batch([other], overrides={"value": 8.0}, **kwargs)[0].status == "completed"
    assert run_batch([other], overrides={"value": 8.0}, ignore_code=True, force=True, **kwargs)[0].status == \
        "completed"


def test_runs_that_cannot_start_fail_alone(stub, tmp_path):
    """A params file that is not YAML, a parameter the notebook does not declare, a folder another process writes:
    each fails its own run in one line, and the batch goes on."""
    runs_dir, log = tmp_path / "runs", tmp_path / "executions.log"
    broken = tmp_path / "broken.yaml"
    broken.write_text("name: broken\nvalue: [1, 2\n")
    typo = _params(tmp_path, "typo", valeu=3.0, log_file=str(log))
    busy = _params(tmp_path, "busy", log_file=str(log))
    good = _params(tmp_path, "good", log_file=str(log))
    (runs_dir / "busy").mkdir(parents=True)
    with runs.exclusive(runs_dir / "busy"):
        results = run_batch([broken, typo, busy, good], runs_dir=runs_dir, notebook=stub, log=lambda message: None)
    assert [r.status for r in results] == ["failed", "failed", "failed", "completed"]
    assert "is not valid YAML (line 3)" in results[0].reason
    assert "valeu (did you mean value?)" in results[1].reason
    assert "is in use by pid" in results[2].reason
    assert all("\n" not in r.reason for r in results[:3])
    assert read_record(runs_dir / "broken")["status"] == "failed"  # recorded where the run would have been
    assert read_record(runs_dir / "busy") is None  # the other writer's folder is left alone
    assert _executions(log) == ["good"]


def test_cli_exit_status_and_summary(stub, tmp_path, capsys):
    log = tmp_path / "executions.log"
    good = _params(tmp_path, "good", log_file=str(log))
    bad = _params(tmp_path, "bad", fail=True, log_file=str(log))
    argv = ["run", str(good), str(bad), "--notebook", str(stub), "--runs-dir", str(tmp_path / "runs")]
    assert main(argv) == 1
    out = capsys.readouterr().out
    assert "[2/2] bad: FAILED" in out and out.strip().endswith("1 completed, 0 skipped, 1 failed (bad)")
    assert main(["run", str(good), "--notebook", str(stub), "--runs-dir", str(tmp_path / "runs")]) == 0
    assert "skipped (complete, unchanged)" in capsys.readouterr().out
    assert main(["run", str(tmp_path / "missing.yaml"), "--notebook", str(stub)]) == 2  # a one-line error
    # a notebook's one-line error is the run's reason, as the notebook shows it
    typo = _params(tmp_path, "typo", fail="one-line", log_file=str(log))
    assert main(["run", str(typo), "--notebook", str(stub), "--runs-dir", str(tmp_path / "runs")]) == 1
    assert read_record(tmp_path / "runs" / "typo")["reason"] == "ConfigError: unknown model 'typo'"


def test_design_card_run_through_the_runner(tmp_path, small_data, monkeypatch):
    """`actionbook run` on a params file with the design card's model, frames 8 and a tiny schedule: papermill
    executes the train notebook into the run folder (figures kept), and a second run skips it."""
    monkeypatch.setenv("ACTIONBOOK_DATA", str(small_data))
    params = {k: v for k, v in train_defaults().items() if k != "run_dir"}  # a complete params file, like -f
    params.update(name="tiny", model="tam_r50", frames=8, input_size=32, batch_size=4, epochs=1, iters_per_epoch=2,
                  workers=0)
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(params))
    runs = tmp_path / "runs"
    results = run_batch([path], runs_dir=runs, log=lambda message: None)
    assert results[0].status == "completed", results[0].reason
    record = read_record(runs / "tiny")
    assert record["status"] == "completed" and record["experiment"]["model"] == "tam_r50"
    assert record["experiment"]["frames"] == 8 and 0 <= record["metrics"]["val"]["top1"] <= 100
    executed = nbformat.read(runs / "tiny" / "train.ipynb", as_version=4)
    images = [o for c in executed.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(images) >= 2  # the live curves and the per-class accuracy, kept in the executed notebook
    assert run_batch([path], runs_dir=runs, log=lambda message: None)[0].status == "skipped"


def test_code_hash_leaves_out_presentation_modules(tmp_path):
    package = Path(actionbook.__file__).parent
    modules = [p.relative_to(package).as_posix() for p in package.rglob("*.py")]
    for pattern in PRESENTATION:  # a renamed module must not silently count
        assert any(fnmatch.fnmatch(m, pattern) for m in modules), pattern
    assert is_presentation("studies/ibm/chapter.py") and is_presentation("report/markdown.py")
    assert not is_presentation("studies/proxy/grid.py") and not is_presentation("train/trainer.py")
    notebook = tmp_path / "nb.ipynb"
    notebook.write_text("{}")
    first = code_hash(notebook)
    notebook.write_text('{"cells": []}')
    assert code_hash(notebook) != first  # the notebook is part of the code a run executes
