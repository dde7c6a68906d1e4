"""The IBM study's fine-tuning chain as params (studies/ibm/params.py) and the runner's order of a batch
(runner.chain_order): a run comes after the run whose checkpoint it starts from."""

from pathlib import Path

import yaml

from actionbook.paths import params_dir
from actionbook.runner import chain_order
from actionbook.studies.ibm import params
from actionbook.studies.ibm.published import ibm_rows

F64 = "st2stv2-TAM-b3-sum-resnet-50-f64-multisteps-syncbn-bs36-e35"


def test_a_64_frame_row_is_the_end_of_an_8_16_32_64_chain():
    chain = params.chain_of(F64)
    assert [int(name.split("-f")[-1].split("-")[0]) for name in chain] == [8, 16, 32, 64]
    assert chain[1] == "st2stv2-TAM-b3-sum-resnet-50-f16-cosine-bs48-e75"  # the published 16-frame row
    assert chain[0].endswith("-f8-cosine-bs72-e75")  # the stage takes the epochs of the row it leads to


def test_each_file_starts_from_its_predecessors_checkpoint():
    files = params.params_files()
    for row in ibm_rows():
        chain = params.chain_of(row.row)
        values = yaml.safe_load(files[f"ibm/{row.row}.yaml"].split("\n", 2)[2])
        assert values["pretrained"] == f"book/runs/{chain[-2]}/checkpoints/best.pt", row.row
        first = chain[0]
        stage = yaml.safe_load(files[f"ibm/chain/{first}.yaml"].split("\n", 2)[2])
        assert stage["pretrained"] == "imagenet" and stage["reported_top1"] is None


def _write(folder: Path, name: str, pretrained: str) -> Path:
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"name": name, "pretrained": pretrained}))
    return path


def test_batch_order_puts_a_run_after_the_run_it_starts_from(tmp_path):
    f64 = _write(tmp_path, "m-f64", "book/runs/m-f32/checkpoints/best.pt")
    f32 = _write(tmp_path, "m-f32", "book/runs/m-f16/checkpoints/best.pt")
    other = _write(tmp_path, "other", "imagenet")
    f16 = _write(tmp_path, "m-f16", "imagenet")
    assert [p.stem for p in chain_order([f64, other, f32, f16])] == ["m-f16", "m-f32", "m-f64", "other"]


def test_batch_order_keeps_the_given_order_without_chains_or_with_a_cycle(tmp_path):
    a = _write(tmp_path, "a", "book/runs/b/checkpoints/best.pt")
    b = _write(tmp_path, "b", "book/runs/a/checkpoints/best.pt")
    c = _write(tmp_path, "c", "none")
    bad = tmp_path / "bad.yaml"
    bad.write_text("pretrained: [unclosed")
    ordered = chain_order([c, bad, a, b])
    assert sorted(p.stem for p in ordered) == ["a", "b", "bad", "c"] and ordered[:2] == [c, bad]


def test_committed_chain_files_are_the_generated_ones():
    root = params_dir()
    for rel, text in params.params_files().items():
        assert (root / rel).read_text() == text, f"{rel}: run `actionbook params`"
