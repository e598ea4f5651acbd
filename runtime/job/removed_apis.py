"""What Ray 2.x removed for good, found in a script-mode source dir before the script runs: a SageMaker RL script
written for Ray 0.8 - 1.x that imports ``ray.rllib.agents``, builds a custom ``ModelV2`` (TensorFlow or not) or trains
Ape-X would otherwise fail minutes later, inside sagemaker-training, with a traceback (or an empty ``ErrorMessage``)
in ``output/failure``. Each finding names the file and line, the removed API and what replaces it."""

from __future__ import annotations

import ast
import os
import tarfile
from pathlib import Path
from typing import Mapping

from runtime.errors import UserError

MIGRATING = 'docs/MIGRATING.md, "Porting a custom model"'
REMOVED_MODULES: dict[str, str] = {
    "ray.rllib.agents": "Ray 2.x removed ray.rllib.agents (RLlib 1.x's trainers). rlrt's SageMakerRayLauncher trains "
    "the experiment itself, so drop the import; a script that needs an algorithm's settings "
    "imports its config from ray.rllib.algorithms (e.g. ray.rllib.algorithms.ppo.PPOConfig)",
    "ray.rllib.models.tf": "TensorFlow models (TFModelV2) do not run on rlrt, which trains torch on RLlib 2.x's new "
    f"API stack: port the model to a torch RLModule ({MIGRATING})",
}
REMOVED_NAMES: dict[tuple[str, str], str] = {
    ("ray.rllib.models", "Model"): "ray.rllib.models.Model (RLlib 0.8's model class) is gone: port the model to a "
    f"torch RLModule ({MIGRATING})",
}
CUSTOM_MODEL = (
    "ModelCatalog.register_custom_model registers an old-API-stack ModelV2, which RLlib 2.x's new API "
    f"stack (what rlrt trains) does not run: port it to a torch RLModule ({MIGRATING})"
)
MASK_MODEL = (
    '; an action-masking model (the examples\' "action_mask") needs no port: drop the model file and its '
    "registration; rlrt masks an environment whose Dict observation has an 'action_mask' entry itself, in "
    "place of the experiment's 'custom_model' (docs/MIGRATING.md: \"Action masking needs no custom model\")"
)
APE_X = (
    "Ape-X is gone from Ray 2.x: train DQN with prioritized replay (rl.training.config.replay_buffer_config: "
    '{"type": "PrioritizedEpisodeReplayBuffer"}) and more env runners instead'
)
APE_X_NAMES = ("APEX", "APEX_DDPG", "ApeX", "APEX-DQN")
A3C = (
    "A3C and A2C are gone from Ray 2.x: train PPO, or APPO / IMPALA (asynchronous sampling from many env runners, "
    "as A3C did)"
)
REMOVED_ALGORITHMS: dict[str, str] = {**dict.fromkeys(APE_X_NAMES, APE_X), **dict.fromkeys(("A3C", "A2C"), A3C)}


CATCHES_IMPORT = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def _guarded(tree: ast.Module) -> set[int]:
    """Ids of the statements inside a ``try`` whose handlers catch a failed import (a fallback the script has)."""
    guarded: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Try):
            caught: set[str] = set()
            for handler in node.handlers:
                if handler.type is None:
                    caught.add("BaseException")
                elif isinstance(handler.type, ast.Tuple):
                    caught.update(ast.unparse(element) for element in handler.type.elts)
                else:
                    caught.add(ast.unparse(handler.type))
            if caught & CATCHES_IMPORT:
                guarded.update(id(inner) for statement in node.body for inner in ast.walk(statement))
    return guarded


def findings(source: str, name: str) -> list[str]:
    """``name:line: what`` for every removed API ``source`` (one Python file) uses."""
    try:
        tree = ast.parse(source, filename=name)
    except (SyntaxError, ValueError, RecursionError):
        return []  # Python itself reports it when the script runs
    guarded = _guarded(tree)
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in guarded:
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                removed = next(
                    (
                        why
                        for prefix, why in REMOVED_MODULES.items()
                        if module == prefix or module.startswith(prefix + ".")
                    ),
                    None,
                )
                if removed:
                    found.append((node.lineno, f"`{ast.unparse(node)}`: {removed}"))
            if isinstance(node, ast.ImportFrom):
                for alias in node.names:
                    why = REMOVED_NAMES.get((node.module or "", alias.name))
                    if why:
                        found.append((node.lineno, f"`{ast.unparse(node)}`: {why}"))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "register_custom_model"
        ):
            named = node.args[0] if node.args else None
            masking = isinstance(named, ast.Constant) and "mask" in str(named.value).lower()
            found.append(
                (node.lineno, f"`{ast.unparse(node.func)}(...)`: {CUSTOM_MODEL}{MASK_MODEL if masking else ''}")
            )
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "run"
                    and isinstance(value, ast.Constant)
                    and value.value in REMOVED_ALGORITHMS
                ):
                    found.append((value.lineno, f'`"run": "{value.value}"`: {REMOVED_ALGORITHMS[value.value]}'))
    return [f"{name}:{line}: {what}" for line, what in sorted(set(found))]


OUTSIDE_REASONS = {
    "absolute": "has an absolute path",
    "outside": "points outside the folder",
    "absolute link": "is a link to an absolute path",
    "special": "is a device or a pipe",
    "link outside": "is a link out of the folder",
}


def outside_reason(member: tarfile.TarInfo, folder: str = "/opt/ml/code") -> str | None:
    """Why extracting ``member`` into ``folder`` would write outside it (a key of :data:`OUTSIDE_REASONS`), or None.
    The rules of Python's ``data`` extraction filter (``tarfile.data_filter``), written out because the image's
    Python (Debian bookworm's 3.11.2) predates that filter, and a test holds them to it where Python has it; but a
    leading ``/``, which that filter strips, is refused: the unfiltered extraction writes such a member at its
    absolute path."""
    name = member.name
    if name.startswith(("/", os.sep)):
        return "absolute"
    target = os.path.realpath(os.path.join(folder, name))
    if os.path.commonpath([target, folder]) != folder:
        return "outside"
    if not (member.isreg() or member.islnk() or member.isdir() or member.issym()):
        return "special"
    if member.islnk() or member.issym():
        if os.path.isabs(member.linkname):
            return "absolute link"
        base = os.path.join(folder, os.path.dirname(name)) if member.issym() else folder
        if os.path.commonpath([os.path.realpath(os.path.join(base, member.linkname)), folder]) != folder:
            return "link outside"
    return None


def refuse_outside_member(archive: Path, member: tarfile.TarInfo) -> None:
    """A :class:`UserError` when ``member`` of the source archive would be written outside the folder it is
    extracted into (``../x.py``, an absolute path, a link out of it, a device file): sagemaker-training extracts the
    archive with no filter, so such a member lands anywhere the job may write."""
    why = outside_reason(member)
    if why is not None:
        raise UserError(
            f"The source archive {archive} holds the member {member.name!r}, which "
            f"{OUTSIDE_REASONS[why]}: sagemaker-training would write it outside the job's code folder, so "
            "the job does not start. Pack the source dir with paths inside it (the SageMaker SDK's "
            "source_dir does), without '..', absolute paths or links out of it."
        )


def _sources(location: Path) -> dict[str, str]:
    """name -> text of each Python file of a local source dir: a folder or ``sourcedir.tar.gz``."""
    found: dict[str, str] = {}
    if location.is_dir():
        for path in sorted(location.rglob("*.py")):
            found[path.relative_to(location).as_posix()] = path.read_text(encoding="utf-8", errors="replace")
    elif location.is_file() and tarfile.is_tarfile(location):
        with tarfile.open(location) as archive:
            for member in archive.getmembers():
                refuse_outside_member(location, member)
                if member.isfile() and member.name.endswith(".py"):
                    handle = archive.extractfile(member)
                    if handle is not None:
                        name = member.name[2:] if member.name.startswith("./") else member.name
                        found[name] = handle.read().decode("utf-8", errors="replace")
    return found


def _local_imports(text: str, files: Mapping[str, str]) -> list[str]:
    """The files of the source dir that ``text`` imports (``import lib.model`` -> ``lib/model.py``)."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return []
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            names += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    found = []
    for name in names:
        path = name.replace(".", "/")
        found += [candidate for candidate in (f"{path}.py", f"{path}/__init__.py") if candidate in files]
    return found


def script_files(files: Mapping[str, str], entry_point: str) -> list[str]:
    """The entry point and the source dir's modules it imports, directly or through each other: what the job runs
    (the seeds' ``src/`` also holds scripts of other jobs, e.g. the Ray 1.x ``evaluate-ray.py`` beside
    ``train-reacher.py``)."""
    wanted, seen = [entry_point], []
    while wanted:
        name = wanted.pop()
        if name in seen or name not in files:
            continue
        seen.append(name)
        wanted += _local_imports(files[name], files)
    return seen


def read_source_dir(submit_directory: str) -> dict[str, str]:
    """name -> text of each Python file of a local source dir (a folder or ``sourcedir.tar.gz``, as a path or
    ``file://`` URL); {} for an S3 one, which sagemaker-training downloads later (not inspected here)."""
    location = submit_directory[len("file://") :] if submit_directory.startswith("file://") else submit_directory
    return {} if "://" in location else _sources(Path(location))


def removed_apis_in(files: Mapping[str, str], entry_point: str) -> list[str]:
    """The uses of what Ray 2.x removed in the files of a source dir (:func:`read_source_dir`) that ``entry_point``
    runs."""
    return [finding for name in script_files(files, entry_point) for finding in findings(files[name], name)]


def imports_any(files: Mapping[str, str], entry_point: str, modules: tuple[str, ...]) -> bool:
    """Whether the entry point of a source dir (:func:`read_source_dir`) imports any of ``modules`` (or a
    submodule) outside a fallback ``try``."""
    try:
        tree = ast.parse(files.get(entry_point, ""))
    except (SyntaxError, ValueError, RecursionError):
        return False
    guarded = _guarded(tree)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in guarded:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(name == m or name.startswith(m + ".") for name in names for m in modules):
                return True
    return False


def refuse_removed_apis(submit_directory: str, files: Mapping[str, str], entry_point: str) -> None:
    """A :class:`UserError` listing what the script-mode job's entry point (and the modules it imports from its
    source dir ``submit_directory``, read into ``files``) uses that Ray 2.x removed."""
    problems = removed_apis_in(files, entry_point)
    if problems:
        raise UserError(
            f"The source dir {submit_directory} uses what Ray 2.x removed (rlrt runs Ray 2.x):\n"
            + "\n".join(f"  - {p}" for p in problems)
        )
