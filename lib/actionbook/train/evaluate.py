"""Evaluation: top-1, top-5, mean class accuracy, per-class accuracy and the confusion matrix, single or
multi-view (K clips x crops, logits averaged), each stored with its protocol and with what could not be scored:
an evaluation never stands another video in for an unreadable one (see `actionbook.data.dataset`), it leaves the
item out, counts it and names its file.

`evaluate` scores a loader (the trainer's per-epoch validation and final test). `evaluate_run(run_dir, views=[(1,
1), (2, 3), (10, 3)])` loads a run's checkpoint (best or last), rebuilds its experiment's model and validation
split under each protocol (IBM spec 6.4) and writes `eval/views-<K>x<C>.json` into the run folder: what
`notebooks/evaluate.ipynb` and `actionbook evaluate` call. `evaluate_released` does the same for a converted
released checkpoint (`actionbook convert`) under its source's test protocol, into a folder of its own whose record
says "evaluated from released weights".
"""

from __future__ import annotations

import time
from pathlib import Path

import torch
from torch import nn
from tqdm.auto import tqdm

from actionbook import convert, data, runs
from actionbook.errors import ConfigError
from actionbook.experiment import Experiment
from actionbook.models import build_model, model_entry
from actionbook.train.checkpoint import load_checkpoint
from actionbook.train.distributed import DistContext, all_gather_objects, broadcast_flag, setup


def per_view_logits(model: nn.Module, clips: torch.Tensor) -> torch.Tensor:
    """(N, V, classes) logits of a batch of (N, V, 3, T, H, W) views, or of (N, 3, T, H, W) clips (V = 1)."""
    if clips.dim() == 6:
        n, v = clips.shape[:2]
        return model(clips.flatten(0, 1)).view(n, v, -1)
    return model(clips).unsqueeze(1)


def view_logits(model: nn.Module, clips: torch.Tensor) -> torch.Tensor:
    """Logits of a batch; a multi-view batch (N, V, 3, T, H, W) is scored per view and averaged over views."""
    return per_view_logits(model, clips).mean(dim=1)


# Above this many numbers the kept per-view logits are stored as float16 (Kinetics-400 at 10x3 views: 240M numbers)
FLOAT32_LIMIT = 50_000_000


def _item_order(loader) -> list[int] | None:
    """The dataset index of each item, in the order this rank's loader yields them (None if it cannot be known)."""
    batches = getattr(loader, "batch_sampler", None)
    try:
        return [int(i) for batch in batches for i in batch] if batches is not None else None
    except TypeError:
        return None


def video_ids(dataset, indices: list[int]) -> list[str]:
    """Stable names of the videos at `indices` (their files), so two evaluations pair up on the same videos."""
    while isinstance(dataset, torch.utils.data.Subset):
        indices, dataset = [dataset.indices[i] for i in indices], dataset.dataset
    samples = getattr(dataset, "samples", None)
    return [str(samples[i].path) if samples is not None else str(i) for i in indices]


def classification_metrics(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> dict:
    """Accuracy figures (in percent, as the tables print them) from the logits of a whole split."""
    k = min(5, num_classes)
    topk = logits.topk(k, dim=1).indices
    correct = topk == labels[:, None]
    pred = topk[:, 0]
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    confusion.index_put_((labels, pred), torch.ones_like(labels), accumulate=True)
    support = confusion.sum(dim=1)
    per_class = torch.where(support > 0, confusion.diag().double() / support.clamp(min=1), torch.nan)
    return {
        "top1": 100.0 * correct[:, 0].double().mean().item(),
        "top5": 100.0 * correct.any(dim=1).double().mean().item(),
        "mean_class_acc": 100.0 * per_class.nanmean().item(),
        "per_class_acc": [None if torch.isnan(x) else 100.0 * x.item() for x in per_class],
        "confusion": confusion.tolist(),
        "samples": int(labels.numel()),
    }


LISTED_FILES = 20  # unreadable files an evaluation's result names (all are counted)


class EvaluationStopped(Exception):
    """A stop was asked for (SIGTERM, SIGINT) during an evaluation: its result is incomplete and not returned."""


@torch.no_grad()
def evaluate(model: nn.Module, loader, ctx: DistContext, prepare, num_classes: int, protocol: dict,
             progress=None, bad_file_threshold: float = 0.01, stop=None) -> dict:
    """Score every batch of `loader` (an evaluation split's) on this rank, gather all ranks' logits, compute the
    metrics.

    `prepare(clips)` moves a uint8 batch to the device and normalises it. `protocol` (split, clips, crops,
    frames, input size) is stored with the metrics so no number is ever read without it.

    Items whose video is unreadable (label `data.UNREADABLE`) are scored with their batch, so that every rank
    runs the same forwards, then left out: `samples` counts the items evaluated, `unreadable` those left out, and
    `unreadable_files` names up to LISTED_FILES of their files with the reasons. More than `bad_file_threshold`
    of the items left out (the training rule, `data.BadFileTracker`) fails the evaluation with
    `data.TooManyBadFiles`, on every rank alike since it is judged on the gathered counts.

    `stop()` (optional) is asked after every batch, on every rank together: when it says so, EvaluationStopped.

    The result also holds every prediction under `runs.PREDICTIONS`: per-video, per-view logits (N, V, classes),
    labels, the videos' files (when the loader's order is known) and the protocol; `runs.write_eval` writes them
    beside the JSON, so a result can be re-scored offline and two runs compared video by video.
    """
    was_training = model.training
    model.eval()
    logits, labels, bad, skipped, kept = [], [], [], 0, []
    for clips, target, unreadable in (progress(loader) if progress else loader):
        keep = target != data.UNREADABLE
        logits.append(per_view_logits(model, prepare(clips)).float().cpu()[keep])
        labels.append(target[keep])
        kept.append(keep)
        bad.extend(unreadable)
        skipped += int((~keep).sum())
        if stop is not None and broadcast_flag(ctx, stop()):
            model.train(was_training)
            raise EvaluationStopped(f"{protocol.get('split')} evaluation stopped")
    model.train(was_training)
    order = _item_order(loader)
    kept = torch.cat(kept) if kept else torch.empty(0, dtype=torch.bool)
    videos = video_ids(loader.dataset, [i for i, k in zip(order, kept.tolist()) if k]) if order else None
    local = (torch.cat(logits) if logits else torch.empty(0, 1, num_classes),
             torch.cat(labels) if labels else torch.empty(0, dtype=torch.long), bad, skipped, videos)
    gathered = all_gather_objects(ctx, local)
    view_scores = torch.cat([g[0] for g in gathered])
    all_logits = view_scores.mean(dim=1)
    all_labels = torch.cat([g[1] for g in gathered])
    skipped = sum(g[3] for g in gathered)
    tracker = data.BadFileTracker(bad_file_threshold, examples=LISTED_FILES, counted="skipped")
    try:
        tracker.update([pair for g in gathered for pair in g[2]], len(all_labels) + skipped)
    except data.TooManyBadFiles as err:
        views = f"{protocol.get('clips')}x{protocol.get('crops')} views"
        raise data.TooManyBadFiles(f"{protocol.get('split')} evaluation ({views}): {err}") from None
    all_videos = [v for g in gathered for v in g[4]] if all(g[4] is not None for g in gathered) else None
    predictions = {"logits": view_scores if view_scores.numel() <= FLOAT32_LIMIT else view_scores.half(),
                   "labels": all_labels, "videos": all_videos, "protocol": dict(protocol)}
    return {**classification_metrics(all_logits, all_labels, num_classes), "unreadable": skipped,
            "unreadable_files": tracker.summary()["examples"], "protocol": protocol,
            runs.PREDICTIONS: predictions}


# ---- a run's checkpoint under several views -----------------------------------------------------------------

CROPS = (1, 3, 5, 10)


def parse_views(items: list[str] | tuple[str, ...]) -> list[tuple[int, int]]:
    """"KxC" strings -> (clips, crops) pairs."""
    out = []
    for item in items:
        clips, sep, crops = str(item).lower().partition("x")
        if not sep or not clips.isdigit() or not crops.isdigit() or int(clips) < 1:
            raise ConfigError(f"a view is CLIPSxCROPS such as 10x3, got {item!r}")
        out.append((int(clips), int(crops)))
    return check_views(out)


def check_views(views) -> list[tuple[int, int]]:
    out = []
    for view in views:
        clips, crops = (int(v) for v in view)
        if clips < 1:
            raise ConfigError(f"clips must be at least 1, got {clips}")
        if crops not in CROPS:
            raise ConfigError(f"crops must be one of {', '.join(map(str, CROPS))}, got {crops}")
        out.append((clips, crops))
    if not out:
        raise ConfigError("no views to evaluate")
    return out


def checkpoint_path(run_dir: str | Path, checkpoint: str = "best") -> Path:
    """`best` or `last` of a run folder, or a checkpoint file."""
    if checkpoint in runs.CHECKPOINTS:
        path = runs.checkpoint_file(run_dir, checkpoint)
    else:
        path = Path(checkpoint)
    if not path.is_file():
        raise ConfigError(f"checkpoint {str(path)!r} not found (train the run first, or name another run_dir)")
    return path


def load_run(run_dir: str | Path, checkpoint: str = "best", **overrides) -> tuple[Experiment, dict, Path]:
    """(the run's experiment with `overrides`, the checkpoint's state, its path)."""
    path = checkpoint_path(run_dir, checkpoint)
    state = load_checkpoint(path)
    if "experiment" not in state or "model" not in state:
        raise ConfigError(f"{path} is not a run checkpoint of this project (no experiment/model in it)")
    exp = Experiment.from_dict({**state["experiment"], **{k: v for k, v in overrides.items() if v is not None}})
    return exp, state, path


def evaluate_run(run_dir: str | Path, views=((1, 1),), checkpoint: str = "best", data_root: str | None = None,
                 batch_size: int | None = None, limit: int | None = None, workers: int | None = None,
                 device: str | None = None, progress: bool = True, write: bool = True) -> list[dict]:
    """Evaluate the run's checkpoint under each (clips, crops) view; returns one result dict per view."""
    views = check_views(views)
    exp, state, ckpt = load_run(run_dir, checkpoint, data_root=data_root, device=device)

    def make_model(class_names: list[str]) -> nn.Module:
        num_classes = len(class_names)
        trained = state.get("num_classes", num_classes)  # (a synthetic set may be of another size)
        if trained != num_classes:
            raise ConfigError(f"{ckpt} was trained on {trained} classes, the data at {exp.data_root} have "
                              f"{num_classes}: evaluate on the run's dataset")
        model = build_model(exp.model, num_classes=num_classes, frames=exp.frames, **exp.model_options())
        model.load_state_dict(state["model"])
        return model

    extra = {"checkpoint": str(ckpt), "checkpoint_epoch": state.get("epoch")}
    return _evaluate_views(exp, make_model, views, run_dir if write else None, extra, batch_size, limit, workers,
                           progress)


def evaluate_released(checkpoint: str | Path, dataset: str, out_dir: str | Path | None = None, views=None,
                      data_root: str | None = None, frame_interval: int | None = None,
                      sampling: str | None = None, input_size: int | None = None, scale_size: int | None = None,
                      batch_size: int = 8, limit: int | None = None, workers: int = 2, device: str = "auto",
                      progress: bool = True) -> list[dict]:
    """Evaluate a converted released checkpoint (`actionbook convert`) on `dataset` under its source's test
    protocol (any field overridable); writes each view's result and predictions, and a record that says
    "evaluated from released weights", into `out_dir` (default: `<file>-eval/` beside the file)."""
    state = convert.load_converted(checkpoint)
    source = state["source"]["codebase"]
    protocol = convert.protocol(source)
    chosen = {"sampling": sampling, "frame_interval": frame_interval, "input_size": input_size,
              "scale_size": scale_size}
    settings = {k: v if v is not None else protocol[k] for k, v in chosen.items()}
    if settings["frame_interval"] is None:
        raise ConfigError(f"the {source} test protocol samples frames at its config's interval: give it "
                          "(--frame-interval, e.g. 2 for a 32x2x1 config, 8 for 8x8x1)")
    exp = Experiment.from_dict({"name": f"{state['model_name']} released ({source})", "model": state["model_name"],
                                "dataset": dataset, "data_root": data_root, "frames": state["frames"],
                                **state.get("model_options", {}), **settings, "augment": "none",
                                "batch_size": batch_size, "workers": workers, "device": device})
    views = check_views(views or protocol["views"])
    out_dir = Path(out_dir) if out_dir else Path(checkpoint).with_name(Path(checkpoint).stem + "-eval")
    notes = []

    def make_model(class_names: list[str]) -> nn.Module:
        model, note = convert.model_for_converted(state, class_names)
        notes.append(note)
        return model

    origin = {**convert.record_source(state), "protocol_basis": protocol["basis"],
              "overridden": sorted(k for k, v in chosen.items() if v is not None)}
    normalisation = (protocol["mean"], protocol["std"]) if "mean" in protocol else None
    origin["normalisation"] = normalisation or "the model's registered mean and std"
    results = _evaluate_views(exp, make_model, views, out_dir, {"checkpoint": str(checkpoint), "released": origin},
                              batch_size, limit, workers, progress, normalisation)
    for result in results:
        result["notes"] = notes
    runs.write_record(out_dir, {"status": "completed", "origin": convert.ORIGIN, "released": origin, "notes": notes,
                                "experiment": exp.to_dict(), "conversion": state.get("report"),
                                "metrics": {f"views-{r['protocol']['clips']}x{r['protocol']['crops']}": brief(r)
                                            for r in results}})
    return results


def _evaluate_views(exp: Experiment, make_model, views, run_dir: str | Path | None, extra: dict,
                    batch_size: int | None, limit: int | None, workers: int | None, progress: bool,
                    normalisation: tuple | None = None) -> list[dict]:
    """`exp`'s validation split under each view with the model `make_model(class_names)` builds, its input
    normalised with `normalisation` (mean, std) or the model's registered constants; each result (with its
    predictions) is written as `views-<K>x<C>` into `run_dir` unless that is None."""
    ctx = setup(exp.device)
    model = None
    entry = model_entry(exp.model)
    mean, std = normalisation or (entry.mean, entry.std)

    def prepare(clips: torch.Tensor) -> torch.Tensor:
        return data.to_model_input(clips, mean, std, ctx.device)

    def bar(it, desc=""):
        return tqdm(it, desc=desc, leave=False)

    results = []
    for clips, crops in views:
        dataset = data.build_dataset(exp.dataset, root=exp.data_root, split="val", frames=exp.frames,
                                     sampling=exp.sampling, frame_interval=exp.frame_interval, num_clips=clips,
                                     num_crops=crops, input_size=exp.input_size, scale_size=exp.scale_size,
                                     augment="none", flip=exp.flip, seed=exp.seed)
        num_classes = dataset.num_classes
        if model is None:
            model = make_model(dataset.class_names).to(ctx.device).eval()
        if limit:
            dataset = torch.utils.data.Subset(dataset, range(min(limit, len(dataset))))
        per_step = max(1, exp.batch_size // (exp.nproc * exp.nnodes * exp.accumulate_steps))  # a training micro-batch
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=batch_size or per_step, shuffle=False,
            num_workers=exp.workers if workers is None else workers, collate_fn=data.collate_clips)
        protocol = {"split": "val", "clips": clips, "crops": crops, "frames": exp.frames, "sampling": exp.sampling,
                    "frame_interval": exp.frame_interval, "input_size": exp.input_size,
                    "scale_size": exp.scale_size, "dataset": exp.dataset}
        t0 = time.perf_counter()
        metrics = evaluate(model, loader, ctx, prepare, num_classes, protocol,
                           progress=(lambda it, d=f"{clips}x{crops}": bar(it, d)) if progress else None,
                           bad_file_threshold=exp.bad_file_threshold)
        result = {**metrics, **extra, "seconds": round(time.perf_counter() - t0, 2), "views": clips * crops}
        if run_dir is not None:
            runs.write_eval(run_dir, f"views-{clips}x{crops}", result)
        results.append(result)
    return results


def brief(result: dict) -> dict:
    """The row a table shows for one view."""
    p = result["protocol"]
    return {"clips": p["clips"], "crops": p["crops"], "views": result["views"], "top1": result["top1"],
            "top5": result["top5"], "mean_class_acc": result["mean_class_acc"], "videos": result["samples"],
            "unreadable": result.get("unreadable"),  # None: an evaluation written before it was counted
            "seconds": result["seconds"]}
