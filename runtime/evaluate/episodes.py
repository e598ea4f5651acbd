"""The one episode loop every evaluation plays through, its result and its ``Testing>`` line.

:func:`run_episodes` steps one or several copies of an environment together and asks the policy for all their
actions in one batch; it serves ``rlrt evaluate`` (every framework), the evaluation at the end of offline training
and the rollout videos of training (through :func:`runtime.evaluate.video.play_episode`). :func:`testing_line` is
the one Coach-style ``Testing>`` formatter and :meth:`EvaluationResult.summary_lines` the one summary.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
import sys
from typing import Any, Callable, Mapping, Protocol, Sequence, TextIO

import numpy as np

from envs.registry import UnknownEnvironmentError, episode_limit, make_env
from envs.rendering import headless_gl
from runtime.config.hyperparameters import EVALUATE_MAX_EPISODE_STEPS
from runtime.errors import UserError
from runtime.metric_lines import metric_line


STEP_BUDGET_SETTING = EVALUATE_MAX_EPISODE_STEPS
DEFAULT_STEP_BUDGET = 10_000
"""An evaluation episode's step budget when the environment has no step limit of its own (gymnasium's ``TimeLimit``,
``max_episode_steps``; with one, the budget is that limit): an env that never ends an episode would otherwise keep
the evaluation running until the job is killed. Ten times the longest registered gymnasium limit (MuJoCo's 1000), so
an env that ends its episodes itself is not cut: a few seconds of CartPole-speed steps, minutes for a slow simulator."""


@dataclass(frozen=True)
class EvaluationResult:
    """Returns and lengths of the evaluated episodes."""

    returns: tuple[float, ...]
    lengths: tuple[int, ...]

    @property
    def mean(self) -> float:
        """The mean return (NaN without episodes)."""
        return float(np.mean(self.returns)) if self.returns else math.nan

    def summary(self) -> dict[str, float]:
        """``episode_reward_mean``, ``episode_reward_max``, ``episode_reward_min``, ``episode_len_mean`` (empty
        without episodes)."""
        if not self.returns:
            return {}
        return {
            "episode_reward_mean": self.mean,
            "episode_reward_max": float(np.max(self.returns)),
            "episode_reward_min": float(np.min(self.returns)),
            "episode_len_mean": float(np.mean(self.lengths)),
        }

    def summary_lines(self) -> list[str]:
        """The SageMaker metric lines of an evaluation."""
        return [metric_line(key, value) for key, value in self.summary().items()]


def flat_observation(observation: Any, dtype: Any = np.float32) -> np.ndarray:
    """One observation as the exported policy takes it: a Dict observation flattened as RLlib flattens it (entries
    in sorted key order, each raveled), anything else raveled (an image row included)."""
    if isinstance(observation, Mapping):
        return np.concatenate([flat_observation(observation[key], dtype) for key in sorted(observation)])
    return np.asarray(observation, dtype=dtype).reshape(-1)


def testing_line(episode: int, total_reward: float, steps: int, iteration: int = 0, worker: int = 0) -> str:
    """A Coach-style evaluation line (matches ``^Testing>.*Total reward=(.*?),``)."""
    return (
        f"Testing> Name=main_level/agent, Worker={worker}, Episode={episode}, Total reward={total_reward:.2f}, "
        f"Steps={steps}, Training iteration={iteration}"
    )


class Recorder(Protocol):
    """What :func:`run_episodes` asks of a video recorder (see :class:`runtime.evaluate.video.EpisodeRecorder`)."""

    def begin(self, env: Any, episode: int) -> None:
        """Episode ``episode`` (1-based) starts in ``env``, just reset: record it or not."""

    def frame(self, env: Any) -> None:
        """A step was taken in ``env``."""

    def end(self, episode: int, total_reward: float, steps: int) -> None:
        """The episode ended."""


def batched(act: Callable[[np.ndarray], Any]) -> Callable[[np.ndarray], list[Any]]:
    """A batch policy (observations -> actions) from a one-observation policy."""
    return lambda observations: [act(observation) for observation in observations]


def _env_action(action: Any) -> Any:
    """An action as the environment takes it: an int for a discrete one, an array otherwise."""
    if np.ndim(action) == 0:
        return int(action)
    array = np.asarray(action)
    return array if np.issubdtype(array.dtype, np.integer) else array.astype(np.float32)


def run_episodes(
    act: Callable[[np.ndarray], np.ndarray | Sequence[Any]],
    env_id: str,
    episodes: int | None = None,
    seed: int = 10_000,
    env_config: Mapping[str, Any] | None = None,
    max_total_steps: int | None = None,
    parallel: int = 10,
    on_episode: Callable[[int, float, int, int], None] | None = None,
    *,
    recorder: Recorder | None = None,
    episode_step_limit: int | None = None,
    check_env: Callable[[Any], None] | None = None,
    step_budget: int | None = None,
    out: TextIO | None = None,
) -> EvaluationResult:
    """Run ``act`` (a batch of observations -> a batch of actions) for ``episodes`` episodes, or until
    ``max_total_steps`` steps have been taken and the episodes in flight have ended (both given: whichever comes
    first).

    Episode ``i`` is reset with seed ``seed + i``. ``on_episode(index, return, length, total_steps)`` is called as
    each ends. With a ``recorder`` one environment plays the episodes in turn (so each can be filmed);
    ``episode_step_limit`` cuts every episode at that many steps. ``check_env`` is given the first env built, before
    any episode. ``step_budget`` (default: the env's own step limit, else :data:`DEFAULT_STEP_BUDGET`) ends an
    episode the env has not ended by then as truncated, with one line to ``out`` naming the setting to raise.
    """
    if episodes is None and max_total_steps is None:
        raise ValueError("give episodes or max_total_steps")
    width = 1 if recorder is not None else max(1, min(parallel, episodes or parallel))
    config = dict(env_config or {})
    if recorder is not None:
        config["render_mode"] = "rgb_array"
        # Frames only: pygame-rendered envs (CartPole) would open the sound card and a display, which a container has
        # not (SDL then writes "XDG_RUNTIME_DIR is invalid or not set" to the log).
        os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
        os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
        os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
        headless_gl()  # MuJoCo's robots render offscreen, without a display
    envs: list[Any] = []
    returns: list[float] = []
    lengths: list[int] = []
    started = 0
    total_steps = 0

    def more() -> bool:
        return (episodes is None or started < episodes) and (max_total_steps is None or total_steps < max_total_steps)

    try:
        try:
            for _ in range(width):
                envs.append(make_env(env_id, dict(config)))
        except UnknownEnvironmentError as exc:
            raise UserError(str(exc)) from exc
        if check_env is not None:
            check_env(envs[0])
        budget = step_budget or episode_limit(envs[0]) or DEFAULT_STEP_BUDGET
        obs: list[Any] = [None] * width
        ret = [0.0] * width
        length = [0] * width
        episode_of = [0] * width
        active = [False] * width

        def start(i: int) -> None:
            nonlocal started
            obs[i], _ = envs[i].reset(seed=seed + started)
            started += 1
            episode_of[i] = started
            active[i] = True
            if recorder is not None:
                recorder.begin(envs[i], started)

        for i in range(width):
            if more():
                start(i)
        while any(active):
            idx = [i for i in range(width) if active[i]]
            actions = act(np.stack([flat_observation(obs[i]) for i in idx]))
            for j, i in enumerate(idx):
                obs[i], reward, terminated, truncated, _ = envs[i].step(_env_action(actions[j]))
                ret[i] += float(reward)
                length[i] += 1
                total_steps += 1
                if recorder is not None:
                    recorder.frame(envs[i])
                cut = episode_step_limit is not None and length[i] >= episode_step_limit
                if not (terminated or truncated or cut) and length[i] >= budget:
                    cut = True
                    print(
                        f"rlrt: evaluation episode {len(returns) + 1} did not end within {budget} steps: it ends "
                        f"there, truncated (raise the hyperparameter {STEP_BUDGET_SETTING} to play longer episodes)",
                        file=out or sys.stdout,
                        flush=True,
                    )
                if terminated or truncated or cut:
                    returns.append(ret[i])
                    lengths.append(length[i])
                    if recorder is not None:
                        recorder.end(episode_of[i], ret[i], length[i])
                    if on_episode:
                        on_episode(len(returns), ret[i], length[i], total_steps)
                    ret[i], length[i] = 0.0, 0
                    active[i] = False
                    if more():
                        start(i)
    finally:
        for env in envs:
            env.close()
    return EvaluationResult(tuple(returns), tuple(lengths))
