"""`actionbook data check` and `actionbook data diff` on damaged and edited synthetic copies: they list exactly the
damaged, removed and relabelled videos, end with a one-line summary and exit 1 when there are problems; a saved
check reaches the dataset fingerprint of run records."""

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from actionbook.cli import main
from actionbook.data import build_dataset, write_video
from actionbook.data.check import check_dataset, diff_fingerprint, read_reference
from actionbook.data.fingerprint import CHECK_FILE
from conftest import tiny_kinetics_set


@pytest.fixture(scope="module")
def pristine(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("pristine") / "synth-kinetics"
    tiny_kinetics_set(root, num_classes=3, train_per_class=3, val_per_class=2, seed=4)
    return root


def _rows(csv_path: Path) -> list[dict]:
    with open(csv_path, newline="") as file:
        return list(csv.DictReader(file))


def _write_rows(csv_path: Path, rows: list[dict]) -> None:
    with open(csv_path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _video(root: Path, row: dict) -> Path:
    return root / row["split"] / row["label"] / f"{row['youtube_id']}_{int(row['time_start']):06d}_" \
                                                f"{int(row['time_end']):06d}.mp4"


def _copy(pristine: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pristine, tmp_path / "synth-kinetics"))


def test_check_lists_exactly_the_damaged_videos(pristine, tmp_path, capsys):
    root = _copy(pristine, tmp_path)
    train, val = _rows(root / "train.csv"), _rows(root / "validate.csv")
    damaged = {"empty": _video(root, train[0]), "missing": _video(root, train[1]), "truncated": _video(root, val[0]),
               "short": _video(root, val[1])}
    damaged["empty"].write_bytes(b"")
    damaged["missing"].unlink()
    whole = damaged["truncated"].read_bytes()
    damaged["truncated"].write_bytes(whole[:len(whole) // 3])
    write_video(damaged["short"], np.zeros((2, 48, 64, 3), np.uint8))
    code = main(["data", "check", "synth-kinetics", "--data-root", str(root), "--min-frames", "4", "--workers", "2"])
    out = capsys.readouterr().out.strip().splitlines()
    assert code == 1
    assert out[-1].startswith("data check synth-kinetics: 15 videos (train, val), 3 unreadable, 1 short, "
                              "0 mislabelled")
    assert len(out) == 5
    for path in damaged.values():  # each damaged video on a line of its own
        assert sum(f" {path.relative_to(root)}: " in line for line in out[:-1]) == 1
    assert any(line.startswith("short") and "2 frames, the recipe needs 4" in line for line in out)
    saved = json.loads((root / CHECK_FILE).read_text())
    fine = [v for v in saved["videos"] if not v["problem"]]
    assert len(fine) == 11 and all(v["frames"] == 8 and len(v["sha256"]) == 64 and v["bytes"] > 0 for v in fine)


def test_check_of_a_sound_copy_exits_0_and_runs_carry_its_summary(pristine, tmp_path, capsys):
    root = _copy(pristine, tmp_path)
    assert main(["data", "check", "synth-kinetics", "--data-root", str(root), "--workers", "1"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("data check synth-kinetics: 15 videos (train, val), "
                                                               "0 unreadable, 0 short, 0 mislabelled")
    assert main(["data", "diff", str(root / CHECK_FILE), "--reference", str(pristine / "train.csv")]) == 0
    record_view = build_dataset("synth-kinetics", root, split="train", frames=4, input_size=32).fingerprint()
    assert record_view["check"]["summary"]["unreadable"] == 0
    assert record_view["check"]["diffs"]["train.csv"]["missing"] == []
    (root / "train.csv").write_text((root / "train.csv").read_text() + "\n")  # other annotations: not that check
    assert "check" not in build_dataset("synth-kinetics", root, split="train", frames=4, input_size=32).fingerprint()


def test_an_unknown_label_is_a_mislabelled_annotation(pristine, tmp_path, capsys):
    root = _copy(pristine, tmp_path)
    rows = _rows(root / "validate.csv")
    rows[2]["label"] = "no such class"
    _write_rows(root / "validate.csv", rows)
    assert main(["data", "check", "synth-kinetics", "--data-root", str(root), "--workers", "1"]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("val: mislabelled: ") and "validate.csv:4: label 'no such class'" in out[0]
    assert "(+1 annotation file(s) refused)" in out[-1]


def test_diff_lists_exactly_the_removed_relabelled_and_extra_videos(pristine, tmp_path, capsys):
    root = _copy(pristine, tmp_path)
    rows = _rows(root / "train.csv")
    removed = [rows.pop(5), rows.pop(0)]
    for row in removed:
        _video(root, row).unlink()
    relabelled = rows[2]
    old = _video(root, relabelled)
    relabelled["label"] = next(r["label"] for r in rows if r["label"] != relabelled["label"])
    _video(root, relabelled).parent.mkdir(parents=True, exist_ok=True)
    old.rename(_video(root, relabelled))
    extra = dict(rows[0], youtube_id="EXTRAVIDEO1")
    shutil.copy(_video(root, rows[0]), _video(root, extra))
    _write_rows(root / "train.csv", [*rows, extra])
    fingerprint = check_dataset("synth-kinetics", root, workers=1)
    delta = diff_fingerprint(fingerprint, read_reference(pristine / "train.csv"), "train")
    name = lambda row: _video(root, row).name  # noqa: E731
    assert delta["missing"] == sorted(name(r) for r in removed)
    assert delta["extra"] == [name(extra)]
    assert [r["video"] for r in delta["relabelled"]] == [name(relabelled)]
    assert delta["relabelled"][0]["copy"] == relabelled["label"]
    (tmp_path / "fp.json").write_text(json.dumps(fingerprint))
    assert main(["data", "diff", str(tmp_path / "fp.json"), "--reference", str(pristine / "train.csv")]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[-1].startswith("data diff train against train.csv: 2 missing, 1 extra, 1 relabelled (9 videos in "
                              "the reference, 8 in the copy)")
    assert json.loads((tmp_path / "fp.json").read_text())["diffs"]["train.csv"]["extra"] == [name(extra)]


def test_diff_reads_mmaction_lists_by_class_id(tmp_path):
    fingerprint = {"videos": [{"split": "val", "path": "videos_val/a/x1.mp4", "label": 3, "class_name": "3",
                               "problem": None},
                              {"split": "val", "path": "videos_val/b/x2.mp4", "label": 1, "class_name": "1",
                               "problem": "unreadable: missing file"}]}
    (tmp_path / "val_list.txt").write_text("a/x1.mp4 2\nb/x2.mp4 1\nc/x3.mp4 0\n")
    delta = diff_fingerprint(fingerprint, read_reference(tmp_path / "val_list.txt"), "val")
    assert delta["missing"] == ["x2.mp4", "x3.mp4"] and delta["extra"] == []
    assert delta["relabelled"] == [{"video": "x1.mp4", "reference": 2, "copy": 3}]
