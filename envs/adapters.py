"""Old-style environments as gymnasium environments.

Users' own environment creators (the SageMaker RL scripts' ``register_env`` creators) may return environments of the
unmaintained ``gym`` package: the 0.21 API (``reset() -> obs``, ``step() -> (obs, reward, done, info)``) or the 0.26
API (already gymnasium's five-tuple, with ``gym.spaces``). :func:`to_gymnasium` adapts them with Shimmy, the Farama
Foundation's maintained adapters; gymnasium environments (and RLlib's multi-agent environments) pass unchanged.
"""

from __future__ import annotations

import inspect
import sys
from typing import Any

import gymnasium
import numpy as np

from envs.action_masks import with_action_mask
from envs.errors import EnvConfigError


def _takes_seed(env: Any) -> bool:
    """Whether the innermost environment's ``reset`` follows the 0.26 API (``reset(seed=..., options=...)``)."""
    core = getattr(env, "unwrapped", env)
    try:
        parameters = inspect.signature(core.reset).parameters
    except (TypeError, ValueError):
        return True
    return "seed" in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _skip_gym_passive_checks(env: Any) -> None:
    """``gym.make`` wraps environments in gym 0.26's ``PassiveEnvChecker``, whose first-step check uses
    ``np.bool8`` (removed in NumPy 2) and fails every environment; mark its one-time checks as done. Shimmy's
    adapter and RLlib check what they consume themselves."""
    seen = 0
    while env is not None and seen < 64:
        if type(env).__name__ == "PassiveEnvChecker" and type(env).__module__.startswith("gym."):
            env.checked_reset = env.checked_step = env.checked_render = True
        env = getattr(env, "env", None)
        seen += 1


RGB_ARRAY = "rgb_array"


def _chain(env: Any) -> list[Any]:
    """``env`` and every environment it wraps (gymnasium's ``env``, Shimmy's ``gym_env``), outermost first."""
    found: list[Any] = []
    while env is not None and len(found) < 64 and all(env is not seen for seen in found):
        found.append(env)
        env = getattr(env, "gym_env", None) or getattr(env, "env", None)
    return found


class RgbArrayFrames(gymnasium.Wrapper):
    """An environment built without ``render_mode`` (a user's creator ignores it) whose innermost environment offers
    ``rgb_array``: every environment in the chain is switched to ``rgb_array`` (PyBullet's robots render by that
    attribute at call time), and an old-gym environment is asked with ``render(mode="rgb_array")``."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        self._chain = _chain(env)
        for part in self._chain:
            try:
                part.render_mode = RGB_ARRAY
            except AttributeError:  # a read-only property that delegates further in
                pass

    # gymnasium.Wrapper itself makes Env's attribute a read-only property (so does this one: its __init__ relies on
    # the AttributeError of setting one), which mypy reports for every such override.
    @property
    def render_mode(self) -> str:  # type: ignore[override]
        return RGB_ARRAY

    def render(self) -> Any:
        frame: Any = self.env.render()
        if frame is None:
            innermost = self._chain[-1]
            try:
                frame = innermost.render(mode=RGB_ARRAY)
            except TypeError:
                frame = None
        return frame


def offers_rgb_array(env: Any) -> bool:
    """Whether any environment in ``env``'s chain lists ``rgb_array`` among its render modes."""
    return any(
        RGB_ARRAY
        in list(
            (getattr(part, "metadata", None) or {}).get("render_modes")
            or (getattr(part, "metadata", None) or {}).get("render.modes")
            or []
        )
        for part in _chain(env)
    )


def with_render_mode(env: gymnasium.Env, render_mode: str | None) -> gymnasium.Env:
    """``env`` rendering as ``render_mode`` asks when it can (only ``rgb_array`` is arranged after the fact: rollout
    videos); otherwise unchanged."""
    if render_mode != RGB_ARRAY or getattr(env, "render_mode", None) == RGB_ARRAY or not offers_rgb_array(env):
        return env
    return RgbArrayFrames(env)


def to_gymnasium(env: Any, source: str) -> gymnasium.Env:
    """``env`` as a gymnasium environment; ``source`` names what built it (for the error when it is no environment).

    A ``gym.Env`` with the 0.26 API is wrapped in Shimmy's ``GymV26CompatibilityV0``; one with the 0.21 API (or any
    object with ``reset``/``step`` that is not a gymnasium environment) in ``GymV21CompatibilityV0``, which turns
    ``done`` into ``terminated``/``truncated`` (``info["TimeLimit.truncated"]``). Anything else is an
    :class:`EnvConfigError` naming ``source`` and what it returned.
    """
    if isinstance(env, gymnasium.Env):
        return env
    if not (
        callable(getattr(env, "reset", None))
        and callable(getattr(env, "step", None))
        and hasattr(env, "observation_space")
        and hasattr(env, "action_space")
    ):
        raise EnvConfigError(
            f"{source} returned {type(env).__module__}.{type(env).__qualname__} ({str(env)[:80]!r}), which is not an "
            "environment: it must return a gymnasium.Env or a gym.Env (with reset(), step(), observation_space and "
            "action_space)."
        )
    from shimmy import GymV21CompatibilityV0, GymV26CompatibilityV0  # heavy: old-gym adapters (user envs only)

    _skip_gym_passive_checks(env)
    if hasattr(env, "__dict__"):
        env.close = _CloseWhatItHolds(env)
    if _takes_seed(env):
        return StringInfoKeys(GymV26CompatibilityV0(env=env))
    if not callable(getattr(env, "seed", None)) and hasattr(env, "__dict__"):
        env.seed = _Unseeded(source)  # Shimmy calls seed(seed) on every seeded reset
    return StringInfoKeys(GymV21CompatibilityV0(env=env))


class StringInfoKeys(gymnasium.Wrapper):
    """An old gym env's ``info`` with its keys made strings: gym let them be anything (the bin-packing example's
    ``info`` counts bins by their int size), gymnasium's vector envs, which RLlib 2.x steps, need strings."""

    @staticmethod
    def _strings(info: dict[Any, Any]) -> dict[str, Any]:
        return info if all(isinstance(key, str) for key in info) else {str(key): v for key, v in info.items()}

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(**kwargs)
        return observation, self._strings(info)

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        return observation, reward, terminated, truncated, self._strings(info)


def _is_environment(value: Any) -> bool:
    return (
        callable(getattr(value, "close", None))
        and callable(getattr(value, "step", None))
        and callable(getattr(value, "reset", None))
    )


class _CloseWhatItHolds:
    """``close()`` of a user's old-gym environment that also closes the environments it holds: the seeds'
    ``UnityEnvWrapper`` keeps a ``UnityToGymWrapper`` (and its game process) in ``self.env`` and has no ``close()``
    of its own, so closing it left the game running and the job's process waiting for it."""

    def __init__(self, env: Any) -> None:
        self.close = getattr(env, "close", None)  # the environment's own (gym's base class: nothing), if any
        self.held = (
            [value for value in vars(env).values() if value is not env and _is_environment(value)]
            if hasattr(env, "__dict__")
            else []
        )

    def __call__(self) -> None:
        try:
            if callable(self.close):
                self.close()
        finally:
            for held in self.held:
                try:
                    held.close()
                except Exception:  # noqa: BLE001 - closing twice or a half-built environment: nothing left to free
                    pass


class _Unseeded:
    """``seed()`` for a gym 0.21-style environment that has none (its own RNG, or none at all): the episodes run
    unseeded, and the first seeded reset says so, once per process for all the copies ``source`` makes (an env
    runner steps several)."""

    def __init__(self, source: str) -> None:
        self.source = source

    def __call__(self, seed: int | None = None) -> list[int | None]:
        if seed is not None:
            say_once(
                f"unseeded {self.source}",
                f"rlrt: {self.source} returned an environment without seed() (gym "
                "0.21 API): its episodes are not seeded; define seed(self, seed) to seed them",
            )
        return [seed]


class Float32Observations(gymnasium.ObservationWrapper):
    """Box observations of another dtype (integers, unsigned, float64) or given as lists, as float32 arrays: what
    RLlib 1.x's preprocessors fed the network, and what RLlib 2.x's networks need (its torch layers refuse an int16
    batch). The bounds are kept (an integer bound is exact in float32 up to 2**24). ``flatten``: made vectors, as
    RLlib 1.x's fully connected network flattened them (RLlib 2.x has encoders for vectors and images only)."""

    def __init__(self, env: gymnasium.Env, flatten: bool = False) -> None:
        super().__init__(env)
        space = env.observation_space
        assert isinstance(space, gymnasium.spaces.Box), "Float32Observations wraps a Box observation space"
        self._shape = (int(np.prod(space.shape)),) if flatten else space.shape
        self.observation_space = gymnasium.spaces.Box(
            space.low.astype(np.float32).reshape(self._shape),
            space.high.astype(np.float32).reshape(self._shape),
            self._shape,
            np.float32,
        )

    def observation(self, observation: Any) -> Any:
        return np.asarray(observation, dtype=np.float32).reshape(self._shape)


_SAID: set[str] = set()


def say_once(key: str, line: str) -> None:
    """Print ``line`` (an ``rlrt:`` line announcing an adaptation) to stderr once per process for ``key``: not again
    for each vectorised copy of the same environment."""
    if key not in _SAID:
        _SAID.add(key)
        # One write, the newline with it: a reader copying stderr line by line never sees half of it.
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


def with_float32_observations(env: gymnasium.Env, source: str) -> gymnasium.Env:
    """``env`` with Box observations of another dtype than float32 cast to float32, and those of rank 2 or above 3
    flattened (:class:`Float32Observations`, each announced in one line naming ``source``), and a float32 Box's list
    observations made arrays; others unchanged (rank 3: images, for the conv layers the job names)."""
    space = env.observation_space
    if not isinstance(space, gymnasium.spaces.Box):
        return env
    flatten = len(space.shape) == 2 or len(space.shape) > 3
    if space.dtype != np.float32:
        say_once(
            f"cast {source}",
            f"rlrt: {source} observes a Box of {space.dtype}: its observations are cast to "
            "float32 for the network (as RLlib 1.x's preprocessors did)",
        )
    if flatten:
        say_once(
            f"flatten {source}",
            f"rlrt: {source} observes a Box of shape {list(space.shape)}: its observations "
            f"are flattened to {int(np.prod(space.shape))} values (as RLlib 1.x's fully connected network did; "
            "RLlib 2.x has encoders for vectors and rank-3 images only)",
        )
    return Float32Observations(env, flatten)


class FloatBoxActions(gymnasium.ActionWrapper):
    """An integer Box action space as a float32 Box of the same bounds (RLlib 2.x has no distribution for integer
    Box actions): the env receives the float actions, as Coach's and RLlib 1.x's continuous policies gave them."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        space = env.action_space
        assert isinstance(space, gymnasium.spaces.Box), "FloatBoxActions wraps a Box action space"
        self.action_space = gymnasium.spaces.Box(
            space.low.astype(np.float32), space.high.astype(np.float32), space.shape, np.float32
        )

    def action(self, action: Any) -> Any:
        return action


def with_float_box_actions(env: gymnasium.Env, source: str) -> gymnasium.Env:
    """``env`` with an integer Box action space made float32 (:class:`FloatBoxActions`, announced in one line)."""
    space = env.action_space
    if not isinstance(space, gymnasium.spaces.Box) or np.dtype(space.dtype).kind not in "iu":
        return env
    say_once(
        f"actions {source}",
        f"rlrt: {source} acts in a Box of {space.dtype}: its policy is continuous in the "
        "same bounds and the env receives float actions, as Coach and RLlib 1.x gave them (RLlib 2.x has no "
        "distribution for integer Box actions)",
    )
    return FloatBoxActions(env)


def as_user_env(env: Any, source: str) -> gymnasium.Env:
    """A user's environment of any era as rlrt trains it: gymnasium (:func:`to_gymnasium`), float32 Box observations
    (:func:`with_float32_observations`), float32 Box actions (:func:`with_float_box_actions`) and the uniform
    action mask (:func:`with_action_mask`); ``source`` names what built it, in errors and in the lines announcing
    each adaptation."""
    env = with_float32_observations(to_gymnasium(env, source), source)
    return with_action_mask(with_float_box_actions(env, source))
