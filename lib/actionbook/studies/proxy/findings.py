"""The study's headline claims, each with the paper's numbers, the proxy's, and a verdict computed from the records.

The paper's numbers come from the IBM table as `actionbook.studies.ibm.rows.published_ibm` parses it; each synthetic
set stands in for the section of the table whose synthetic twin it is (`SYNTHETIC_TWIN`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from actionbook.studies.ibm.rows import SYNTHETIC_TWIN, published_ibm
from actionbook.studies.proxy.grid import FAMILIES
from actionbook.studies.proxy.stats import difference, select, summarize

# the section of the IBM table each synthetic set stands in for
SECTION = {twin: section for section, twin in SYNTHETIC_TWIN.items()}

# The rows of the IBM table (16 frames) that stand for each family: ResNet-50 where the table has it (TSN, TAM,
# I3D), else Inception-v1 (S3D).
PAPER_FAMILY_MODELS = {"TSN": ("tsn_r50", "tsn_inception_v1"), "TAM": ("tam_r50", "tam_inception_v1"),
                       "I3D": ("i3d_r50", "i3d"), "S3D": ("s3d_r50", "s3d")}


def paper_table() -> pd.DataFrame:
    """Every row of the IBM table, with `pooling` ("none" or the temporal pooling) as the proxy's runs name it."""
    table = published_ibm()
    return table.assign(pooling=table["temporal_pooling"].fillna("none"))


def paper_reference(frames: int = 16) -> pd.DataFrame:
    """Per family and section: the representative row's top-1 (see PAPER_FAMILY_MODELS) at `frames`."""
    table = paper_table()
    table = table[table["frames"] == frames]
    out = []
    for section in SECTION.values():
        for family in FAMILIES:
            for model in PAPER_FAMILY_MODELS[family]:
                hit = table[(table["section"] == section) & (table["model"] == model)]
                if not hit.empty:
                    r = hit.iloc[0]
                    out.append({"section": section, "family": family, "model": model, "backbone": r["backbone"],
                                "pooling": r["pooling"], "top1": r["top1"], "row": r["row"]})
                    break
    return pd.DataFrame(out)


@dataclass
class Finding:
    claim: str
    paper: str
    proxy: str
    # "held", "partly held", "did not hold", "inconclusive", "not measured" or "no published pair to compare"
    verdict: str


def findings(frame: pd.DataFrame, profile: str = "default", backbone: str = "resnet-18", frames: int = 8,
             close: float = 10.0) -> list[Finding]:
    """The study's headline claims, each with the paper's numbers, the proxy's and a verdict.

    Differences are Welch 95% intervals over seeds. "Large" means the interval lies above `close` points;
    "close" means it lies within ±`close` points (both chosen before the runs; the twin-pair ceiling of an
    order-blind model on synth-something is 50%, chance 25%).
    """
    paper = paper_table()
    pr = paper[paper["frames"] == 16]

    def p(section, model):
        hit = pr[(pr["section"] == section) & (pr["model"] == model)]
        return float(hit["top1"].iloc[0]) if not hit.empty else math.nan

    ss, k4 = SECTION["synth-something"], SECTION["synth-kinetics"]
    base = {"profile": profile, "backbone": backbone, "frames": frames, "pooling": "none"}
    out = []
    # 1. temporal models beat TSN by far on the temporal dataset
    gaps = {f: difference(frame, {**base, "dataset": "synth-something", "family": f},
                          {**base, "dataset": "synth-something", "family": "TSN"}) for f in ("TAM", "I3D", "S3D")}
    verdicts = [_excludes_zero(g, close) for g in gaps.values()]
    out.append(Finding(
        "On the temporal dataset, temporal models (TAM, I3D, S3D) beat TSN by a wide margin",
        f"SSv2, 16 frames, ResNet-50: TAM {p(ss, 'tam_r50') - p(ss, 'tsn_r50'):+.1f}, I3D-tp "
        f"{p(ss, 'i3d_r50') - p(ss, 'tsn_r50'):+.1f}; Inception: S3D-tp "
        f"{p(ss, 's3d') - p(ss, 'tsn_inception_v1'):+.1f} points over TSN",
        "; ".join(f"{f} {_fmt_diff(g)}" for f, g in gaps.items()) + " over TSN",
        _verdict_all(verdicts)))
    # 2. on the appearance dataset the families are close
    kgaps = {f: difference(frame, {**base, "dataset": "synth-kinetics", "family": f},
                           {**base, "dataset": "synth-kinetics", "family": "TSN"}) for f in ("TAM", "I3D", "S3D")}
    kverdicts = [None if math.isnan(g["ci95"]) else (abs(g["diff"]) + g["ci95"] <= close) for g in kgaps.values()]
    out.append(Finding(
        "On the appearance dataset, the families are close (temporal modelling matters little)",
        f"K400, 16 frames: TAM {p(k4, 'tam_r50') - p(k4, 'tsn_r50'):+.1f}, I3D-tp "
        f"{p(k4, 'i3d_r50') - p(k4, 'tsn_r50'):+.1f} (ResNet-50), S3D-tp "
        f"{p(k4, 's3d') - p(k4, 'tsn_inception_v1'):+.1f} (Inception) points over TSN",
        "; ".join(f"{f} {_fmt_diff(g)}" for f, g in kgaps.items()) + " over TSN",
        _verdict_all(kverdicts)))
    # 3. TSN sits near its order-blind level on the temporal dataset
    tsn_ss = summarize(select(frame, **base, dataset="synth-something", family="TSN"))
    tsn_k = summarize(select(frame, **base, dataset="synth-kinetics", family="TSN"))
    if tsn_ss.empty or tsn_k.empty:
        proxy, verdict = "no runs", "not measured"
    else:
        a, b = tsn_ss.iloc[0], tsn_k.iloc[0]
        proxy = (f"TSN {a['mean']:.1f} ± {a['ci95']:.1f}% on synth-something (order-blind ceiling 50%) vs "
                 f"{b['mean']:.1f} ± {b['ci95']:.1f}% on synth-kinetics")
        verdict = "held" if a["hi"] < b["lo"] and a["hi"] <= 50 + close / 2 else "did not hold"
    out.append(Finding(
        "TSN (no temporal modelling) does much worse on the temporal dataset than on the appearance one",
        f"TSN ResNet-50 16 frames: {p(ss, 'tsn_r50'):.1f}% on SSv2 vs {p(k4, 'tsn_r50'):.1f}% on K400", proxy,
        verdict))
    # 4. more frames help temporal models on the temporal dataset, not TSN
    more = []
    for f in FAMILIES:
        d = difference(frame, {**base, "dataset": "synth-something", "family": f, "frames": 2 * frames},
                       {**base, "dataset": "synth-something", "family": f})
        more.append((f, d))
    if all(d["n_a"] == 0 for _, d in more):
        proxy, verdict = f"not measured: no {2 * frames}-frame runs in this profile", "not measured"
    else:
        proxy = "; ".join(f"{f} {_fmt_diff(d)}" for f, d in more) + f" ({2 * frames} vs {frames} frames)"
        temporal = [_excludes_zero(d) for f, d in more if f != "TSN"]
        tsn = next(d for f, d in more if f == "TSN")
        tsn_flat = None if math.isnan(tsn["ci95"]) else not _excludes_zero(tsn, 0.0)
        verdict = _verdict_all([*temporal, tsn_flat])
    out.append(Finding(
        "More frames help the temporal models on the temporal dataset, not TSN",
        "SSv2, 64 vs 16 frames: TAM-R50 "
        f"{_gain_64_over_16(paper, ss, 'tam_r50')}, I3D-R50-tp {_gain_64_over_16(paper, ss, 'i3d_r50')}, "
        f"S3D-tp {_gain_64_over_16(paper, ss, 's3d')}, TSN-R50 {_gain_64_over_16(paper, ss, 'tsn_r50')} points",
        proxy, verdict))
    # 5. temporal pooling (no with/without pair in the published table)
    pool = []
    for f in FAMILIES:
        d = difference(frame, {**base, "dataset": "synth-something", "family": f, "pooling": "max"},
                       {**base, "dataset": "synth-something", "family": f})
        pool.append((f, d))
    if all(d["n_a"] == 0 for _, d in pool):
        proxy, verdict = "not measured: no temporal-pooling runs in this profile", "not measured"
    else:
        proxy = "; ".join(f"{f} {_fmt_diff(d)}" for f, d in pool) + " (with vs without temporal pooling)"
        verdict = "no published pair to compare"
    out.append(Finding(
        "Temporal pooling (halving T three times inside the network) and the temporal dataset",
        "the table in this project holds no with/without pair (3D rows use pooling, 2D rows do not)", proxy,
        verdict))
    return out


def _gain_64_over_16(paper: pd.DataFrame, section: str, model: str) -> str:
    """The published 64- minus 16-frame top-1 of `model` in `section`, as '+x.x'."""
    rows = paper[(paper["section"] == section) & (paper["model"] == model)].set_index("frames")["top1"]
    if 16 in rows and 64 in rows:
        return f"{rows[64] - rows[16]:+.1f}"
    return "n/a"


def _fmt_diff(d: dict) -> str:
    if d["n_a"] == 0 or d["n_b"] == 0 or math.isnan(d["diff"]):
        return "no runs"
    ci = "" if math.isnan(d["ci95"]) else f" ± {d['ci95']:.1f}"
    return f"{d['diff']:+.1f}{ci} points"


def _excludes_zero(d: dict, margin: float = 0.0) -> bool | None:
    if math.isnan(d["diff"]) or math.isnan(d["ci95"]):
        return None
    return d["diff"] - d["ci95"] > margin


def _verdict_all(flags: list[bool | None]) -> str:
    if not flags or any(f is None for f in flags):
        return "inconclusive" if any(f is not None for f in flags) else "not measured"
    if all(flags):
        return "held"
    if not any(flags):
        return "did not hold"
    return "partly held"
