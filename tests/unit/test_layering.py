"""Layering: `layers/` and `analysis/` never import `app/`, and no import cycle joins the project's modules.

The import graph is built statically from the source (ast), so a lazy import inside a function or an
`if TYPE_CHECKING:` block counts as much as one at the top of a module.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("app", "analysis", "layers")
BELOW_APP = ("analysis", "layers")


@dataclass(frozen=True)
class Import:
    """One import statement's target, as written (absolute), and where it was written."""

    target: str
    line: int
    names: tuple[str, ...] = ()
    """For `from target import a, b`: the names, each a submodule or an attribute of `target`."""


def module_files(root: Path, packages: tuple[str, ...]) -> dict[str, Path]:
    """Every module of the packages by dotted name (`a.b` for a/b.py and for a/b/__init__.py)."""
    found: dict[str, Path] = {}
    for package in packages:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    """The absolute name of a `from <level dots><name> import …` written in `module`."""
    if level == 0:
        return name or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def imports_of(module: str, path: Path) -> Iterator[Import]:
    """Every import anywhere in a module's body, relative ones made absolute.

    A string literal passed to `importlib.import_module` or `__import__` counts too.
    """
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node.level, node.module)
            yield Import(base, node.lineno, tuple(a.name for a in node.names if a.name != "*"))
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            first = node.args[0]
            if called in ("import_module", "__import__") and isinstance(first, ast.Constant):
                if isinstance(first.value, str):
                    yield Import(first.value, node.lineno)


def _resolve(target: str, modules: dict[str, Path]) -> str | None:
    """The project module a target names: itself, or its longest known prefix (`p.f` → `p`)."""
    parts = target.split(".")
    while parts:
        name = ".".join(parts)
        if name in modules:
            return name
        parts.pop()
    return None


def _targets(found: Import, modules: dict[str, Path]) -> Iterator[str | None]:
    """The project modules one import names: `from p import m` names the submodule `p.m`,
    `from p import attribute` (or `import p.m.attribute`-like names) the module `p`.

    The packages a dotted import initialises on the way (`p` for `import p.m`) are not edges:
    counting them would turn every package that re-exports its own submodules into a cycle.
    """
    if not found.names:
        yield _resolve(found.target, modules)
    for name in found.names:
        submodule = f"{found.target}.{name}"
        yield submodule if submodule in modules else _resolve(found.target, modules)


def import_graph(root: Path, packages: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """Module → {imported project module: first line importing it}."""
    modules = module_files(root, packages)
    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        edges = graph.setdefault(module, {})
        for found in imports_of(module, path):
            for target in _targets(found, modules):
                if target is not None and target != module:
                    edges.setdefault(target, found.line)
    return graph


def app_imports_below_app(root: Path) -> list[str]:
    """`file:line imports name` for every import of `app` written in `layers/` or `analysis/`."""
    modules = module_files(root, BELOW_APP)
    wrong = []
    for module, path in modules.items():
        for found in imports_of(module, path):
            if found.target == "app" or found.target.startswith("app."):
                wrong.append(f"{path.relative_to(root)}:{found.line} imports {found.target}")
    return sorted(set(wrong))


def cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """One concrete cycle (a → … → a) in each strongly connected group of modules (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return [_cycle_in(group, graph) for group in groups]


def _cycle_in(group: set[str], graph: dict[str, dict[str, int]]) -> list[str]:
    """A shortest path from the group's first module back to itself, inside the group (breadth first)."""
    start = min(group)
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt in sorted(graph[node]):
                if nxt == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*reversed(path), start]
                if nxt in group and nxt not in came_from:
                    came_from[nxt] = node
                    following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle in strongly connected group {sorted(group)}")


def _describe(cycle: list[str], graph: dict[str, dict[str, int]]) -> str:
    steps = [f"{a} (line {graph[a][b]}) → {b}" for a, b in pairwise(cycle)]
    return "cycle: " + "; ".join(steps)


def test_layers_and_analysis_do_not_import_app() -> None:
    wrong = app_imports_below_app(ROOT)
    assert not wrong, "layers/ and analysis/ must not import app/:\n" + "\n".join(wrong)


def test_no_import_cycle() -> None:
    graph = import_graph(ROOT, PACKAGES)
    assert len(graph) > 100  # the walk saw the project, not an empty folder
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(_describe(c, graph) for c in found)


# The checks themselves, on a small made-up tree with known answers.


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_checker_finds_app_imports_however_written(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "app/__init__.py": "",
            "app/settings.py": "class Settings: ...\n",
            "layers/__init__.py": "",
            "layers/top.py": "from app.settings import Settings\n",
            "layers/lazy.py": "def f():\n    import app.settings\n",
            "layers/typing_only.py": "import typing\nif typing.TYPE_CHECKING:\n    from app import x\n",
            "analysis/__init__.py": "",
            "analysis/dynamic.py": "import importlib\nimportlib.import_module('app.settings')\n",
            "analysis/fine.py": "from layers import top\nimport apple\n",
        },
    )
    assert app_imports_below_app(root) == [
        "analysis/dynamic.py:2 imports app.settings",
        "layers/lazy.py:2 imports app.settings",
        "layers/top.py:1 imports app.settings",
        "layers/typing_only.py:3 imports app",
    ]


def test_checker_resolves_relative_and_submodule_imports(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "layers/__init__.py": "",
            "layers/store/__init__.py": "from . import versions\n",
            "layers/store/versions.py": "from ..ingest.load import f\nfrom .payload import g\n",
            "layers/store/payload.py": "import numpy\nfrom layers import ingest\n",
            "layers/ingest/__init__.py": "",
            "layers/ingest/load.py": "def f():\n    from layers.store import payload, VERSION\n",
        },
    )
    graph = import_graph(root, ("layers",))
    assert graph == {
        "layers": {},
        "layers.store": {"layers.store.versions": 1},
        "layers.store.versions": {"layers.ingest.load": 1, "layers.store.payload": 2},
        "layers.store.payload": {"layers.ingest": 2},
        "layers.ingest": {},
        "layers.ingest.load": {"layers.store.payload": 2, "layers.store": 2},
    }
    cycle = ["layers.ingest.load", "layers.store", "layers.store.versions", "layers.ingest.load"]
    assert cycles(graph) == [cycle]


def test_checker_finds_a_lazy_cycle_and_none_without_it(tmp_path: Path) -> None:
    files = {
        "analysis/__init__.py": "",
        "analysis/a.py": "from analysis.b import B\n",
        "analysis/b.py": "B = 1\n",
        "analysis/c.py": "import analysis.a\n",
    }
    assert cycles(import_graph(_tree(tmp_path / "no", files), ("analysis",))) == []
    files["analysis/b.py"] = "def f():\n    from analysis import c\n"
    graph = import_graph(_tree(tmp_path / "yes", files), ("analysis",))
    assert cycles(graph) == [["analysis.a", "analysis.b", "analysis.c", "analysis.a"]]
    assert _describe(cycles(graph)[0], graph) == (
        "cycle: analysis.a (line 1) → analysis.b; analysis.b (line 2) → analysis.c; "
        "analysis.c (line 1) → analysis.a"
    )
