"""The book's one accuracy convention, applied by every chapter: the IBM code's — the validation accuracy of the
BEST epoch (highest top-1 on the validation list, 1 clip x centre crop), which is the checkpoint it keeps and
reports — with the FINAL epoch's beside it, so that a reader sees how much choosing the best epoch adds."""

from __future__ import annotations

from dataclasses import dataclass

CONVENTION = ("best epoch on the validation list (the IBM code's choice: the checkpoint it keeps), 1 clip x "
              "centre crop; the final epoch beside it")


@dataclass(frozen=True)
class EpochAccuracy:
    """Top-1/top-5 (%) of the best and of the final validated epoch of one run."""

    best_top1: float
    best_top5: float | None
    best_epoch: int | None
    final_top1: float
    final_top5: float | None
    final_epoch: int | None

    def text(self, digits: int = 2) -> str:
        """"69.2 (final 66.7)": the convention's number, the final epoch's beside it when it differs."""
        best = f"{self.best_top1:.{digits}f}"
        if round(self.final_top1, digits) == round(self.best_top1, digits):
            return best
        return f"{best} (final {self.final_top1:.{digits}f})"


def epoch_accuracy(record: dict) -> EpochAccuracy | None:
    """Best and final validation accuracy of a run record (its per-epoch `history`, else its final `metrics.val`);
    None when the run validated nothing. Ties go to the earlier epoch, as the IBM code keeps the first best."""
    validated = [e for e in record.get("history") or [] if e.get("val_top1") is not None]
    if validated:
        best = max(validated, key=lambda e: (e["val_top1"], -e.get("epoch", 0)))
        final = validated[-1]
        return EpochAccuracy(best["val_top1"], best.get("val_top5"), best.get("epoch"),
                             final["val_top1"], final.get("val_top5"), final.get("epoch"))
    val = (record.get("metrics") or {}).get("val") or {}
    if val.get("top1") is None:
        return None
    return EpochAccuracy(val["top1"], val.get("top5"), None, val["top1"], val.get("top5"), None)
