"""The params files: one per row of both published tables, each a complete and valid Experiment that carries its
row's published numbers, and identical to what the generator writes today."""

from pathlib import Path

import pytest
import yaml

from actionbook.cli import PARAMS_GENERATORS
from actionbook.cli import main as cli_main
from actionbook.experiment import Experiment
from actionbook.paths import params_dir
from actionbook.studies.ibm.published import ibm_rows
from actionbook.studies.mmaction.params import MMACTION_FILES
from actionbook.studies.mmaction.published import mmaction_rows
from actionbook.studies.paramfiles import stale_files

PARAMS = params_dir()
FILES = sorted(PARAMS.rglob("*.yaml"))
FIELDS = list(Experiment().to_dict())


def _rel(path: Path) -> str:
    return str(path.relative_to(PARAMS))


@pytest.fixture(scope="module")
def generated() -> dict[str, dict[str, str]]:
    """Every study's generated files: FOLDER -> (path under params/ -> text)."""
    return {generator.FOLDER: generator.params_files() for generator in PARAMS_GENERATORS}


def _stale(root: Path, generated: dict[str, dict[str, str]]) -> list[str]:
    return [rel for folder, files in generated.items() for rel in stale_files(root, files, (folder,))]


def test_one_file_per_ibm_row():
    assert sorted(p.stem for p in (PARAMS / "ibm").glob("*.yaml")) == sorted(r.row for r in ibm_rows())
    assert len(ibm_rows()) == 28


def test_one_file_per_mmaction_setting():
    covered = {(f.table_model, f.table_setting) for f in MMACTION_FILES}
    seed_settings = {(r.model, r.setting) for r in mmaction_rows() if r.framework == "mmaction-lite"}
    assert covered == seed_settings  # every setting of the speed table, and nothing else
    assert sorted(p.stem for p in (PARAMS / "mmaction").glob("*.yaml")) == sorted(f.file for f in MMACTION_FILES)


def test_proxy_folder_holds_cpu_scale_experiments():
    files = sorted((PARAMS / "proxy").rglob("*.yaml"))
    assert files
    for path in files:
        values = yaml.safe_load(path.read_text())
        assert values["dataset"].startswith("synth-"), path.name
        # nothing to download: the pretraining starts from scratch, the rest from its exported weights
        assert values["pretrained"] == "none" or values["imagenet_checkpoint"].startswith("data/proxy/"), path.name


@pytest.fixture(scope="module")
def experiments() -> dict[str, Experiment]:
    return {_rel(p): Experiment.from_params(p) for p in FILES}


@pytest.mark.parametrize("path", FILES, ids=_rel)
def test_file_is_a_complete_valid_experiment(path, experiments):
    values = yaml.safe_load(path.read_text())
    # every field, so `-f file` fixes the whole recipe and none of the notebook's CPU-scale defaults leaks in
    assert list(values) == FIELDS
    assert experiments[_rel(path)].to_dict() == values  # parses, validates, and round-trips unchanged
    assert values["name"] == path.stem


@pytest.mark.parametrize("row", ibm_rows(), ids=lambda r: r.row)
def test_ibm_file_carries_the_rows_numbers(row, experiments):
    exp = experiments[f"ibm/{row.row}.yaml"]
    assert (exp.reported_top1, exp.reported_top5, exp.reported_flops, exp.reported_params) == (
        row.top1, row.top5, row.flops, row.params)
    # the recipe read from the name, at the published scale
    assert (exp.frames, exp.batch_size, exp.epochs) == (int(row.row.split("-f")[-1].split("-")[0]),
                                                       int(row.row.split("-bs")[1].split("-")[0]), row.epochs)
    assert exp.input_size == 224 and exp.iters_per_epoch is None
    # an 8-frame row starts from ImageNet; a longer one from the run of the stage it was fine-tuned from
    assert (exp.pretrained == "imagenet") if exp.frames == 8 else exp.pretrained.endswith("/checkpoints/best.pt")
    assert exp.dataset == {"Something-Something-V2": "st2stv2", "Kinetics400": "kinetics400"}[row.dataset_section]
    assert exp.sync_bn == ("syncbn" in row.row)


@pytest.mark.parametrize("entry", MMACTION_FILES, ids=lambda e: e.file)
def test_mmaction_file_carries_the_rows_numbers(entry, experiments):
    exp = experiments[f"mmaction/{entry.file}.yaml"]
    cell = next(r for r in mmaction_rows() if (r.model, r.setting, r.framework) ==
                (entry.table_model, entry.table_setting, "mmaction-lite"))
    if cell.iter_time is not None:  # the seed's own numbers
        assert (exp.reported_iter_time, exp.reported_iter_time_std, exp.reported_memory_mib) == (
            cell.iter_time, cell.iter_time_std, cell.memory_mib)
    else:  # blank in the seed: the same table completed the same day, and the file says so
        assert (exp.reported_iter_time, exp.reported_memory_mib) == entry.completed
        assert any("blank" in note for note in exp.notes)
    assert exp.reported_params is not None
    assert exp.input_size == 224 and exp.nproc == 8 and exp.batch_size % 8 == 0


def test_committed_files_are_up_to_date(generated):
    assert set(generated) == {"ibm", "mmaction", "proxy"}
    assert _stale(PARAMS, generated) == [], "run `actionbook params` to regenerate params/"


def test_generator_writes_into_an_empty_folder(tmp_path, generated, capsys):
    assert cli_main(["params", "--root", str(tmp_path)]) == 0
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.yaml"))
    assert written == sorted(rel for files in generated.values() for rel in files)
    assert _stale(tmp_path, generated) == []
    (tmp_path / "ibm" / "not-a-row.yaml").write_text("name: x\n")
    assert _stale(tmp_path, generated) == ["ibm/not-a-row.yaml"]
    assert cli_main(["params", "--check", "--root", str(tmp_path)]) == 1
    assert "out of date: ibm/not-a-row.yaml" in capsys.readouterr().out
