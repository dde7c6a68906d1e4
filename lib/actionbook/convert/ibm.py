"""The IBM repository's checkpoints (train.py: {'epoch', 'arch', 'state_dict', ...}, saved from DataParallel, so
every key starts with `module.`), for every IBM family here.

The models keep the reference's module names (torchvision's), so a key maps under its own name, except: the 3D
networks' classifier (`fc.` -> `head.fc.`), and TAM, whose B per-tap 1x1 convs (`prev_se`/`curr_se`/`next_se`, or
`blending_layers.<i>` for B != 3) are the B taps of one (B, 1, 1) conv here: tap i reads frame t + i - B//2, so
prev, curr, next are taps 0, 1, 2.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import torch

from actionbook.convert.rules import state_dict_in

TAP = re.compile(r"^(?P<tam>.*?)(?:(?P<name>prev|curr|next)_se|blending_layers\.(?P<index>\d+))\.fc1\.weight$")
NAMED_TAPS = {"prev": 0, "curr": 1, "next": 2}


def unwrap(container: dict) -> tuple[Mapping[str, torch.Tensor], str]:
    state = state_dict_in(container, ("state_dict",), "an IBM action-recognition-pytorch checkpoint")
    if all(k.startswith("module.") for k in state):
        return {k.removeprefix("module."): v for k, v in state.items()}, \
            "IBM train.py checkpoint, 'state_dict' with DataParallel's 'module.' prefix (removed)"
    return state, "IBM train.py checkpoint, 'state_dict'"


def merge_tam_taps(state: Mapping[str, torch.Tensor]) -> tuple[dict, list[tuple[str, str, str]]]:
    """Each TAM's per-tap (C, C/g, 1, 1) weights -> one (C, C/g, B, 1, 1) weight under `<tam>.weight`."""
    taps: dict[str, dict[int, str]] = {}
    for key in state:
        match = TAP.match(key)
        if match:
            index = NAMED_TAPS[match["name"]] if match["name"] else int(match["index"])
            taps.setdefault(match["tam"], {})[index] = key
    merged = {k: v for k, v in state.items() if not TAP.match(k)}
    how = []
    for tam, keys in taps.items():
        ordered = [keys[i] for i in sorted(keys)]
        merged[f"{tam}weight"] = torch.stack([state[k] for k in ordered], dim=2)
        how.append((" + ".join(ordered), f"{tam}weight", f"{len(ordered)} per-tap 1x1 convs stacked as the taps of "
                                                           "one (B, 1, 1) conv"))
    return merged, how


def candidates(key: str, state: Mapping[str, torch.Tensor]) -> list[str]:
    return [key, f"head.{key}"]
