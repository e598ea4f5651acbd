"""The code's layout, as docs/ARCHITECTURE.md describes it: data flows entrypoints/ -> runtime/ -> envs/, with no
import cycle, no module over 400 lines, every package declared in setup.cfg, and thin entry points."""

from __future__ import annotations

import ast
import configparser
import sys
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parents[2]
TREES = ("runtime", "envs", "entrypoints", "sagemaker_rl")
MAX_LINES = 400
ENTRYPOINT_IMPORTS = {"runtime.cli", "runtime.container"}
"""The only first-party modules an entry point may import: everything else belongs in runtime/."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for tree in TREES for p in sorted((ROOT / tree).rglob("*.py"))}


def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _top_level(body: list[ast.stmt]) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports a module runs when it is imported: not those inside functions or under ``if TYPE_CHECKING``."""
    for node in body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                yield from _top_level(node.body)
            yield from _top_level(node.orelse)
        elif isinstance(node, ast.Try):
            for block in (node.body, node.orelse, node.finalbody, *[h.body for h in node.handlers]):
                yield from _top_level(block)
        elif isinstance(node, (ast.With, ast.ClassDef)):
            yield from _top_level(node.body)


def _all_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node


def _imported_names(node: ast.Import | ast.ImportFrom, module: str, is_package: bool) -> list[str]:
    """Dotted names an import statement brings in: ``import a.b`` -> a.b; ``from a import b`` -> a.b (a module or a
    name in a), resolved for relative imports."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join([*package, base] if base else package)
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The first-party module ``name`` means: itself, else its longest prefix that is a module (a name in it)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in modules:
            return candidate
    return None


def _import_graph() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for node in _top_level(_parse(path).body):
            names = _imported_names(node, name, path.name == "__init__.py")
            if isinstance(node, ast.ImportFrom):
                # ``from a import b``: an edge to a.b where b is a module, else to a
                *members, base = names
                targets = [m if m in modules else base for m in members]
            else:
                targets = names
            edges.update(t for t in (_resolve(n, modules) for n in targets) if t and t != name)
        graph[name] = edges
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (as a path that returns to its start), or None; an iterative depth-first search."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    for start in sorted(graph):
        if start in state:
            continue
        path = [start]
        stack = [iter(sorted(graph[start]))]
        state[start] = 1
        while stack:
            nxt = next(stack[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif nxt not in state:
                state[nxt] = 1
                path.append(nxt)
                stack.append(iter(sorted(graph.get(nxt, ()))))
    return None


def test_the_cycle_finder_finds_a_cycle_and_only_a_cycle() -> None:
    assert _find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert _find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_the_import_graph_sees_the_imports() -> None:
    graph = _import_graph()
    assert "runtime.cli" in graph["entrypoints.train"]
    assert "envs.deepracer.settings" in graph["envs.deepracer.env"]


def test_no_module_level_import_cycle() -> None:
    cycle = _find_cycle(_import_graph())
    assert cycle is None, "module-level import cycle: " + " -> ".join(cycle or [])


def test_every_package_is_declared_in_setup_cfg() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    declared = set(config["options"]["packages"].split())
    mapped = {line.split("=")[0].strip() for line in config["options"]["package_dir"].strip().splitlines()}
    found = {_module_name(init) for tree in ("runtime", "envs", "sagemaker_rl") for init in (ROOT / tree).rglob("__init__.py")
             if "for_" not in init.parent.relative_to(ROOT).as_posix()}  # compatibility modules: package data
    assert not found - declared, f"packages missing from setup.cfg's [options] packages: {sorted(found - declared)}"
    stale = {p for p in declared - found - mapped if not (ROOT / p.replace(".", "/")).is_dir()}
    assert not stale, f"setup.cfg names packages that do not exist: {sorted(stale)}"


def test_no_module_is_over_400_lines() -> None:
    long = {str(p.relative_to(ROOT)): n for p in _modules().values()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split them into cohesive modules): {long}"


def test_envs_never_import_runtime() -> None:
    offenders = []
    for name, path in _modules().items():
        if not name.startswith("envs"):
            continue
        for node in _all_imports(_parse(path)):  # anywhere, functions included
            for imported in _imported_names(node, name, path.name == "__init__.py"):
                if imported == "runtime" or imported.startswith("runtime."):
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {imported}")
    assert not offenders, "envs/ knows nothing of runtime/: " + "; ".join(sorted(set(offenders)))


def test_entry_points_are_thin() -> None:
    modules = _modules()
    offenders = []
    for name, path in modules.items():
        if not name.startswith("entrypoints."):
            continue
        for node in _all_imports(_parse(path)):
            if isinstance(node, ast.ImportFrom):
                imported = [node.module or ""] if not node.level else ["<relative>"]
            else:
                imported = [alias.name for alias in node.names]
            for module in imported:
                if module.split(".")[0] in sys.stdlib_module_names or module in ENTRYPOINT_IMPORTS:
                    continue
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {module}")
    assert not offenders, f"entry points import only {sorted(ENTRYPOINT_IMPORTS)} (and the standard library): " + \
        "; ".join(offenders)
