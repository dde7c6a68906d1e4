"""What the train notebook shows of the IBM study: the row a run reproduces or stands in for, and how its recipe
differs from the paper's."""
# RAW MOVE (lead): imports and names to be fixed by the owner of this module.

def reference_row(exp: Experiment):
    """The published IBM row this experiment reproduces or stands in for (same model, nearest frame count, the
    published dataset a synthetic set stands in for), or None."""
    from actionbook.experiment import parse_row
    from actionbook.published import ibm_rows

    rows = ibm_rows()
    for row in rows:
        if row.row == exp.name:
            return row
    dataset = SYNTHETIC_ANALOGS.get(exp.dataset, exp.dataset)
    candidates = []
    for row in rows:
        parsed = parse_row(row.row)
        if parsed["model"] != exp.model or parsed["dataset"] != dataset:
            continue
        if exp.temporal_pooling is not None and parsed.get("temporal_pooling") != exp.temporal_pooling:
            continue
        candidates.append((abs(parsed["frames"] - exp.frames), parsed["frames"], row))
    return min(candidates, key=lambda c: c[:2])[2] if candidates else None


_RECIPE_FIELDS = ("dataset", "model", "frames", "input_size", "sampling", "augment", "flip", "pretrained", "epochs",
                  "iters_per_epoch", "batch_size", "lr", "lr_scheduler", "lr_steps", "weight_decay", "sync_bn",
                  "nproc", "test_clips", "test_crops", "temporal_pooling", "blending_frames", "blending_method")


def recipe_comparison(exp: Experiment):
    """(the reference row or None, a DataFrame: parameter, this run, the paper's recipe, same?)."""
    import pandas as pd

    from actionbook.params import ibm_params

    row = reference_row(exp)
    if row is None:
        return None, pd.DataFrame(columns=["this run", "paper's recipe", "same"])
    paper = ibm_params(row)
    mine = exp.to_dict()
    table = pd.DataFrame(
        [{"parameter": k, "this run": _show(mine[k]), "paper's recipe": _show(paper[k]), "same": mine[k] == paper[k]}
         for k in _RECIPE_FIELDS]).set_index("parameter")
    return row, table


def _show(value) -> str:
    return "-" if value is None else str(value)


