"""Models by name. Importing this package imports every module in it, which registers each model family."""

import importlib
import pkgutil

from actionbook.models.registry import build_model, find_model, list_models, model_entry, model_label

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["build_model", "find_model", "list_models", "model_entry", "model_label"]
