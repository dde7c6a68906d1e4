"""Checkpoints: written atomically, loaded as data only (`weights_only=True`), with every random state."""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path

import numpy as np
import torch
from torch import nn

from actionbook.errors import ConfigError


def save_checkpoint(path: Path, state: dict) -> None:
    """torch.save to a temporary file, then rename: a kill mid-write leaves the previous checkpoint intact."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | Path) -> dict:
    """A checkpoint's state, loaded as data only; a file that is not one is a one-line ConfigError naming it."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, ImportError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConfigError(f"{str(path)!r} is not a checkpoint that loads as plain tensors and data "
                          f"({type(err).__name__}: {first[:160]})") from None
    if not isinstance(state, dict):
        raise ConfigError(f"{str(path)!r} holds a {type(state).__name__}, not a checkpoint (a dict of tensors)")
    return state


def rng_states() -> dict:
    """torch, CUDA, numpy and Python generators, in types `weights_only` loading accepts."""
    np_state = np.random.get_state()
    py_version, py_internal, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "python": {"version": py_version, "internal": list(py_internal), "gauss": py_gauss},
    }


def restore_rng_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    if states["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    n = states["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = states["python"]
    random.setstate((p["version"], tuple(p["internal"]), p["gauss"]))


def load_matching(model: nn.Module, state_dict: dict) -> dict:
    """Fine-tuning from another run (e.g. a fewer-frame model): load every tensor whose name and shape match and
    say exactly what did not."""
    own = model.state_dict()
    loaded, mismatched, missing = [], [], []
    for key, value in own.items():
        if key not in state_dict:
            missing.append(key)
        elif state_dict[key].shape != value.shape:
            mismatched.append(f"{key}: checkpoint {tuple(state_dict[key].shape)} vs model {tuple(value.shape)}")
        else:
            loaded.append(key)
    model.load_state_dict({k: state_dict[k] for k in loaded}, strict=False)
    unexpected = sorted(set(state_dict) - set(own))
    return {"loaded": len(loaded), "missing": missing, "mismatched": mismatched, "unexpected": unexpected}
