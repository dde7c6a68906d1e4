"""Pieces shared by the model families: option and input checks, time folding, temporal pooling, the heads, and
ResNet's weight initialisation."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.modules.utils import _triple

from actionbook.errors import ConfigError
from actionbook.models.tam import TAM

TEMPORAL_POOLING = ("none", "max", "avg")
IBM_OPTIONS = ("temporal_pooling", "dropout")  # the options every IBM model takes

# (channels, frames) -> the temporal module of one 2D block, built for that block's input channels and stage frames.
TemporalFactory = Callable[[int, int], nn.Module]


# --- checks: what a model cannot take fails at construction with the reason, not deep inside forward ---------------

def check_temporal_pooling(value: str) -> str:
    if value not in TEMPORAL_POOLING:
        raise ConfigError(f"temporal_pooling must be one of {', '.join(TEMPORAL_POOLING)}, got {value!r}")
    return value


def check_frames(name: str, frames: int, multiple: int, why: str) -> None:
    if frames % multiple:
        raise ConfigError(f"model {name!r} cannot take frames={frames}: {why} (use a multiple of {multiple})")


def check_min_frames(name: str, frames: int, minimum: int, why: str) -> None:
    if frames < minimum:
        raise ConfigError(f"model {name!r} cannot take frames={frames}: {why} (use at least {minimum})")


def check_ibm_options(name: str, frames: int, temporal_pooling: str, dropout: float,
                      halves: str = "temporal pooling halves the frames three times") -> None:
    """The options of every IBM model. Temporal pooling halves T three times (`halves` says where: the 2D families
    pool after three stages), so it needs a multiple of 8 frames."""
    if check_temporal_pooling(temporal_pooling) != "none":
        check_frames(name, frames, 8, halves)
    if not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ConfigError(f"dropout must be a number in [0, 1), got {dropout!r}")


def check_clip(x: torch.Tensor, frames: int | None = None) -> None:
    """Every model takes (N, 3, T, H, W); say so in one line instead of a shape error deep in a conv."""
    if x.dim() != 5 or x.shape[1] != 3:
        raise ConfigError(f"expected a clip tensor of shape (N, 3, T, H, W), got {tuple(x.shape)}")
    if frames is not None and x.shape[2] != frames:
        raise ConfigError(f"this model was built for {frames} frames, got a clip with T={x.shape[2]}")


# --- time: folding it into the batch (2D families) and pooling it -------------------------------------------------

def fold_time(x: torch.Tensor) -> torch.Tensor:
    """(N, 3, T, H, W) -> (N*T, 3, H, W), sample-major and time-minor (row = n*T + t)."""
    n, c, t, h, w = x.shape
    return x.transpose(1, 2).reshape(n * t, c, h, w)


def frames_per_stage(frames: int, temporal_pooling: str) -> list[int]:
    """Frames at each of a 2D network's four stages: T throughout, or T, T/2, T/4, T/8 with temporal pooling."""
    return [frames] * 4 if temporal_pooling == "none" else [frames // 2**i for i in range(4)]


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


# --- heads ------------------------------------------------------------------------------------------------------------

CONSENSUS = ("logits", "features")


class SegmentConsensusHead(nn.Module):
    """Dropout + FC over the segments of each clip (its frames, or a 3D map's temporal positions), and their average.

    consensus="logits": classify every segment, then average the logits (IBM's TSN/TAM/I3D/S3D, TSM);
    "features": average the segments' features, then classify once (MMAction2's TSN). In eval mode the two agree
    (the FC is linear); in training dropout differs per segment with "logits", as in the references.

    The 2D networks inherit it and call `add_head` last in their __init__: its layers then sit at the network's top
    level (`dropout`, `fc`), where torchvision has them, so ImageNet checkpoints and every saved run load by name
    (`fc.weight`), and the FC is created after the trunk as it always was. IBM's 3D head is one (`head.fc`).
    """

    def add_head(self, in_features: int, num_classes: int, dropout: float, consensus: str = "logits") -> None:
        if consensus not in CONSENSUS:
            raise ValueError(f"consensus must be one of {', '.join(CONSENSUS)}, got {consensus!r}")
        self.consensus = consensus
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, num_classes)

    def classify_segments(self, features: torch.Tensor) -> torch.Tensor:
        """(N, T', F) pooled features -> (N, num_classes) logits."""
        if self.consensus == "features":
            return self.fc(self.dropout(features.mean(dim=1)))
        return self.fc(self.dropout(features)).mean(dim=1)


class TemporalHead3d(SegmentConsensusHead):
    """IBM's 3D head: spatial average (a mean, not a pooling module) to (N, F, T'), then dropout + FC per temporal
    position and the mean of the logits."""

    def __init__(self, in_features: int, num_classes: int, dropout: float):
        super().__init__()
        self.add_head(in_features, num_classes, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classify_segments(x.mean(dim=(3, 4)).transpose(1, 2))


class PooledHead(nn.Module):
    """MMAction2's I3DHead / SlowFastHead: 3D global average pool of each pathway, concatenated; dropout; FC."""

    def __init__(self, in_features: int, num_classes: int, dropout: float = 0.5):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool3d(1)  # a module, not a mean, so module-hook FLOP counters see it as mmcv did
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(in_features, num_classes)

    def forward(self, *maps: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(torch.cat([self.pool(m).flatten(1) for m in maps], dim=1)))


# --- layers and initialisation --------------------------------------------------------------------------------------

class ReferenceSyncBatchNorm3d(nn.BatchNorm3d):
    """A BatchNorm3d that the reference config runs as SyncBatchNorm across GPUs (MMAction2's R(2+1)D).

    It computes plain BN in one process (SyncBatchNorm has no CPU kernel); the trainer's sync_bn turns it into
    SyncBatchNorm like every other BN. Its own type keeps the reference's FLOP convention honest: mmcv's counter
    matches exact module types and so never counted SyncBN layers.
    """


def kaiming_init(model: nn.Module, fc_std: float | None = None) -> None:
    """ResNet's initialisation, in module order: conv weights kaiming-normal (fan_out, relu; a TAM per tap, as the
    reference builds it) and conv biases 0; BN weight 1, bias 0; with `fc_std`, FC weights N(0, fc_std^2) and biases
    0 (without it the FC keeps PyTorch's default, as IBM's 2D networks do)."""
    for m in model.modules():
        if isinstance(m, TAM):
            m.kaiming_init_()
        elif isinstance(m, (nn.Conv2d, nn.Conv3d)):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm3d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear) and fc_std is not None:
            nn.init.normal_(m.weight, 0.0, fc_std)
            nn.init.zeros_(m.bias)
