"""The book's tables: the published numbers beside the run records, as pandas data frames and MyST markdown.

Chapters stay thin: they call the builders here and print the result. Everything reads

* the published tables (`actionbook.published`),
* the run records `book/runs/<name>/record.json` written by the trainer (through `actionbook run`), each beside
  the executed notebook that produced it,
* the speed records `book/records/speed/*.json` written by the speed benchmark,

and never a notebook's internals. A row without a record says so ("not yet run"); every FLOP number names its
convention and every timing its hardware.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from actionbook.published import ibm_rows, mmaction_rows
from actionbook.report.records import RECORD_FILE

# ---- where things are ------------------------------------------------------------------------------------------


def project_root() -> Path:
    from actionbook.params import project_root as root

    return root()


def book_dir() -> Path:
    """The book's folder (chapters, runs, records); $ACTIONBOOK_BOOK points the chapters at another copy."""
    override = os.environ.get("ACTIONBOOK_BOOK")
    return Path(override) if override else project_root() / "book"


def runs_dir() -> Path:
    return book_dir() / "runs"


def speed_dir() -> Path:
    return book_dir() / "records" / "speed"


# ---- the datasets of the IBM table ------------------------------------------------------------------------------

SSV2, K400 = "Something-Something-V2", "Kinetics400"
SECTIONS = (SSV2, K400)
SECTION_SHORT = {SSV2: "SSv2", K400: "K400"}
# datasets of this project that hold the real data of a section (IBM frame folders, or the released videos)
REAL_DATASETS = {SSV2: ("st2stv2", "ssv2-videos"), K400: ("kinetics400", "kinetics400-videos", "kinetics400-mmaction")}
# the synthetic stand-in of each section (the proxy study)
SYNTHETIC_TWIN = {SSV2: "synth-something", K400: "synth-kinetics"}


@dataclass(frozen=True)
class DatasetSize:
    """Clip counts used by the compute estimates (approximate where the dataset itself varies)."""

    train: int
    val: int
    note: str


DATASET_SIZES = {
    SSV2: DatasetSize(168_913, 24_777, "the official v2 release: 168,913 train / 24,777 validation videos"),
    K400: DatasetSize(240_000, 20_000, "about 240k train / 20k validation clips: the share of the 2017 release's "
                                       "YouTube clips (about 246k / 20k) still downloadable varies"),
}

FAMILIES = ("TSN", "TAM", "I3D", "S3D")
STATUSES = ("reproduced", "partial run", "proxy only", "not yet run")
STATUS_BADGE = {"reproduced": "success", "partial run": "warning", "proxy only": "info", "not yet run": "muted"}


def family(model: str) -> str:
    """TSN, TAM, I3D or S3D from a registry name (tsn_r50, tam_inception_v1, i3d, s3d_r50, ...)."""
    head = model.split("_")[0]
    return {"tsn": "TSN", "tam": "TAM", "i3d": "I3D", "s3d": "S3D"}.get(head, head.upper())


def backbone(model: str) -> str:
    tail = model.split("_", 1)[1] if "_" in model else ""
    if tail.startswith("r") and tail[1:].isdigit():
        return f"ResNet-{tail[1:]}"
    if tail == "inception_v1" or model in ("i3d", "s3d"):
        return "Inception-v1"
    return tail or model


def model_label(model: str) -> str:
    return f"{family(model)} {backbone(model)}"


# ---- run records ----------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One run folder: its record and the executed notebook beside it."""

    folder: Path
    record: dict
    notebook: Path | None = None
    book: Path = field(default_factory=book_dir)

    @property
    def experiment(self) -> dict:
        return self.record.get("experiment") or {}

    @property
    def name(self) -> str:
        return self.experiment.get("name") or self.folder.name

    @property
    def status(self) -> str:
        return self.record.get("status", "unknown")

    @property
    def dataset(self) -> str:
        return self.experiment.get("dataset", "")

    @property
    def model(self) -> str:
        return self.experiment.get("model", "")

    @property
    def frames(self) -> int | None:
        return self.experiment.get("frames")

    @property
    def kind(self) -> str:
        """proxy (synthetic data), mmaction (a speed-table network) or ibm (a full-scale dataset)."""
        if self.dataset.startswith("synth-"):
            return "proxy"
        if self.model.startswith("mmaction_"):
            return "mmaction"
        return "ibm"

    @property
    def docname(self) -> str | None:
        """The executed notebook's page in the book (absolute docname, for {doc} links), if it is in the book."""
        if self.notebook is None:
            return None
        try:
            rel = self.notebook.relative_to(self.book.parent)
        except ValueError:
            return None
        return "/" + rel.with_suffix("").as_posix()

    def metric(self, split: str, key: str):
        return ((self.record.get("metrics") or {}).get(split) or {}).get(key)

    def protocol(self, split: str = "val") -> str:
        proto = ((self.record.get("metrics") or {}).get(split) or {}).get("protocol") or {}
        if not proto:
            return ""
        return (f"{proto.get('clips', 1)} clip x {proto.get('crops', 1)} crop, {proto.get('frames')} frames, "
                f"{proto.get('input_size')} px")

    @property
    def epochs_done(self) -> int:
        return len(self.record.get("history") or [])

    @property
    def hardware(self) -> str:
        return hardware_label(self.record.get("provenance") or {})

    @property
    def complexity(self) -> dict:
        return self.record.get("complexity") or {}

    def link(self, text: str | None = None) -> str:
        """A MyST link to the run's executed notebook (checked by Sphinx), or the plain name."""
        text = text or self.name
        if self.docname is None:
            return f"`{text}` (record only)"
        return "{doc}" + f"`{escape_role(text)} <{self.docname}>`"


def hardware_label(provenance: dict) -> str:
    """'1x NVIDIA H100 80GB HBM3' or 'CPU: Intel Xeon ... (2 threads)', with the process count when above one."""
    hw = provenance.get("hardware") or {}
    world = provenance.get("world_size") or 1
    if hw.get("gpu"):
        count = hw.get("gpu_count") or 1
        used = min(world, count) if world else count
        label = f"{used}x {hw['gpu']}"
    elif hw:
        label = f"CPU: {hw.get('cpu', '?')} ({hw.get('torch_threads', '?')} threads)"
        if world > 1:
            label += f", {world} processes"
    else:
        label = "unknown hardware"
    return label


def find_notebook(folder: Path) -> Path | None:
    """The executed notebook of a run folder: train.ipynb if there, else the only/first *.ipynb."""
    preferred = folder / "train.ipynb"
    if preferred.is_file():
        return preferred
    found = sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))
    return found[0] if found else None


def load_runs(root: str | Path | None = None, book: str | Path | None = None) -> list[Run]:
    """Every run folder under `root` (default book/runs) that holds a readable record.json, sorted by name."""
    root = Path(root) if root is not None else runs_dir()
    book = Path(book) if book is not None else (root.parent if root.name == "runs" else book_dir())
    runs = []
    for path in sorted(root.glob(f"**/{RECORD_FILE}")):
        if any(part.startswith(".") or part in ("checkpoints", "ckpt") for part in path.relative_to(root).parts):
            continue
        try:
            record = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if not isinstance(record, dict):
            continue
        runs.append(Run(path.parent, record, find_notebook(path.parent), book))
    return sorted(runs, key=lambda r: (r.name, str(r.folder)))


# ---- the IBM study: published rows and their runs ------------------------------------------------------------


def published_ibm() -> pd.DataFrame:
    """The 28 published rows with the model, family, backbone and frames their names encode."""
    from actionbook.experiment import parse_row

    rows = []
    for r in ibm_rows():
        parsed = parse_row(r.row)
        rows.append({
            "row": r.row, "section": r.dataset_section, "dataset": parsed["dataset"], "model": parsed["model"],
            "family": family(parsed["model"]), "backbone": backbone(parsed["model"]),
            "label": model_label(parsed["model"]), "frames": parsed["frames"],
            "temporal_pooling": parsed.get("temporal_pooling"), "top1": r.top1, "top5": r.top5,
            "flops": r.flops, "params": r.params, "epochs": r.epochs,
        })
    return pd.DataFrame(rows)


def _same_model(exp: dict, row: dict) -> bool:
    return exp.get("model") == row["model"] and exp.get("temporal_pooling") == row.get("temporal_pooling")


def same_kind(model: str, row_model: str) -> bool:
    """A proxy model stands in for a row's model when family and backbone kind agree (ResNet of any depth for
    ResNet-50: the proxy study trains smaller backbones at CPU scale)."""
    if not model or family(model) != family(row_model):
        return False
    return backbone(model).split("-")[0] == backbone(row_model).split("-")[0]


def runs_for_row(row: dict, runs: Iterable[Run]) -> tuple[list[Run], list[Run]]:
    """(runs on the row's real dataset, proxy runs of the row's kind of model on its synthetic twin)."""
    real, proxy = [], []
    for run in runs:
        exp = run.experiment
        if run.dataset in REAL_DATASETS[row["section"]]:
            if run.name == row["row"] or (_same_model(exp, row) and exp.get("frames") == row["frames"]):
                real.append(run)
        elif run.dataset == SYNTHETIC_TWIN[row["section"]] and same_kind(run.model, row["model"]):
            proxy.append(run)
    proxy.sort(key=lambda r: (r.model != row["model"], r.frames != row["frames"], r.name))
    return real, proxy


def full_recipe(run: Run, row: dict) -> list[str]:
    """How a run on the real dataset departs from the row's recipe (empty: it followed it to the end)."""
    exp, gaps = run.experiment, []
    if run.status != "completed":
        gaps.append(run.status + (f" ({run.record.get('reason')})" if run.record.get("reason") else ""))
    if exp.get("epochs") != row["epochs"]:
        gaps.append(f"{exp.get('epochs')} of {row['epochs']} epochs")
    elif run.epochs_done < row["epochs"]:
        gaps.append(f"{run.epochs_done} of {row['epochs']} epochs done")
    if exp.get("iters_per_epoch"):
        gaps.append(f"capped at {exp['iters_per_epoch']} iterations per epoch")
    if exp.get("frames") != row["frames"]:
        gaps.append(f"{exp.get('frames')} frames instead of {row['frames']}")
    return gaps


def _best(runs: list[Run], row: dict) -> Run:
    return sorted(runs, key=lambda r: (bool(full_recipe(r, row)), -(r.metric("val", "top1") or -1)))[0]


def ibm_status(runs: Iterable[Run] | None = None) -> pd.DataFrame:
    """One line per published row: published numbers, the reproduced ones (if any), the status and its run."""
    runs = list(load_runs() if runs is None else runs)
    out = []
    for row in published_ibm().to_dict("records"):
        real, proxy = runs_for_row(row, runs)
        line = {**row, "status": "not yet run", "run": None, "proxy_run": proxy[0] if proxy else None,
                "reproduced_top1": None, "reproduced_top5": None, "protocol": "", "hardware": "", "gaps": ""}
        if real:
            best = _best(real, row)
            gaps = full_recipe(best, row)
            line.update(status="partial run" if gaps else "reproduced", run=best, hardware=best.hardware,
                        reproduced_top1=best.metric("val", "top1"), reproduced_top5=best.metric("val", "top5"),
                        protocol=best.protocol("val"), gaps="; ".join(gaps))
        elif proxy:
            line["status"] = "proxy only"
        out.append(line)
    return pd.DataFrame(out)


def status_counts(status: pd.DataFrame) -> pd.DataFrame:
    """Rows per status and dataset (the introduction's summary)."""
    counts = (status.groupby(["section", "status"]).size().unstack(fill_value=0)
              .reindex(columns=list(STATUSES), fill_value=0).reindex(list(SECTIONS)))
    counts.index = [SECTION_SHORT[s] for s in counts.index]
    counts.loc["total"] = counts.sum()
    return counts


def ibm_section_markdown(status: pd.DataFrame, section: str) -> str:
    """The published table of one dataset beside what was reproduced, as a MyST table with links to the runs."""
    lines = []
    for r in status[status["section"] == section].to_dict("records"):
        run, proxy = r["run"], r["proxy_run"]
        run = None if missing(run) else run
        proxy = None if missing(proxy) else proxy
        if run is not None:
            source = run.link("notebook") + f" ({r['hardware']})"
            if r["gaps"]:
                source += f"; {r['gaps']}"
        elif proxy is not None:
            source = "proxy: " + proxy.link(f"{proxy.name}") + f" ({proxy.dataset}, {proxy.frames} frames)"
        else:
            source = "-"
        lines.append({
            "Row (published name)": f"`{r['row']}`",
            "Frames": r["frames"],
            "Published top-1 / top-5": f"{r['top1']:.2f} / {r['top5']:.2f}",
            "Reproduced top-1 / top-5": (f"{r['reproduced_top1']:.2f} / {r['reproduced_top5']:.2f}"
                                         if not missing(r["reproduced_top1"]) else "-"),
            "Δ top-1": (f"{r['reproduced_top1'] - r['top1']:+.2f}" if not missing(r["reproduced_top1"]) else "-"),
            "Status": badge(r["status"]),
            "Run": source,
        })
    return markdown_table(pd.DataFrame(lines))


def reproduced_points(status: pd.DataFrame) -> pd.DataFrame:
    """The rows with a number from a run on the real dataset (for the plots), with their status."""
    sub = status[status["reproduced_top1"].notna()].copy()
    return sub.drop(columns=["run", "proxy_run"])


# ---- runs ------------------------------------------------------------------------------------------------


def runs_markdown(runs: Iterable[Run], empty: str = "No run recorded yet.") -> str:
    """A table of runs: link to the notebook, model, data, status, accuracy under its protocol, cost, hardware."""
    lines = []
    for r in runs:
        c = r.complexity
        top1, top5 = r.metric("val", "top1"), r.metric("val", "top5")
        test = r.metric("test", "top1")
        lines.append({
            "Run": r.link(r.name),
            "Model / data": (f"{model_label(r.model)} (`{r.model}`); {r.dataset}, {r.frames} frames at "
                             f"{r.experiment.get('input_size')} px"),
            "Status": badge_run(r.status) + (f" {r.epochs_done}/{r.experiment.get('epochs')} epochs"
                                             if r.experiment.get("epochs") else ""),
            "Val top-1 / top-5 (1 clip x 1 crop)": f"{top1:.2f} / {top5:.2f}" if top1 is not None else "-",
            "Test top-1": f"{test:.2f} ({r.protocol('test')})" if test is not None else "-",
            "Params / conv MACs (at its input)": f"{fmt_int(c.get('params'))} / {fmt_g(c.get('conv_macs'))}",
            "Hardware": r.hardware,
        })
    if not lines:
        return f"*{empty}*"
    return markdown_table(pd.DataFrame(lines))










# ---- the model zoo ---------------------------------------------------------------------------------------------


def ibm_zoo_frame(rows: list[dict] | None = None) -> pd.DataFrame:
    """`actionbook.report.zoo.ibm_zoo()` as a frame, with the section and the fvcore / conv ratio."""
    from actionbook.report.zoo import ibm_zoo

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
    from actionbook.report.zoo import mmaction_zoo

    return pd.DataFrame(rows if rows is not None else mmaction_zoo())


def mmaction_zoo_markdown(zoo: pd.DataFrame) -> str:
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


# ---- the speed benchmark ---------------------------------------------------------------------------------------

PUBLISHED_SPEED_HARDWARE = "8x V100 32GB, PyTorch 1.4, fp32 (2020)"
# (seed table's Model cell, Setting cell) -> benchmark case of actionbook.measure.speed, for the cells that are not
# an MMAction2 config name
_SEED_CASES = {("Slowfast", "4x16x1(video)"): "slowfast_4x16", ("Slowfast", "8x8x1(video)"): "slowfast_8x8",
               ("Slowonly", "4x16x1(video)"): "slowonly_4x16", ("Slowonly", "8x8x1(video)"): "slowonly_8x8",
               ("R(2+1)D", "32x2x1(frame)"): "r2plus1d_32x2", ("R(2+1)D", "8x8x1(frame)"): "r2plus1d_8x8"}


def seed_case(model: str, setting: str) -> str | None:
    """The benchmark case (tsn, i3d_fast, slowfast_4x16, ...) a row of the seed speed table stands for."""
    from actionbook.errors import ConfigError
    from actionbook.measure.speed import resolve_settings

    if (model, setting) in _SEED_CASES:
        return _SEED_CASES[(model, setting)]
    for name in (setting, setting.replace("_100e_", "_50e_")):  # the seed writes TSM's config as _100e_
        try:
            return resolve_settings([name])[0]
        except ConfigError:
            continue
    return None


def load_speed(folder: str | Path | None = None) -> list[dict]:
    """The speed records (one JSON per setting/device/variant) under book/records/speed."""
    from actionbook.measure.speed import load_records

    folder = Path(folder) if folder is not None else speed_dir()
    return load_records(folder) if folder.is_dir() else []


def speed_hardware(record: dict) -> str:
    """The device a speed record ran on, named: the GPU, or the CPU model with its threads."""
    prov = record.get("provenance") or {}
    if record.get("device") == "cuda":
        return f"1x {record.get('device_name') or (prov.get('hardware') or {}).get('gpu') or 'GPU'}"
    threads = prov.get("threads") or (prov.get("hardware") or {}).get("torch_threads")
    name = record.get("device_name") or (prov.get("hardware") or {}).get("cpu") or "CPU"
    return name if "thread" in name else f"CPU: {name} ({threads} threads)"


def speed_frame(records: list[dict]) -> pd.DataFrame:
    """One line per measured case and device (the `train` variant: the table's protocol, loader included)."""
    from actionbook.measure.speed import speed_table

    train = {(r["case"], r["device"]): r for r in records if r.get("variant") == "train"}
    rows = []
    for row in speed_table(records):
        rec = train[(row["case"], row["device"])]
        rows.append({**row, "hardware": speed_hardware(rec), "note": rec.get("note", ""),
                     "published_batch": rec["input"].get("published_batch"),
                     "file": f"{rec['setting']}.{rec['device']}.{rec['variant']}.json"})
    columns = ["case", "setting", "device", "hardware", "batch", "published_batch", "input_size", "mean", "std",
               "median", "n", "data_share", "memory_mib", "memory_kind", "mfu", "compute_mean", "published_s_iter",
               "published_memory_mib", "note", "file"]
    return pd.DataFrame(rows, columns=columns)


def published_speed_cases() -> pd.DataFrame:
    """The published s/iter and memory of every benchmark case (seed table, blanks filled the same day)."""
    from actionbook.measure.speed import CASE_KEYS, PUBLISHED

    rows = [{"case": case, "framework": p.framework, "s_iter": p.s_iter, "s_iter_std": p.s_iter_std,
             "memory_mib": p.memory_mib, "source": p.source}
            for case in CASE_KEYS for p in PUBLISHED.get(case, ())]
    return pd.DataFrame(rows)


def speed_markdown(measured: pd.DataFrame) -> str:
    """The seed speed table row by row (blank cells filled from the same day's table, marked), each setting
    followed by this project's measurements of it with their hardware, batch and input size."""
    from actionbook.measure.speed import PUBLISHED, bench_case

    lines, shown = [], set()
    for p in mmaction_rows():
        case = seed_case(p.model, p.setting)
        iter_time, std, memory, note = p.iter_time, p.iter_time_std, p.memory_mib, ""
        later = next((x for x in PUBLISHED.get(case, ()) if x.framework.lower() == p.framework.lower()), None)
        if iter_time is None and later is not None:
            iter_time, std, memory, note = later.s_iter, later.s_iter_std, later.memory_mib, " †"
        elif later is not None and later.s_iter is not None and iter_time is not None and later.s_iter != iter_time:
            note = f" ‡ (corrected to {fmt_time(later.s_iter, later.s_iter_std)})"
        batch = bench_case(case).published_batch if case else None
        lines.append({
            "Model": p.model, "Setting": f"`{p.setting}`", "Source": p.framework + " (published)",
            "Hardware": "8x V100", "s/iter (std)": fmt_time(iter_time, std) + note,
            "Memory (MiB)": fmt_int(memory) + (" †" if note == " †" else ""),
            "Batch per GPU / input": f"{batch or '?'} / 224",
        })
        if case in shown or case is None:
            continue
        shown.add(case)
        for m in measured[measured["case"] == case].to_dict("records"):
            lines.append(_measured_line(p.model, m))
    for m in measured[~measured["case"].isin(shown)].to_dict("records"):
        lines.append(_measured_line(m["case"], m))
    return markdown_table(pd.DataFrame(lines))


def _measured_line(model: str, m: dict) -> dict:
    return {"Model": model, "Setting": f"`{m['setting']}`", "Source": "**ActionBook, measured**",
            "Hardware": f"**{m['hardware']}**", "s/iter (std)": fmt_time(m["mean"], m["std"]),
            "Memory (MiB)": f"{fmt_int(round(m['memory_mib']))} ({m['memory_kind']})",
            "Batch per GPU / input": f"{m['batch']} (published {m['published_batch']}) / {m['input_size']}"}


def speed_ratio_markdown(records: list[dict]) -> str:
    """Compute-only comparisons: speed options and other implementations against this project's eager fp32."""
    from actionbook.measure.speed import ratio_table

    hardware = {(r["case"], r["device"]): speed_hardware(r) for r in records}
    lines = []
    for r in ratio_table(records):
        lines.append({"Case": r["case"], "Hardware": hardware.get((r["case"], r["device"]), r["device"]),
                      "Variant": r["variant"], "s/iter (std)": fmt_time(r["mean"], r["std"]),
                      "Ours, eager fp32": fmt_time(r["ours_mean"]), "Variant / ours": f"{r['ratio']:.2f}",
                      "Memory MiB (ours)": f"{fmt_int(round(r['memory_mib']))} "
                                           f"({fmt_int(round(r['ours_memory_mib']))})"})
    if not lines:
        return "*No compute-only comparison recorded yet.*"
    return markdown_table(pd.DataFrame(lines))


# ---- compute estimates ------------------------------------------------------------------------------------------

# Effective training throughput derived from MMAction2's own published timings on 8x V100 (fp32, 2020): conv MACs
# of one training clip at 224 x 3 (forward + backward) x batch per GPU / s per iteration, for TSN-R50 1x1x3 (2D)
# and I3D-R50 32x2x1 (3D). Both timings include data loading, as a real training run does.
FWD_BWD_FACTOR = 3.0


@dataclass(frozen=True)
class Throughput:
    label: str
    macs_per_s: float  # effective multiply-accumulates per second per device, training (fwd+bwd)
    hardware: str
    source: str


def published_throughputs(mm_zoo: pd.DataFrame | None = None) -> dict[str, Throughput]:
    """Effective V100 training throughput for 2D and 3D networks, from the published MMAction2 timings."""
    from actionbook.published.mmaction_settings import MMACTION_SETTINGS

    macs = {}
    if mm_zoo is not None:
        macs = dict(zip(mm_zoo["setting"], mm_zoo["train_clip_conv_macs_224"]))
    else:
        from actionbook.measure import model_complexity

        for s in MMACTION_SETTINGS:
            if s.setting in ("tsn_r50_1x1x3_100e_kinetics400_rgb", "i3d_r50_32x2x1_100e_kinetics400_rgb"):
                macs[s.setting] = model_complexity(s.model, 400, s.frames, 224, **dict(s.options))["conv_macs"]
    batch = {s.setting: s.batch_per_gpu for s in MMACTION_SETTINGS}
    times = {r.setting: r.iter_time for r in mmaction_rows() if r.framework == "mmaction-lite" and r.iter_time}
    out = {}
    for kind, setting in (("2D", "tsn_r50_1x1x3_100e_kinetics400_rgb"), ("3D", "i3d_r50_32x2x1_100e_kinetics400_rgb")):
        rate = FWD_BWD_FACTOR * macs[setting] * batch[setting] / times[setting]
        out[kind] = Throughput(kind, rate, "1x V100 32GB (fp32)",
                               f"MMAction2's {setting}: {FWD_BWD_FACTOR:g} x {macs[setting] / 1e9:.2f} G conv MACs "
                               f"x {batch[setting]} clips / {times[setting]} s per iteration")
    return out


def measured_throughputs(records: list[dict]) -> dict[str, dict[str, Throughput]]:
    """Effective training throughput (conv MACs per second, fwd + bwd) per device, from this project's speed
    records: the TSN case for 2D networks, the I3D case for 3D ones, `train` variant (loader included, fp32)."""
    out: dict[str, dict[str, Throughput]] = {}
    for r in records:
        if r.get("variant") != "train" or r.get("case") not in ("tsn", "i3d") or r.get("device") != "cuda":
            continue
        macs = (r.get("flops") or {}).get("forward_conv_macs")
        mean = (r.get("time") or {}).get("mean")
        if not macs or not mean:
            continue
        kind = "2D" if r["case"] == "tsn" else "3D"
        hw = speed_hardware(r)
        out.setdefault(hw, {})[kind] = Throughput(
            kind, FWD_BWD_FACTOR * macs / mean, hw,
            f"this project's {r['case']} record on {hw}: {FWD_BWD_FACTOR:g} x {macs / 1e9:.2f} G conv MACs per batch "
            f"of {r['input']['batch']} at {r['input']['input_size']} px / {mean:.4f} s per iteration")
    return {hw: kinds for hw, kinds in out.items() if set(kinds) == {"2D", "3D"}}


def is_3d(model: str) -> bool:
    return family(model) in ("I3D", "S3D")


def compute_estimates(throughput: dict[str, Throughput], published: pd.DataFrame | None = None,
                      gpus: int = 8) -> pd.DataFrame:
    """Training compute per published row: 3 x conv MACs (the table's FLOPs) x train clips x epochs, plus one
    validation pass per epoch, and the device-hours and days on `gpus` devices at the 2D/3D throughput given."""
    published = published if published is not None else published_ibm()
    rows = []
    for r in published.to_dict("records"):
        size = DATASET_SIZES[r["section"]]
        train = FWD_BWD_FACTOR * r["flops"] * size.train * r["epochs"]
        val = r["flops"] * size.val * r["epochs"]
        tp = throughput["3D" if is_3d(r["model"]) else "2D"]
        seconds = (train + val) / tp.macs_per_s
        rows.append({"row": r["row"], "section": r["section"], "model": r["model"], "epochs": r["epochs"],
                     "train_clips": size.train, "conv_macs": r["flops"], "total_macs": train + val,
                     "gpu_hours": seconds / 3600, "days_on_gpus": seconds / 86400 / gpus,
                     "throughput": tp.label, "throughput_macs_per_s": tp.macs_per_s, "hardware": tp.hardware})
    return pd.DataFrame(rows)


def command_for(row: str) -> str:
    return f"actionbook run params/ibm/{row}.yaml"


def full_scale_markdown(est: pd.DataFrame, gpus: int = 8) -> str:
    lines = []
    for r in est.to_dict("records"):
        lines.append({
            "Row": f"`{r['row']}`",
            "Command": f"`{command_for(r['row'])}`",
            "Epochs x train clips": f"{r['epochs']} x {r['train_clips']:,}",
            "Conv MACs / clip": fmt_g(r["conv_macs"], 1),
            "Training compute (MACs)": f"{r['total_macs']:.2e}",
            "Throughput used": f"{r['throughput']}, {r['throughput_macs_per_s'] / 1e12:.2f} T MAC/s",
            "GPU-hours": f"{r['gpu_hours']:,.0f}",
            f"Days on {gpus} GPUs": f"{r['days_on_gpus']:.1f}",
        })
    return markdown_table(pd.DataFrame(lines))


# ---- provenance ---------------------------------------------------------------------------------------------------


def notebook_execution(path: Path | None) -> dict:
    """Execution time and kernel of an executed notebook (papermill's metadata, else the cells' timings)."""
    if path is None or not path.is_file():
        return {}
    try:
        nb = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    meta = nb.get("metadata") or {}
    pm = meta.get("papermill") or {}
    out = {"kernel": (meta.get("kernelspec") or {}).get("name"), "duration_s": pm.get("duration"),
           "start": pm.get("start_time"), "end": pm.get("end_time"), "papermill": pm.get("version")}
    if out["duration_s"] is None:
        total = 0.0
        for cell in nb.get("cells", []):
            cpm = (cell.get("metadata") or {}).get("papermill") or {}
            if cpm.get("duration") is not None:
                total += cpm["duration"]
        out["duration_s"] = total or None
    return out


VERSION_KEYS = ("python", "torch", "cuda", "cudnn", "torchvision", "decord", "numpy")


def provenance_markdown(runs: Iterable[Run]) -> str:
    lines = []
    for r in runs:
        prov = r.record.get("provenance") or {}
        git = prov.get("git") or {}
        ex = notebook_execution(r.notebook)
        versions = prov.get("versions") or {}
        commit = (git.get("commit") or "?")[:10] + (" (dirty)" if git.get("dirty") else "")
        lines.append({
            "Run": r.link(r.name),
            "Status": badge_run(r.status),
            "Notebook executed": fmt_duration(ex.get("duration_s")) + (f", {ex['start'][:19]}" if ex.get("start")
                                                                        else ""),
            "Training": fmt_duration((r.record.get("timings") or {}).get("train_s")),
            "Hardware": r.hardware,
            "Host": prov.get("host") or "-",
            "Git commit": f"`{commit}`",
            "Versions": ", ".join(f"{k} {versions[k]}" for k in VERSION_KEYS if versions.get(k)),
            "Seed": prov.get("seed") if prov.get("seed") is not None else "-",
        })
    if not lines:
        return "*No run recorded yet.*"
    return markdown_table(pd.DataFrame(lines))


def speed_provenance_markdown(records: list[dict]) -> str:
    lines = []
    for r in records:
        prov = r.get("provenance") or {}
        versions = prov.get("versions") or {}
        git = prov.get("git") or {}
        lines.append({
            "Record": f"`{r['setting']}.{r['device']}.{r['variant']}.json`",
            "Created": (r.get("created") or "-")[:19],
            "Hardware": speed_hardware(r),
            "Host": prov.get("host") or "-",
            "Git commit": f"`{(git.get('commit') or '?')[:10]}`" + (" (dirty)" if git.get("dirty") else ""),
            "Versions": ", ".join(f"{k} {versions[k]}" for k in VERSION_KEYS if versions.get(k)),
        })
    if not lines:
        return "*No speed record yet.*"
    return markdown_table(pd.DataFrame(lines))


def build_environment() -> pd.DataFrame:
    """The libraries this build of the book ran with (the chapters' code, not the runs)."""
    import importlib.metadata as md
    import platform

    names = ("actionbook", "torch", "torchvision", "numpy", "pandas", "matplotlib", "seaborn", "fvcore", "decord2",
             "papermill", "jupyter-book", "myst-nb", "sphinx")
    rows = [{"package": "python", "version": platform.python_version()}]
    for name in names:
        try:
            rows.append({"package": name, "version": md.version(name)})
        except md.PackageNotFoundError:
            rows.append({"package": name, "version": "not installed"})
    return pd.DataFrame(rows)


def build_provenance_markdown() -> str:
    from actionbook.measure.environment import cpu_model, git_state

    git = git_state(project_root())
    env = build_environment()
    head = (f"Built from commit `{(git.get('commit') or 'unknown')[:10]}`"
            + (" with uncommitted changes" if git.get("dirty") else "")
            + f" on {cpu_model()}.\n\n")
    return head + markdown_table(env.rename(columns={"package": "Package", "version": "Version"}))


# ---- formatting ---------------------------------------------------------------------------------------------------


def missing(value) -> bool:
    """None, or the NaN pandas puts in its place."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_int(n) -> str:
    if missing(n):
        return "-"
    return f"{int(n):,}"


def fmt_g(n, digits: int = 3) -> str:
    if missing(n):
        return "-"
    return f"{n / 1e9:,.{digits}f} G"


def fmt_time(t, std=None) -> str:
    if missing(t):
        return "-"
    if missing(std):
        return f"{t:.4f}"
    return f"{t:.4f} ({std:.4f})"


def fmt_duration(seconds) -> str:
    if missing(seconds):
        return "-"
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def check(ok) -> str:
    return {True: "✓", False: "✗"}.get(ok if ok is None or isinstance(ok, bool) else bool(ok), "-")


def badge(status: str) -> str:
    return "{bdg-" + STATUS_BADGE.get(status, "secondary") + "}" + f"`{status}`"


def badge_run(status: str) -> str:
    colour = {"completed": "success", "running": "info", "failed": "danger", "interrupted": "warning"}
    return "{bdg-" + colour.get(status, "secondary") + "}" + f"`{status}`"


def escape_role(text: str) -> str:
    return text.replace("<", "\\<").replace("`", "'")


def escape_cell(value) -> str:
    text = "" if value is None else str(value)
    return text.replace("|", "\\|").replace("\n", " ")


def markdown_table(df: pd.DataFrame) -> str:
    """A MyST/GFM pipe table (cells may hold roles and links; pipes are escaped)."""
    if df.empty:
        return "*(empty)*"
    header = "| " + " | ".join(escape_cell(c) for c in df.columns) + " |"
    rule = "|" + "|".join("---" for _ in df.columns) + "|"
    body = ["| " + " | ".join(escape_cell(v) for v in row) + " |" for row in df.itertuples(index=False)]
    return "\n".join([header, rule, *body])
