"""Environment ids and aliases, and the PyBullet robots' spaces and stepping through our registry."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest

from envs.registry import UnknownEnvironmentError, canonical_env_id, make_env


@pytest.mark.parametrize(
    ("env_id", "obs_dim", "act_dim", "limit"),
    [
        ("RoboschoolReacher-v1", 9, 2, 150),
        ("HopperBulletEnv-v0", 15, 3, 1000),
        ("Humanoid", 44, 17, 1000),
        # the robots without a preset, by their Roboschool ids where Roboschool had them
        ("HalfCheetahBulletEnv-v0", 26, 6, 1000),
        ("RoboschoolWalker2d-v1", 22, 6, 1000),
        ("RoboschoolAnt-v1", 28, 8, 1000),
        ("RoboschoolInvertedPendulum-v1", 5, 1, 1000),
        ("RoboschoolInvertedDoublePendulum-v1", 9, 1, 1000),
        ("RoboschoolInvertedPendulumSwingup-v1", 5, 1, 1000),
        ("RoboschoolHumanoidFlagrun-v1", 44, 17, 1000),
        ("RoboschoolHumanoidFlagrunHarder-v1", 44, 17, 1000),
        ("PusherBulletEnv-v0", 55, 7, 150),
    ],
)
def test_pybullet_robots(env_id: str, obs_dim: int, act_dim: int, limit: int) -> None:
    env = make_env(env_id)
    try:
        assert env.observation_space.shape == (obs_dim,)
        assert env.action_space.shape == (act_dim,)
        assert env.spec.max_episode_steps == limit
        obs, _ = env.reset(seed=0)
        obs2, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert obs.shape == obs2.shape == (obs_dim,) and np.isfinite(reward)
        assert isinstance(terminated, bool) and isinstance(truncated, bool)
    finally:
        env.close()


def test_env_config_reaches_gymnasium_make() -> None:
    env = make_env("CartPole-v1", {"max_episode_steps": 5})
    env.reset(seed=0)
    truncated = False
    for _ in range(5):
        _, _, terminated, truncated, _ = env.step(0 if _ % 2 else 1)
        if terminated:
            break
    assert truncated or terminated
    env.close()


def test_headless_rgb_render() -> None:
    env = make_env("ReacherBulletEnv-v0", {"render_mode": "rgb_array"})
    env.reset(seed=0)
    frame = env.render()
    env.close()
    assert frame.shape == (240, 320, 3) and frame.dtype == np.uint8


@pytest.mark.parametrize(
    "retired, current",
    [("Hopper-v3", "Hopper-v5"), ("Humanoid-v2", "Humanoid-v5"), ("HalfCheetah-v3", "HalfCheetah-v5")],
)
def test_a_mujoco_py_robot_gymnasium_no_longer_builds_is_named_with_the_version_that_is_installed(
    retired: str, current: str
) -> None:
    """gymnasium 1.x still registers its mujoco-py robots (v2, v3: what older examples name), with an entry point
    that only raises ImportError; the id is refused up front with the installed version of the same robot."""
    with pytest.raises(ImportError):
        gymnasium.make(retired)
    with pytest.raises(
        UnknownEnvironmentError,
        match=rf"{retired} is one of gymnasium's mujoco-py robots .* "
        rf"{current} is the same robot .* train --env {current}\.$",
    ):
        canonical_env_id(retired)
    assert make_env(current).observation_space.shape == gymnasium.make(current).observation_space.shape


def test_unknown_env_suggests_the_closest() -> None:
    with pytest.raises(UnknownEnvironmentError, match="Did you mean 'HopperBulletEnv-v0'"):
        canonical_env_id("HopperBulletEnv-v1")


def test_the_reacher_camera_frames_the_arm() -> None:
    """PyBullet's default camera (3 m away) draws the Reacher's arm a few pixels wide on a checkerboard; rlrt places
    it over the arena (EnvInfo.camera), so the (blue) arm covers a visible part of each rollout-video frame."""
    from envs.registry import make_env

    env = make_env("ReacherBulletEnv-v0", {"render_mode": "rgb_array"})
    try:
        env.reset(seed=0)
        frame = env.render().astype(int)
    finally:
        env.close()
    blue = (frame[:, :, 2] > frame[:, :, 1] + 40) & (frame[:, :, 2] > frame[:, :, 0] + 40)
    assert blue.mean() > 0.001, f"the arm covers {blue.mean():.2%} of the frame"  # 0.004 % from 3 m


def test_the_episode_limit_of_an_environment_built_without_gymnasium_make() -> None:
    """episode_limit reads gymnasium's private ``TimeLimit._max_episode_steps``: the limit's public form,
    ``spec.max_episode_steps``, is missing when the wrapped environment has no spec (a user's creator, an entry
    point's class). Pins that attribute (gymnasium 1.x), and that ``capped`` keeps a shorter limit unwrapped."""
    import gymnasium
    from gymnasium.envs.classic_control import CartPoleEnv

    from envs.registry import capped, episode_limit

    env = gymnasium.wrappers.TimeLimit(CartPoleEnv(), 7)
    assert env.spec is None and episode_limit(env) == 7
    assert capped(env, 10) is env
    shorter = capped(env, 5)
    assert shorter is not env and episode_limit(shorter) == 5


def test_an_env_whose_extra_is_missing_names_the_package_and_where_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An environment whose package is not installed (here LunarLander-v3 with Box2D made unimportable: the lock
    holds it) is one sentence naming the package and the Python environment to install it in, not gymnasium's
    traceback."""
    import sys

    from envs.errors import EnvConfigError

    monkeypatch.setitem(sys.modules, "Box2D", None)  # `import Box2D` raises ImportError
    for name in [module for module in sys.modules if module.startswith("gymnasium.envs.box2d")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(
        EnvConfigError,
        match=r"LunarLander-v3 needs a package that is not installed in this Python "
        r"environment \(.*\): Box2D is not installed.*gymnasium\[box2d\]",
    ) as err:
        make_env("LunarLander-v3")
    assert sys.prefix in str(err.value)


def test_gymnasiums_module_colon_id_imports_the_module_that_registers_it(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """``gymnasium.make("module:Name-v0")`` imports ``module`` first; rlrt's registry takes the same form (every
    process that makes the env imports the module), and names a module that does not import."""
    monkeypatch.setenv("RLRT_TEST_ORACLE_DIR", str(tmp_path))
    assert canonical_env_id("tests.oracle_envs:Oracle-CartPole-v1") == "tests.oracle_envs:Oracle-CartPole-v1"
    env = make_env("tests.oracle_envs:Oracle-Counting-v0", {"limit": 3})
    assert env.observation_space.shape == (2,)
    env.close()
    with pytest.raises(
        UnknownEnvironmentError,
        match="names the module 'no_such_module_here', which does not import: ModuleNotFoundError",
    ):
        canonical_env_id("no_such_module_here:Thing-v0")
    with pytest.raises(UnknownEnvironmentError, match="Unknown environment 'tests.oracle_envs:Nothing-v0'"):
        canonical_env_id("tests.oracle_envs:Nothing-v0")
