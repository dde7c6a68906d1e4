"""Multi-view evaluation of a trained run: K clips x 1/3/5/10 crops per video, logits averaged (IBM spec 6.4).

`evaluate_run(run_dir, views=[(1, 1), (2, 3), (10, 3)])` loads the run's checkpoint (best or last), rebuilds its
experiment's model and validation split under each protocol, and writes `eval/views-<K>x<C>.json` (metrics,
per-class accuracy, confusion matrix, protocol and checkpoint) into the run folder. Used by
`notebooks/evaluate.ipynb` and `actionbook evaluate`.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch

from actionbook.errors import ConfigError
from actionbook.experiment import Experiment

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
    if checkpoint in ("best", "last"):
        path = Path(run_dir) / "checkpoints" / f"{checkpoint}.pt"
    else:
        path = Path(checkpoint)
    if not path.is_file():
        raise ConfigError(f"checkpoint {str(path)!r} not found (train the run first, or name another run_dir)")
    return path


def load_run(run_dir: str | Path, checkpoint: str = "best", **overrides) -> tuple[Experiment, dict, Path]:
    """(the run's experiment with `overrides`, the checkpoint's state, its path)."""
    from actionbook.train.checkpoint import load_checkpoint

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
    from actionbook import data
    from actionbook.models import build_model, model_entry
    from actionbook.train.distributed import setup
    from actionbook.train.evaluate import evaluate

    views = check_views(views)
    exp, state, ckpt = load_run(run_dir, checkpoint, data_root=data_root, device=device)
    ctx = setup(exp.device)
    model = None
    entry = model_entry(exp.model)
    mean = torch.tensor(entry.mean, device=ctx.device).view(1, 3, 1, 1, 1)
    std = torch.tensor(entry.std, device=ctx.device).view(1, 3, 1, 1, 1)

    def prepare(clips: torch.Tensor) -> torch.Tensor:
        clips = clips.to(ctx.device, non_blocking=True)
        shape = clips.shape
        return data.normalize(clips.reshape(-1, *shape[-4:]), mean, std).reshape(shape)

    bar = None
    if progress:
        from tqdm.auto import tqdm

        def bar(it, desc=""):
            return tqdm(it, desc=desc, leave=False)

    results = []
    for clips, crops in views:
        dataset = data.build_dataset(exp.dataset, root=exp.data_root, split="val", frames=exp.frames,
                                     sampling=exp.sampling, frame_interval=exp.frame_interval, num_clips=clips,
                                     num_crops=crops, input_size=exp.input_size, scale_size=exp.scale_size,
                                     augment="none", flip=exp.flip, seed=exp.seed)
        num_classes = dataset.num_classes
        if model is None:  # the classes of the data the run trained on (a synthetic set may be of another size)
            model = build_model(exp.model, num_classes=num_classes, frames=exp.frames, **exp.model_options())
            model.load_state_dict(state["model"])
            model.to(ctx.device).eval()
        if limit:
            dataset = torch.utils.data.Subset(dataset, range(min(limit, len(dataset))))
        loader = torch.utils.data.DataLoader(
            dataset, batch_size=batch_size or max(1, exp.batch_size // exp.nproc), shuffle=False,
            num_workers=exp.workers if workers is None else workers, collate_fn=data.collate_clips)
        protocol = {"split": "val", "clips": clips, "crops": crops, "frames": exp.frames, "sampling": exp.sampling,
                    "input_size": exp.input_size, "dataset": exp.dataset}
        t0 = time.perf_counter()
        metrics = evaluate(model, loader, ctx, prepare, num_classes, protocol,
                           progress=(lambda it, d=f"{clips}x{crops}": bar(it, d)) if bar else None)
        seconds = time.perf_counter() - t0
        result = {**metrics, "checkpoint": str(ckpt), "checkpoint_epoch": state.get("epoch"),
                  "seconds": round(seconds, 2), "views": clips * crops}
        if write:
            out = Path(run_dir) / "eval" / f"views-{clips}x{crops}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(result))
        results.append(result)
    return results


def brief(result: dict) -> dict:
    """The row a table shows for one view."""
    p = result["protocol"]
    return {"clips": p["clips"], "crops": p["crops"], "views": result["views"], "top1": result["top1"],
            "top5": result["top5"], "mean_class_acc": result["mean_class_acc"], "videos": result["samples"],
            "seconds": result["seconds"]}
