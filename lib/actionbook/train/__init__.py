"""Training and evaluation: the trainer (single process or DDP under torchrun), schedules, checkpoints."""

from actionbook.train.trainer import TrainingFailed, train

__all__ = ["TrainingFailed", "train"]
