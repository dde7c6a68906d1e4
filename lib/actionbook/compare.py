"""`actionbook compare RUN_A RUN_B`: is B's top-1 different from A's on the same videos?

Both runs' kept predictions (`<run>/eval/<name>.logits.pt`, written by every evaluation) are paired by video, each
scored top-1 on its view-averaged logits; the report gives the paired difference with a bootstrap 95% interval
(videos resampled with replacement, both runs together) and McNemar's exact test on the videos where exactly one
run is right. Pairing matters: two runs' accuracies on the same videos are correlated, so the paired interval is
much narrower than one built from two independent accuracies.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from actionbook import runs
from actionbook.errors import ConfigError

PREFERRED = ("test", "val")  # the evaluation compared when none is named: the final test, else the last validation


@dataclass
class Comparison:
    videos: int
    top1_a: float
    top1_b: float
    difference: float  # B - A, percentage points
    interval: tuple[float, float]  # bootstrap 95% of the difference
    only_a_right: int
    only_b_right: int
    p_value: float  # McNemar, exact two-sided
    resamples: int
    evaluation: str

    def summary(self, a: str, b: str) -> str:
        lo, hi = self.interval
        return (f"{self.evaluation} on {self.videos} shared videos: top-1 A {self.top1_a:.2f}%, B {self.top1_b:.2f}%; "
                f"B - A = {self.difference:+.2f} points, bootstrap 95% interval [{lo:+.2f}, {hi:+.2f}] "
                f"({self.resamples} resamples); McNemar exact p = {self.p_value:.4g} (only A right: "
                f"{self.only_a_right}, only B right: {self.only_b_right})\n  A = {a}\n  B = {b}")


def mcnemar_p(only_a: int, only_b: int) -> float:
    """Exact two-sided McNemar test: under no difference the discordant videos split as a fair coin."""
    n = only_a + only_b
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, k) for k in range(min(only_a, only_b) + 1))
    return min(1.0, 2 * tail / 2**n)


def paired_comparison(correct_a: torch.Tensor, correct_b: torch.Tensor, resamples: int = 10_000, seed: int = 0,
                      evaluation: str = "") -> Comparison:
    """The comparison of two boolean vectors (video i right under A, under B)."""
    a, b = correct_a.double(), correct_b.double()
    n = len(a)
    if n == 0 or len(b) != n:
        raise ConfigError(f"nothing to compare: {n} and {len(b)} paired videos")
    diff = b - a
    generator = torch.Generator().manual_seed(seed)
    means = []
    for chunk in range(0, resamples, 1000):  # in chunks: at most 1000 x n indices at once
        idx = torch.randint(n, (min(1000, resamples - chunk), n), generator=generator)
        means.append(diff[idx].mean(dim=1))
    boot = 100 * torch.cat(means)
    lo, hi = torch.quantile(boot, torch.tensor([0.025, 0.975], dtype=boot.dtype)).tolist()
    only_a, only_b = int(((a == 1) & (b == 0)).sum()), int(((a == 0) & (b == 1)).sum())
    return Comparison(n, 100 * a.mean().item(), 100 * b.mean().item(), 100 * diff.mean().item(), (lo, hi), only_a,
                      only_b, mcnemar_p(only_a, only_b), resamples, evaluation)


def evaluation_name(run_a: Path, run_b: Path, name: str | None) -> str:
    if name is not None:
        return name
    for candidate in PREFERRED:
        if all(runs.predictions_path(r, candidate).is_file() for r in (run_a, run_b)):
            return candidate
    shared = sorted({p.name.removesuffix(".logits.pt") for p in (run_a / runs.EVAL_DIR).glob("*.logits.pt")}
                    & {p.name.removesuffix(".logits.pt") for p in (run_b / runs.EVAL_DIR).glob("*.logits.pt")})
    if not shared:
        raise ConfigError(f"{run_a} and {run_b} have no evaluation with kept predictions in common (eval/*.logits.pt; "
                          "evaluate both first: actionbook evaluate RUN)")
    return shared[-1]


def correct_by_video(run_dir: Path, name: str) -> dict[str, bool]:
    """Video -> top-1 right? of one evaluation's kept predictions (view-averaged logits)."""
    path = runs.predictions_path(run_dir, name)
    if not path.is_file():
        raise ConfigError(f"{path} not found: evaluation {name!r} of {run_dir} kept no predictions")
    state = torch.load(path, map_location="cpu", weights_only=True)
    right = (state["logits"].float().mean(dim=1).argmax(dim=1) == state["labels"]).tolist()
    videos = state.get("videos") or [f"#{i}" for i in range(len(right))]  # no names: by position
    out: dict[str, bool] = {}
    for video, ok in zip(videos, right):
        out.setdefault(video, ok)  # a video a sharded loader repeated counts once
    return out


def compare_runs(run_a: str | Path, run_b: str | Path, name: str | None = None, resamples: int = 10_000,
                 seed: int = 0) -> Comparison:
    run_a, run_b = Path(run_a), Path(run_b)
    name = evaluation_name(run_a, run_b, name)
    a, b = correct_by_video(run_a, name), correct_by_video(run_b, name)
    shared = [v for v in a if v in b]
    if not shared:
        raise ConfigError(f"{run_a} and {run_b} share no video in evaluation {name!r}: evaluate them on the same split")
    return paired_comparison(torch.tensor([a[v] for v in shared]), torch.tensor([b[v] for v in shared]), resamples,
                             seed, name)


def cmd_compare(args) -> int:
    result = compare_runs(args.run_a, args.run_b, args.eval, args.resamples, args.seed)
    print(json.dumps(asdict(result), indent=1) if args.json else result.summary(args.run_a, args.run_b))
    return 0


def add_parser(sub) -> None:
    parser = sub.add_parser("compare", help="paired top-1 difference of two runs on the same videos: bootstrap 95%% "
                                            "interval and McNemar's test")
    parser.add_argument("run_a", help="a run folder (or an evaluated checkpoint's folder)")
    parser.add_argument("run_b", help="another, evaluated on the same videos")
    parser.add_argument("--eval", default=None,
                        help="which evaluation: test, val, views-10x3, ... (default: test, else val, else shared)")
    parser.add_argument("--resamples", type=int, default=10_000, help="bootstrap resamples (default 10000)")
    parser.add_argument("--seed", type=int, default=0, help="bootstrap seed")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=cmd_compare)
