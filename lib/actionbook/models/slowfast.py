"""MMAction2's SlowFast-R50 (spec mmaction-benchmark 1.5): two ResNet3d pathways with fast->slow laterals.

The input is the whole clip (32 frames in the benchmark). The slow pathway takes every alpha-th frame by strided
slicing (as in 2020); the fast pathway takes all of them, with 1/8 of the slow widths. After the fast stem and
after fast res2, res3 and res4 a lateral conv (kt x 1 x 1, temporal stride alpha, no BN, no ReLU) maps the fast
features to 2x their channels at the slow frame rate, and they are concatenated onto the slow features.

PySlowFast's SlowFast-R50 8x8 (`pyslowfast_slowfast_r50_8x8`, for its released weights) is the same network with
two differences: each lateral conv is followed by BatchNorm and ReLU, and the slow pathway takes the frames PySlowFast's
loader picks (`linspace(0, T - 1, T / alpha)` rounded down: 0, 4, 8, 13, ... of 32), not every alpha-th one.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import nn

from actionbook.errors import ConfigError
from actionbook.models.common import PooledHead, check_clip, check_frames, kaiming_init
from actionbook.models.registry import MMACTION_ENTRY, PYSLOWFAST_ENTRY, register
from actionbook.models.resnet3d import MMACTION_RESNET3D, ResNet3d, ResNet3dSpec, zero_init_residual

FAST_CHANNELS = 8  # base width of the fast pathway (beta = 1/8)
# Inputs of the four laterals: the fast stem (8) and fast res2, res3, res4 (4x the stage width). The slow pathway
# is SlowOnly whose stages take the lateral channels on top of their own.
LATERAL_IN = (FAST_CHANNELS, 4 * FAST_CHANNELS, 8 * FAST_CHANNELS, 16 * FAST_CHANNELS)

SLOW = replace(MMACTION_RESNET3D["slowonly_r50"], lateral_channels=tuple(2 * c for c in LATERAL_IN))
FAST = ResNet3dSpec(50, base_channels=FAST_CHANNELS, stem_kt=5, inflate_style="3x1x1")


class SlowFast(nn.Module):
    def __init__(self, num_classes: int, frames: int, alpha: int, lateral_kernel: int, pyslowfast: bool = False):
        super().__init__()
        self.frames, self.alpha = frames, alpha
        # which frames the slow pathway sees: PySlowFast's loader spreads them with linspace
        slow = torch.linspace(0, frames - 1, frames // alpha).long() if pyslowfast else torch.arange(0, frames, alpha)
        self.register_buffer("slow_frames", slow, persistent=False)
        self.slow = ResNet3d(SLOW)
        self.fast = ResNet3d(FAST)
        self.laterals = nn.ModuleList(
            nn.Conv3d(c, 2 * c, (lateral_kernel, 1, 1), (alpha, 1, 1), ((lateral_kernel - 1) // 2, 0, 0), bias=False)
            for c in LATERAL_IN)
        # PySlowFast's fusion: BN + ReLU after each lateral conv (MMAction2's has neither)
        self.lateral_norms = nn.ModuleList(nn.BatchNorm3d(2 * c) for c in LATERAL_IN) if pyslowfast else None
        self.head = PooledHead(SLOW.out_channels + FAST.out_channels, num_classes)
        kaiming_init(self, fc_std=0.01)
        zero_init_residual(self)

    def features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The last maps of the slow and the fast pathway."""
        slow = self.slow.forward_stem(x.index_select(2, self.slow_frames))
        fast = self.fast.forward_stem(x)
        for i, (slow_stage, fast_stage) in enumerate(zip(self.slow.stages(), self.fast.stages())):
            fused = self.laterals[i](fast)
            if self.lateral_norms is not None:
                fused = torch.relu(self.lateral_norms[i](fused))
            slow = slow_stage(torch.cat([slow, fused], dim=1))
            fast = fast_stage(fast)
        return slow, fast

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_clip(x, self.frames)
        return self.head(*self.features(x))


def _slowfast(name: str, num_classes: int, frames: int, alpha: int, lateral_kernel: int,
              pyslowfast: bool = False) -> SlowFast:
    check_frames(name, frames, alpha, f"the slow pathway takes every {alpha}-th frame")
    if not isinstance(lateral_kernel, int) or lateral_kernel < 1 or lateral_kernel % 2 == 0:
        raise ConfigError(f"lateral_kernel must be a positive odd integer, got {lateral_kernel!r}")
    return SlowFast(num_classes, frames, alpha, lateral_kernel, pyslowfast)


_SLOWFAST = dict(family="SlowFast", backbone="resnet-50", **MMACTION_ENTRY)


@register("mmaction_slowfast_r50_4x16", **_SLOWFAST)
def mmaction_slowfast_r50_4x16(num_classes: int, frames: int) -> SlowFast:
    """MMAction2 SlowFast-R50 4x16x1: 32-frame clip, slow pathway every 8th frame (alpha 8), lateral kernel 5."""
    return _slowfast("mmaction_slowfast_r50_4x16", num_classes, frames, alpha=8, lateral_kernel=5)


@register("mmaction_slowfast_r50_8x8", options=("lateral_kernel",), **_SLOWFAST)
def mmaction_slowfast_r50_8x8(num_classes: int, frames: int, lateral_kernel: int = 7) -> SlowFast:
    """MMAction2 SlowFast-R50 8x8x1: 32-frame clip, slow pathway every 4th frame (alpha 4). lateral_kernel 7 is the
    published config (34,565,560 params); 5 reproduces the 2020-07-01 config the first speed table ran."""
    return _slowfast("mmaction_slowfast_r50_8x8", num_classes, frames, alpha=4, lateral_kernel=lateral_kernel)


@register("pyslowfast_slowfast_r50_8x8", family="SlowFast", backbone="resnet-50", **PYSLOWFAST_ENTRY)
def pyslowfast_slowfast_r50_8x8(num_classes: int, frames: int) -> SlowFast:
    """PySlowFast SlowFast-R50 8x8 (SLOWFAST_8x8_R50): 32-frame clip, alpha 4, lateral kernel 7 with BN and ReLU,
    slow frames spread by linspace."""
    return _slowfast("pyslowfast_slowfast_r50_8x8", num_classes, frames, alpha=4, lateral_kernel=7, pyslowfast=True)
