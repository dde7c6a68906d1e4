"""Model names -> builders. Every entry point builds models through `build_model`.

Each registered name has its own `def` of the same name (as in timm and torchvision), so that searching the code for
a model's name finds its builder and its docstring. A builder is registered with the facts the rest of the project
needs without building it: its family and backbone (for tables and plots), the normalisation constants of its
ImageNet weights, where those weights come from and how they inflate to 3D, and the options it accepts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from torch import nn

from actionbook.errors import ConfigError

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = (0.5, 0.5, 0.5)
INCEPTION_STD = (0.5, 0.5, 0.5)
MMACTION_MEAN = (123.675 / 255, 116.28 / 255, 103.53 / 255)
MMACTION_STD = (58.395 / 255, 57.12 / 255, 57.375 / 255)

# Facts every model of a source or a backbone shares: `register(name, ..., **MMACTION_ENTRY)`.
MMACTION_ENTRY = dict(source="mmaction", mean=MMACTION_MEAN, std=MMACTION_STD)
# PySlowFast's Kinetics configs normalise with DATA.MEAN 0.45 and DATA.STD 0.225 on every channel
PYSLOWFAST_ENTRY = dict(source="pyslowfast", mean=(0.45, 0.45, 0.45), std=(0.225, 0.225, 0.225))
INCEPTION_ENTRY = dict(backbone="inception-v1", mean=INCEPTION_MEAN, std=INCEPTION_STD, imagenet="googlenet")


@dataclass(frozen=True)
class ModelEntry:
    name: str
    builder: Callable[..., nn.Module]
    family: str  # "TSN", "TAM", "I3D", "S3D", "TSM", "SlowOnly", "SlowFast", "R(2+1)D"
    backbone: str  # "resnet-50", "inception-v1", ...
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    source: str = "ibm"  # "ibm", "mmaction" or "pyslowfast" (the codebase whose network it is)
    options: tuple[str, ...] = field(default=())  # extra keyword options the builder accepts
    imagenet: str | None = None  # torchvision 2D architecture whose ImageNet weights initialise it ("resnet50", ...)
    inflation: str | None = None  # 2D->3D rule: "repeat" (IBM: copy along T) or "mean" (MMAction2: copy / k_t)
    doc: str = ""  # the builder's docstring

    @property
    def backbone_label(self) -> str:
        """"ResNet-50", "Inception-v1": the backbone as the papers write it."""
        kind, _, size = self.backbone.partition("-")
        return {"resnet": "ResNet", "inception": "Inception"}.get(kind, kind) + (f"-{size}" if size else "")

    @property
    def label(self) -> str:
        """"TAM ResNet-50": family and backbone, for tables and legends."""
        return f"{self.family} {self.backbone_label}"


_REGISTRY: dict[str, ModelEntry] = {}


def register(name: str, *, family: str, backbone: str, mean=IMAGENET_MEAN, std=IMAGENET_STD, source="ibm",
             options: tuple[str, ...] = (), imagenet: str | None = None, inflation: str | None = None):
    """Decorator: register `def <name>(num_classes, frames, **options) -> nn.Module` under its own name."""

    def wrap(builder):
        if builder.__name__ != name:
            raise RuntimeError(f"model {name!r} registered on a builder named {builder.__name__!r}: give each name "
                               "its own def of that name")
        if name in _REGISTRY:
            raise RuntimeError(f"model {name!r} registered twice")
        _REGISTRY[name] = ModelEntry(name, builder, family, backbone, tuple(mean), tuple(std), source,
                                     options=tuple(options), imagenet=imagenet, inflation=inflation,
                                     doc=(builder.__doc__ or "").strip())
        return builder

    return wrap


# Every module of the package registers its models when `actionbook.models` is imported, which Python does before
# it imports this module: the registry is complete whenever these functions are called.


def list_models(source: str | None = None) -> list[str]:
    return sorted(n for n, e in _REGISTRY.items() if source is None or e.source == source)


def find_model(name: str) -> ModelEntry | None:
    """The entry of `name`, or None for a name this registry does not know (say, in an old record)."""
    return _REGISTRY.get(name)


def model_entry(name: str) -> ModelEntry:
    if name not in _REGISTRY:
        raise ConfigError(f"unknown model {name!r}; valid models: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def model_label(name: str) -> str:
    """The entry's label ("TAM ResNet-50"), or the name itself for a model this registry does not know."""
    entry = find_model(name)
    return entry.label if entry else name


def build_model(name: str, num_classes: int, frames: int, **options) -> nn.Module:
    """Build a registered model. Every model takes (N, 3, T, H, W) and returns logits (N, num_classes)."""
    entry = model_entry(name)
    unknown = sorted(set(options) - set(entry.options))
    if unknown:
        accepted = ", ".join(entry.options) or "none"
        raise ConfigError(f"model {name!r} does not take option(s) {', '.join(unknown)}; accepted: {accepted}")
    if not isinstance(num_classes, int) or num_classes < 1:
        raise ConfigError(f"num_classes must be a positive integer, got {num_classes!r}")
    if not isinstance(frames, int) or frames < 1:
        raise ConfigError(f"frames must be a positive integer, got {frames!r}")
    model = entry.builder(num_classes=num_classes, frames=frames, **options)
    model.model_name = name
    return model
