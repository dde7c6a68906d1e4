"""Pieces shared by the 2D and 3D model families: input checks, time folding, temporal pooling, the head."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _triple

from actionbook.errors import ConfigError

TEMPORAL_POOLING = ("none", "max", "avg")


def check_temporal_pooling(value: str) -> str:
    if value not in TEMPORAL_POOLING:
        raise ConfigError(f"temporal_pooling must be one of {', '.join(TEMPORAL_POOLING)}, got {value!r}")
    return value


def check_frames(name: str, frames: int, multiple: int, why: str) -> None:
    """Frame counts a model cannot take fail at construction with the reason, not deep inside forward."""
    if frames % multiple:
        raise ConfigError(f"model {name!r} cannot take frames={frames}: {why} (use a multiple of {multiple})")


def check_clip(x: torch.Tensor, frames: int | None = None) -> None:
    """Every model takes (N, 3, T, H, W); say so in one line instead of a shape error deep in a conv."""
    if x.dim() != 5 or x.shape[1] != 3:
        raise ConfigError(f"expected a clip tensor of shape (N, 3, T, H, W), got {tuple(x.shape)}")
    if frames is not None and x.shape[2] != frames:
        raise ConfigError(f"this model was built for {frames} frames, got a clip with T={x.shape[2]}")


def fold_time(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, T, H, W) -> (N*T, 3, H, W), sample-major and time-minor (row = n*T + t)."""
    n, c, t, h, w = x.shape
    return x.transpose(1, 2).reshape(n * t, c, h, w)


class PaddedAvgPool3d(nn.AvgPool3d):
    """AvgPool3d that averages over a zero pad (count_include_pad, as the reference). The pad is applied explicitly
    because avg_pool3d rejects an input smaller than the kernel even when the pad covers it (T=2 at the last pool
    of an 8-frame clip with temporal pooling)."""

    def __init__(self, kernel_size, stride, padding):
        super().__init__(kernel_size, stride)
        pt, ph, pw = _triple(padding)
        self.pad = (pw, pw, ph, ph, pt, pt)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.pad))


class TemporalPooling(nn.Module):
    """Halve T of a time-folded (N*T, C, H, W) map: 3-tap pool, stride 2, pad 1 (IBM's 2D temporal pooling).

    Average pooling counts the zero pad (count_include_pad), as the reference does.
    """

    def __init__(self, frames: int, method: str = "max"):
        super().__init__()
        self.frames = frames
        self.method = method
        pool = nn.MaxPool3d if method == "max" else PaddedAvgPool3d
        self.pool = pool(kernel_size=(3, 1, 1), stride=(2, 1, 1), padding=(1, 0, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        nt, c, h, w = x.shape
        n = nt // self.frames
        x = x.view(n, self.frames, c, h, w).transpose(1, 2)
        x = self.pool(x)
        t = x.shape[2]
        return x.transpose(1, 2).reshape(n * t, c, h, w)


class TemporalLogitHead(nn.Module):
    """Dropout + FC on every remaining temporal position, then the mean of the logits over time.

    Takes (N, F, T') features (already spatially pooled) and returns (N, num_classes). Because the FC is linear,
    in eval mode this equals FC(mean of features); in training dropout differs per position, as in the reference.
    """

    def __init__(self, in_features: int, num_classes: int, dropout: float):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        x = self.fc(self.dropout(features.transpose(1, 2)))  # (N, T', C)
        return x.mean(dim=1)


class ReferenceSyncBatchNorm3d(nn.BatchNorm3d):
    """A BatchNorm3d that the reference config runs as SyncBatchNorm across GPUs (MMAction2's R(2+1)D).

    It computes plain BN in one process (SyncBatchNorm has no CPU kernel); the trainer's sync_bn turns it into
    SyncBatchNorm like every other BN. Its own type keeps the reference's FLOP convention honest: mmcv's counter
    matches exact module types and so never counted SyncBN layers.
    """
