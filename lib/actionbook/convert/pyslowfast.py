"""PySlowFast's checkpoints ({'model_state', 'optimizer_state', 'epoch', 'cfg'}) in either naming: PySlowFast's
own (`s2.pathway0_res0.branch2.a`, `s1_fuse.conv_f2s`, `head.projection`) or pytorchvideo's hub layout (the same
tensors as `blocks.<b>.[multipathway_blocks.<p>.]res_blocks.<j>.branch2.conv_a`, ...). Pathway 0 is the slow (or
only) pathway, pathway 1 the fast one. Their networks here: SLOW_8x8_R50 / SLOW_4x16_R50 -> mmaction_slowonly_r50
(the same network), I3D_8x8_R50 -> pyslowfast_i3d_r50 (MMAction2's I3D tensors without its temporal strides),
SLOWFAST_8x8_R50 -> pyslowfast_slowfast_r50_8x8 (BN and ReLU in the laterals).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import lru_cache

import torch

from actionbook.convert.rules import state_dict_in, substitute

LAYER = {"a": "conv1", "a_bn": "bn1", "b": "conv2", "b_bn": "bn2", "c": "conv3", "c_bn": "bn3",
         "conv_a": "conv1", "norm_a": "bn1", "conv_b": "conv2", "norm_b": "bn2", "conv_c": "conv3", "norm_c": "bn3"}
PYSLOWFAST = [
    (r"^s1\.pathway(\d)_stem\.conv\.", r"P\1.conv1."),
    (r"^s1\.pathway(\d)_stem\.bn\.", r"P\1.bn1."),
    (r"^s(\d)_fuse\.conv_f2s\.", lambda m: f"laterals.{int(m[1]) - 1}."),
    (r"^s(\d)_fuse\.bn\.", lambda m: f"lateral_norms.{int(m[1]) - 1}."),
    (r"^s(\d)\.pathway(\d)_res(\d+)\.branch1\.", lambda m: f"P{m[2]}.layer{int(m[1]) - 1}.{m[3]}.downsample.0."),
    (r"^s(\d)\.pathway(\d)_res(\d+)\.branch1_bn\.", lambda m: f"P{m[2]}.layer{int(m[1]) - 1}.{m[3]}.downsample.1."),
    (r"^s(\d)\.pathway(\d)_res(\d+)\.branch2\.(\w+)\.",
     lambda m: f"P{m[2]}.layer{int(m[1]) - 1}.{m[3]}.{LAYER[m[4]]}."),
    (r"^head\.projection\.", "head.fc."),
]
BLOCK = re.compile(r"^blocks\.(\d+)\.")


def unwrap_pyslowfast(container: dict) -> tuple[Mapping[str, torch.Tensor], str]:
    state = state_dict_in(container, ("model_state",), "a PySlowFast checkpoint")
    return state, "PySlowFast checkpoint, 'model_state' in PySlowFast's names (s1.pathway0_stem, ...)"


def unwrap_pytorchvideo(container: dict) -> tuple[Mapping[str, torch.Tensor], str]:
    state = state_dict_in(container, ("model_state",), "a pytorchvideo hub checkpoint")
    return state, "pytorchvideo hub checkpoint, 'model_state' in pytorchvideo's names (blocks.<b>....)"


@lru_cache(maxsize=8)
def _ranks(keys: tuple[str, ...], part: str) -> dict[str, int]:
    """pytorchvideo numbers its blocks in order (a pool can sit between stages): the rank of each block holding
    `part` (res_blocks: the stages; multipathway_fusion: the laterals)."""
    blocks = sorted({int(BLOCK.match(k)[1]) for k in keys if BLOCK.match(k) and f".{part}." in k})
    return {str(b): i for i, b in enumerate(blocks)}


def _pytorchvideo_key(key: str, state: Mapping[str, torch.Tensor]) -> str:
    keys = tuple(state)
    stage, fusion = _ranks(keys, "res_blocks"), _ranks(keys, "multipathway_fusion")
    return substitute(key, [
        (r"^blocks\.0\.(?:multipathway_blocks\.(\d)\.)?conv\.", lambda m: f"P{m[1] or 0}.conv1."),
        (r"^blocks\.0\.(?:multipathway_blocks\.(\d)\.)?norm\.", lambda m: f"P{m[1] or 0}.bn1."),
        (r"^blocks\.(\d+)\.multipathway_fusion\.conv_fast_to_slow\.", lambda m: f"laterals.{fusion[m[1]]}."),
        (r"^blocks\.(\d+)\.multipathway_fusion\.norm\.", lambda m: f"lateral_norms.{fusion[m[1]]}."),
        (r"^blocks\.(\d+)\.(?:multipathway_blocks\.(\d)\.)?res_blocks\.(\d+)\.branch1_conv\.",
         lambda m: f"P{m[2] or 0}.layer{stage[m[1]] + 1}.{m[3]}.downsample.0."),
        (r"^blocks\.(\d+)\.(?:multipathway_blocks\.(\d)\.)?res_blocks\.(\d+)\.branch1_norm\.",
         lambda m: f"P{m[2] or 0}.layer{stage[m[1]] + 1}.{m[3]}.downsample.1."),
        (r"^blocks\.(\d+)\.(?:multipathway_blocks\.(\d)\.)?res_blocks\.(\d+)\.branch2\.(\w+)\.",
         lambda m: f"P{m[2] or 0}.layer{stage[m[1]] + 1}.{m[3]}.{LAYER[m[4]]}."),
        (r"^blocks\.\d+\.proj\.", "head.fc."),
    ])


def candidates(key: str, state: Mapping[str, torch.Tensor]) -> list[str]:
    """P0. is the slow pathway (`slow.`) of a SlowFast, or the network itself; P1. the fast pathway."""
    key = _pytorchvideo_key(key, state) if key.startswith("blocks.") else substitute(key, PYSLOWFAST)
    if key.startswith("P0."):
        return [f"slow.{key[3:]}", key[3:]]
    if key.startswith("P1."):
        return [f"fast.{key[3:]}"]
    return [key]
