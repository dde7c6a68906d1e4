"""MMAction2's checkpoints (0.x and 1.x: {'meta', 'state_dict'}, keys under `backbone.` and `cls_head.`) for the
benchmark networks: TSN, TSM, I3D (and heavy), SlowOnly, SlowFast 4x16 and 8x8, R(2+1)D.

MMAction2 wraps each conv and its norm in a ConvModule (`conv1.conv`, `conv1.bn`); TSM's shifted conv is
`conv1.conv.net`; a (2+1)D conv is `conv.conv_s`, `conv.bn_s`, `conv.conv_t` with the ConvModule's `bn` after
it; SlowFast's pathways are `slow_path`/`fast_path` with laterals `conv1_lateral`, `layer<i>_lateral`. Here: the
torchvision names, a split conv's temporal half `<conv>_t`/`<bn>_t`, `slow`/`fast`, `laterals.<i>`.

One tensor changes beyond its name: MMAction2's SlowFastHead concatenates the pooled features as [fast, slow], this
project's head as [slow, fast], so the SlowFast classifier's weight columns are swapped in two blocks (without it
the logits of a converted SlowFast differ by whole units: measured 4.5 on random weights).
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from actionbook.convert.rules import Drop, state_dict_in, substitute

COMMON = [
    (r"^backbone\.", ""),
    (r"^slow_path\.", "slow."),
    (r"^fast_path\.", "fast."),
    (r"^slow\.conv1_lateral\.conv\.", "laterals.0."),
    (r"^slow\.layer(\d)_lateral\.conv\.", r"laterals.\1."),
    (r"\.conv\.net\.", ".conv."),  # TSM's temporal shift wraps the conv
    (r"(^|\.)downsample\.conv\.conv_s\.", r"\1downsample.0."),
    (r"(^|\.)downsample\.conv\.bn_s\.", r"\1downsample.1."),
    (r"(^|\.)downsample\.conv\.conv_t\.", r"\1downsample.3."),
    (r"(^|\.)downsample\.conv\.", r"\1downsample.0."),
    (r"(^|\.)conv(\d)\.conv\.conv_s\.", r"\1conv\2."),
    (r"(^|\.)conv(\d)\.conv\.bn_s\.", r"\1bn\2."),
    (r"(^|\.)conv(\d)\.conv\.conv_t\.", r"\1conv\2_t."),
    (r"(^|\.)conv(\d)\.conv\.", r"\1conv\2."),
]


def unwrap(container: dict) -> tuple[Mapping[str, torch.Tensor], str]:
    state = state_dict_in(container, ("state_dict",), "an MMAction2 checkpoint")
    version = "1.x" if any(k.startswith("data_preprocessor.") for k in state) or "mmengine_version" in str(
        container.get("meta", {})) else "0.x"
    return state, f"MMAction2 {version} checkpoint, 'state_dict' with backbone./cls_head. keys"


FAST_OUT = "backbone.fast_path.layer4"
CLASSIFIER = "cls_head.fc_cls.weight"


def reorder_slowfast_classifier(state: Mapping[str, torch.Tensor]) -> tuple[dict, list[tuple[str, str, str]]]:
    """SlowFast only: the classifier's columns from [fast, slow] to [slow, fast] features."""
    fast_ends = [v for k, v in state.items() if k.startswith(FAST_OUT) and k.endswith("bn.weight")]
    if not fast_ends or CLASSIFIER not in state:
        return dict(state), []
    fast = fast_ends[-1].shape[0]  # channels of the fast pathway's last BN: its output width
    weight = state[CLASSIFIER]
    how = f"columns reordered: [fast {fast}, slow {weight.shape[1] - fast}] -> [slow, fast] (the heads' concatenation)"
    return {**state, CLASSIFIER: torch.cat([weight[:, fast:], weight[:, :fast]], dim=1)}, [(CLASSIFIER, CLASSIFIER,
                                                                                            how)]


def candidates(key: str, state: Mapping[str, torch.Tensor]) -> list[str] | Drop:
    if key.startswith("data_preprocessor."):
        return Drop("MMAction2 1.x's normalisation constants: this project normalises with the model's registered "
                    "mean and std")
    if key.startswith("cls_head.fc_cls."):
        tail = key.removeprefix("cls_head.fc_cls.")
        return [f"fc.{tail}", f"head.fc.{tail}"]
    key = substitute(key, COMMON)
    # a ConvModule's norm follows the whole conv: the temporal half's BN where the conv is split, else its own BN
    for pattern, split, plain in ((r"(^|\.)downsample\.bn\.", r"\1downsample.4.", r"\1downsample.1."),
                                  (r"(^|\.)conv(\d)\.bn\.", r"\1bn\2_t.", r"\1bn\2.")):
        split_key = substitute(key, [(pattern, split)])
        if split_key != key:
            return [split_key, substitute(key, [(pattern, plain)])]
    return [key]
