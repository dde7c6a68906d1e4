"""The zoo chapter: params and FLOPs counted from the models (counts.py) against the published ones, per table."""

from __future__ import annotations

import pandas as pd

from actionbook.report.markdown import check, fmt_g, fmt_int, markdown_table, missing
from actionbook.studies.ibm.published import ibm_rows
from actionbook.studies.zoo.counts import ibm_zoo, mmaction_zoo


def ibm_zoo_frame(rows: list[dict] | None = None) -> pd.DataFrame:
    """`counts.ibm_zoo()` as a frame, with the section and the fvcore / conv ratio."""
    zoo = pd.DataFrame(rows if rows is not None else ibm_zoo())
    section = {r.row: r.dataset_section for r in ibm_rows()}
    zoo.insert(1, "section", zoo["row"].map(section))
    zoo["fvcore_over_conv"] = zoo["fvcore_flops"] / zoo["conv_macs"]
    zoo["mmaction_over_conv"] = zoo["mmaction_flops"] / zoo["conv_macs"]
    return zoo


def counted_vs_published(counted, published, ok, fmt=None) -> str:
    """'5,795,678 ✓' when the count equals the published number, else both numbers and ✗."""
    fmt = fmt or fmt_int
    if missing(published):
        return f"{fmt(counted)} (none published)"
    if ok:
        return f"{fmt(counted)} ✓"
    published_text = published if isinstance(published, str) else fmt(published)
    return f"{fmt(counted)} ✗ (published {published_text})"


def ibm_zoo_markdown(zoo: pd.DataFrame, section: str) -> str:
    """One dataset's rows: params and conv MACs against the published ones, and the two fuller FLOP counts."""
    lines = []
    for r in zoo[zoo["section"] == section].to_dict("records"):
        lines.append({
            "Row": f"`{r['row']}`",
            "Params, counted (✓ = published)": counted_vs_published(r["params"], r["reported_params"],
                                                                     r["params_match"]),
            "Conv MACs, counted (✓ = published FLOPs)": counted_vs_published(r["conv_macs"], r["reported_flops"],
                                                                              r["flops_match"]),
            "fvcore total": f"{fmt_int(r['fvcore_flops'])} (x{r['fvcore_over_conv']:.4f})",
            "MMAction2 (mmcv) total": f"{fmt_int(r['mmaction_flops'])} (x{r['mmaction_over_conv']:.4f})",
        })
    return markdown_table(pd.DataFrame(lines))


def mmaction_zoo_frame(rows: list[dict] | None = None) -> pd.DataFrame:
    """`counts.mmaction_zoo()` as a frame."""
    return pd.DataFrame(rows if rows is not None else mmaction_zoo())


def mmaction_zoo_markdown(zoo: pd.DataFrame) -> str:
    """Every MMAction2 setting: params and mmcv FLOPs against the documented ones, at the documented input."""
    lines = []
    for r in zoo.to_dict("records"):
        lines.append({
            "Setting (MMAction2 config)": f"`{r['setting']}` ({r['sampler']})",
            "Params, counted (✓ = documented)": counted_vs_published(r["params"], r["documented_params"],
                                                                      r["params_match"]),
            "Input": r["flops_input"],
            "MMAction2 (mmcv) FLOPs, counted (✓ = documented)": counted_vs_published(
                r["mmaction_flops"], r["documented_flops"], r["flops_match"], lambda n: fmt_g(n, 2)),
            "Conv MACs / fvcore total there": f"{fmt_g(r['conv_macs'], 2)} / {fmt_g(r['fvcore_flops'], 2)}",
            "Training clip, conv MACs @224": fmt_g(r["train_clip_conv_macs_224"], 2),
            "Note": r["note"] or "",
        })
    return markdown_table(pd.DataFrame(lines))


def zoo_summary(ibm: pd.DataFrame, mm: pd.DataFrame) -> dict:
    """The chapter's counts of matches (its opening result)."""
    return {
        "ibm_rows": len(ibm), "ibm_params_match": int(ibm["params_match"].sum()),
        "ibm_flops_match": int(ibm["flops_match"].sum()),
        "fvcore_ratio_min": float(ibm["fvcore_over_conv"].min()),
        "fvcore_ratio_max": float(ibm["fvcore_over_conv"].max()),
        "mm_settings": len(mm), "mm_params_checked": int(mm["params_match"].notna().sum()),
        "mm_params_match": int((mm["params_match"] == True).sum()),  # noqa: E712 (object column with None)
        "mm_flops_checked": int(mm["flops_match"].notna().sum()),
        "mm_flops_match": int((mm["flops_match"] == True).sum()),  # noqa: E712
    }


def styled_counts(frame: pd.DataFrame):
    """A zoo frame as the model-zoo notebook shows it: counts with thousands separators, FLOPs and MACs in G,
    matches as ✓/✗, blanks as "-" (never NaN or 1.03e+11)."""
    formats = {}
    for column in frame.columns:
        if column.endswith("match"):
            formats[column] = check
        elif not pd.api.types.is_numeric_dtype(frame[column]):
            continue
        elif "flops" in column or "macs" in column:
            formats[column] = fmt_g
        elif "params" in column:
            formats[column] = fmt_int
    return frame.style.format(formats, na_rep="-")
