"""The Jupyter Book builds from the committed records, offline, with warnings and broken references as errors.

The chapters are executed (through the report library) as part of the build; the runs' notebooks are shown as
they are. A second build with nothing changed must read, and so execute, nothing. The browser check (headless
Chromium: pages load, tables render, figures decode) is slow and needs Chromium: it is marked `slow` and skips
without it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CHAPTERS = ("intro", "zoo", "ibm", "proxy", "speed", "full_scale", "provenance", "runs")


def _jupyter_book() -> str:
    exe = BIN / "jupyter-book"
    if not exe.exists():
        pytest.skip("jupyter-book is not installed in this environment")
    return str(exe)


def _build(out: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore", "MPLBACKEND": "Agg"}
    env.pop("ACTIONBOOK_BOOK", None)
    return subprocess.run([_jupyter_book(), "build", str(PROJECT), "-W", "-n", "--keep-going", "--path-output",
                           str(out)], cwd=PROJECT, capture_output=True, text=True, env=env, timeout=900)


def _fingerprint() -> str:
    sys.path.insert(0, str(PROJECT / "book" / "_ext"))
    try:
        import actionbook_deps
    finally:
        sys.path.pop(0)
    return actionbook_deps.fingerprint(PROJECT, actionbook_deps.DEFAULT_WATCH)


@pytest.fixture(scope="module")
def fingerprint_before_build() -> str:
    return _fingerprint()


@pytest.fixture(scope="module")
def built(tmp_path_factory, fingerprint_before_build) -> Path:
    out = tmp_path_factory.mktemp("book")
    result = _build(out)
    log = result.stdout[-6000:] + result.stderr[-4000:]
    assert result.returncode == 0, f"jupyter-book build failed (warnings are errors):\n{log}"
    return out


@pytest.mark.timeout(900)
def test_book_builds_without_warnings(built):
    html = built / "_build" / "html"
    for chapter in CHAPTERS:
        page = html / "book" / f"{chapter}.html"
        assert page.is_file(), f"{chapter} was not built"
    ibm = (html / "book" / "ibm.html").read_text()
    assert ibm.count("<table") >= 3, "the IBM chapter lost its tables"
    assert ibm.count("<img") >= 2, "the IBM chapter lost its figures"
    zoo = (html / "book" / "zoo.html").read_text()
    assert "✓" in zoo and "conv MACs" in zoo
    for img in (html / "_images").glob("*.png"):
        assert img.stat().st_size > 1000, f"{img.name} is (nearly) empty"
    # nothing of the runs folder's scratch, the data or the virtual environment was read
    assert not (html / ".venv").exists() and not (html / "data").exists() and not (html / "lib").exists()


@pytest.mark.timeout(900)
def test_rebuild_with_nothing_changed_executes_nothing(fingerprint_before_build, built):
    result = _build(built)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    if _fingerprint() != fingerprint_before_build:
        pytest.skip("records, params or library changed while the book was building (a shared checkout)")
    assert "Executed notebook" not in result.stdout + result.stderr, "an unchanged book was executed again"


def test_book_static_links(built):
    sys.path.insert(0, str(PROJECT / "book"))
    try:
        import check_pages
    finally:
        sys.path.pop(0)
    problems, summary = check_pages.static_check(built / "_build" / "html")
    assert not problems, "\n".join(problems)
    assert summary["book/ibm"]["images"] >= 2


def test_what_a_reader_must_trust(built):
    """No page puts a proxy or synthetic number under "reproduced"; every chapter's figure has a caption and an
    alt text; every chapter links at least one source."""
    sys.path.insert(0, str(PROJECT / "book"))
    try:
        import check_pages
    finally:
        sys.path.pop(0)
    problems = check_pages.trust_check(built / "_build" / "html")
    assert not problems, "\n".join(problems)


def test_trust_check_catches_a_proxy_number_labelled_reproduced(tmp_path):
    sys.path.insert(0, str(PROJECT / "book"))
    try:
        import check_pages
    finally:
        sys.path.pop(0)
    page = tmp_path / "book" / "ibm.html"
    page.parent.mkdir()
    page.write_text("<article><table><tr><th>Row</th><th>Reproduced top-1</th></tr>"
                    "<tr><td>proxy run on synth-kinetics</td><td>44.00</td></tr></table>"
                    "<figure><img src='_images/abc.png' alt='abc.png'></figure></article>")
    problems = check_pages.trust_check(tmp_path)
    assert any("under 'Reproduced top-1'" in p for p in problems)
    assert any("no caption" in p for p in problems) and any("no alt text" in p for p in problems)
    assert any("links no source" in p for p in problems)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_pages_render_in_chromium(built, tmp_path):
    if not any(shutil.which(c) for c in ("chromium", "chromium-browser", "google-chrome")):
        pytest.skip("no Chromium (apt-get install chromium)")
    result = subprocess.run([sys.executable, str(PROJECT / "book" / "check_pages.py"),
                             str(built / "_build" / "html"), "--shots", str(tmp_path / "shots")],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout + result.stderr
    assert len(list((tmp_path / "shots").glob("*.png"))) >= 6
