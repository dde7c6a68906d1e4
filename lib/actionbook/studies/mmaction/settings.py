"""The MMAction2 benchmark's settings as data: the network each config name trains, how it samples, the batch it
used per GPU and the numbers MMAction2 documents for it (mmaction spec sections 1, 4 and 6).

`flops_frames` and `flops_input_size` are the input the documented FLOPs were counted at: the 3D models at
256x256 with the training clip, the 2D models at 224x224 with their test-time frame count (TSN 25, TSM 8).
"""

from __future__ import annotations

from dataclasses import dataclass

from actionbook.errors import ConfigError


@dataclass(frozen=True)
class MmactionSetting:
    setting: str  # MMAction2's config name (2020 form)
    model: str  # registry name
    clip_len: int
    frame_interval: int
    num_clips: int
    batch_per_gpu: int
    documented_params: int | None
    documented_flops: int | None  # MMAction2 0.x metafile, in mmcv's convention (README rounds it: "43.56G")
    flops_frames: int
    flops_input_size: int
    options: tuple[tuple[str, object], ...] = ()
    note: str = ""

    @property
    def frames(self) -> int:
        """Frames the network sees per sample: 2D models take num_clips segments, 3D models one clip."""
        return self.num_clips if self.clip_len == 1 else self.clip_len

    @property
    def sampler(self) -> str:
        return f"{self.clip_len}x{self.frame_interval}x{self.num_clips}"


MMACTION_SETTINGS: tuple[MmactionSetting, ...] = (
    MmactionSetting("tsn_r50_1x1x3_100e_kinetics400_rgb", "mmaction_tsn_r50", 1, 1, 3, 32, 24_327_632, 102_997_721_600,
                    25, 224, note="FLOPs at the 25-frame test setting"),
    MmactionSetting("i3d_r50_32x2x1_100e_kinetics400_rgb", "mmaction_i3d_r50", 32, 2, 1, 8, 28_043_472, 43_564_040_192,
                    32, 256),
    MmactionSetting("i3d_r50_video_heavy_8x8x1_100e_kinetics400_rgb", "mmaction_i3d_r50_heavy", 8, 8, 1, 8,
                    33_024_208, None, 8, 256,
                    note="params derived (README: 33.0M); its FLOPs were published for 32 frames only (166.3G)"),
    MmactionSetting("tsm_r50_1x1x8_50e_kinetics400_rgb", "mmaction_tsm_r50", 1, 1, 8, 8, 24_327_632, 32_965_562_368,
                    8, 224, note="the seed table writes _100e_; the 2020 config file was _50e_"),
    MmactionSetting("slowonly_r50_video_4x16x1_256e_kinetics400_rgb", "mmaction_slowonly_r50", 4, 16, 1, 8,
                    32_454_096, 27_430_649_856, 4, 256),
    MmactionSetting("slowonly_r50_video_8x8x1_256e_kinetics400_rgb", "mmaction_slowonly_r50", 8, 8, 1, 8,
                    32_454_096, 54_860_480_512, 8, 256),
    MmactionSetting("slowfast_r50_video_4x16x1_256e_kinetics400_rgb", "mmaction_slowfast_r50_4x16", 32, 2, 1, 8,
                    34_479_288, 36_441_296_896, 32, 256, note="slow pathway 4 frames (every 8th), fast 32"),
    MmactionSetting("slowfast_r50_video_8x8x1_256e_kinetics400_rgb", "mmaction_slowfast_r50_8x8", 32, 2, 1, 8,
                    34_565_560, 66_222_034_944, 32, 256, note="lateral kernel 7 (0.x final); 5 on 2020-07-01"),
    MmactionSetting("r2plus1d_r34_8x8x1_180e_kinetics400_rgb", "mmaction_r2plus1d_r34", 8, 8, 1, 8, 63_759_281,
                    53_175_572_992, 8, 256, note="16 per GPU on 2020-07-01, 8 from 07-06"),
    MmactionSetting("r2plus1d_r34_32x2x1_180e_kinetics400_rgb", "mmaction_r2plus1d_r34", 32, 2, 1, 6, 63_759_281,
                    212_701_677_568, 32, 256),
)


def mmaction_setting(name: str) -> MmactionSetting:
    for s in MMACTION_SETTINGS:
        if s.setting == name:
            return s
    raise ConfigError(f"unknown MMAction2 setting {name!r}; known: {', '.join(s.setting for s in MMACTION_SETTINGS)}")
