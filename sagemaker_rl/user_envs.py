"""The user's own environment creator (registered with ``ray.tune.registry.register_env``) as an rlrt environment.

:func:`register_user_env` registers the creator with gymnasium under ``sagemaker_rl/<name>``, so the one job path
(``runtime.job.setup.resolve_spec``, the driver, the env registry's checks, rollout videos) knows it like any other
environment id. Its entry point is a :class:`UserEnvCreator`: called by ``gymnasium.make`` in the driver (an
``EnvContext`` with ``worker_index`` 0), and handed to RLlib as is through ``rllib_env_creator``, so every env
runner calls the user's creator with RLlib's own ``EnvContext`` (``env_config.worker_index`` and ``vector_index``
as in RLlib 1.x). Old-style gym environments are adapted by :func:`envs.adapters.to_gymnasium` (Shimmy).
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import shutil
import sys
from pathlib import Path
from typing import Any, Callable, Mapping

import gymnasium

from envs.adapters import as_user_env, with_render_mode
from envs.errors import EnvConfigError, EnvStartError
from envs.registry import EPISODE_STEP_CAP, capped
from runtime.job.removed_apis import read_source_dir, script_files
from runtime.names import SCRIPT_ENVIRONMENT_JSON, SCRIPT_SOURCE_DIR
from sagemaker_rl import compat
from sagemaker_rl.compat import era

NAMESPACE = "sagemaker_rl"


class UserEnvCreator:
    """A user's env creator as a gymnasium entry point (``UserEnvCreator(name, creator)(**env_config)``)."""

    def __init__(self, name: str, creator: Callable[[Any], Any]) -> None:
        self.name = name
        self.creator = creator

    def describe(self) -> str:
        """How error messages name the creator."""
        return (
            f"The env creator {getattr(self.creator, '__qualname__', repr(self.creator))}() registered as '{self.name}'"
        )

    def rllib_env_creator(self, env_context: Any) -> Any:
        """Build the environment from RLlib's ``EnvContext`` (what RLlib's env runners call)."""
        compat.install()  # an env runner process: the creator may `import roboschool`
        cap = env_context.get(EPISODE_STEP_CAP) if hasattr(env_context, "get") else None
        if cap is not None:  # rlrt's own key (RLlib 1.x's `horizon`): applied below, never shown to the user's creator
            rest = {k: v for k, v in env_context.items() if k != EPISODE_STEP_CAP}
            env_context = (
                env_context.copy_with_overrides(env_config=rest)
                if hasattr(env_context, "copy_with_overrides")
                else rest
            )
        try:
            try:
                env = self.creator(env_context)
            except (ValueError, TypeError):
                if not era.adapt_gym():
                    raise
                env = self.creator(env_context)  # the creator imported gym itself: once more, gym 0.26 bridged
        except EnvConfigError:  # already names the environment and why
            raise
        except Exception as exc:
            raise EnvConfigError(f"{self.describe()} raised {type(exc).__name__}: {exc}") from exc
        env = as_user_env(env, self.describe())
        if hasattr(env_context, "get"):  # rollout videos ask for frames; the user's creator may not pass them on
            env = with_render_mode(env, env_context.get("render_mode"))
        max_steps = env_context.get("max_episode_steps") if hasattr(env_context, "get") else None
        if max_steps is not None:  # the user's own gymnasium-style limit
            env = gymnasium.wrappers.TimeLimit(env, int(max_steps))
        return capped(env, cap)

    def __call__(self, worker_index: int = 0, vector_index: int = 0, **env_config: Any) -> Any:
        from ray.rllib.env.env_context import EnvContext  # heavy: Ray and RLlib (~4 s)

        context = EnvContext(dict(env_config), worker_index=worker_index, vector_index=vector_index)
        return self.rllib_env_creator(context)


def registered_creator(name: str) -> Callable[[Any], Any] | None:
    """The creator the script registered for ``name`` with Ray's env registry, or None."""
    from ray.tune.registry import ENV_CREATOR, _global_registry  # heavy: Ray and RLlib (~4 s)

    if not _global_registry.contains(ENV_CREATOR, name):
        return None
    creator: Callable[[Any], Any] = _global_registry.get(ENV_CREATOR, name)
    return creator


def register_user_env(name: str) -> str | None:
    """Register the script's creator for ``name`` with gymnasium; return the gymnasium id (None: no creator)."""
    creator = registered_creator(name)
    if creator is None:
        return None
    gym_id = f"{NAMESPACE}/{name}"
    gymnasium.register(id=gym_id, entry_point=UserEnvCreator(name, creator), disable_env_checker=True)
    return gym_id


RLRT_READS = ("render_mode", "max_episode_steps")
"""``env_config`` keys :meth:`UserEnvCreator.rllib_env_creator` applies itself (a frame source, a time limit)."""


class EntryPointCreator:
    """A ``module:name`` in the job's source dir (a Coach preset's ``level="knapsack_env:KnapSackMediumEnv"``: an
    environment class, or a function returning one) as an env creator: called with the ``env_config`` entries as
    keyword arguments, as Coach's ``GymEnvironment`` called it with ``additional_simulator_parameters``. It pickles
    as the reference: an env runner imports the module itself."""

    def __init__(self, reference: str) -> None:
        self.reference = reference
        self.__qualname__ = reference  # how UserEnvCreator.describe() names it

    def __call__(self, env_config: Any) -> Any:
        module, _, name = self.reference.partition(":")
        try:
            target = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError) as exc:
            raise EnvConfigError(
                f"The environment {self.reference!r} cannot be loaded: {type(exc).__name__}: {exc} "
                "(module:name, the module in the job's source dir)"
            ) from exc
        era.adapt_gym()  # the module may have imported gym just now
        return target(**{k: v for k, v in dict(env_config or {}).items() if k not in RLRT_READS})


def register_entry_point_env(reference: str) -> str:
    """Register the environment ``module:name`` (:class:`EntryPointCreator`) with gymnasium as
    ``sagemaker_rl/<name>``, built like a launcher script's env (:class:`UserEnvCreator`); return that id."""
    module, _, name = reference.partition(":")
    if not module or not name.isidentifier():
        raise EnvConfigError(
            f"{reference!r} does not name an environment as module:name (e.g. 'knapsack_env:KnapSackMediumEnv')."
        )
    compat.install()  # the user's module is about to be imported: give it what its era had
    gym_id = f"{NAMESPACE}/{name}"
    gymnasium.register(
        id=gym_id, entry_point=UserEnvCreator(name, EntryPointCreator(reference)), disable_env_checker=True
    )
    return gym_id


def check_user_env(gym_id: str, env_config: Mapping[str, Any], reset: bool = False) -> None:
    """Build the user's environment once in this process and close it: a creator that raises, or returns something
    that is not an environment, fails here with an :class:`envs.errors.EnvConfigError` naming it. With ``reset``,
    it is reset once too: a first reset that raises (a simulator binary the image lacks) is an
    :class:`envs.errors.EnvStartError` naming the environment, before Ray starts."""
    env = gymnasium.make(gym_id, disable_env_checker=True, **dict(env_config))
    try:
        if reset:
            env.reset()
    except (EnvConfigError, EnvStartError):
        raise
    except Exception as exc:
        with contextlib.suppress(Exception):  # the reset's error is the one to report
            env.close()
        raise EnvStartError(
            f"The environment '{gym_id}' failed on its first reset: {type(exc).__name__}: {exc}"
        ) from exc
    env.close()


def keep_script_source(model_dir: Path, script: Path, registered: str, level: str | None = None) -> Path:
    """Copy the training script and the source-dir modules it imports into ``model_dir/source`` with what it
    registered, so that the model can be evaluated on the script's own environment later
    (:class:`ScriptEnvironments`). ``level``: the script is the module of a Coach preset's ``level="module:Class"``,
    registered as ``registered`` (``module.Class``), not a launcher script."""
    files = read_source_dir(str(script.resolve().parent))
    target = model_dir / SCRIPT_SOURCE_DIR
    shutil.rmtree(target, ignore_errors=True)
    for name in script_files(files, script.name):
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_text(files[name], encoding="utf-8")
    record = {"entry_point": script.name, "registered": registered, **({"level": level} if level else {})}
    (target / SCRIPT_ENVIRONMENT_JSON).write_text(json.dumps(record))
    return target


class ScriptEnvironments:
    """The environments launcher scripts register (``sagemaker_rl/<name>``), rebuilt for ``rlrt evaluate`` from the
    script the model kept (:func:`keep_script_source`): the script is imported (its ``__main__`` block does not run)
    and its launcher's ``register_env_creator()`` called, as in training."""

    def restore(self, env_id: str, model_dir: Path) -> bool:
        name = env_id[len(NAMESPACE) + 1 :] if env_id.startswith(NAMESPACE + "/") else None
        record = Path(model_dir) / SCRIPT_SOURCE_DIR / SCRIPT_ENVIRONMENT_JSON
        if name is None or not record.is_file():
            return False
        info = json.loads(record.read_text())
        if info.get("registered") != name:
            return False
        source = record.parent
        compat.install()
        if str(source) not in sys.path:
            sys.path.insert(0, str(source))
        if info.get("level"):  # a Coach preset's module:Class, registered under module.Class as in training
            gymnasium.register(
                id=f"{NAMESPACE}/{name}",
                entry_point=UserEnvCreator(name, EntryPointCreator(str(info["level"]))),
                disable_env_checker=True,
            )
            return True
        spec = importlib.util.spec_from_file_location("rlrt_training_script", source / str(info["entry_point"]))
        if spec is None or spec.loader is None:
            return False
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
            launchers = [
                value
                for value in vars(module).values()
                if isinstance(value, type)
                and value.__module__ == module.__name__
                and callable(getattr(value, "register_env_creator", None))
            ]
            for launcher in launchers:
                launcher().register_env_creator()
        except Exception as exc:  # the user's script: say which and why
            raise EnvConfigError(
                f"The model's training script {source / str(info['entry_point'])} could not register "
                f"its environment '{name}' again: {type(exc).__name__}: {exc}"
            ) from exc
        return register_user_env(name) is not None


SCRIPT_ENVIRONMENTS = ScriptEnvironments()
