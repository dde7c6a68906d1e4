"""The sources every chapter links (the paper, the repositories' files at their commits, MMAction2's benchmark and
config pages) and the names the project's notes used for them, mapped to what readers know. One place, so that a
chapter's "Sources" box and the book's glossary never disagree."""

from __future__ import annotations

from collections.abc import Iterable

IBM_REPO = "https://github.com/IBM/action-recognition-pytorch"
MMACTION_REPO = "https://github.com/open-mmlab/mmaction2"

# key -> (what it is, URL). Commits are the ones the published tables were taken from (shared/spec).
SOURCES = {
    "paper": ("Chen et al., *Deep Analysis of CNN-based Spatio-temporal Representations for Action Recognition*, "
              "CVPR 2021 (arXiv:2010.11757)", "https://arxiv.org/abs/2010.11757"),
    "ibm-table": ("the IBM table: `benchmark_full.md` at the repository's first commit `c88e74b` (2020-05-06; "
                  "removed from the repository in `5c4e53b`)", f"{IBM_REPO}/blob/c88e74b/benchmark_full.md"),
    "ibm-recipe": ("the IBM training code's options and defaults: `opts.py` at `c88e74b`",
                   f"{IBM_REPO}/blob/c88e74b/opts.py"),
    "ibm-mini": ("the IBM mini-dataset table and its recipe notes (8 -> 16 -> 32 -> 64-frame fine-tuning): "
                 "`benchmark_mini.md` at `67cc96f`", f"{IBM_REPO}/blob/67cc96f/benchmark_mini.md"),
    "ibm-weights": ("the IBM released weights (32-frame TAM and I3D, ResNet-50/101, no temporal pooling): README "
                    "at `67cc96f` and the release `weights-v0.1`", f"{IBM_REPO}/releases/tag/weights-v0.1"),
    "mmaction-table": ("MMAction2's speed benchmark, `docs/benchmark.md` at `bc33ac79` (2020-07-01, the state "
                       "this book compares with)", f"{MMACTION_REPO}/blob/bc33ac79/docs/benchmark.md"),
    "mmaction-final": ("MMAction2's speed benchmark in its final form (`cdf9af5a`, 2020-08-14; latest copy "
                       "`docs/en/benchmark.md` on branch 0.x)", f"{MMACTION_REPO}/blob/0.x/docs/en/benchmark.md"),
    "mmaction-configs": ("MMAction2's recognition configs (TSN, I3D, TSM, SlowOnly, SlowFast, R(2+1)D) at "
                         "`bc33ac79`", f"{MMACTION_REPO}/tree/bc33ac79/configs/recognition"),
}

# Names from the project's notes and the sources' own history -> what a reader knows them as.
GLOSSARY = {
    "mmaction-lite": "the internal pre-release name of MMAction2 (open-mmlab/mmaction2)",
    "open-mmaction / MMAction": "MMAction v0.1, the predecessor of MMAction2 (open-mmlab/mmaction)",
    "HAN": "MIT HAN Lab's temporal-shift-module repository (the original TSM code)",
    "PySlowFast": "facebookresearch/SlowFast",
    "the IBM table (seed table)": "the 28 rows of `benchmark_full.md` in IBM/action-recognition-pytorch",
    "the speed table (seed table)": "MMAction2's `docs/benchmark.md` of 2020-07-01",
    "spec": "this project's written notes on what the sources' code does (not a published document)",
}


def link(key: str) -> str:
    text, url = SOURCES[key]
    return f"[{text}]({url})"


def sources_markdown(keys: Iterable[str]) -> str:
    """A chapter's "Sources" box: one linked line per source."""
    lines = "\n".join(f"- {link(k)}" for k in keys)
    return f":::{{admonition}} Sources\n:class: note\n{lines}\n:::\n"


def glossary_markdown() -> str:
    return "\n".join(f"{name}\n: {meaning}\n" for name, meaning in GLOSSARY.items())


# The frameworks of MMAction2's speed table, as the table names them -> as readers know them.
FRAMEWORK_NAMES = {"mmaction-lite": "MMAction2", "open-mmaction": "MMAction v0.1", "HAN": "TSM (MIT HAN Lab)",
                   "PySlowfast": "PySlowFast"}


def framework_name(table_name: str) -> str:
    return FRAMEWORK_NAMES.get(table_name, table_name)
