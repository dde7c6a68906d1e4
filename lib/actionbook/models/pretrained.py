"""ImageNet initialisation: torchvision's 2D weights, loaded by name into 2D models and inflated into 3D ones.

The 3D models keep torchvision's module names, so every 2D key has a 3D counterpart of the same name. A 4-D conv
kernel (O, I, kh, kw) becomes (O, I, kt, kh, kw) by repeating it kt times along time, either as is ("repeat": IBM,
a kt-tap conv starts with kt times the 2D response on a still clip) or divided by kt ("mean": MMAction2, the same
response). Everything else (BN statistics and affine, biases) is copied.

Layers with no 2D counterpart keep their initialisation (the paper's protocol), or, with `temporal_start="identity"`,
the temporal-only convs among them (TAM's modules, S3D's (kt, 1, 1) halves) start as the identity: the centre tap
passes each channel through, the other taps are zero. TAM then computes exactly the 2D network it was loaded from
(its input is a ReLU's output, so ReLU(x) = x), and S3D's temporal halves pass the pretrained features on instead
of mixing channels at random; that is the proxy study's start (a CPU-scale deviation, book/proxy.md).

Loud, never silent: every tensor of the model is loaded from the checkpoint or is on the model's declared list of
tensors that have no 2D counterpart (its `keep_random` regexes; by default the FC and TAM modules). Anything else
missing, any checkpoint key the model lacks, and any shape that cannot be loaded or inflated is a ConfigError that
names the keys. Nothing is ever downloaded.
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from actionbook.errors import ConfigError
from actionbook.models.registry import model_entry

# Checkpoint keys with no place in a video model: the 1000-class classifier and GoogLeNet's auxiliary heads.
IGNORED = re.compile(r"^(fc|aux1|aux2)\.")
# By-design-random tensors of models that do not declare `keep_random`: the classifier and TAM modules.
DEFAULT_KEEP_RANDOM = (r"(^|\.)fc\.", r"(^|\.)tam")
INFLATION_RULES = ("repeat", "mean")
TEMPORAL_STARTS = ("random", "identity")


@dataclass
class LoadReport:
    model: str
    arch: str  # torchvision architecture the weights belong to
    source: str  # where they were read from
    inflation: str | None
    sha256: str | None = None  # of the file read (None for a state dict in memory): which weights, exactly
    loaded: list[str] = field(default_factory=list)  # model keys taken from the checkpoint (inflated ones included)
    inflated: list[str] = field(default_factory=list)  # the subset that was inflated from 2D kernels
    kept_random: list[str] = field(default_factory=list)  # model keys left at their initialisation, by design
    ignored: list[str] = field(default_factory=list)  # checkpoint keys not used (classifier, aux heads)
    identity_start: list[str] = field(default_factory=list)  # kept-random temporal convs started as the identity

    def summary(self) -> str:
        total = len(self.loaded) + len(self.kept_random)
        digest = f", sha256 {self.sha256[:12]}" if self.sha256 else ""
        text = f"{self.model}: loaded {len(self.loaded)} of {total} tensors from {self.arch} ImageNet-style weights " \
               f"({self.source}{digest})"
        if self.inflated:
            how = "repeated along time" if self.inflation == "repeat" else "repeated along time and divided by k_t"
            text += f", {len(self.inflated)} of them 2D kernels inflated to 3D ({how})"
        text += f". Kept {len(self.kept_random)} at their initialisation by design: {_listing(self.kept_random)}."
        if self.identity_start:
            text += f" Of those, {len(self.identity_start)} temporal convs start as the identity: " \
                    f"{_listing(self.identity_start)}."
        if self.ignored:
            text += f" Ignored {len(self.ignored)} checkpoint keys: {_listing(self.ignored)}."
        return text


def _listing(keys: list[str], limit: int = 8) -> str:
    if not keys:
        return "none"
    shown = ", ".join(keys[:limit])
    return shown if len(keys) <= limit else f"{shown}, ... ({len(keys) - limit} more)"


def imagenet_file(arch: str) -> Path:
    """Where torchvision caches the ImageNet weights of `arch` (its IMAGENET1K_V1 file, as the studies used)."""
    import torchvision  # here, not at import time: every model module is imported with the package

    try:
        url = torchvision.models.get_model_weights(arch).IMAGENET1K_V1.url
    except (ValueError, AttributeError) as e:
        raise ConfigError(f"torchvision has no ImageNet-1k V1 weights for architecture {arch!r}") from e
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def _read(checkpoint, arch: str) -> tuple[Mapping[str, torch.Tensor], str, str | None]:
    if isinstance(checkpoint, Mapping):
        state, source, digest = checkpoint, "a state dict in memory", None
    else:
        path = imagenet_file(arch) if checkpoint is None else Path(checkpoint)
        if not path.is_file():
            if checkpoint is not None:
                raise ConfigError(f"ImageNet checkpoint {str(path)!r} does not exist")
            raise ConfigError(
                f"no ImageNet weights for {arch}: expected torchvision's file at {path} (nothing is downloaded; "
                f"get it once with torchvision.models.{arch}(weights='IMAGENET1K_V1'), or pass a checkpoint path)")
        data = path.read_bytes()
        state, source = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True), str(path)
        digest = hashlib.sha256(data).hexdigest()
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ConfigError(f"{source} is not a torchvision state dict (a mapping of names to tensors)")
    return state, source, digest


def inflate(weight: torch.Tensor, kt: int, rule: str) -> torch.Tensor:
    """(O, I, kh, kw) -> (O, I, kt, kh, kw): repeat along a new time axis; "mean" also divides by kt."""
    if rule not in INFLATION_RULES:
        raise ConfigError(f"inflation rule must be one of {', '.join(INFLATION_RULES)}, got {rule!r}")
    inflated = weight.unsqueeze(2).repeat(1, 1, kt, 1, 1)
    return inflated / kt if rule == "mean" else inflated


def _inflatable(key: str, value: torch.Tensor, target: torch.Tensor) -> bool:
    return (key.endswith("weight") and value.dim() == 4 and target.dim() == 5
            and value.shape == target.shape[:2] + target.shape[3:])


def load_imagenet(model: nn.Module, checkpoint=None, temporal_start: str = "random") -> LoadReport:
    """Initialise a registered model (built by `build_model`) from torchvision ImageNet weights.

    checkpoint: a path to a torchvision state dict, a state dict, or None for torchvision's cache
    (`torch.hub.get_dir()/checkpoints/<file>`). The architecture and the 2D->3D rule come from the registry entry.
    temporal_start: "random" (the paper) or "identity" for the temporal-only convs the weights do not cover.
    """
    if temporal_start not in TEMPORAL_STARTS:
        raise ConfigError(f"temporal_start must be one of {', '.join(TEMPORAL_STARTS)}, got {temporal_start!r}")
    name = getattr(model, "model_name", None)
    if name is None:
        raise ConfigError("load_imagenet needs a model built by actionbook.models.build_model (it has no model_name)")
    entry = model_entry(name)
    if entry.imagenet is None:
        raise ConfigError(f"model {name!r} is trained from scratch: it has no ImageNet initialisation")
    state, source, digest = _read(checkpoint, entry.imagenet)
    report = LoadReport(name, entry.imagenet, source, entry.inflation, digest)
    target = model.state_dict()
    keep_random = [re.compile(p) for p in getattr(model, "keep_random", DEFAULT_KEEP_RANDOM)]

    new, unexpected, misshaped = {}, [], []
    for key, value in state.items():
        if IGNORED.match(key):
            report.ignored.append(key)
        elif key not in target:
            unexpected.append(key)
        elif value.shape == target[key].shape:
            new[key] = value
        elif _inflatable(key, value, target[key]) and entry.inflation is not None:
            new[key] = inflate(value, target[key].shape[2], entry.inflation)
            report.inflated.append(key)
        else:
            misshaped.append(f"{key} (checkpoint {tuple(value.shape)}, model {tuple(target[key].shape)})")
    missing = []
    for key in target:
        if key in new:
            report.loaded.append(key)
        elif any(p.search(key) for p in keep_random) or key.endswith("num_batches_tracked"):
            report.kept_random.append(key)  # (old checkpoints carry no BN step counters)
        else:
            missing.append(key)

    problems = [f"{label}: {_listing(keys)}" for label, keys in (
        ("missing from the checkpoint", missing), ("shapes that cannot be loaded or inflated", misshaped),
        ("checkpoint keys the model does not have", unexpected)) if keys]
    if problems:
        raise ConfigError(f"cannot initialise {name!r} from ImageNet {entry.imagenet} ({source}): "
                          + "; ".join(problems))
    model.load_state_dict({**target, **{k: v.to(target[k].dtype) for k, v in new.items()}})
    if temporal_start == "identity":
        report.identity_start = _start_temporal_convs_as_identity(model, set(report.kept_random))
    return report


def _start_temporal_convs_as_identity(model: nn.Module, kept_random: set[str]) -> list[str]:
    """Dirac-initialise every kept-random (kt, 1, 1) Conv3d that maps channels onto themselves; its keys."""
    started = []
    for name, module in model.named_modules():
        key = f"{name}.weight"
        if (isinstance(module, nn.Conv3d) and key in kept_random and module.kernel_size[1:] == (1, 1)
                and module.in_channels == module.out_channels and module.stride == (1, 1, 1)):
            with torch.no_grad():
                nn.init.dirac_(module.weight, groups=module.groups)
                if module.bias is not None:
                    module.bias.zero_()
            started.append(key)
    return started
