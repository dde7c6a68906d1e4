"""The study's claims, each with the paper's numbers, the proxy's difference and interval, and a verdict.

The paper's numbers come from the IBM table as `actionbook.studies.ibm.rows.published_ibm` parses it; each synthetic
set stands in for the section of the table whose synthetic twin it is (`SYNTHETIC_TWIN`).

The verdict rule (`verdict`) and every margin below were fixed before the default profile's final runs:
a claim "held" only where the whole 95% interval lies in the claimed region, "did not hold" only where the whole
interval lies outside it, and is "inconclusive" otherwise. When a headline finding is inconclusive at the default
budget, the remedy is more seeds (`seeds_needed` estimates how many), never another recipe.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import pandas as pd

from actionbook.studies.ibm.rows import SYNTHETIC_TWIN, published_ibm
from actionbook.studies.proxy.grid import FAMILIES, base_frames
from actionbook.studies.proxy.stats import contrast, select

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


# The margins, in top-1 points (fixed before the final runs): a "wide margin" is at least WIDE points; "close"
# families are within CLOSE points of each other; "no gain" from more frames is within CLOSE points.
WIDE = 5.0
CLOSE = 10.0
TEMPORAL = ("TAM", "I3D", "S3D")
VERDICTS = ("held", "did not hold", "inconclusive")


@dataclass
class Finding:
    finding: str  # a short name
    claim: str  # the paper's claim, in words
    paper: str  # the published numbers behind it
    proxy: str  # what the proxy measured, in words
    difference: float  # the proxy's estimate, in top-1 points
    interval: tuple[float, float]  # its 95% interval
    n: int  # seeds in the smallest group
    at_least: float | None  # the claimed region of the difference: at least this many points,
    within: float | None  # or within ± this many points of zero
    verdict: str  # one of VERDICTS, or "not measured" where the profile has no such runs
    headline: bool = False

    def to_json(self) -> dict:
        out = asdict(self)
        out["interval"] = [_rounded(v) for v in self.interval]
        out["difference"] = _rounded(self.difference)
        return out


def _rounded(value: float) -> float | None:
    return None if value is None or math.isnan(value) else round(float(value), 2)


def verdict(low: float, high: float, at_least: float | None = None, within: float | None = None) -> str:
    """Held where the whole interval [low, high] is in the claimed region (`>= at_least`, or `within` ± of 0), did
    not hold where the whole interval is outside it, inconclusive otherwise (and with no interval)."""
    if math.isnan(low) or math.isnan(high):
        return "inconclusive"
    if at_least is not None:
        inside, outside = low >= at_least, high < at_least
    else:
        inside, outside = -within <= low and high <= within, low > within or high < -within
    return "held" if inside else "did not hold" if outside else "inconclusive"


def seeds_needed(item: Finding) -> int | None:
    """Seeds per group at which today's spread would resolve an inconclusive finding (the interval's half-width
    shrinks as 1/sqrt(n)); None where it is already resolved or cannot be resolved (the estimate on the edge)."""
    low, high = item.interval
    if item.verdict != "inconclusive" or math.isnan(low) or item.n < 2:
        return None
    half = (high - low) / 2
    edges = [item.at_least] if item.at_least is not None else [-item.within, item.within]
    room = min(abs(item.difference - edge) for edge in edges)
    return None if room == 0 else max(item.n + 1, math.ceil(item.n * (half / room) ** 2))


def findings(frame: pd.DataFrame, profile: str = "default", backbone: str = "resnet-18",
             frames: int | None = None) -> list[Finding]:
    """The study's claims on a profile's runs (at its base frame count unless `frames`): the two headline findings
    first, then each family's."""
    frames = frames or base_frames(profile)
    paper = paper_table()
    pr = paper[paper["frames"] == 16]

    def p(section, model):
        hit = pr[(pr["section"] == section) & (pr["model"] == model)]
        return float(hit["top1"].iloc[0]) if not hit.empty else math.nan

    ss, k4 = SECTION["synth-something"], SECTION["synth-kinetics"]
    base = {"profile": profile, "backbone": backbone, "pooling": "none"}

    def top1(dataset, family, n_frames=frames):
        return select(frame, **base, dataset=dataset, family=family, frames=n_frames)["top1"].tolist()

    def gap_terms(dataset, sign=1.0):
        return [(sign / len(TEMPORAL), top1(dataset, f)) for f in TEMPORAL] + [(-sign, top1(dataset, "TSN"))]

    def make(name, claim, paper_text, terms, headline=False, at_least=None, within=None, what=""):
        c = contrast(terms)
        measured = c["n"] > 0
        text = (f"{what} {c['estimate']:+.1f} points, 95% interval [{c['low']:+.1f}, {c['high']:+.1f}], n = "
                f"{c['n']} seeds" if measured else "not measured: no runs of this kind in the profile")
        return Finding(name, claim, paper_text, text, c["estimate"], (c["low"], c["high"]), c["n"], at_least, within,
                       verdict(c["low"], c["high"], at_least, within) if measured else "not measured", headline)

    paper_gap_ss = {f: p(ss, m) - p(ss, "tsn_r50") for f, m in (("TAM", "tam_r50"), ("I3D", "i3d_r50"))}
    paper_gap_k4 = {f: p(k4, m) - p(k4, "tsn_r50") for f, m in (("TAM", "tam_r50"), ("I3D", "i3d_r50"))}
    out = [
        make("temporal families beat TSN on the temporal set",
             "On Something-Something, temporal models beat TSN by a wide margin",
             f"SSv2, 16 frames, ResNet-50: TAM {paper_gap_ss['TAM']:+.1f}, I3D-tp {paper_gap_ss['I3D']:+.1f} points "
             f"over TSN; Inception-v1: S3D-tp {p(ss, 's3d') - p(ss, 'tsn_inception_v1'):+.1f}",
             gap_terms("synth-something"), headline=True, at_least=WIDE,
             what="mean of TAM, I3D, S3D minus TSN on synth-something:"),
        make("the gap shrinks on the appearance set",
             "The temporal models' advantage over TSN is much smaller on Kinetics than on Something-Something",
             f"gap over TSN (ResNet-50, 16 frames): TAM {paper_gap_ss['TAM']:+.1f} on SSv2 vs "
             f"{paper_gap_k4['TAM']:+.1f} on K400; I3D-tp {paper_gap_ss['I3D']:+.1f} vs {paper_gap_k4['I3D']:+.1f}",
             gap_terms("synth-something") + gap_terms("synth-kinetics", -1.0), headline=True, at_least=WIDE,
             what="(temporal minus TSN on synth-something) minus (the same on synth-kinetics):"),
    ]
    # each temporal family against TSN: well above it on the temporal set, close to it on the appearance set
    for dataset, paper_name, name, claim, region in (
            ("synth-something", "SSv2", "beats TSN on the temporal set", "beats TSN on Something-Something",
             {"at_least": WIDE}),
            ("synth-kinetics", "K400", "close to TSN on the appearance set", "and TSN are close on Kinetics",
             {"within": CLOSE})):
        for family, model in (("TAM", "tam_r50"), ("I3D", "i3d_r50"), ("S3D", "s3d")):
            tsn = "tsn_inception_v1" if model == "s3d" else "tsn_r50"
            section = SECTION[dataset]
            out.append(make(f"{family} {name}", f"{family} {claim}",
                            f"{paper_name}, 16 frames: {p(section, model) - p(section, tsn):+.1f} points",
                            [(1.0, top1(dataset, family)), (-1.0, top1(dataset, "TSN"))],
                            what=f"{family} minus TSN on {dataset}:", **region))
    out.append(make("TSN worse on the temporal set", "TSN does much worse on Something-Something than on Kinetics",
                    f"TSN ResNet-50, 16 frames: {p(ss, 'tsn_r50'):.1f}% on SSv2 vs {p(k4, 'tsn_r50'):.1f}% on K400",
                    [(1.0, top1("synth-kinetics", "TSN")), (-1.0, top1("synth-something", "TSN"))],
                    at_least=WIDE, what="TSN on synth-kinetics minus TSN on synth-something:"))
    for family, model in (("TAM", "tam_r50"), ("TSN", "tsn_r50")):
        gain = _gain_64_over_16(paper, ss, model)
        terms = [(1.0, top1("synth-something", family, 2 * frames)), (-1.0, top1("synth-something", family))]
        if family == "TSN":
            out.append(make("more frames do not help TSN", "More frames bring TSN little on Something-Something",
                            f"SSv2, TSN-R50 64 vs 16 frames: {gain} points", terms, within=CLOSE,
                            what=f"TSN {2 * frames} minus {frames} frames on synth-something:"))
        else:
            out.append(make(f"more frames help {family}",
                            f"More frames help {family} on Something-Something",
                            f"SSv2, {family}-R50 64 vs 16 frames: {gain} points", terms, at_least=0.0,
                            what=f"{family} {2 * frames} minus {frames} frames on synth-something:"))
    return out


def _gain_64_over_16(paper: pd.DataFrame, section: str, model: str) -> str:
    """The published 64- minus 16-frame top-1 of `model` in `section`, as '+x.x'."""
    rows = paper[(paper["section"] == section) & (paper["model"] == model)].set_index("frames")["top1"]
    if 16 in rows and 64 in rows:
        return f"{rows[64] - rows[16]:+.1f}"
    return "n/a"
