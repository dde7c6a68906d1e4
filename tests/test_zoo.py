"""Both published tables' parameter counts and FLOPs, recomputed: exact for every IBM row, to the published
precision for MMAction2."""

import json
import re

import pytest

from actionbook.cli import main as cli_main
from actionbook.studies.ibm.published import ibm_rows
from actionbook.studies.tables import published_text
from actionbook.studies.zoo.counts import ibm_zoo, mmaction_zoo

SEED_IBM = "000_0607b110460c1036.txt"


def _seed_rows(path):
    """The seed table, read here independently of the library's parser."""
    rows = {}
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 6 and re.fullmatch(r"[\d,]+", cells[4] or "x") and cells[0] != "Model Name":
            rows[cells[0]] = (int(cells[4].replace(",", "")), int(cells[3].replace(",", "")))
    return rows


def test_vendored_tables_are_the_seeds(shared_seeds):
    assert published_text("actionbook.studies.ibm") == (shared_seeds / SEED_IBM).read_text()
    assert published_text("actionbook.studies.mmaction") == (shared_seeds / "002_c3e26929e4da7147.txt").read_text()


def test_every_ibm_row_is_exact(shared_seeds):
    seed = _seed_rows(shared_seeds / SEED_IBM)
    assert len(seed) == 28
    counted = {r["row"]: (r["params"], r["conv_macs"]) for r in ibm_zoo(list(seed))}
    assert counted == seed


@pytest.mark.parametrize("row, params, conv_macs", [
    # rows the authors published outside the seed table, checked against the spec's closed forms (section 8b)
    ("mini_kinetics400-resnet-18-f8-cosine-bs72-e100", 11_176_512 + 513 * 200, 14_508_490_752),
    ("moments-TAM-b3-sum-resnet-101-tp-f16", 42_591_744 + 2049 * 339, 43_315_937_280),
    ("mini_st2stv2-s3d-resnet-152-ts-f8", 68_053_824 + 2049 * 87, 39_196_688_384),
    ("kinetics400-i3d-resnet-34-f16-multisteps-syncbn-bs36-e45", 63_475_904 + 513 * 400, 175_219_408_896),
    ("mini_moments-s3d-dw-t-conv-tp-max-f16", 5_638_304 + 1025 * 200, 16_861_425_280),
    ("st2stv2-TAM-b5-sum-inception-v1-f8", 5_628_944 + 1025 * 174, 12_092_466_176),
    ("kinetics400-TAM-b3-sum-allc-resnet-50-tp-f8", 71_296_064 + 2049 * 400, 43_422_711_808),
    ("st2stv2-i3d-f8", 12_287_264 + 1025 * 174, 4_225_822_720 * 8),
])
def test_rows_beyond_the_table_via_cli(capsys, row, params, conv_macs):
    assert cli_main(["zoo", "--json", row]) == 0
    (out,) = json.loads(capsys.readouterr().out)
    assert (out["row"], out["params"], out["conv_macs"]) == (row, params, conv_macs)
    assert out["fvcore_flops"] > out["conv_macs"]


@pytest.mark.parametrize("row, fvcore_total", [
    # the spec's fvcore totals (section 9), which add BN, the FC and 2D adaptive pooling to the conv MACs
    ("st2stv2-TAM-b3-sum-resnet-50-f16-cosine-bs48-e75", 66_026_881_024),
    ("kinetics400-i3d-tp-max-f16-cosine-bs72-e100", 42_893_744_576),
    ("kinetics400-s3d-resnet-50-tp-f16-cosine-bs66-e100", 39_621_511_168),
    ("st2stv2-inception-v1-f64-multisteps-syncbn-bs36-e35", 96_258_103_296),
])
def test_fvcore_totals_match_the_spec(row, fvcore_total):
    (out,) = ibm_zoo([row])
    assert out["fvcore_flops"] == fvcore_total


def test_mmaction_table_params_and_flops():
    rows = {r["setting"]: r for r in mmaction_zoo()}
    documented = {
        "tsn_r50_1x1x3_100e_kinetics400_rgb": (24_327_632, "103.0G"),
        "tsm_r50_1x1x8_50e_kinetics400_rgb": (24_327_632, "32.97G"),
        "i3d_r50_32x2x1_100e_kinetics400_rgb": (28_043_472, "43.56G"),
        "slowonly_r50_video_4x16x1_256e_kinetics400_rgb": (32_454_096, "27.43G"),
        "slowonly_r50_video_8x8x1_256e_kinetics400_rgb": (32_454_096, "54.86G"),
        "slowfast_r50_video_4x16x1_256e_kinetics400_rgb": (34_479_288, "36.44G"),
        "slowfast_r50_video_8x8x1_256e_kinetics400_rgb": (34_565_560, "66.22G"),
        "r2plus1d_r34_8x8x1_180e_kinetics400_rgb": (63_759_281, "53.18G"),
        "r2plus1d_r34_32x2x1_180e_kinetics400_rgb": (63_759_281, "212.7G"),
    }
    for setting, (params, flops) in documented.items():
        row = rows[setting]
        assert row["params"] == params, setting
        digits = flops.rstrip("G")  # to the README's precision ...
        assert f"{row['mmaction_flops'] / 1e9:.{len(digits.split('.')[1])}f}" == digits, (setting, row)
        assert row["flops_match"], setting  # ... and exactly the 0.x metafile's integer
    heavy = rows["i3d_r50_video_heavy_8x8x1_100e_kinetics400_rgb"]
    assert round(heavy["params"] / 1e6, 1) == 33.0


def test_zoo_table_prints_every_row(capsys):
    assert cli_main(["zoo"]) == 0
    out = capsys.readouterr().out
    assert out.count(" yes") == len(ibm_rows()) and " NO" not in out


def test_zoo_mmaction_table_prints_every_setting(capsys):
    assert cli_main(["zoo", "--table", "mmaction"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1 + len(mmaction_zoo()) and not any(" NO " in line for line in lines)
    assert "tsn_r50_1x1x3_100e_kinetics400_rgb                   24,327,632          103.00G    103.00G yes" in lines[1]
