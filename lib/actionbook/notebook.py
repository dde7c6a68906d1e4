"""What the notebooks call, so that their cells stay short and the same code is tested outside them.

* `build_experiment(namespace)`: the papermill parameters (the notebook's globals) -> a validated `Experiment`.
* `build_plan(exp)`: the training plan (actionbook.plan: device checks, the dataset made if synthetic, the
  datasets, iterations, params and FLOPs), built once; `plan_summary` and `complexity_table` show it, and
  `train_live(plan, run_dir)` hands that same plan to the trainer, with a live progress line and curves. One
  process trains inside the kernel; more than one run `actionbook train` under torchrun as a subprocess whose log
  is streamed (process groups inside a kernel are fragile).
* `recipe_comparison` (from the IBM study): how the run differs from the paper's recipe.
* `results_table`, `class_accuracy_figure`: the record against the published numbers.
* `epoch_accuracy` (report.accuracy): a record's best and final validation epoch, the book's convention.
* The evaluate notebook's helpers: `check_views`, `ensure_default_run`, `run_experiment`.

Any input problem raised inside them is a `NotebookError`: one line in the notebook, in papermill's message and
in nbval's report, instead of a deep traceback (`one_line_errors`).
"""

from __future__ import annotations

import ast
import contextlib
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import pandas as pd
import yaml

from actionbook import plan as planning
from actionbook import runs
from actionbook.data import TooManyBadFiles
from actionbook.errors import ConfigError
from actionbook.experiment import Experiment, unknown_names_message
from actionbook.live import LiveView
from actionbook.paths import notebooks_dir, scratch_runs_dir
from actionbook.plan import TrainingPlan
from actionbook.report.accuracy import epoch_accuracy
from actionbook.report.style import integer_ticks
from actionbook.runner import notebook_parameters
from actionbook.studies.ibm import notebook as ibm
from actionbook.train import TrainingFailed, train
from actionbook.train import evaluate as evaluation
from actionbook.train.launch import Launch, needs_torchrun

EXPERIMENT_FIELDS = tuple(f.name for f in fields(Experiment))


class NotebookError(Exception):
    """An error IPython shows as one line (`_render_traceback_`), with no traceback: bad input, not a bug."""

    def __init__(self, message: str, kind: str = "ConfigError"):
        super().__init__(message)
        self.kind = kind

    def _render_traceback_(self) -> list[str]:
        return [f"{self.kind}: {self}"]


@contextlib.contextmanager
def one_line_errors():
    """Turn the project's input errors raised inside the block into one-line notebook errors."""
    try:
        yield
    except ConfigError as err:
        raise NotebookError(str(err)) from None
    except (TrainingFailed, TooManyBadFiles) as err:
        raise NotebookError(str(err), kind=type(err).__name__) from None


# ---- the experiment and its plan ----------------------------------------------------------------------------

def build_experiment(namespace: dict[str, Any]) -> Experiment:
    """The Experiment named by the notebook's parameters (the Experiment fields found in `namespace`), validated.

    A parameter papermill injected that the notebook does not declare (`-p learning_rate 0.1`) is an error with a
    "did you mean", not a value silently left unused: papermill itself only warns."""
    with one_line_errors():
        unknown = sorted(injected_parameters(namespace) - set(EXPERIMENT_FIELDS) - {"run_dir"})
        if unknown:
            raise ConfigError(unknown_names_message("parameter(s)", unknown, [*EXPERIMENT_FIELDS, "run_dir"]))
        return Experiment.from_dict({k: namespace[k] for k in EXPERIMENT_FIELDS if k in namespace})


def injected_parameters(namespace: dict[str, Any]) -> set[str]:
    """The names papermill's injected cell assigned, read from the kernel's input history (`In`): that cell is the
    one whose source starts with papermill's "# Parameters" line."""
    names = set()
    for source in namespace.get("In") or []:
        if isinstance(source, str) and source.startswith("# Parameters\n"):
            for node in ast.parse(source).body:
                if isinstance(node, ast.Assign):
                    names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return names


def build_plan(exp: Experiment) -> TrainingPlan:
    """The run's plan, built once: the device able to run it, the dataset present (a synthetic set is generated
    on first use), the datasets, iterations, params and FLOPs."""
    with one_line_errors():
        return planning.build_plan(exp)


def default_run_dir(exp: Experiment, root: str | Path | None = None) -> Path:
    """`<project>/runs/<name or dataset-model-fT>-<run id>`: one folder per distinct experiment."""
    stem = exp.name or f"{exp.dataset}-{exp.model}-f{exp.frames}"
    return Path(root or scratch_runs_dir()) / f"{stem}-{exp.run_id()}"


def plan_summary(plan: TrainingPlan) -> str:
    s = plan.summary()
    return (f"{s['train_videos']} training / {s['val_videos']} validation videos, {s['classes']} classes; "
            f"{s['iters_per_epoch']} iterations x {plan.exp.epochs} epochs of {plan.exp.batch_size} clips")


def recipe_comparison(exp: Experiment):
    """(the IBM row this run reproduces or stands in for, or None; a DataFrame: parameter, this run, the paper's
    recipe, same?)."""
    return ibm.recipe_comparison(exp)


def complexity_table(plan: TrainingPlan, reference=None) -> pd.DataFrame:
    """Params and FLOPs of the model at this run's input and at the table's 224x224, against the row's numbers."""
    exp, c = plan.exp, plan.complexity
    sizes = {exp.input_size: "", 224: "_224"}
    rows = [{"input": f"{exp.frames}x{size}x{size}", "classes": plan.num_classes, "params": c["params"],
             "conv MACs (IBM FLOPs)": c[f"conv_macs{suffix}"], "fvcore FLOPs": c[f"fvcore_flops{suffix}"],
             "mmcv FLOPs": c[f"mmaction_flops{suffix}"]} for size, suffix in sizes.items()]
    if reference is not None:
        rows.append({"input": f"published: {reference.row}", "classes": None, "params": reference.params,
                     "conv MACs (IBM FLOPs)": reference.flops, "fvcore FLOPs": None, "mmcv FLOPs": None})
    rows = [{k: v if k == "input" else _number(v) for k, v in row.items()} for row in rows]
    return pd.DataFrame(rows).set_index("input")


# ---- training with live progress ----------------------------------------------------------------------------

def train_live(plan: TrainingPlan, run_dir: str | Path, every: float = 3.0) -> dict:
    """Train (or resume, or return the finished record of) the plan in `run_dir`, showing progress and curves."""
    exp = plan.exp
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    title = f"{exp.name or exp.model} · {exp.dataset} · {exp.frames} frames"
    with LiveView(run_dir, plan.total_iters, title, every, chance=100.0 / plan.num_classes):
        if needs_torchrun(exp, Launch.from_values()):  # several processes or nodes, or a restart policy
            _train_subprocess(exp, run_dir)
        else:
            with one_line_errors():
                train(exp, run_dir, progress=False, plan=plan)
    record = runs.read_record(run_dir)
    if record is None or record.get("status") != "completed":
        status = record.get("status") if record else "missing"
        reason = record.get("reason") if record else "no record was written"
        raise NotebookError(f"the run did not complete (status {status}): {reason}", kind="TrainingFailed")
    return record


def _train_subprocess(exp: Experiment, run_dir: Path) -> None:
    """`actionbook train` with nproc processes under torchrun, its log streamed into the cell."""
    params = run_dir / runs.PARAMS_FILE
    params.write_text(yaml.safe_dump(exp.to_dict(), sort_keys=False))
    cmd = [sys.executable, "-m", "actionbook.cli", "train", str(params), "--run-dir", str(run_dir), "--quiet"]
    print("$", " ".join(cmd), flush=True)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    try:
        for line in proc.stdout:
            print(line, end="", flush=True)
        code = proc.wait()
    except KeyboardInterrupt:
        proc.terminate()  # torchrun passes SIGTERM on; the trainer checkpoints and records "interrupted"
        proc.wait()
        raise
    if code:
        raise NotebookError(f"`actionbook train` under torchrun exited with status {code} (log above)",
                            kind="TrainingFailed")


# ---- results against the paper ------------------------------------------------------------------------------

def results_table(record: dict, exp: Experiment, reference=None, classes: int | None = None):
    """Published (the table) against this run (its record), with the protocol of each of this run's numbers; the
    accuracy under the book's convention (report.accuracy: the best epoch, the final one beside it). A run on
    synthetic data is labelled as a different experiment, the published row's numbers greyed."""
    metrics = record.get("metrics", {})
    val, test = metrics.get("val", {}), metrics.get("test")
    complexity = record.get("complexity", {})
    timings = record.get("timings", {})

    def reported(field, attr):
        value = getattr(exp, field)
        return value if value is not None else getattr(reference, attr, None)

    def protocol(m):
        p = m.get("protocol", {})
        return (f"{p.get('split')}: {p.get('clips')} clip x {p.get('crops')} crop, {p.get('frames')} frames at "
                f"{p.get('input_size')}², {m.get('samples')} videos")

    acc = epoch_accuracy(record)
    best_epoch = f", epoch {acc.best_epoch}" if acc is not None and acc.best_epoch else ""
    rows = [
        {"metric": "top-1 (%), best epoch", "reported": reported("reported_top1", "top1"),
         "reproduced": acc.best_top1 if acc else None,
         "protocol": protocol(val) + f"; the IBM code's convention{best_epoch}"},
        {"metric": "top-1 (%), final epoch", "reported": None, "reproduced": acc.final_top1 if acc else None,
         "protocol": protocol(val)},
    ]
    if not classes or classes > 5:  # with 5 classes or fewer, top-5 is 100% by construction
        rows.append({"metric": "top-5 (%), best epoch", "reported": reported("reported_top5", "top5"),
                     "reproduced": acc.best_top5 if acc else None, "protocol": protocol(val)})
    if test:
        rows.append({"metric": "top-1 multi-view (%)", "reported": None, "reproduced": test["top1"],
                     "protocol": protocol(test)})
        if not classes or classes > 5:
            rows.append({"metric": "top-5 multi-view (%)", "reported": None, "reproduced": test["top5"],
                         "protocol": protocol(test)})
    if classes:
        rows.append({"metric": "chance (%)", "reported": None, "reproduced": 100.0 / classes,
                     "protocol": f"1 / {classes} classes"})
    rows += [
        {"metric": "params", "reported": reported("reported_params", "params"), "reproduced": complexity.get("params"),
         "protocol": f"{classes or '?'} classes (the table's dataset may have another count)"},
        {"metric": "FLOPs (conv MACs, 224²)", "reported": reported("reported_flops", "flops"),
         "reproduced": complexity.get("conv_macs_224"), "protocol": f"1x3x{exp.frames}x224x224"},
    ]
    if exp.reported_iter_time is not None or exp.reported_memory_mib is not None:
        rows += [{"metric": "s/iter", "reported": exp.reported_iter_time, "reproduced": timings.get("mean_iter_s"),
                  "protocol": "training loop, mean over the last epoch (the benchmark notebook measures the table's "
                              "protocol)"},
                 {"metric": "peak memory (MiB)", "reported": exp.reported_memory_mib,
                  "reproduced": timings.get("peak_memory_mib"), "protocol": timings.get("memory_kind")}]
    table = pd.DataFrame(rows).set_index("metric")
    for column in ("reported", "reproduced"):
        table[column] = table[column].map(_number)
    # a synthetic run is a different experiment: never "reproduced", and the published row's numbers greyed
    table = table.rename(columns={"reported": ibm.published_label(exp),
                                  "reproduced": ibm.this_run_label(exp, classes)})
    if ibm.is_proxy(exp):
        return table.style.set_properties(subset=[ibm.published_label(exp)], color="#999999")
    return table


def _number(value) -> str:
    """Numbers as a person reads them: thousands separators for counts, two decimals otherwise."""
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 1e4):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:.4g}" if abs(value) < 1 else f"{value:.2f}"
    return str(value)


def class_accuracy_figure(run_dir: str | Path, class_names: list[str] | None = None):
    """Per-class validation accuracy and the confusion matrix of the run's last validation (pyplot: shown inline)."""
    path = runs.eval_path(run_dir, "val")
    val = runs.read_json(path)
    if val is None:
        print(f"no validation results in {path}")
        return None
    per_class = [float("nan") if a is None else a for a in val["per_class_acc"]]
    n = len(per_class)
    names = class_names if class_names and len(class_names) == n else [str(i) for i in range(n)]
    fig, (ax_bar, ax_cm) = plt.subplots(1, 2, figsize=(11, 0.25 * n + 2.5), gridspec_kw={"width_ratios": [1, 1.2]})
    ax_bar.barh(range(n), per_class, color="tab:blue")
    ax_bar.set(yticks=range(n), xlim=(0, 100), xlabel="accuracy (%)", title="per-class validation accuracy")
    ax_bar.set_yticklabels(names, fontsize=7)
    ax_bar.invert_yaxis()
    image = ax_cm.imshow(val["confusion"], cmap="Blues")
    ax_cm.set(xlabel="predicted class", ylabel="true class", title="confusion matrix")
    integer_ticks(ax_cm.xaxis)  # class indices: whole numbers only, never half steps
    integer_ticks(ax_cm.yaxis)
    fig.colorbar(image, ax=ax_cm, fraction=0.046)
    fig.tight_layout()
    return fig


# ---- the evaluate notebook ----------------------------------------------------------------------------------

def check_views(views) -> list[tuple[int, int]]:
    with one_line_errors():
        return evaluation.check_views(views)


def train_defaults() -> dict[str, Any]:
    """The parameters cell of notebooks/train.ipynb, evaluated (its CPU-scale defaults)."""
    return notebook_parameters(notebooks_dir() / "train.ipynb")


def ensure_default_run() -> Path:
    """The run folder of the train notebook's default experiment, trained now if it has no checkpoint."""
    defaults = train_defaults()
    exp = build_experiment(defaults)
    run_dir = Path(defaults.get("run_dir") or default_run_dir(exp))
    if not runs.checkpoint_file(run_dir, "best").is_file():
        print(f"no trained run in {run_dir}: training the train notebook's default experiment first")
        train_live(build_plan(exp), run_dir)
    return run_dir


def run_experiment(run_dir: str | Path, checkpoint: str = "best") -> Experiment:
    with one_line_errors():
        return evaluation.load_run(run_dir, checkpoint)[0]


def evaluate_view(run_dir: str | Path, view: tuple[int, int], **options) -> dict:
    """One view's evaluation of a run (`actionbook.train.evaluate.evaluate_run`), errors in one line."""
    with one_line_errors():
        return evaluation.evaluate_run(run_dir, [view], progress=False, **options)[0]


def evaluate_released(checkpoint: str | Path, dataset: str, views=None, **options) -> list[dict]:
    """A converted released checkpoint (`actionbook convert`) under its source's test protocol
    (`actionbook.train.evaluate.evaluate_released`), errors in one line."""
    with one_line_errors():
        return evaluation.evaluate_released(checkpoint, dataset, views=check_views(views) if views else None,
                                            progress=False, **options)
