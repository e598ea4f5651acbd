"""User environments of the gym 0.21 / 0.26 and NumPy 1 era run unchanged (:mod:`sagemaker_rl.compat.era`,
:func:`envs.adapters.with_float32_observations`): each bridge checked on an environment written in that style
(tests/era_envs.py) and on the knapsack example's own module, and checked to be needed (the pinned gym and NumPy
refuse each without it)."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Iterator

import gymnasium
import numpy as np
import pytest

from envs import adapters
from envs.adapters import to_gymnasium, with_float32_observations
from sagemaker_rl.compat import era

KNAPSACK_SRC = Path(__file__).resolve().parents[3] / "shared" / "coach" / "rl_knapsack_coach_custom" / "src"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def era_installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """``era.install()`` in this process, undone afterwards (other tests see the pinned NumPy and gym)."""
    import gym.envs.registration
    import gym.spaces.box

    get_inf, spec_init = gym.spaces.box.get_inf, gym.envs.registration.EnvSpec.__init__
    monkeypatch.delenv(era.MARKER, raising=False)
    monkeypatch.setattr(adapters, "_SAID", set())  # the once-per-process lines, said again in each test
    provided = [name for name in era.NUMPY1_NAMES if name not in vars(np)]
    era.install()
    try:
        yield
    finally:
        for name in provided:
            if name in vars(np):
                delattr(np, name)
        gym.spaces.box.get_inf, gym.envs.registration.EnvSpec.__init__ = get_inf, spec_init
        sys.modules.pop("tests.era_envs", None)
        os.environ.pop(era.MARKER, None)


def test_the_pinned_numpy_and_gym_refuse_what_the_era_wrote() -> None:
    import gym.envs.registration

    with pytest.raises(AttributeError, match="no attribute 'int'"):
        np.int  # noqa: B018
    with pytest.raises(ValueError, match="Unknown dtype .*uint32.* for infinite bounds"):
        gym.spaces.Box(low=np.zeros(2), high=np.array([1.0, np.inf]), dtype=np.uint32)
    with pytest.raises(TypeError, match="entry_point"):
        gym.envs.registration.EnvSpec("EraKnapsack-v0")


def test_numpy1_names_are_numpy_123s(capsys: pytest.CaptureFixture[str], era_installed: None) -> None:
    assert np.int is int and np.float is float and np.object is object and np.str is str  # type: ignore[attr-defined]
    assert np.bool8 is np.bool_ and np.float_ is np.float64 and np.NaN != np.NaN  # type: ignore[attr-defined]
    assert np.bool is np.bool_ and np.long is not int  # NumPy 2's own names untouched
    assert "rlrt: NumPy 1 names NumPy 2 removed (np.int, np.float" in capsys.readouterr().err


def test_a_gym_021_env_with_uint32_infinite_bounds_and_no_entry_point_runs(
    capsys: pytest.CaptureFixture[str], era_installed: None
) -> None:
    era_envs = importlib.import_module("tests.era_envs")
    env = with_float32_observations(to_gymnasium(era_envs.EraKnapsack({}), "EraKnapsack"), "EraKnapsack")
    assert env.observation_space == gymnasium.spaces.Box(
        np.zeros(4, np.float32), np.array([30, 2**32 - 3, 10, 20], np.float32), (4,), np.float32
    )
    observation, _ = env.reset(seed=3)
    assert observation.dtype == np.float32 and observation in env.observation_space
    total, done = 0.0, False
    while not done:
        observation, reward, terminated, truncated, info = env.step(1)
        total, done = total + reward, terminated or truncated
    assert observation.dtype == np.float32 and 0 < total <= 30 and info["dtype"] is float
    err = capsys.readouterr().err
    assert "rlrt: a gym.spaces.Box of uint32 with infinite bounds" in err
    assert "rlrt: gym EnvSpec('EraKnapsack-v0') without entry_point" in err
    assert "rlrt: EraKnapsack observes a Box of uint32: its observations are cast to float32" in err
    assert "RuntimeWarning" not in err


def test_a_gym_026_env_with_int16_observations_feeds_float32() -> None:
    import gym

    class Counter(gym.Env):
        observation_space = gym.spaces.Box(-100, 100, shape=(3,), dtype=np.int16)
        action_space = gym.spaces.Discrete(3)

        def reset(self, *, seed=None, options=None):  # type: ignore[no-untyped-def]
            return np.zeros(3, np.int16), {}

        def step(self, action):  # type: ignore[no-untyped-def]
            return np.ones(3, np.int16), 1.0, False, True, {}

    env = with_float32_observations(to_gymnasium(Counter(), "Counter"), "Counter")
    assert env.observation_space.dtype == np.float32 and env.reset()[0].dtype == np.float32
    assert env.step(0)[0].dtype == np.float32
    plain = gymnasium.make("CartPole-v1")
    assert isinstance(with_float32_observations(gymnasium.make("FrozenLake-v1"), "x"), gymnasium.Env)
    assert with_float32_observations(plain, "CartPole").observation_space == plain.observation_space


def test_the_knapsack_examples_own_env_runs(tmp_path: Path) -> None:
    """The SageMaker RL knapsack example's module, byte for byte (a Box of uint32 with an infinite bound)."""
    if not KNAPSACK_SRC.is_dir():
        pytest.skip(f"{KNAPSACK_SRC} is not here")
    shutil.copytree(KNAPSACK_SRC, tmp_path / "src")
    code = (
        "import knapsack_env\nfrom sagemaker_rl.compat import era; era.install()\n"
        "from envs.adapters import to_gymnasium, with_float32_observations\n"
        "env = with_float32_observations(to_gymnasium(knapsack_env.KnapSackEnv(), 'k'), 'k')\n"
        "obs, _ = env.reset(seed=1); obs, r, term, trunc, _ = env.step(1)\n"
        "print('ok', obs.dtype, env.observation_space.dtype)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path / "src")])}
    env.pop(era.MARKER, None)
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path / "src", env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "ok float32 float32" in run.stdout


@pytest.mark.parametrize(
    ("algorithm", "given", "settings", "line"),
    [
        (
            "PPO",
            {"type": "StochasticSampling"},
            {},
            "RLlib 2.x's PPO samples its actions from the policy's distribution",
        ),
        ("SAC", '{"type": "StochasticSampling"}', {}, "RLlib 2.x's SAC samples its actions"),
        (
            "DQN",
            {"type": "EpsilonGreedy", "epsilon_timesteps": 5000, "final_epsilon": 0.05},
            {"epsilon": [[0, 1.0], [5000, 0.05]]},
            "RLlib 2.x's DQN takes it as epsilon=[[0, 1.0], [5000, 0.05]]",
        ),
        (
            "DQN",
            {"type": "ray.rllib.utils.exploration.epsilon_greedy.EpsilonGreedy"},
            {"epsilon": [[0, 1.0], [10000, 0.02]]},
            "DQN takes it as epsilon",
        ),
    ],
)
def test_rllib1_exploration_config_is_translated_where_rllib2_explores_the_same(
    caplog: pytest.LogCaptureFixture, algorithm: str, given: object, settings: dict, line: str
) -> None:
    from runtime.config import hyperparameters as hp
    from runtime.plugins import INSTALLED

    spec = hp.resolve(
        {"rl.training.run": algorithm, "rl.training.config.exploration_config": given},
        INSTALLED.validator_for,
        num_cpus=2,
    )
    assert "exploration_config" not in spec.config
    assert {k: spec.config[k] for k in settings} == settings
    assert "rl.training.config.exploration_config=" in caplog.text and line in caplog.text


@pytest.mark.parametrize(
    ("algorithm", "given"),
    [
        ("DQN", {"type": "StochasticSampling"}),  # DQN explores epsilon-greedily in RLlib 2.x
        ("PPO", {"type": "StochasticSampling", "random_timesteps": 1000}),
        ("PPO", {"type": "Curiosity"}),
        ("DQN", {"type": "EpsilonGreedy", "warmup_timesteps": 100}),
    ],
)
def test_an_exploration_config_rllib2_cannot_honour_is_refused(algorithm: str, given: object) -> None:
    from runtime.config import hyperparameters as hp
    from runtime.errors import UserError
    from runtime.plugins import INSTALLED

    with pytest.raises(UserError, match="'rl.training.config.exploration_config' has no effect"):
        hp.resolve(
            {"rl.training.run": algorithm, "rl.training.config.exploration_config": given},
            INSTALLED.validator_for,
            num_cpus=2,
        )


def _tuple_masked_env(concatenated: bool) -> object:
    """A gym 0.21 env of the examples' style: two choices a step (a Tuple of Discrete actions), the allowed ones
    in the observation's ``action_mask``: a Tuple of masks, one per choice, or one concatenated mask."""
    import gym

    mask_space = (
        gym.spaces.Box(0, 1, (5,), np.int64)
        if concatenated
        else gym.spaces.Tuple((gym.spaces.Box(0, 1, (3,), np.int64), gym.spaces.Box(0, 1, (2,), np.int64)))
    )

    class Routes(gym.Env):
        observation_space = gym.spaces.Dict(
            {"action_mask": mask_space, "real_obs": gym.spaces.Box(0, 9, (2,), np.float32)}
        )
        action_space = gym.spaces.Tuple((gym.spaces.Discrete(3), gym.spaces.Discrete(2)))

        def _obs(self):  # type: ignore[no-untyped-def]
            first, second = np.array([1, 0, 1]), np.array([0, 1])
            mask = np.concatenate([first, second]) if concatenated else (first, second)
            return {"action_mask": mask, "real_obs": np.array([4.0, 2.0], np.float32)}

        def reset(self):  # type: ignore[no-untyped-def]
            return self._obs()

        def step(self, action):  # type: ignore[no-untyped-def]
            return self._obs(), 1.0, True, {}

    return Routes()


@pytest.mark.parametrize("concatenated", [False, True])
def test_a_tuple_of_masks_for_tuple_actions_is_one_mask(concatenated: bool) -> None:
    from envs.action_masks import has_action_mask, with_action_mask

    env = with_action_mask(to_gymnasium(_tuple_masked_env(concatenated), "Routes"))
    assert env.observation_space == gymnasium.spaces.Dict(
        {
            "action_mask": gymnasium.spaces.Box(0.0, 1.0, (5,), np.float32),
            "observations": gymnasium.spaces.Box(0.0, 9.0, (2,), np.float32),
        }
    )
    observation, _ = env.reset(seed=0)
    np.testing.assert_array_equal(observation["action_mask"], [1, 0, 1, 0, 1])
    assert observation in env.observation_space
    multi = gymnasium.spaces.MultiDiscrete([3, 2])
    masked = gymnasium.spaces.Dict({"action_mask": gymnasium.spaces.MultiBinary(5), "x": gymnasium.spaces.Discrete(2)})
    assert has_action_mask(masked, multi)
    assert not has_action_mask(masked, gymnasium.spaces.MultiDiscrete([3, 3]))  # a mask of the wrong size
    assert not has_action_mask(masked, gymnasium.spaces.Box(0, 1, (5,)))


def test_rllibs_masking_module_masks_each_part_of_tuple_actions() -> None:
    import torch

    from runtime.backends.rllib.algorithm import masking_module_spec

    observations = gymnasium.spaces.Dict(
        {
            "action_mask": gymnasium.spaces.Box(0.0, 1.0, (5,), np.float32),
            "observations": gymnasium.spaces.Box(0.0, 9.0, (2,), np.float32),
        }
    )
    actions = gymnasium.spaces.Tuple((gymnasium.spaces.Discrete(3), gymnasium.spaces.Discrete(2)))
    spec = masking_module_spec("PPO", {"fcnet_hiddens": [8]})
    spec.observation_space, spec.action_space = observations, actions
    module = spec.build()
    mask = torch.tensor([[1.0, 0.0, 1.0, 0.0, 1.0]] * 64)
    out = module.forward_exploration({"obs": {"action_mask": mask, "observations": torch.rand(64, 2) * 9}})
    dist = module.get_exploration_action_dist_cls().from_logits(out["action_dist_inputs"])
    first, second = dist.sample()
    assert set(first.tolist()) <= {0, 2} and set(second.tolist()) == {1}


@pytest.mark.parametrize(("shape", "seen"), [((5, 6), (30,)), ((2, 3, 4, 5), (120,)), ((16, 7, 4), (16, 7, 4))])
def test_observations_of_any_rank_reach_an_encoder_rllib2_has(
    capsys: pytest.CaptureFixture[str], shape: tuple[int, ...], seen: tuple[int, ...]
) -> None:
    """Rank 2 and above 3: a vector, as RLlib 1.x's fully connected network made them; rank 3 stays an image for
    the conv layers the job names (RLlib 2.x's CNN encoder takes model.conv_filters)."""
    import gym

    class Grid(gym.Env):
        observation_space = gym.spaces.Box(0, 3, shape, np.int8)
        action_space = gym.spaces.Discrete(2)

        def reset(self):  # type: ignore[no-untyped-def]
            return np.ones(shape, np.int8)

        def step(self, action):  # type: ignore[no-untyped-def]
            return np.ones(shape, np.int8), 0.0, True, {}

    source = f"Grid{shape}"
    env = with_float32_observations(to_gymnasium(Grid(), source), source)
    assert env.observation_space.shape == seen and env.observation_space.dtype == np.float32
    observation, _ = env.reset(seed=0)
    assert observation.shape == seen and observation.dtype == np.float32 and observation in env.observation_space
    flattened = f"rlrt: {source} observes a Box of shape {list(shape)}: its observations are flattened"
    assert (flattened in capsys.readouterr().err) == (seen != shape)


def test_a_coach_levels_module_class_builds_as_a_user_env(tmp_path: Path) -> None:
    """``knapsack_env:KnapSackEnv`` (a Coach preset's level), byte for byte, registered and made with gymnasium as a
    launcher script's env is: NumPy 1's names and gym 0.21's leniencies given, observations float32."""
    if not KNAPSACK_SRC.is_dir():
        pytest.skip(f"{KNAPSACK_SRC} is not here")
    shutil.copytree(KNAPSACK_SRC, tmp_path / "src")
    code = (
        "import gymnasium\n"
        "from sagemaker_rl.user_envs import register_entry_point_env\n"
        "gym_id = register_entry_point_env('knapsack_env:KnapSackEnv')\n"
        "env = gymnasium.make(gym_id, disable_env_checker=True)\n"
        "obs, _ = env.reset(seed=1); obs, r, term, trunc, _ = env.step(1)\n"
        "print('ok', gym_id, obs.dtype, env.observation_space.shape)\n"
        "try:\n"
        "    gymnasium.make(register_entry_point_env('knapsack_env:NoSuchEnv'))\n"
        "except Exception as exc:\n"
        "    print('refused', type(exc).__name__, exc)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), str(tmp_path / "src")])}
    env.pop(era.MARKER, None)
    run = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path / "src", env=env, capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert "ok sagemaker_rl/KnapSackEnv float32 (6,)" in run.stdout, run.stdout + run.stderr[-2000:]
    assert (
        "refused EnvConfigError The environment 'knapsack_env:NoSuchEnv' cannot be loaded: AttributeError: module "
        "'knapsack_env' has no attribute 'NoSuchEnv'" in run.stdout
    )
    assert "rlrt: a gym.spaces.Box of uint32 with infinite bounds" in run.stderr


def test_a_creator_that_imports_gym_itself_gets_the_bridges() -> None:
    """The creator imports the env's module (and so gym) only when called, after the bridges were installed: gym
    0.26 refuses the env, is bridged, and the creator runs once more."""
    code = (
        "import sys\n"
        "from sagemaker_rl.compat import era; era.install()\n"
        "assert 'gym' not in sys.modules\n"
        "from sagemaker_rl.user_envs import UserEnvCreator\n"
        "make = lambda config: __import__('tests.era_envs').era_envs.EraKnapsack()\n"
        "creator = UserEnvCreator('EraKnapsack', make)\n"
        "env = creator.rllib_env_creator({})\n"
        "print('ok', env.observation_space.dtype, env.reset(seed=0)[0].dtype)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop(era.MARKER, None)
    run = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "ok float32 float32" in run.stdout
    assert "rlrt: a gym.spaces.Box of uint32 with infinite bounds" in run.stderr


def test_a_rank3_integer_observation_trains_with_the_conv_layers_the_job_names() -> None:
    """A [16, 7, 4] int16 observation (no default CNN in RLlib 2.x for that shape): float32 for the network, and
    RLlib 1.x's ``model.conv_filters`` reaches RLlib 2.x's CNN encoder."""
    import gym
    import torch
    from ray.rllib.algorithms.ppo.ppo_catalog import PPOCatalog
    from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from envs.adapters import as_user_env
    from runtime.config import hyperparameters as hp
    from runtime.plugins import INSTALLED

    class Board(gym.Env):
        observation_space = gym.spaces.Box(-1, 8, (16, 7, 4), np.int16)
        action_space = gym.spaces.Discrete(7)

        def reset(self):  # type: ignore[no-untyped-def]
            return np.zeros((16, 7, 4), np.int16)

        def step(self, action):  # type: ignore[no-untyped-def]
            return np.ones((16, 7, 4), np.int16), 0.0, True, {}

    env = as_user_env(Board(), "Board")
    filters = [[16, [3, 3], 1], [32, [3, 3], 2]]
    spec = hp.resolve({"rl.training.config.model": {"conv_filters": filters}}, INSTALLED.validator_for, num_cpus=2)
    assert spec.config["model_config"]["conv_filters"] == filters
    module = RLModuleSpec(
        module_class=DefaultPPOTorchRLModule,
        catalog_class=PPOCatalog,
        observation_space=env.observation_space,
        action_space=env.action_space,
        model_config=dict(spec.config["model_config"]),
    ).build()
    observation, _ = env.reset(seed=0)
    out = module.forward_inference({"obs": torch.from_numpy(np.stack([observation, observation]))})
    assert tuple(out["action_dist_inputs"].shape) == (2, 7)
