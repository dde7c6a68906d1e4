"""The house's rules, checked on the source (ARCHITECTURE.md): floors are imported only downwards, the core knows
no paper, the package's own imports sit at the top of modules, and no module grows past 500 lines."""

import ast
from pathlib import Path

import pytest

import actionbook

PACKAGE = Path(actionbook.__file__).parent
# lower number = lower floor; a module may import its own floor and the floors below it
FLOORS = {"errors": 0, "openmp": 0, "paths": 0, "runs": 0, "data": 1, "models": 1, "measure": 2, "convert": 2,
          "experiment": 3, "plan": 4, "train": 5, "runner": 6, "report": 7, "studies": 8, "live": 9, "notebook": 9,
          "cli": 9, "compare": 9, "gpu_check": 9}
CORE = max(FLOORS["runner"], FLOORS["train"])
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def _rel(path: Path) -> str:
    return path.relative_to(PACKAGE).as_posix()


def _component(dotted: str) -> str:
    """`actionbook.studies.ibm.rows` -> `studies`; `actionbook` itself -> ``."""
    parts = dotted.split(".")
    return parts[1] if len(parts) > 1 else ""


def _package_imports(path: Path) -> list[tuple[str, ast.AST, bool]]:
    """(imported actionbook module, node, at module level?) for every import of the package in `path`."""
    tree = ast.parse(path.read_text())
    module = ".".join(["actionbook", *path.relative_to(PACKAGE).with_suffix("").parts])
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    top_level = {id(node) for node in tree.body}
    found = []
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[:len(package.split(".")) - node.level + 1] + ([base] if base
                                                                                                  else []))
            names = [f"{base}.{a.name}" if base == "actionbook" else base for a in node.names]
        for name in names:
            if name == "actionbook" or name.startswith("actionbook."):
                found.append((name, node, id(node) in top_level))
    return found


def test_every_top_level_module_has_a_floor():
    components = {_rel(p).split("/")[0].removesuffix(".py") for p in MODULES} - {"__init__"}
    assert components <= set(FLOORS), sorted(components - set(FLOORS))


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_imports_run_down_the_floors_only(path):
    source = _rel(path).split("/")[0].removesuffix(".py")
    floor = FLOORS.get(source, 0)
    for name, node, _ in _package_imports(path):
        target = _component(name)
        if target in FLOORS:
            assert FLOORS[target] <= floor, f"{_rel(path)}:{node.lineno} imports {name} from a higher floor"


@pytest.mark.parametrize("path", [p for p in MODULES if FLOORS.get(_rel(p).split("/")[0].removesuffix(".py"), 0)
                                  <= CORE], ids=_rel)
def test_the_core_knows_no_paper(path):
    for name, node, _ in _package_imports(path):
        assert _component(name) not in ("report", "studies"), f"{_rel(path)}:{node.lineno} imports {name}"


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_the_package_is_imported_at_the_top_of_modules(path):
    inside = [f"{_rel(path)}:{node.lineno} {name}" for name, node, top in _package_imports(path) if not top]
    assert not inside, inside


@pytest.mark.parametrize("path", MODULES, ids=_rel)
def test_no_module_over_500_lines(path):
    assert len(path.read_text().splitlines()) <= 500
