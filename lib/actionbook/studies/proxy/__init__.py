"""The proxy study: the IBM study's question asked again at CPU scale, on the two synthetic datasets.

The study (Chen et al., CVPR 2021) finds that temporal modelling matters a great deal on Something-Something
(TSN about 30% top-1, TAM and the 3D models 52-65%) and little on Kinetics (every family near 63-68%). The proxy
trains the same four families (TSN, TAM, I3D, S3D) from scratch on `synth-something` (classes defined by what
happens over time, in time-reversed twins) and `synth-kinetics` (classes defined by appearance), with and without
temporal pooling, at 8 and 16 frames, several seeds each, and asks whether the same pattern appears.

* `grid`: the tuned synthetic datasets and the grid of experiments with its two profiles, `default` (run by
  `make book`, 13-14 minutes on two cores) and `full` (more seeds, frames, pooling and epochs: a longer run, or
  a GPU);
* `params`: the params files `params/proxy/<profile>/<name>.yaml` (written by `actionbook params`);
* `run`: a profile through the runner, with the time it took (`book/runs/proxy-<profile>-time.json`);
* `stats`: one row per run from the records, means and 95% intervals over seeds, differences between groups;
* `findings`: the paper's numbers for the same families and the study's claims with a verdict each;
* `chapter` and `figures`: the tables and figures of book/proxy.md;
* `cli`: `actionbook proxy {params,data,run,files}`.
"""
