"""Converting a released checkpoint, and reading a converted one.

The converted file (`torch.load(FILE, weights_only=True)`) is a dict: `model` (the state dict of
`build_model(model_name, num_classes, frames, **model_options)`), `model_name`, `num_classes`, `frames`,
`model_options`, `source` (codebase, file name, sha256, layout) and `report` (the ConversionReport). The trainer takes
it as `pretrained=FILE`, `actionbook evaluate` as a checkpoint to evaluate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from actionbook.convert.reading import read_released, sha256
from actionbook.convert.report import ConversionReport
from actionbook.convert.rules import Drop
from actionbook.convert.sources import source as find_source
from actionbook.errors import ConfigError
from actionbook.models import build_model, model_entry

FORMAT = "actionbook-converted-1"
ORIGIN = "evaluated from released weights"  # what a record of such a checkpoint's evaluation says it is
LISTED = 3  # keys an error message names


@dataclass
class ConvertedCheckpoint:
    checkpoint: dict  # what the file holds
    report: ConversionReport


def classifier_keys(model: nn.Module) -> set[str]:
    """The final Linear's tensors: the one part of a network that depends on the class count."""
    names = [name for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    return {f"{names[-1]}.weight", f"{names[-1]}.bias"} if names else set()


def _frames_from(container: dict) -> int | None:
    """The IBM code writes its run name, `...-f<frames>...`, into the checkpoint's 'arch'."""
    match = re.search(r"-f(\d+)(-|$)", str(container.get("arch", "")))
    return int(match[1]) if match else None


def _examples(keys: list[str]) -> str:
    return ", ".join(keys[:LISTED]) + (f" and {len(keys) - LISTED} more" if len(keys) > LISTED else "")


def map_keys(source: str, state: dict, target: dict) -> tuple[dict[str, str], list[tuple[str, str]], list[str]]:
    """Which model key each source key becomes: ({model key: source key}, [(dropped key, why)], [source keys
    the model does not have]). `state` is the source's state dict after its merges; only its names are used."""
    src = find_source(source)
    mapped: dict[str, str] = {}
    dropped, unknown = [], []
    for key in state:
        options = src.candidates(key, state)
        if isinstance(options, Drop):
            dropped.append((key, options.reason))
            continue
        found = next((c for c in options if c in target), None)
        if found is None:
            unknown.append(key)
        elif found in mapped:
            raise ConfigError(f"{mapped[found]} and {key} of the checkpoint both map to {found}")
        else:
            mapped[found] = key
    return mapped, dropped, unknown


def convert_checkpoint(path: str | Path, source: str, model_name: str, frames: int | None = None,
                       num_classes: int | None = None, replace_classifier: bool = False,
                       class_names: list[str] | None = None, **model_options) -> ConvertedCheckpoint:
    """Map every tensor of the released file at `path` onto `model_name`, or fail in one line saying what does not
    fit. num_classes: the classifier's size (default: the checkpoint's); another size than the checkpoint's needs
    `replace_classifier` (the new classifier keeps its initialisation). class_names: the classifier's classes in
    its order (the source's label map), so that an evaluation can match them to the dataset's order."""
    path = Path(path)
    src = find_source(source)
    model_entry(model_name)  # an unknown model is one line before the file is read
    container = read_released(path)
    state, layout = src.unwrap(container)
    merged, reshaped = src.merge(state) if src.merge else (dict(state), [])
    merged_from = {key: (sources, how) for sources, key, how in reshaped}
    frames = frames or _frames_from(container)
    if frames is None:
        raise ConfigError("--frames is needed: the clip length the checkpoint was trained with (e.g. 32 for a "
                          "32x2x1 config, 8 for 8x8x1 SlowOnly)")

    with torch.device("meta"):  # the names and shapes only, no memory
        probe = build_model(model_name, num_classes=2, frames=frames, **model_options)
    report = ConversionReport(model_name, source, path.name, sha256(path), layout)
    mapped, report.dropped, unknown = map_keys(source, merged, probe.state_dict())
    classifier = classifier_keys(probe)
    weight = next((k for k in classifier if k.endswith("weight")), None)
    source_classes = int(merged[mapped[weight]].shape[0]) if weight in mapped else None
    num_classes = num_classes or source_classes
    if num_classes is None:
        raise ConfigError(f"{path.name} has no classifier for {model_name}: give --num-classes")
    if source_classes is not None and num_classes != source_classes and not replace_classifier:
        raise ConfigError(f"{path.name} has {source_classes} classes, {num_classes} were asked for: pass "
                          "--replace-classifier to start a new classifier (fine-tuning), or leave --num-classes out")
    report.source_classes, report.num_classes = source_classes, num_classes
    if class_names is not None and (len(class_names) != num_classes or replace_classifier):
        raise ConfigError(f"{len(class_names)} class names for a classifier of {num_classes} classes"
                          + (" that is replaced" if replace_classifier else "") + ": give the released label map")
    model = build_model(model_name, num_classes=num_classes, frames=frames, **model_options)
    target = model.state_dict()

    new, misshaped, missing = {}, [], []
    for key, value in target.items():
        if key not in mapped:
            if key.endswith("num_batches_tracked"):
                report.initialised.append((key, "BN step counter, not in the checkpoint; it changes no output"))
            elif key in classifier and source_classes is None:
                report.initialised.append((key, "no classifier in the checkpoint"))
            else:
                missing.append(key)
            continue
        src_key, tensor = mapped[key], merged[mapped[key]]
        if key in classifier and num_classes != source_classes:
            report.initialised.append((key, f"classifier replaced: {source_classes} classes in the checkpoint, "
                                            f"{num_classes} here"))
            report.dropped.append((src_key, "the released classifier (another class count)"))
        elif tuple(tensor.shape) != tuple(value.shape):
            misshaped.append(f"{src_key} {tuple(tensor.shape)} -> {key} {tuple(value.shape)}")
        else:
            new[key] = tensor.to(value.dtype)
            if src_key in merged_from:
                sources, how = merged_from[src_key]
                report.reshaped.append((sources, key, how))
            elif src_key == key:
                report.same_name.append(key)
            else:
                report.renamed.append((src_key, key))
    problems = [f"{len(keys)} {what} ({_examples(keys)})" for what, keys in (
        ("checkpoint keys the model does not have", unknown), ("model tensors the checkpoint lacks", missing),
        ("shapes that differ", misshaped)) if keys]
    if problems:
        raise ConfigError(f"{path.name} ({source} layout) is not a checkpoint of {model_name}: "
                          f"{'; '.join(problems)}; check --model and --from")
    model.load_state_dict({**target, **new})
    checkpoint = {"format": FORMAT, "model": model.state_dict(), "model_name": model_name, "num_classes": num_classes,
                  "frames": frames, "model_options": dict(model_options), "class_names": class_names,
                  "source": {"codebase": source, "file": path.name, "sha256": report.sha256, "layout": layout},
                  "report": report.to_dict()}
    return ConvertedCheckpoint(checkpoint, report)


def save_converted(converted: ConvertedCheckpoint, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    torch.save(converted.checkpoint, tmp)
    tmp.replace(out)
    return out


def is_converted(state: dict) -> bool:
    return state.get("format") == FORMAT


def load_converted(path: str | Path) -> dict:
    """A converted file's dict; anything else (a run checkpoint, a released file not yet converted) is one line."""
    state = read_released(path)
    if not is_converted(state):
        raise ConfigError(f"{str(path)!r} is not a converted checkpoint (convert it first: actionbook convert SRC "
                          "--from SOURCE --model NAME --out FILE)")
    return state


def model_for_converted(state: dict, class_names: list[str]) -> tuple[nn.Module, str]:
    """The converted network for data of these classes (in the data's order), and a note on its classifier: its
    rows reordered to the data's class order (by the names the file carries), kept in the file's order (no names:
    assumed to be the data's), or replaced when the class count differs (the new one untrained: the accuracy then
    measures nothing of the released classifier)."""
    num_classes = len(class_names)
    model = build_model(state["model_name"], num_classes=num_classes, frames=state["frames"],
                        **state.get("model_options", {}))
    weights = dict(state["model"])
    released = state.get("class_names")
    if num_classes != state["num_classes"]:
        for key in classifier_keys(model):
            weights[key] = model.state_dict()[key]
        note = (f"classifier replaced: the checkpoint has {state['num_classes']} classes, the data {num_classes}; "
                "the new classifier is untrained")
    elif released is None:
        note = ("the checkpoint's class order is assumed to be the data's (convert with --class-names, the "
                "source's label map, to have it checked)")
    else:
        missing = [name for name in class_names if name not in released]
        if missing:
            raise ConfigError(f"{len(missing)} classes of the data are not among the checkpoint's class names "
                              f"({', '.join(missing[:3])}): is it the dataset the weights were trained on?")
        order = torch.tensor([released.index(name) for name in class_names])
        for key in classifier_keys(model):
            weights[key] = weights[key][order]
        moved = int((order != torch.arange(num_classes)).sum())
        note = f"classifier rows matched to the data's classes by name ({moved} of {num_classes} reordered)"
    model.load_state_dict(weights)
    return model, note


def record_source(state: dict) -> dict:
    """What a record says about a converted checkpoint it evaluated."""
    return {**state["source"], "model_name": state["model_name"], "origin": ORIGIN}
