"""The source layouts `actionbook convert --from` knows: each is a `Source` that finds the state dict in the
released file and names, for each source key, the model keys it may become (the first the model has is taken)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

from actionbook.convert import ibm, mmaction2, pyslowfast
from actionbook.convert.rules import Drop
from actionbook.errors import ConfigError


@dataclass(frozen=True)
class Source:
    name: str
    # the released file's dict -> (its state dict, the layout's description); ConfigError if it is not this layout
    unwrap: Callable[[dict], tuple[Mapping[str, torch.Tensor], str]]
    # (source key, the whole state dict) -> candidate model keys, best first, or a Drop
    candidates: Callable[[str, Mapping[str, torch.Tensor]], list[str] | Drop]
    # merges several source tensors into one model tensor first: (state) -> (new state, [(source keys, merged key,
    # how)]); None when the layout has nothing to merge
    merge: Callable[[Mapping[str, torch.Tensor]], tuple[dict, list[tuple[str, str, str]]]] | None = None


SOURCES = {
    "ibm": Source("ibm", ibm.unwrap, ibm.candidates, ibm.merge_tam_taps),
    "mmaction2": Source("mmaction2", mmaction2.unwrap, mmaction2.candidates, mmaction2.reorder_slowfast_classifier),
    "pyslowfast": Source("pyslowfast", pyslowfast.unwrap_pyslowfast, pyslowfast.candidates),
    "pytorchvideo": Source("pytorchvideo", pyslowfast.unwrap_pytorchvideo, pyslowfast.candidates),
}


def source(name: str) -> Source:
    if name not in SOURCES:
        raise ConfigError(f"unknown checkpoint source {name!r}; expected one of {', '.join(SOURCES)}")
    return SOURCES[name]
