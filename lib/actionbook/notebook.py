"""What the notebooks call, so that their cells stay short and the same code is tested outside them.

* `build_experiment(namespace)`: the papermill parameters (the notebook's globals) -> a validated `Experiment`,
  the dataset checked (synthetic sets generated), the device able to run it. Any problem is a `NotebookError`:
  one line in the notebook, in papermill's message and in nbval's report, instead of a deep traceback.
* `default_run_dir`, `recipe_comparison`, `complexity_table`: what the run is and how it differs from the paper.
* `train_live(exp, run_dir)`: train with a live progress line and live loss/accuracy curves. One process trains
  inside the kernel; more than one run `actionbook train` under torchrun as a subprocess whose log is streamed
  (process groups inside a kernel are fragile).
* `curves_figure`, `results_table`: the record against the published numbers.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import subprocess
import sys
import threading
import time
from dataclasses import fields
from pathlib import Path
from typing import Any

from actionbook.errors import ConfigError
from actionbook.experiment import Experiment

EXPERIMENT_FIELDS = tuple(f.name for f in fields(Experiment))
# Fields that do not change what a run computes: they do not enter the default run folder's name.
_NOT_IN_RUN_ID = {"name", "notes", "workers", "log_every", "checkpoint_every", "device", "data_root"}
# Synthetic stand-ins and the published dataset whose recipe they stand in for.
SYNTHETIC_ANALOGS = {"synth-something": "st2stv2", "synth-kinetics": "kinetics400"}


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
    from actionbook.data import TooManyBadFiles
    from actionbook.train import TrainingFailed

    try:
        yield
    except ConfigError as err:
        raise NotebookError(str(err)) from None
    except (TrainingFailed, TooManyBadFiles) as err:
        raise NotebookError(str(err), kind=type(err).__name__) from None


# ---- the experiment -----------------------------------------------------------------------------------------

def build_experiment(namespace: dict[str, Any], check_data: bool = True) -> Experiment:
    """The Experiment named by the notebook's parameters (the Experiment fields found in `namespace`), validated,
    with its dataset present (a synthetic set is generated on first use) and its device able to run it."""
    with one_line_errors():
        exp = Experiment.from_dict({k: namespace[k] for k in EXPERIMENT_FIELDS if k in namespace})
        preflight(exp, check_data=check_data)
    return exp


def preflight(exp: Experiment, check_data: bool = True) -> None:
    """What the trainer would only find out later: a device that cannot run the recipe, a dataset not there."""
    import torch

    cuda = torch.cuda.is_available() and exp.device != "cpu"
    if exp.sync_bn and not cuda:
        raise ConfigError("sync_bn=True needs CUDA GPUs (SyncBatchNorm has no CPU kernel); set -p sync_bn False "
                          "to run this recipe on the CPU")
    if exp.amp == "fp16" and not cuda:
        raise ConfigError("amp=fp16 needs CUDA; on the CPU use amp=bf16 or none")
    if cuda and exp.nproc > torch.cuda.device_count():
        raise ConfigError(f"nproc={exp.nproc} processes but {torch.cuda.device_count()} CUDA device(s); "
                          f"set -p nproc {torch.cuda.device_count()} (batch_size stays global)")
    if exp.pretrained == "imagenet":
        from actionbook.models import model_entry
        from actionbook.models.pretrained import imagenet_file

        arch = model_entry(exp.model).imagenet
        if arch is None:
            raise ConfigError(f"model {exp.model!r} is trained from scratch: set -p pretrained none")
        path = Path(exp.imagenet_checkpoint) if exp.imagenet_checkpoint else imagenet_file(arch)
        if not path.is_file():
            raise ConfigError(f"pretrained=imagenet but no {arch} ImageNet weights at {path} (nothing is downloaded: "
                              f"fetch them once with torchvision, pass -p imagenet_checkpoint, or -p pretrained none)")
    elif exp.pretrained != "none" and not Path(exp.pretrained).is_file():
        raise ConfigError(f"pretrained checkpoint {exp.pretrained!r} does not exist (imagenet, none or a file)")
    if check_data:
        from actionbook import data

        info = data.dataset_info(exp.dataset)
        if exp.data_root is None and info.kind != "synthetic":
            raise ConfigError(f"dataset {exp.dataset!r} is not synthetic and data_root is not set: pass its folder "
                              f"(-p data_root /path/to/{exp.dataset}; {info.description})")
        data.ensure_dataset(exp.dataset, exp.data_root)


def run_id(exp: Experiment) -> str:
    """A short hash of everything that changes what the run computes."""
    values = {k: v for k, v in exp.to_dict().items() if k not in _NOT_IN_RUN_ID and not k.startswith("reported_")}
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:8]


def default_run_dir(exp: Experiment, root: str | Path | None = None) -> Path:
    """`<project>/runs/<name or dataset-model-fT>-<run id>`: one folder per distinct experiment."""
    from actionbook.params import project_root

    stem = exp.name or f"{exp.dataset}-{exp.model}-f{exp.frames}"
    return Path(root or project_root() / "runs") / f"{stem}-{run_id(exp)}"


def training_plan(exp: Experiment) -> dict:
    """Videos per split and iterations per epoch, as the trainer will see them."""
    from actionbook import data

    with one_line_errors():
        common = dict(root=exp.data_root, frames=exp.frames, sampling=exp.sampling, frame_interval=exp.frame_interval,
                      input_size=exp.input_size, scale_size=exp.scale_size, flip=exp.flip, seed=exp.seed)
        train_set = data.build_dataset(exp.dataset, split="train", augment=exp.augment, **common)
        val_set = data.build_dataset(exp.dataset, split="val", augment="none", **common)
    iters = len(train_set) // exp.batch_size
    if exp.iters_per_epoch:
        iters = min(iters, exp.iters_per_epoch)
    if iters == 0:
        raise NotebookError(f"batch_size {exp.batch_size} is larger than the training split ({len(train_set)} clips)")
    return {"train_videos": len(train_set), "val_videos": len(val_set), "classes": train_set.num_classes,
            "class_names": list(getattr(train_set, "class_names", []) or []),
            "iters_per_epoch": iters, "total_iters": iters * exp.epochs,
            "clips_seen": iters * exp.epochs * exp.batch_size}


# ---- what the run is -----------------------------------------------------------------------------------------

def complexity_table(exp: Experiment, num_classes: int, reference=None):
    """Params and FLOPs of the model at this run's input and at the table's 224x224, against the row's numbers."""
    import pandas as pd

    from actionbook.measure import model_complexity

    opts = exp.model_options()
    rows = []
    for size in dict.fromkeys((exp.input_size, 224)):
        c = model_complexity(exp.model, num_classes, exp.frames, size, **opts)
        rows.append({"input": f"{exp.frames}x{size}x{size}", "classes": num_classes, "params": c["params"],
                     "conv MACs (IBM FLOPs)": c["conv_macs"], "fvcore FLOPs": c["fvcore_flops"],
                     "mmcv FLOPs": c["mmaction_flops"]})
    if reference is not None:
        rows.append({"input": f"published: {reference.row}", "classes": None, "params": reference.params,
                     "conv MACs (IBM FLOPs)": reference.flops, "fvcore FLOPs": None, "mmcv FLOPs": None})
    rows = [{k: v if k == "input" else _number(v) for k, v in row.items()} for row in rows]
    return pd.DataFrame(rows).set_index("input")


# ---- training with live progress ----------------------------------------------------------------------------

def read_metrics(run_dir: str | Path) -> tuple[list[dict], list[dict]]:
    """(iteration lines, epoch lines) of a run's metrics.jsonl."""
    path = Path(run_dir) / "metrics.jsonl"
    iters, epochs = [], []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:  # a line being written
                continue
            (epochs if entry.get("kind") == "epoch" else iters).append(entry)
    return iters, epochs


def draw_curves(fig, iters: list[dict], epochs: list[dict], title: str = "", chance: float | None = None) -> None:
    """Loss (per logged iteration and per epoch) and accuracy (train, val top-1/top-5, chance) on `fig`."""
    ax_loss, ax_acc = fig.subplots(1, 2)
    if chance is not None:
        ax_acc.axhline(chance, color="0.5", ls=":", lw=1, label="chance")
    if iters:
        ax_loss.plot([e["step"] for e in iters], [e["loss"] for e in iters], lw=1, alpha=0.6, label="iteration")
    if epochs:
        ax_loss.plot([e["step"] for e in epochs], [e["train_loss"] for e in epochs], "o-", label="epoch mean")
        x = [e["epoch"] for e in epochs]
        ax_acc.plot(x, [e["train_top1"] for e in epochs], "o-", label="train top-1")
        ax_acc.plot(x, [e["val_top1"] for e in epochs], "s-", label="val top-1")
        ax_acc.plot(x, [e["val_top5"] for e in epochs], "^--", label="val top-5")
        ax_acc.set_xticks(x)
        ax_acc.legend(loc="best", fontsize=8)
    ax_loss.set(xlabel="iteration", ylabel="cross-entropy", title="loss")
    ax_acc.set(xlabel="epoch", ylabel="accuracy (%)", title="accuracy", ylim=(0, 100))
    if iters:
        ax_loss.legend(loc="best", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()


def curves_figure(run_dir: str | Path, title: str = "", chance: float | None = None):
    """A matplotlib Figure of the run's curves (not registered with pyplot: safe from any thread)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 3.6))
    draw_curves(fig, *read_metrics(run_dir), title=title, chance=chance)
    return fig


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    return buf.getvalue()


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class LiveView:
    """A progress line and the curves, redrawn from the run's metrics.jsonl by a background thread.

    The line follows every logged iteration; the figure is redrawn at each epoch and at most every `plot_every`
    seconds in between (rendering it costs CPU the training on a two-core machine would otherwise have).
    """

    def __init__(self, run_dir: Path, total_iters: int | None, title: str = "", every: float = 3.0,
                 chance: float | None = None, plot_every: float = 30.0):
        from IPython.display import HTML, display

        self.run_dir, self.total, self.title, self.every = Path(run_dir), total_iters, title, every
        self.chance, self.plot_every = chance, plot_every
        self.started = time.monotonic()
        self._plotted = (-1, -math.inf)  # (epochs drawn, when)
        self.status = display(HTML("<code>starting...</code>"), display_id=True)
        self.plot = display(HTML(""), display_id=True)
        self._seen = (-1, -1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> LiveView:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.refresh(final=True)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.refresh()
            except Exception:  # a display problem must never stop training
                pass

    def refresh(self, final: bool = False) -> None:
        from IPython.display import HTML, Image

        iters, epochs = read_metrics(self.run_dir)
        seen = (len(iters), len(epochs))
        if seen == self._seen and not final:
            return
        self._seen = seen
        elapsed = time.monotonic() - self.started
        if iters:
            last = iters[-1]
            step = last["step"]
            parts = [f"epoch {last['epoch']}", f"step {step}" + (f"/{self.total}" if self.total else ""),
                     f"loss {last['loss']:.3f}", f"lr {last['lr']:.3g}", f"{last['iter_time']:.2f} s/iter",
                     f"elapsed {_clock(elapsed)}"]
            if self.total and step and not final:
                parts.append(f"eta {_clock(elapsed / step * (self.total - step))}")
            if epochs:
                parts.append(f"val top-1 {epochs[-1]['val_top1']:.1f}%")
            self.status.update(HTML(f"<code>{' · '.join(parts)}</code>"))
        now = time.monotonic()
        due = final or len(epochs) != self._plotted[0] or now - self._plotted[1] >= self.plot_every
        if (iters or epochs) and due:
            self._plotted = (len(epochs), now)
            self.plot.update(Image(data=_png(curves_figure(self.run_dir, self.title, self.chance))))


def train_live(exp: Experiment, run_dir: str | Path, total_iters: int | None = None, every: float = 3.0,
               classes: int | None = None) -> dict:
    """Train (or resume, or return the finished record of) `exp` in `run_dir`, showing progress and curves."""
    from actionbook.report.records import read_record

    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    title = f"{exp.name or exp.model} · {exp.dataset} · {exp.frames} frames"
    with LiveView(run_dir, total_iters, title, every, chance=100.0 / classes if classes else None):
        if exp.nproc > 1:
            _train_subprocess(exp, run_dir)
        else:
            from actionbook.train import train

            with one_line_errors():
                train(exp, run_dir, progress=False)
    record = read_record(run_dir)
    if record is None or record.get("status") != "completed":
        status = record.get("status") if record else "missing"
        reason = record.get("reason") if record else "no record was written"
        raise NotebookError(f"the run did not complete (status {status}): {reason}", kind="TrainingFailed")
    return record


def _train_subprocess(exp: Experiment, run_dir: Path) -> None:
    """`actionbook train` with nproc processes under torchrun, its log streamed into the cell."""
    import yaml

    params = run_dir / "params.yaml"
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
    """Reported (the table) against reproduced (this record), with the protocol of each reproduced number."""
    import pandas as pd

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

    rows = [
        {"metric": "top-1 (%)", "reported": reported("reported_top1", "top1"), "reproduced": val.get("top1"),
         "protocol": protocol(val)},
        {"metric": "top-5 (%)", "reported": reported("reported_top5", "top5"), "reproduced": val.get("top5"),
         "protocol": protocol(val)},
    ]
    if test:
        rows += [{"metric": "top-1 multi-view (%)", "reported": None, "reproduced": test["top1"],
                  "protocol": protocol(test)},
                 {"metric": "top-5 multi-view (%)", "reported": None, "reproduced": test["top5"],
                  "protocol": protocol(test)}]
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
    import matplotlib.pyplot as plt

    path = Path(run_dir) / "eval" / "val.json"
    if not path.is_file():
        print(f"no validation results in {path}")
        return None
    val = json.loads(path.read_text())
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
    fig.colorbar(image, ax=ax_cm, fraction=0.046)
    fig.tight_layout()
    return fig


# ---- the evaluate notebook ----------------------------------------------------------------------------------

def check_views(views) -> list[tuple[int, int]]:
    from actionbook.views import check_views as check

    with one_line_errors():
        return check(views)


def train_defaults() -> dict[str, Any]:
    """The parameters cell of notebooks/train.ipynb, evaluated (its CPU-scale defaults)."""
    import ast

    from actionbook.params import project_root

    source = json.loads((project_root() / "notebooks" / "train.ipynb").read_text())
    cell = next(c for c in source["cells"] if "parameters" in c.get("metadata", {}).get("tags", []))
    values = {}
    for node in ast.parse("".join(cell["source"])).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            values[node.targets[0].id] = ast.literal_eval(node.value)
    return values


def ensure_default_run() -> Path:
    """The run folder of the train notebook's default experiment, trained now if it has no checkpoint."""
    defaults = train_defaults()
    exp = build_experiment(defaults)
    run_dir = Path(defaults.get("run_dir") or default_run_dir(exp))
    if not (run_dir / "checkpoints" / "best.pt").is_file():
        print(f"no trained run in {run_dir}: training the train notebook's default experiment first")
        plan = training_plan(exp)
        train_live(exp, run_dir, total_iters=plan["total_iters"], classes=plan["classes"])
    return run_dir


def run_experiment(run_dir: str | Path, checkpoint: str = "best") -> Experiment:
    from actionbook.views import load_run

    with one_line_errors():
        return load_run(run_dir, checkpoint)[0]
