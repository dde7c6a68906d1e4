"""Reading a released checkpoint as data only: `torch.load(weights_only=True)`, so that a pickle carrying code is
refused before any of it runs, and every way a file can fail to be a checkpoint is one line naming the file."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import torch

from actionbook.errors import ConfigError


def sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_released(path: str | Path) -> dict:
    """The checkpoint's top-level dict. A pickle with code in it, a truncated or corrupt file, and anything that is
    not a dict are ConfigErrors; nothing in the file is executed."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"checkpoint {str(path)!r} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        first = (str(err).strip().splitlines() or ["?"])[0]
        raise ConfigError(f"{str(path)!r} holds more than tensors and plain data and was not loaded (nothing in it "
                          f"was run): {first[:160]}") from None
    except (RuntimeError, EOFError, ValueError, AttributeError, ImportError, OSError) as err:
        first = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise ConfigError(f"{str(path)!r} is not a readable checkpoint (truncated or corrupt? "
                          f"{type(err).__name__}: {first[:160]})") from None
    if not isinstance(state, dict):
        raise ConfigError(f"{str(path)!r} holds a {type(state).__name__}, not a checkpoint (a dict of tensors)")
    return state
