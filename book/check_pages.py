"""Check the built book in a real browser: every page loads, its tables are there and its figures decode.

    python book/check_pages.py [_build/html] [--shots /tmp/book-shots] [--chromium chromium]

Two passes:

1. Static (Python): every page of the table of contents exists; every internal link and image of every built page
   points at a file that exists; the main pages hold at least the tables and figures they are meant to; and what a
   reader must trust (`trust_check`): no proxy number labelled reproduced, captions and alt texts, sources linked.
2. Browser (headless Chromium, offline): a harness page loads each page in an iframe and reports, after the page's
   scripts ran, its title, the rendered tables (with rows), and each image's decoded size (a figure that did not
   decode has width 0). With --shots, a screenshot of each main page is saved as PNG.

Exit status 0 when everything holds, 1 with a list of problems otherwise, 2 when Chromium is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urldefrag

# page -> (minimum tables, minimum figures) that the chapter always shows, records or not
MAIN_PAGES = {
    "book/intro": (1, 0),
    "book/zoo": (3, 0),
    "book/ibm": (3, 2),
    "book/proxy": (0, 0),
    "book/speed": (1, 1),
    "book/full_scale": (1, 1),
    "book/provenance": (1, 0),
    "book/runs": (0, 0),
}
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-extensions", "--hide-scrollbars", "--mute-audio"]


def find_chromium(name: str | None = None) -> str | None:
    for candidate in ([name] if name else ["chromium", "chromium-browser", "google-chrome", "chrome"]):
        path = shutil.which(candidate) if candidate else None
        if path:
            return path
    return None


class _Links(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.images: list[str] = []
        self.tables = 0
        self.title = ""
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        elif tag == "img" and attrs.get("src"):
            self.images.append(attrs["src"])
        elif tag == "table":
            self.tables += 1
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data


def _local_target(page: Path, url: str, root: Path) -> Path | None:
    """The file an internal link or image points at, or None for external/anchor-only/data URLs."""
    url, _ = urldefrag(url)
    if not url or re.match(r"^[a-z][a-z0-9+.-]*:", url, re.I) or url.startswith("//"):
        return None
    url = unquote(url.split("?")[0])
    target = (root / url.lstrip("/")) if url.startswith("/") else (page.parent / url)
    return target.resolve()


def static_check(root: Path) -> tuple[list[str], dict]:
    problems, summary = [], {}
    pages = sorted(root.rglob("*.html"))
    if not pages:
        return [f"no HTML pages under {root}"], summary
    for page in pages:
        rel = page.relative_to(root).as_posix()
        if rel.startswith(("_static/", "_sources/", "_images/", "reports/")) or rel in ("genindex.html",
                                                                                        "search.html"):
            continue
        parser = _Links()
        parser.feed(page.read_text(errors="replace"))
        for url in parser.links + parser.images:
            target = _local_target(page, url, root)
            if target is not None and not target.exists():
                problems.append(f"{rel}: broken {'image' if url in parser.images else 'link'} {url}")
        for src in parser.images:
            target = _local_target(page, src, root)
            if target is not None and target.exists() and target.stat().st_size == 0:
                problems.append(f"{rel}: empty image {src}")
        summary[rel[:-5]] = {"tables": parser.tables, "images": len(parser.images), "title": parser.title.strip()}
    for name, (tables, images) in MAIN_PAGES.items():
        got = summary.get(name)
        if got is None:
            problems.append(f"{name}.html: missing")
            continue
        if got["tables"] < tables:
            problems.append(f"{name}.html: {got['tables']} table(s), expected at least {tables}")
        if got["images"] < images:
            problems.append(f"{name}.html: {got['images']} figure(s), expected at least {images}")
    return problems, summary


# The chapters (the report part of the table of contents): each links at least one source.
CHAPTERS = ("book/intro", "book/zoo", "book/ibm", "book/proxy", "book/speed", "book/full_scale", "book/provenance")
SOURCE_HOSTS = ("arxiv.org", "github.com", "openaccess.thecvf.com", "mmaction2.readthedocs.io")
_HASH_ALT = re.compile(r"^[0-9a-f]{32,}(\.\w+)?$")


def _cells(row) -> list[str]:
    return [c.get_text(" ", strip=True) for c in row.find_all(["td", "th"])]


def trust_check(root: Path) -> list[str]:
    """What a reader must be able to trust on every built page: no proxy or synthetic number in a column or cell
    labelled reproduced; every figure of a chapter with a caption and a real alt text (not the image's hash);
    every chapter linking at least one source (the paper, a repository, MMAction2's pages)."""
    from bs4 import BeautifulSoup  # the theme's dependency: present wherever the book builds

    problems = []
    for page in sorted(root.joinpath("book").rglob("*.html")):
        rel = page.relative_to(root).with_suffix("").as_posix()
        soup = BeautifulSoup(page.read_text(errors="replace"), "html.parser")
        article = soup.select_one("article") or soup
        synthetic_page = "synth-" in article.get_text(" ")
        for table in article.find_all("table"):
            rows = table.find_all("tr")
            header = _cells(rows[0]) if rows else []
            columns = [i for i, h in enumerate(header) if "reproduced" in h.lower()]
            for row in rows[1:]:
                cells = _cells(row)
                synthetic = synthetic_page and rel.startswith("book/runs/") or any(
                    w in " ".join(cells).lower() for w in ("synth", "proxy"))
                for i in columns:
                    if synthetic and i < len(cells) and re.search(r"\d", cells[i]):
                        problems.append(f"{rel}.html: a proxy/synthetic number {cells[i]!r} under {header[i]!r}")
        if rel not in CHAPTERS:
            continue
        for img in article.find_all("img"):
            figure = img.find_parent("figure")
            alt = (img.get("alt") or "").strip()
            name = Path(img.get("src") or "").name
            if figure is None or figure.find("figcaption") is None:
                problems.append(f"{rel}.html: figure {name} has no caption")
            if not alt or alt == name or _HASH_ALT.match(alt) or alt in (img.get("src") or ""):
                problems.append(f"{rel}.html: figure {name} has no alt text (alt={alt!r})")
        links = [a.get("href") or "" for a in article.find_all("a")]
        if not any(host in link for link in links for host in SOURCE_HOSTS):
            problems.append(f"{rel}.html: links no source (the paper, a repository, MMAction2's pages)")
    return problems


HARNESS = """<!doctype html><html><head><meta charset="utf-8"><title>book check</title></head><body>
<pre id="result">pending</pre>
<script>
const pages = %(pages)s;
const results = {};
function inspect(name, doc) {
  const imgs = Array.from(doc.querySelectorAll("article img, .bd-article img"));
  const tables = Array.from(doc.querySelectorAll("article table, .bd-article table"));
  return {
    title: doc.title,
    h1: (doc.querySelector("h1") || {}).textContent || "",
    tables: tables.length,
    table_rows: tables.map(t => t.querySelectorAll("tbody tr").length),
    images: imgs.map(i => ({src: i.getAttribute("src"), complete: i.complete, width: i.naturalWidth,
                            height: i.naturalHeight})),
    badges: doc.querySelectorAll(".sd-badge").length,
    errors: Array.from(doc.querySelectorAll(".system-message, .problematic")).map(e => e.textContent.slice(0, 200)),
    text_length: ((doc.querySelector(".bd-article") || doc.body || {}).innerText || "").length,
  };
}
function load(i) {
  if (i >= pages.length) {
    document.getElementById("result").textContent = JSON.stringify(results);
    return;
  }
  const frame = document.createElement("iframe");
  frame.style.width = "1280px"; frame.style.height = "2000px";
  let done = false;
  const finish = (value) => { if (done) return; done = true; results[pages[i]] = value; frame.remove();
                              load(i + 1); };
  frame.onload = () => {
    const doc = frame.contentDocument;
    if (!doc) { finish({error: "no access to the page's document"}); return; }
    const imgs = Array.from(doc.images);
    Promise.all(imgs.map(im => im.complete ? Promise.resolve() :
        new Promise(r => { im.onload = r; im.onerror = r; })))
      .then(() => setTimeout(() => finish(inspect(pages[i], doc)), 50));
  };
  setTimeout(() => finish({error: "timed out loading"}), 20000);
  frame.src = pages[i] + ".html";
  document.body.appendChild(frame);
}
load(0);
</script></body></html>"""


def _chromium(chromium: str, args: list[str], timeout: int = 180) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="book-check-") as profile:
        return subprocess.run([chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout)


def browser_check(root: Path, chromium: str, pages: list[str]) -> tuple[list[str], dict]:
    harness = root / "_book_check.html"
    harness.write_text(HARNESS % {"pages": json.dumps(pages)})
    try:
        out = _chromium(chromium, ["--allow-file-access-from-files", "--virtual-time-budget=60000",
                                   "--dump-dom", harness.as_uri()], timeout=300)
    finally:
        harness.unlink(missing_ok=True)
    match = re.search(r'<pre id="result">(.*?)</pre>', out.stdout, re.S)
    if not match or match.group(1).strip() == "pending":
        return [f"the browser reported nothing (exit {out.returncode}): {out.stderr.strip()[-400:]}"], {}
    import html

    results = json.loads(html.unescape(match.group(1)))
    problems = []
    for name in pages:
        r = results.get(name)
        if r is None or "error" in r:
            problems.append(f"{name}: {r.get('error') if r else 'not loaded'}")
            continue
        if not r["h1"].strip():
            problems.append(f"{name}: no heading rendered")
        for img in r["images"]:
            if not img["complete"] or img["width"] == 0:
                problems.append(f"{name}: figure {img['src']} did not decode")
        for rows, i in zip(r["table_rows"], range(len(r["table_rows"]))):
            if rows == 0:
                problems.append(f"{name}: table {i + 1} has no rows")
        for err in r["errors"]:
            problems.append(f"{name}: rendered error message: {err}")
        want_tables, want_images = MAIN_PAGES.get(name, (0, 0))
        if r["tables"] < want_tables:
            problems.append(f"{name}: {r['tables']} table(s) rendered, expected at least {want_tables}")
        if sum(1 for i in r["images"] if i["width"] > 0) < want_images:
            problems.append(f"{name}: fewer than {want_images} figure(s) rendered")
    return problems, results


def screenshots(root: Path, chromium: str, pages: list[str], folder: Path, height: int = 2000) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    shots = []
    for name in pages:
        path = folder / (name.replace("/", "_") + ".png")
        _chromium(chromium, [f"--screenshot={path}", f"--window-size=1280,{height}",
                             (root / f"{name}.html").as_uri()], timeout=120)
        if path.is_file():
            shots.append(path)
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("html", nargs="?", default="_build/html", help="the built book (default _build/html)")
    parser.add_argument("--chromium", help="browser executable (default: chromium, chromium-browser, chrome)")
    parser.add_argument("--shots", help="save a screenshot of each main page into this folder")
    parser.add_argument("--shot-height", type=int, default=2000)
    parser.add_argument("--static-only", action="store_true", help="skip the browser")
    parser.add_argument("--json", action="store_true", help="print the per-page findings as JSON")
    args = parser.parse_args(argv)
    root = Path(args.html).resolve()
    problems, summary = static_check(root)
    problems += trust_check(root)
    report: dict = {"static": summary}
    if not args.static_only:
        chromium = find_chromium(args.chromium)
        if chromium is None:
            print("check_pages: no Chromium found (apt-get install chromium)", file=sys.stderr)
            return 2
        pages = list(MAIN_PAGES) + sorted(p for p in summary if p.startswith(("book/runs/", "book/records/")))
        browser_problems, results = browser_check(root, chromium, pages)
        problems += browser_problems
        report["browser"] = results
        if args.shots:
            report["shots"] = [str(p) for p in screenshots(root, chromium, list(MAIN_PAGES), Path(args.shots),
                                                           args.shot_height)]
    if args.json:
        print(json.dumps(report, indent=1))
    checked = len(report.get("browser", summary))
    if problems:
        print(f"check_pages: {len(problems)} problem(s) in {root}:", file=sys.stderr)
        for p in problems:
            print(f"  - {p}", file=sys.stderr)
        return 1
    print(f"check_pages: {checked} page(s) fine in {root}"
          + (f"; screenshots in {args.shots}" if args.shots else ""))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("LANG", "C.UTF-8")
    sys.exit(main())
