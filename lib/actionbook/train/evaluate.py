"""Evaluation: top-1, top-5, mean class accuracy, per-class accuracy and the confusion matrix, single or
multi-view (K clips x crops, logits averaged), each stored with its protocol."""

from __future__ import annotations

import torch
from torch import nn

from actionbook.train.distributed import DistContext, all_gather_objects


def view_logits(model: nn.Module, clips: torch.Tensor) -> torch.Tensor:
    """Logits of a batch; a multi-view batch (N, V, 3, T, H, W) is scored per view and averaged over views."""
    if clips.dim() == 6:
        n, v = clips.shape[:2]
        return model(clips.flatten(0, 1)).view(n, v, -1).mean(dim=1)
    return model(clips)


def classification_metrics(logits: torch.Tensor, labels: torch.Tensor, num_classes: int) -> dict:
    """Accuracy figures (in percent, as the tables print them) from the logits of a whole split."""
    k = min(5, num_classes)
    topk = logits.topk(k, dim=1).indices
    correct = topk == labels[:, None]
    pred = topk[:, 0]
    confusion = torch.zeros(num_classes, num_classes, dtype=torch.long)
    confusion.index_put_((labels, pred), torch.ones_like(labels), accumulate=True)
    support = confusion.sum(dim=1)
    per_class = torch.where(support > 0, confusion.diag().double() / support.clamp(min=1), torch.nan)
    return {
        "top1": 100.0 * correct[:, 0].double().mean().item(),
        "top5": 100.0 * correct.any(dim=1).double().mean().item(),
        "mean_class_acc": 100.0 * per_class.nanmean().item(),
        "per_class_acc": [None if torch.isnan(x) else 100.0 * x.item() for x in per_class],
        "confusion": confusion.tolist(),
        "samples": int(labels.numel()),
    }


@torch.no_grad()
def evaluate(model: nn.Module, loader, ctx: DistContext, prepare, num_classes: int, protocol: dict,
             progress=None) -> dict:
    """Score every batch of `loader` on this rank, gather all ranks' logits and compute the metrics.

    `prepare(clips)` moves a uint8 batch to the device and normalises it. `protocol` (split, clips, crops,
    frames, input size) is stored with the metrics so no number is ever read without it.
    """
    was_training = model.training
    model.eval()
    logits, labels = [], []
    for clips, target, _bad in (progress(loader) if progress else loader):
        logits.append(view_logits(model, prepare(clips)).float().cpu())
        labels.append(target)
    model.train(was_training)
    local = (torch.cat(logits) if logits else torch.empty(0, num_classes),
             torch.cat(labels) if labels else torch.empty(0, dtype=torch.long))
    gathered = all_gather_objects(ctx, local)
    all_logits = torch.cat([g[0] for g in gathered])
    all_labels = torch.cat([g[1] for g in gathered])
    return {**classification_metrics(all_logits, all_labels, num_classes), "protocol": protocol}
