"""The params files of MMAction2's speed-table settings: `params/mmaction/<setting>.yaml`, the full recipe of each
setting (the MMAction2 configs of mid-2020, mmaction-benchmark spec 1) with the table's s/iter and memory."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actionbook.studies.mmaction.published import MmactionRow, mmaction_rows
from actionbook.studies.mmaction.settings import mmaction_setting
from actionbook.studies.paramfiles import complete, render

FOLDER = "mmaction"


@dataclass(frozen=True)
class MmactionFile:
    """One setting of the seed speed table: its file, the table cells it stands for, the config it trains."""

    file: str  # params/mmaction/<file>.yaml
    table_model: str  # the table's Model cell
    table_setting: str  # the table's Setting cell
    config: str  # the MMACTION_SETTINGS entry (network, sampler, batch)
    recipe: dict
    notes: tuple[str, ...] = ()
    # numbers for cells the seed leaves blank: the same table completed the same day (spec 4.1, c4f4db48)
    completed: tuple[float, int] | None = None


_MM_COMMON_NOTES = (
    "recipe: the MMAction2 config of mid-2020 (mmaction-benchmark spec 1): SGD momentum 0.9, weight decay 1e-4, "
    "8 GPUs x batch_per_gpu, 224x224 crops from frames with short side 256",
    "reported_iter_time/memory: the mmaction-lite row (s/iter (std), peak max_memory_allocated MiB, 8x V100); "
    "measure with the benchmark notebook's protocol (spec 2)",
)

_STEP_100E = {"epochs": 100, "lr": 0.01, "lr_scheduler": "multisteps", "lr_steps": [40, 80], "clip_gradient": 40.0}

MMACTION_FILES: tuple[MmactionFile, ...] = (
    MmactionFile("tsn_r50_1x1x3_100e_kinetics400_rgb", "TSN", "tsn_r50_1x1x3_100e_kinetics400_rgb",
                 "tsn_r50_1x1x3_100e_kinetics400_rgb",
                 {**_STEP_100E, "pretrained": "imagenet", "augment": "mmaction-tsn", "sampling": "uniform"},
                 ("1x1x3: 3 segments of one frame; the uniform sampler stands in for SampleFrames (one random "
                  "offset per segment there, one shared offset here)",
                  "rawframes served from Memcached in the benchmark",
                  "open-mmaction: 0.3659 s/iter (0.0102), 8245 MiB")),
    MmactionFile("i3d_r50_32x2x1_100e_kinetics400_rgb", "I3D", "i3d_r50_32x2x1_100e_kinetics400_rgb",
                 "i3d_r50_32x2x1_100e_kinetics400_rgb",
                 {**_STEP_100E, "pretrained": "imagenet", "augment": "mmaction-i3d", "sampling": "mmaction",
                  "test_clips": 10, "test_crops": 3},
                 ("rawframes served from Memcached in the benchmark",
                  "open-mmaction: 0.5873 s/iter (0.0867), 5065 MiB (the seed's 0.3659 repeats the TSN cell, a "
                  "copy-paste error fixed an hour later in 537aced6)")),
    MmactionFile("i3d_r50_fast_32x2x1_100e_kinetics400_rgb", "I3D", "i3d_r50_fast32x2x1_100e_kinetics400_rgb",
                 "i3d_r50_32x2x1_100e_kinetics400_rgb",
                 {**_STEP_100E, "pretrained": "imagenet", "augment": "mmaction-i3d", "sampling": "mmaction",
                  "test_clips": 10, "test_crops": 3},
                 ("'fast' (later 'lazy'): the same network as i3d_r50_32x2x1; only the data pipeline differs "
                  "(turbojpeg decoding, one fused crop-and-resize)",)),
    MmactionFile("tsm_r50_1x1x8_50e_kinetics400_rgb", "TSM", "tsm_r50_1x1x8_100e_kinetics400_rgb",
                 "tsm_r50_1x1x8_50e_kinetics400_rgb",
                 {"epochs": 50, "lr": 0.01, "lr_scheduler": "multisteps", "lr_steps": [20, 40], "clip_gradient": 20.0,
                  "pretrained": "imagenet", "augment": "v1", "sampling": "uniform"},
                 ("the table writes tsm_r50_1x1x8_100e; the 2020 config file was _50e_ (step 20/40)",
                  "MMAction2's TSMOptimizerConstructor (fc_lr5: FC weight x5, bias x10 lr; no decay on biases and BN) "
                  "is not reproduced: one learning rate for all parameters",
                  "rawframes served from Memcached in the benchmark",
                  "HAN (temporal-shift-module): 0.3843 s/iter (0.0143), 9337 MiB")),
    MmactionFile("slowfast_r50_video_4x16x1_256e_kinetics400_rgb", "Slowfast", "4x16x1(video)",
                 "slowfast_r50_video_4x16x1_256e_kinetics400_rgb",
                 {"epochs": 256, "lr": 0.1, "lr_scheduler": "cosine", "clip_gradient": 40.0, "pretrained": "none",
                  "augment": "mmaction-rrc", "sampling": "mmaction", "test_clips": 10, "test_crops": 3},
                 ("sampled 32x2x1: slow pathway 4 frames, fast 32", "videos decoded from disk with decord",
                  "PySlowFast: 1.40 s/iter, 6850 MiB (spec 4.1)"),
                 completed=(0.80, 6203)),
    MmactionFile("slowfast_r50_video_8x8x1_256e_kinetics400_rgb", "Slowfast", "8x8x1(video)",
                 "slowfast_r50_video_8x8x1_256e_kinetics400_rgb",
                 {"epochs": 256, "lr": 0.1, "lr_scheduler": "cosine", "clip_gradient": 40.0, "pretrained": "none",
                  "augment": "mmaction-rrc", "sampling": "mmaction", "test_clips": 10, "test_crops": 3},
                 ("sampled 32x2x1: slow pathway 8 frames, fast 32; lateral kernel 7 as in the 0.x final config "
                  "(5 on 2020-07-01, the day of these numbers)", "videos decoded from disk with decord",
                  "PySlowFast: 1.41 s/iter, 10230 MiB (spec 4.1)"),
                 completed=(1.05, 9062)),
    MmactionFile("slowonly_r50_video_4x16x1_256e_kinetics400_rgb", "Slowonly", "4x16x1(video)",
                 "slowonly_r50_video_4x16x1_256e_kinetics400_rgb",
                 {"epochs": 256, "lr": 0.1, "lr_scheduler": "cosine", "clip_gradient": 40.0, "pretrained": "none",
                  "augment": "mmaction-rrc", "sampling": "mmaction", "test_clips": 10, "test_crops": 3},
                 ("8 per GPU as benchmarked (the rawframe config had 16 with lr 0.6 on 07-01; lr 0.1 with 8 from "
                  "08-18)", "videos decoded from disk with decord", "PySlowFast: 1.03 s/iter, 3481 MiB (spec 4.1)"),
                 completed=(0.30, 3158)),
    MmactionFile("slowonly_r50_video_8x8x1_256e_kinetics400_rgb", "Slowonly", "8x8x1(video)",
                 "slowonly_r50_video_8x8x1_256e_kinetics400_rgb",
                 {"epochs": 256, "lr": 0.1, "lr_scheduler": "cosine", "clip_gradient": 40.0, "pretrained": "none",
                  "augment": "mmaction-rrc", "sampling": "mmaction", "test_clips": 10, "test_crops": 3},
                 ("8 per GPU as benchmarked", "videos decoded from disk with decord",
                  "PySlowFast: 1.29 s/iter, 6400 MiB (spec 4.1)"),
                 completed=(0.50, 5820)),
    MmactionFile("r2plus1d_r34_32x2x1_180e_kinetics400_rgb", "R(2+1)D", "32x2x1(frame)",
                 "r2plus1d_r34_32x2x1_180e_kinetics400_rgb",
                 {"epochs": 180, "lr": 0.075, "lr_scheduler": "cosine", "clip_gradient": 40.0, "pretrained": "none",
                  "augment": "mmaction-rrc", "sampling": "mmaction", "test_clips": 10, "test_crops": 3},
                 ("the completed table labels both R(2+1)D frame rows 8x8x1; by memory (spec 4.1) the 0.48 s / "
                  "3998 MiB in this slot is an 8-frame clip at batch 6 (the 32x2x1 file still sampled 8x8x1 that "
                  "day) and the real 32x2x1 figure is the other slot's 1.29 s / 12974 MiB: re-measure",
                  "MMAction2 ran the outer norms as SyncBN (the model marks them); sync_bn is off here because it "
                  "would also convert the plain inner BN", "rawframes served from Memcached in the benchmark"),
                 completed=(0.48, 3998)),
    MmactionFile("r2plus1d_r34_8x8x1_180e_kinetics400_rgb", "R(2+1)D", "8x8x1(frame)",
                 "r2plus1d_r34_8x8x1_180e_kinetics400_rgb",
                 {"epochs": 180, "lr": 0.1, "lr_scheduler": "cosine", "clip_gradient": 40.0, "pretrained": "none",
                  "augment": "mmaction-rrc", "sampling": "mmaction", "test_clips": 10, "test_crops": 3},
                 ("the completed table labels both R(2+1)D frame rows 8x8x1; by memory (spec 4.1) the 1.29 s / "
                  "12974 MiB in this slot is the real 32x2x1 setting at batch 6 (README 12975 MiB), not 8x8x1 at "
                  "batch 8 (README 5019 MiB): re-measure",
                  "8 per GPU with lr 0.1 from 07-06 (16 with lr 0.2 on 07-01)",
                  "MMAction2 ran the outer norms as SyncBN (the model marks them); sync_bn is off here because it "
                  "would also convert the plain inner BN", "rawframes served from Memcached in the benchmark"),
                 completed=(1.29, 12974)),
)


def _table_cell(entry: MmactionFile) -> MmactionRow:
    for r in mmaction_rows():
        if (r.model, r.setting, r.framework) == (entry.table_model, entry.table_setting, "mmaction-lite"):
            return r
    raise LookupError(f"no mmaction-lite row {entry.table_model} / {entry.table_setting} in the speed table")


def mmaction_params(entry: MmactionFile) -> dict[str, Any]:
    """The full recipe of one MMAction2 benchmark setting, with the table's numbers."""
    s = mmaction_setting(entry.config)
    cell = _table_cell(entry)
    notes = [*_MM_COMMON_NOTES, *entry.notes]
    if s.note:
        notes.append(s.note)
    if s.documented_flops:
        notes.append(f"documented FLOPs {s.documented_flops} (mmcv convention, {s.flops_frames} frames at "
                     f"{s.flops_input_size}x{s.flops_input_size}); reported_flops is left empty")
    iter_time, iter_std, memory = cell.iter_time, cell.iter_time_std, cell.memory_mib
    if iter_time is None and entry.completed:
        iter_time, memory = entry.completed
        notes.append("the seed table's cell is blank; reported numbers from the same table completed the same day "
                     "(c4f4db48, spec 4.1), without a std")
    values = {
        "name": entry.file,
        # video rows read videos (MMAction2's video lists), the others frame folders (the IBM layout stands in for
        # MMAction2's rawframe lists)
        "dataset": "kinetics400-mmaction" if "_video_" in entry.file else "kinetics400",
        "data_root": None,
        "model": s.model,
        **dict(s.options),
        "frames": s.frames,
        "frame_interval": s.frame_interval if entry.recipe.get("sampling") == "mmaction" else 1,
        "input_size": 224,
        "scale_size": 256,
        "flip": True,
        "batch_size": s.batch_per_gpu * 8,
        "nproc": 8,
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "workers": 4,
        "log_every": 20,
        "reported_params": s.documented_params,
        "reported_iter_time": iter_time,
        "reported_iter_time_std": iter_std,
        "reported_memory_mib": memory,
        **entry.recipe,
        "notes": notes,
    }
    return complete(values)


def params_files() -> dict[str, str]:
    """Path under params/ -> text, for every setting of the speed table."""
    return {f"{FOLDER}/{entry.file}.yaml": render(mmaction_params(entry), __name__) for entry in MMACTION_FILES}
