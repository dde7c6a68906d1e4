"""What every source layout's renaming rule shares."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import torch

from actionbook.errors import ConfigError


@dataclass(frozen=True)
class Drop:
    """A source tensor with no place in the model, and why."""

    reason: str


def substitute(key: str, patterns: list[tuple[str, str]]) -> str:
    """Apply each (regex, replacement) in turn."""
    for pattern, replacement in patterns:
        key = re.sub(pattern, replacement, key)
    return key


def state_dict_in(container: dict, names: tuple[str, ...], what: str) -> Mapping[str, torch.Tensor]:
    """The first of `names` in the released dict that holds a mapping of names to tensors."""
    for name in names:
        state = container.get(name)
        if isinstance(state, Mapping) and state and all(isinstance(v, torch.Tensor) for v in state.values()):
            return state
    found = ", ".join(sorted(map(str, container))[:8]) or "nothing"
    raise ConfigError(f"not {what}: expected a state dict under {' or '.join(repr(n) for n in names)}, the file has "
                      f"{found}")
