"""The code's layout, as docs/ARCHITECTURE.md describes it: modules stand on floors (:data:`FLOORS`) and import only
from their own floor or the ones below, with no import cycle (the graph includes imports inside functions and under
``if TYPE_CHECKING``); a function imports only a heavy third-party library (:data:`HEAVY`); no module is over 400
lines; every package is declared in setup.cfg; no family imports Ray, no backend a family; entry points are thin."""

from __future__ import annotations

import ast
import configparser
import re
import sys
from pathlib import Path
from typing import Callable, Iterable, Iterator

ROOT = Path(__file__).resolve().parents[2]
TREES = ("runtime", "envs", "entrypoints", "sagemaker_rl")
MAX_LINES = 400
ENTRYPOINT_IMPORTS = {"runtime.cli", "runtime.container"}
"""The only first-party modules an entry point may import: everything else belongs in runtime/."""

FLOORS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("environments", ("envs",)),
    (
        "base",
        (
            "runtime",
            "runtime.names",
            "runtime.errors",
            "runtime.timings",
            "runtime.metric_lines",
            "runtime.log_lines",
            "runtime.collector",
            "runtime.paths",
            "runtime.stop_signals",
            "runtime.streams",
            "runtime.arguments",
            "runtime.user_code",
        ),
    ),
    (
        "services",
        (
            "runtime.config",
            "runtime.job",
            "runtime.train.checkpoints",
            "runtime.train.manifest",
            "runtime.train.reporting",
            "runtime.train.tracking",
            "runtime.train.progress",
            "runtime.train.curve",
            "runtime.export",
            "runtime.evaluate",
            "runtime.serving",
            "runtime.offline",
            "runtime.cluster",
            "runtime.runs",
            "sagemaker_rl.compat",
            "sagemaker_rl.user_envs",
            "sagemaker_rl.experiment",
        ),
    ),
    ("contracts", ("runtime.contracts", "runtime.family_contract")),
    (
        "core",
        (
            "runtime.job.setup",
            "runtime.job.plan",
            "runtime.train",
            "runtime.evaluate.evaluator",
            "runtime.evaluate.loaders",
            "runtime.export.pipeline",
            "runtime.tuning",
        ),
    ),
    ("plug-ins", ("runtime.backends", "runtime.families")),
    ("assembly", ("runtime.plugins",)),
    (
        "commands",
        (
            "runtime.cli",
            "runtime.commands",
            "runtime.container",
            "runtime.toolkit",
            "runtime.pytest_plugin",
            "sagemaker_rl",
        ),
    ),
    ("entry points", ("entrypoints",)),
)
"""Floors, lowest first; a module stands on the floor of the longest name here that is it or a package above it
(``runtime`` itself names only the root package). A module imports from its own floor and the floors below, never
from above: environments know nothing of SageMaker; the services (configuration, the job tree, checkpoints, metric
lines, the export and serving formats, episodes, offline data, the Ray cluster, the compatibility modules) know no
plug-in; the contracts name what a plug-in gives; the core (the one job setup, training loop, evaluator, export
pipeline and tuner) depends on the contracts only and is handed the plug-ins; the plug-ins (backends, families) may
use the core and the services, a family also the public functions of the backends it declares (never their library,
never a backend a family); only the assembly (:mod:`runtime.plugins`) names the installed plug-ins; the commands hand
them to the core."""

HEAVY: dict[str, str] = {
    "ray": "Ray and RLlib: ~4 s to import",
    "torch": "torch: ~1.5 s, with torch._dynamo on first use",
    "d3rlpy": "d3rlpy: torch, gym and its algorithms, only for offline jobs",
    "gym": "the old gym, imported only to silence its notice before d3rlpy imports it",
    "structlog": "d3rlpy's logging, configured when d3rlpy is imported",
    "onnx": "ONNX, only when exporting",
    "onnxruntime": "ONNX Runtime, only when serving or checking an export",
    "tensorflow": "TensorFlow, only in its own environment",
    "mlagents_envs": "ML-Agents' gRPC client and protobufs, only for Unity games",
    "shimmy": "gym 0.21/0.26 adapters, only for a user's old-gym environment",
    "pandas": "pandas, only for offline data and collection",
    "matplotlib": "matplotlib, only to draw the learning curve",
    "tensorboardX": "TensorBoard's writer, only while training",
    "tqdm": "progress bars, only on long work",
    "boto3": "boto3, only for DeepRacer's optional S3 (never on the default path)",
    "botocore": "botocore, with boto3",
    "gunicorn": "the HTTP server, only for rlrt serve",
    "hypercorn": "the HTTP server in each gunicorn worker, only for rlrt serve",
    "sagemaker_inference": "SageMaker's inference toolkit, only inside its serving container",
    "imageio_ffmpeg": "ffmpeg, only to write a video",
    "lz4": "LZ4, only to read RLlib 1.x's compressed sample batches (where it is missing, one clear error)",
    "mlflow": "MLflow (~3.5 s), only for a job tracked with it (--track mlflow)",
    "wandb": "W&B's client (~2.5 s), only for a job tracked with it (--track wandb)",
}
"""The third-party libraries a function may import (on first use, for start-up time), and why each is heavy. Every
other import, first-party modules above all, stands at the top of its module, where readers and this test see it."""


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
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


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
    """Module -> the first-party modules it imports anywhere: at the top, inside functions, under TYPE_CHECKING."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for node in _all_imports(_parse(path)):
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
                return path[path.index(nxt) :] + [nxt]
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


def floor_of(module: str) -> int:
    """The index in :data:`FLOORS` of the floor ``module`` stands on (see there); -1 when none names it."""
    best, floor = "", -1
    for index, (_, names) in enumerate(FLOORS):
        for name in names:
            matches = module == name or (module.startswith(name + ".") and name != "runtime")
            if matches and len(name) > len(best):
                best, floor = name, index
    return floor


def test_the_import_graph_sees_imports_inside_functions() -> None:
    graph = _import_graph()
    assert "runtime.config.presets" in graph["runtime.commands.train"]  # a function-level import would count the same
    assert _find_cycle({**graph, "runtime.names": {"runtime.cli"}}) is not None


def test_no_import_cycle() -> None:
    cycle = _find_cycle(_import_graph())
    assert cycle is None, "import cycle (imports inside functions included): " + " -> ".join(cycle or [])


def test_every_module_stands_on_a_floor() -> None:
    unplaced = sorted(m for m in _modules() if floor_of(m) < 0)
    assert not unplaced, f"modules no floor names (add them to FLOORS and docs/ARCHITECTURE.md): {unplaced}"
    assert floor_of("runtime.train.driver") > floor_of("runtime.contracts") > floor_of("runtime.train.checkpoints")
    assert floor_of("runtime.backends.rllib.backend") > floor_of("runtime.train.driver")


def test_no_import_climbs_to_a_higher_floor() -> None:
    upward = []
    for module, imported in _import_graph().items():
        for target in imported:
            if floor_of(target) > floor_of(module):
                upward.append(
                    f"{module} ({FLOORS[floor_of(module)][0]}) imports {target} ({FLOORS[floor_of(target)][0]})"
                )
    assert not upward, "imports that climb to a higher floor:\n" + "\n".join(sorted(upward))


def _function_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """Imports inside functions (at any depth)."""
    for function in ast.walk(tree):
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(function):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    yield node


def test_functions_import_only_heavy_libraries_and_say_so() -> None:
    offenders = set()
    for _name, path in _modules().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node in _function_imports(_parse(path)):
            if "# heavy" not in lines[node.lineno - 1]:
                offenders.add(f"{path.relative_to(ROOT)}:{node.lineno} has no '# heavy: <why>' comment")
            modules = (
                [alias.name for alias in node.names]
                if isinstance(node, ast.Import)
                else ["<relative>" if node.level else node.module or ""]
            )
            for module in modules:
                if module.split(".")[0] not in HEAVY:
                    offenders.add(f"{path.relative_to(ROOT)}:{node.lineno} imports {module}")
    assert not offenders, (
        "imports inside functions that belong at the top of the module (only the libraries in "
        "HEAVY load on first use, each saying why):\n" + "\n".join(sorted(offenders))
    )


def test_every_package_is_declared_in_setup_cfg() -> None:
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    declared = set(config["options"]["packages"].split())
    mapped = {line.split("=")[0].strip() for line in config["options"]["package_dir"].strip().splitlines()}
    found = {
        _module_name(init)
        for tree in ("runtime", "envs", "sagemaker_rl")
        for init in (ROOT / tree).rglob("__init__.py")
        if "for_" not in init.parent.relative_to(ROOT).as_posix()
    }  # compatibility modules: package data
    assert not found - declared, f"packages missing from setup.cfg's [options] packages: {sorted(found - declared)}"
    stale = {p for p in declared - found - mapped if not (ROOT / p.replace(".", "/")).is_dir()}
    assert not stale, f"setup.cfg names packages that do not exist: {sorted(stale)}"


def test_no_module_is_over_400_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules().values()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them into cohesive modules): {long}"


def test_heavy_libraries_are_not_imported_at_module_level() -> None:
    offenders = []
    for _name, path in _modules().items():
        for node in _top_level(_parse(path).body):
            modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            offenders += [
                f"{path.relative_to(ROOT)}:{node.lineno} imports {m}"
                for m in modules
                if not getattr(node, "level", 0) and m.split(".")[0] in HEAVY
            ]
    # Modules whose classes subclass the library's (gym's Env for the old-gym bridges).
    allowed = {
        "sagemaker_rl/compat/gym_bridge.py",
        "sagemaker_rl/compat/for_roboschool/roboschool/__init__.py",
        "sagemaker_rl/compat/for_gym_unity/gym_unity/envs/__init__.py",
    }
    offenders = [o for o in offenders if o.split(":")[0] not in allowed]
    assert not offenders, "heavy libraries imported when the module is (start-up time): " + "; ".join(offenders)


def _imports_of(
    top_level: str,
    package: str = "envs",
    imports: Callable[[ast.Module], Iterable[ast.Import | ast.ImportFrom]] = _all_imports,
) -> list[str]:
    """Where a module of ``package`` imports ``top_level`` or one of its modules: anywhere (functions included), or
    where ``imports`` finds them."""
    offenders = []
    for name, path in _modules().items():
        if not name.startswith(package):
            continue
        for node in imports(_parse(path)):
            for imported in _imported_names(node, name, path.name == "__init__.py"):
                if imported.split(".")[0] == top_level:
                    offenders.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {imported}")
    return sorted(set(offenders))


def test_envs_never_import_runtime() -> None:
    offenders = _imports_of("runtime")
    assert not offenders, "envs/ knows nothing of runtime/: " + "; ".join(offenders)


def test_envs_never_import_ray() -> None:
    offenders = _imports_of("ray")
    assert not offenders, "envs/ knows no training library (a backend adapts its environments): " + "; ".join(offenders)


def _run_time_imports(node: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """The imports under ``node`` that can run: at the top, inside functions and classes, not under ``if
    TYPE_CHECKING`` (a type's name only, for the type checker)."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
        return
    if isinstance(node, ast.If) and _is_type_checking(node.test):
        children: Iterable[ast.AST] = node.orelse
    else:
        children = ast.iter_child_nodes(node)
    for child in children:
        yield from _run_time_imports(child)


def test_the_run_time_imports_skip_only_type_checking_blocks() -> None:
    tree = ast.parse(
        "import a\nif TYPE_CHECKING:\n    import b\nelse:\n    import c\n"
        "def f():\n    import d\nclass K:\n    import e\n"
    )
    assert sorted(alias.name for node in _run_time_imports(tree) for alias in node.names) == ["a", "c", "d", "e"]


def test_no_family_imports_ray() -> None:
    offenders = _imports_of("ray", "runtime.families", _run_time_imports)
    assert not offenders, (
        "a family imports no training library: what it needs of RLlib is a public function of the RLlib backend "
        "(runtime/backends/rllib/), its hook's type comes from runtime.family_contract: " + "; ".join(offenders)
    )


def test_no_backend_imports_a_family() -> None:
    offenders = sorted(
        f"{module} imports {target}"
        for module, imported in _import_graph().items()
        if module.startswith("runtime.backends")
        for target in imported
        if target.startswith("runtime.families")
    )
    assert not offenders, "a backend knows no family (a family names the backend's functions): " + "; ".join(offenders)


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
    assert not offenders, (
        f"entry points import only {sorted(ENTRYPOINT_IMPORTS)} (and the standard library): " + "; ".join(offenders)
    )


TRACKER_CITATION = re.compile(r"\b(issue|stop) #?\d+\b|\bCI, stop\b", re.IGNORECASE)
"""A reference to a tracker the repository does not hold (an issue's or a CI stop's number): a comment says why."""


def test_comments_cite_no_tracker() -> None:
    offenders = []
    for tree in ("runtime", "envs", "sagemaker_rl", "entrypoints", "tests", "bench", "scripts", "presets"):
        for path in sorted((ROOT / tree).rglob("*")):
            if path.suffix not in (".py", ".sh", ".yaml") or "__pycache__" in path.parts:
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
                if TRACKER_CITATION.search(line) and "TRACKER_CITATION" not in line and "(issue|stop)" not in line:
                    offenders.append(f"{path.relative_to(ROOT)}:{number}")
    assert not offenders, "comments and docstrings cite an issue or stop number (say why instead): " + ", ".join(
        offenders
    )
