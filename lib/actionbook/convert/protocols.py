"""Each source's test protocol: how its released weights were evaluated, as this project's data options.

Every field says where it comes from. `mean`/`std`, where given, replace the model's registered normalisation: the
weights were trained with them. Without them the registered constants are the source's own.
"""

from __future__ import annotations

from actionbook.errors import ConfigError

PROTOCOLS = {
    # IBM README, Kinetics-400 models: 32 frames, dense sampling with stride 2, 10 clips x 3 crops, shorter side 256
    # and 256x256 crops (--disable_scaleup). Its SSv2 models: uniform sampling, 2 clips x 3 crops (pass those).
    "ibm": dict(sampling="dense", frame_interval=2, views=((10, 3),), input_size=256, scale_size=256,
                basis="IBM README (Kinetics-400): dense stride 2, 10 clips x 3 crops, 256 px"),
    # MMAction2 configs' test pipelines (3D networks): SampleFrames(num_clips=10, test_mode=True), Resize(-1, 256),
    # ThreeCrop(256). The clip length and interval are the config's (pass --frame-interval, e.g. 2 for 32x2x1).
    "mmaction2": dict(sampling="mmaction", frame_interval=None, views=((10, 3),), input_size=256, scale_size=256,
                      basis="MMAction2 test pipeline (3D configs): 10 clips x ThreeCrop 256 on shorter side 256; "
                            "frame interval from the config"),
    # PySlowFast Kinetics configs: TEST.NUM_ENSEMBLE_VIEWS 10, TEST.NUM_SPATIAL_CROPS 3, crops 256 on shorter side
    # 256, DATA.SAMPLING_RATE 2 for the 8x8 SlowFast and I3D, 8 for the 8x8 SlowOnly (pass --frame-interval)
    # Its DATA.MEAN 0.45 and DATA.STD 0.225, also for the networks registered with MMAction2's constants (SlowOnly).
    "pyslowfast": dict(sampling="dense", frame_interval=2, views=((10, 3),), input_size=256, scale_size=256,
                       mean=(0.45, 0.45, 0.45), std=(0.225, 0.225, 0.225),
                       basis="PySlowFast Kinetics configs: 10 clips x 3 crops, 256 px, sampling rate 2, mean 0.45, "
                             "std 0.225"),
}
PROTOCOLS["pytorchvideo"] = PROTOCOLS["pyslowfast"]  # the hub's weights are PySlowFast's


def protocol(source: str) -> dict:
    if source not in PROTOCOLS:
        raise ConfigError(f"no test protocol for source {source!r}; known: {', '.join(PROTOCOLS)}")
    return dict(PROTOCOLS[source])
