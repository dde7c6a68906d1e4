"""Bad-file accounting: broken videos are replaced (training) or left out (evaluation), counted, and stop a run
once they are too many.

Each dataset item reports the (path, reason) pairs of the broken videos replaced to produce it; the trainer feeds
them to a `BadFileTracker` batch by batch. The tracker stops the run (raises `TooManyBadFiles`, whose message is
the summary) when

    bad > threshold * max(items_seen, min_items)

i.e. once more than `threshold` (default 1 %) of the items were replacements, judged over at least `min_items`
(default 100) items: a single bad file in a small first batch does not stop a run, but two in the first hundred
items do at 1 %. The counts are replacements: a broken file met in every epoch counts in every epoch, and a
replacement that is itself broken counts again (rare at low rates). The summary also lists distinct files.
An evaluation applies the same rule to its items left out (`train.evaluate.evaluate`, with `counted="skipped"`).
"""

from __future__ import annotations

from collections import Counter


class TooManyBadFiles(RuntimeError):
    """More broken videos than the run accepts; the message is a summary of what was bad."""


def reason_kind(reason: str) -> str:
    """The kind of a reason, for per-reason counts: "cannot open: moov atom not found" -> "cannot open"."""
    return reason.split(":", 1)[0]


class BadFileTracker:
    def __init__(self, threshold: float = 0.01, min_items: int = 100, examples: int = 5,
                 counted: str = "replacements"):
        self.threshold, self.min_items, self.max_examples = threshold, min_items, examples
        self.counted = counted  # what a bad item became, for the message
        self.items = 0
        self.bad = 0
        self.kinds: Counter[str] = Counter()
        self.files: dict[str, str] = {}  # distinct bad paths -> first reason

    def update(self, bad, n_items: int) -> None:
        """Count `n_items` delivered items and their replacements `bad` ((path, reason) pairs)."""
        self.items += n_items
        for path, reason in bad:
            self.bad += 1
            self.kinds[reason_kind(reason)] += 1
            self.files.setdefault(path, reason)
        if self.bad > self.threshold * max(self.items, self.min_items):
            raise TooManyBadFiles(self.message())

    def summary(self) -> dict:
        """JSON-serialisable counts for the run record."""
        return {
            "bad": self.bad,
            "items": self.items,
            "share": round(self.bad / self.items, 6) if self.items else 0.0,
            "threshold": self.threshold,
            "min_items": self.min_items,
            "distinct_files": len(self.files),
            "reasons": dict(self.kinds.most_common()),
            "examples": [{"path": path, "reason": reason}
                         for path, reason in list(self.files.items())[:self.max_examples]],
        }

    def message(self) -> str:
        s = self.summary()
        reasons = ", ".join(f"{kind} x{count}" for kind, count in s["reasons"].items())
        examples = "; ".join(f"{e['path']} ({e['reason']})" for e in s["examples"])
        return (f"too many unreadable videos: {s['bad']} {self.counted} in {s['items']} items "
                f"({100 * s['share']:.1f}% > {100 * self.threshold:g}%), {s['distinct_files']} distinct files. "
                f"Reasons: {reasons}. Examples: {examples}")
