"""The private parts of other libraries rlrt relies on (docs/ARCHITECTURE.md, "Private APIs we rely on"), each
checked to still behave as the version pinned in requirements/lock.txt does: a test here fails when an upgrade
changes one, naming the place in rlrt that has to change with it."""

from __future__ import annotations

import importlib
import inspect
import subprocess
import sys
import time
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from conftest import rlrt_env

from envs.registry import episode_limit, framed, make_known


class _Communicator:
    """Stands in for ``RpcCommunicator`` (the player's gRPC connection) in a UnityEnvironment built without one."""

    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def _unity_environment(process: subprocess.Popen, timeout_wait: int) -> Any:
    """An ``mlagents_envs`` UnityEnvironment whose player is ``process``, in the state its constructor leaves."""
    from mlagents_envs.environment import UnityEnvironment

    env = object.__new__(UnityEnvironment)
    env._communicator, env._process, env._timeout_wait, env._loaded = _Communicator(), process, timeout_wait, True
    return env


@pytest.mark.parametrize("closing", ["_close(1)", "close() with timeout_wait 1"])
def test_unity_environment_close_waits_for_the_player_then_kills_it(closing: str) -> None:
    """envs/unity/session.py: ``UnityEnvironment._close(timeout)`` is what ``close()`` runs with ``timeout_wait``
    (mlagents_envs 0.28): close the connection, wait for the player at most ``timeout`` s, then kill it."""
    from mlagents_envs.environment import UnityEnvironment

    assert list(inspect.signature(UnityEnvironment._close).parameters) == ["self", "timeout"]
    assert inspect.signature(UnityEnvironment._close).parameters["timeout"].default is None
    hung = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        env = _unity_environment(hung, timeout_wait=1 if closing.startswith("close()") else 60)
        started = time.monotonic()
        env._close(1) if closing == "_close(1)" else env.close()
        assert time.monotonic() - started < 10
        assert hung.wait(timeout=10) is not None and hung.returncode != 0  # killed
        assert env._communicator.closed and env._process is None  # a second close (its atexit hook) does nothing
    finally:
        hung.kill()
        hung.wait()


def test_unity_environment_keeps_its_worker_id_and_launches_through_env_utils() -> None:
    """sagemaker_rl/compat/for_gym_unity: a user's UnityEnvironment's worker id is ``_worker_id``; envs/unity/
    session.py (``player_output_to``): the constructor starts the player through ``env_utils.launch_executable``,
    looked up when it runs (mlagents_envs 0.28)."""
    from mlagents_envs import env_utils
    from mlagents_envs.environment import UnityEnvironment

    source = inspect.getsource(UnityEnvironment.__init__)
    assert "self._worker_id = worker_id" in source
    assert "env_utils.launch_executable(" in source and callable(env_utils.launch_executable)
    assert list(inspect.signature(env_utils.launch_executable).parameters) == ["file_name", "args"]


def test_ray_init_takes_the_plasma_directory_option() -> None:
    """runtime/cluster/object_store.py: ``ray.init(_plasma_directory=...)``, a hidden option of ray.init (Ray 2.60),
    where ``ray start`` has ``--plasma-directory``. tests/unit/test_ray_object_store.py starts a real Ray with it."""
    import ray

    source = inspect.getsource(ray.init)
    assert 'kwargs.pop("_plasma_directory"' in source and "plasma_directory=_plasma_directory" in source


def test_a_time_limits_episode_length_is_max_episode_steps() -> None:
    """envs/registry.py (``episode_limit``): gymnasium's TimeLimit keeps its limit in ``_max_episode_steps``
    (gymnasium 1.2); its public ``spec`` is None for an environment made without ``gymnasium.make``."""
    from gymnasium.envs.classic_control import CartPoleEnv

    limited = gym.wrappers.TimeLimit(CartPoleEnv(), 7)
    assert limited._max_episode_steps == 7 and limited.spec is None
    assert episode_limit(limited) == 7 and episode_limit(gym.make("CartPole-v1")) == 500
    limited.reset(seed=0)
    steps, truncated = 0, False
    while not truncated:
        _, _, terminated, truncated, _ = limited.step(0 if steps % 2 else 1)
        steps += 1
        assert not terminated
    assert steps == 7


def test_pybullet_places_its_camera_from_cam_dist_and_cam_pitch() -> None:
    """envs/registry.py (``framed``) and envs/catalog.py (``EnvInfo.camera``): pybullet_envs_gymnasium 0.6's robots
    render from ``_cam_dist`` and ``_cam_pitch`` (no public setting); the Reacher's video is framed by them."""
    env = make_known("ReacherBulletEnv-v0", render_mode="rgb_array")
    try:
        assert {"_cam_dist", "_cam_pitch"} <= set(vars(env.unwrapped))
        env.reset(seed=0)
        framed_frame = env.render()
        env.unwrapped._cam_dist, env.unwrapped._cam_pitch = 3, -30  # the library's own defaults
        default_frame = env.render()
        assert framed_frame.shape == default_frame.shape and not np.array_equal(framed_frame, default_frame)
        assert framed(env, "ReacherBulletEnv-v0").unwrapped._cam_dist == 0.6
    finally:
        env.close()


def test_d3rlpy_categorical_policy_is_an_encoder_then_a_linear_layer() -> None:
    """runtime/backends/d3rlpy/policy.py (``describe_discrete``): DiscreteBCQ's imitator, d3rlpy 2.8's
    ``CategoricalPolicy``, computes ``Categorical(logits=_fc(_encoder(x)))``; the plain-layer description reads
    those two parts."""
    import torch
    from d3rlpy.models.torch.encoders import VectorEncoder
    from d3rlpy.models.torch.policies import CategoricalPolicy

    policy = CategoricalPolicy(VectorEncoder((4,), hidden_units=[8]), hidden_size=8, action_size=3)
    assert isinstance(policy._fc, torch.nn.Linear) and isinstance(policy._encoder, VectorEncoder)
    x = torch.randn(5, 4, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        expected = torch.log_softmax(policy._fc(policy._encoder(x)), dim=-1)
        assert torch.allclose(policy(x).logits, expected, atol=1e-6)


def test_torchs_first_optimizer_imports_torch_dynamo() -> None:
    """runtime/backends/rllib/backend.py (``_import_what_building_imports``): torch 2.13's first optimizer imports
    ``torch._dynamo``, so importing it while Ray starts saves that time later (and costs nothing otherwise)."""
    code = (
        "import sys, torch\nbefore = 'torch._dynamo' in sys.modules\n"
        "torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])\nprint(before, 'torch._dynamo' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], env=rlrt_env(), capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False", "True"], result.stdout + result.stderr


def test_the_ray_loggers_rlrt_quiets_are_ray_modules() -> None:
    """runtime/backends/rllib/quiet.py (``NOT_ACTIONABLE``): the lines are dropped by logger name, and Ray 2.60
    names a module's logger after the module, private ones included (``ray._private.worker``). Whether the lines
    are still dropped is checked on whole jobs' logs (tests/quiet_logs.py)."""
    from runtime.backends.rllib.quiet import NOT_ACTIONABLE

    named_otherwise = {"ray.rllib": "ray.rllib.core.rl_module.rl_module"}  # a module logging as its package
    for name in NOT_ACTIONABLE:
        module = importlib.import_module(named_otherwise.get(name, name))
        writes = f'logging.getLogger("{name}")' if name in named_otherwise else "logging.getLogger(__name__)"
        assert writes in inspect.getsource(module), name


def test_ray_tunes_global_registry_hands_back_a_registered_env_creator() -> None:
    """``sagemaker_rl/user_envs.py`` (``registered_creator``) reads a script's env creator back from Ray Tune's
    registry, which has no public getter for env creators: ``register_env`` stores it there (a pickled copy) and
    ``get`` hands back a callable that builds what the script's creator builds."""
    from ray.tune.registry import ENV_CREATOR, _global_registry, register_env  # heavy: Ray Tune (~4 s)

    def creator(config: Any) -> Any:
        return config

    name = "rlrt-private-api-check"
    assert not _global_registry.contains(ENV_CREATOR, name)
    register_env(name, creator)
    assert _global_registry.contains(ENV_CREATOR, name)
    assert _global_registry.get(ENV_CREATOR, name)({"size": 3}) == {"size": 3}


def test_rllibs_action_masking_example_module_builds_a_masking_ppo_module() -> None:
    """``runtime/backends/rllib/algorithm.py`` (``masking_module_spec``) trains an env whose observations carry an
    action mask with RLlib's example module ``ActionMaskingTorchRLModule`` (examples are not RLlib's public API): it
    is a torch PPO RLModule that reads the mask from the observation dict."""
    from ray.rllib.algorithms.ppo.torch.ppo_torch_rl_module import PPOTorchRLModule  # heavy: RLlib
    from ray.rllib.examples.rl_modules.classes.action_masking_rlm import ActionMaskingTorchRLModule

    assert issubclass(ActionMaskingTorchRLModule, PPOTorchRLModule)
    assert '"action_mask"' in inspect.getsource(importlib.import_module(ActionMaskingTorchRLModule.__module__))


def test_the_toolkit_lines_rlrt_rewords_are_the_toolkits_own() -> None:
    """``runtime/toolkit.py`` matches sagemaker-training's log texts (no API gives them): the line before the entry
    point's command and the two install lines it rewords. An upgrade that rewords them would let the toolkit's own
    lines through and drop rlrt's."""
    import sagemaker_training.logging_config
    import sagemaker_training.modules

    from runtime.toolkit import REWORDED, SCRIPT_COMMAND

    assert SCRIPT_COMMAND in inspect.getsource(sagemaker_training.logging_config)
    installs = inspect.getsource(sagemaker_training.modules)
    assert all(f'logger.info("{text}")' in installs for text in REWORDED)


def test_the_internal_ray_settings_rlrt_sets_are_read_by_the_raylet() -> None:
    """``runtime/backends/rllib/ray_process.py`` and ``runtime/tuning/runner.py`` set two of Ray's internal settings,
    ``runtime/cluster/node.py`` a third (``RAY_<name>`` environment variables, read by the raylet's
    ``ray_config_def.h``; not documented): no idle worker prestarted per CPU, Ray's workers kept in the node's
    process group and started at the job's nice value. The raylet binary holds each name; an
    upgrade that drops one would make the variable a silent no-op."""
    from pathlib import Path

    import ray  # heavy: Ray

    raylet = (Path(ray.__file__).parent / "core" / "src" / "ray" / "raylet" / "raylet").read_bytes()
    for name in (b"prestart_worker_first_driver", b"process_group_cleanup_enabled", b"worker_niceness"):
        assert name in raylet, name


def test_argparse_sub_parsers_are_the_private_action_class() -> None:
    """``runtime/cli.py``, ``runtime/arguments.py``, ``runtime/runs/plot.py`` annotate the object
    ``add_subparsers()`` returns as ``argparse._SubParsersAction`` (it has no public name) and call its public
    ``add_parser``."""
    import argparse

    sub = argparse.ArgumentParser().add_subparsers()
    assert type(sub) is argparse._SubParsersAction and callable(sub.add_parser)
