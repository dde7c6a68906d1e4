"""Training and evaluation: the trainer (single process or DDP under torchrun), schedules, checkpoints, and the
multi-view evaluation of a run."""

from actionbook.train.evaluate import evaluate_run
from actionbook.train.trainer import Trainer, TrainingFailed, train

__all__ = ["Trainer", "TrainingFailed", "evaluate_run", "train"]
