"""Evaluate a d3rlpy policy in an environment: after offline training, and from a trained model (``model`` channel).

:func:`run_episodes` steps several copies of the environment together and asks the policy for all their actions in
one batch. :func:`evaluate_model_job` is the evaluation job of the seeds' Batch RL flow (``evaluate-coach.py``): it
finds the d3rlpy model in the ``model`` channel (or the legacy ``checkpoint`` channel), evaluates it for
``evaluate_episodes`` episodes (or until ``evaluate_steps`` steps, the seeds' Coach parameter) and prints
Coach-style ``Testing> ... Total reward=<x>, ...`` lines per episode and the ``episode_reward_mean:`` summary.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Mapping, TextIO

import numpy as np

from runtime.errors import UserError

MODEL_FILE = "model.d3"
DEFAULT_EVALUATE_EPISODES = 10


@dataclass(frozen=True)
class EvaluationResult:
    """Returns and lengths of the evaluated episodes."""

    returns: tuple[float, ...]
    lengths: tuple[int, ...]

    @property
    def mean(self) -> float:
        return float(np.mean(self.returns)) if self.returns else math.nan

    def summary_lines(self) -> list[str]:
        """The SageMaker metric lines of an evaluation."""
        from runtime.train.reporting import format_value

        if not self.returns:
            return []
        return [
            f"episode_reward_mean: {format_value(self.mean)}",
            f"episode_reward_max: {format_value(float(np.max(self.returns)))}",
            f"episode_reward_min: {format_value(float(np.min(self.returns)))}",
            f"episode_len_mean: {format_value(float(np.mean(self.lengths)))}",
        ]


def testing_line(episode: int, total_reward: float, steps: int, iteration: int = 0) -> str:
    """A Coach-style evaluation line (matches ``^Testing>.*Total reward=(.*?),``)."""
    return (
        f"Testing> Name=main_level/agent, Worker=0, Episode={episode}, Total reward={total_reward:.2f}, "
        f"Steps={steps}, Training iteration={iteration}"
    )


def run_episodes(
    act: Callable[[np.ndarray], np.ndarray],
    env_id: str,
    episodes: int | None = None,
    seed: int = 10_000,
    env_config: Mapping[str, Any] | None = None,
    max_total_steps: int | None = None,
    parallel: int = 10,
    on_episode: Callable[[int, float, int, int], None] | None = None,
) -> EvaluationResult:
    """Run ``act`` (a batch of observations -> a batch of actions) for ``episodes`` episodes, or until
    ``max_total_steps`` steps have been taken and the episodes in flight have ended.

    Episode ``i`` is reset with seed ``seed + i``. ``on_episode(index, return, length, total_steps)`` is called as
    each ends.
    """
    from envs.registry import UnknownEnvironmentError, make_env

    if episodes is None and max_total_steps is None:
        raise ValueError("give episodes or max_total_steps")
    width = max(1, min(parallel, episodes or parallel))
    try:
        envs = [make_env(env_id, dict(env_config or {})) for _ in range(width)]
    except UnknownEnvironmentError as exc:
        raise UserError(str(exc)) from exc
    returns: list[float] = []
    lengths: list[int] = []
    started = 0
    total_steps = 0

    def more() -> bool:
        if episodes is not None:
            return started < episodes
        return total_steps < int(max_total_steps or 0)

    try:
        obs: list[Any] = [None] * width
        ret = [0.0] * width
        length = [0] * width
        active = [False] * width
        for i in range(width):
            if more():
                obs[i], _ = envs[i].reset(seed=seed + started)
                started += 1
                active[i] = True
        while any(active):
            idx = [i for i in range(width) if active[i]]
            actions = act(np.stack([np.asarray(obs[i], dtype=np.float32).reshape(-1) for i in idx]))
            for j, i in enumerate(idx):
                action = actions[j]
                action = int(action) if np.ndim(action) == 0 else np.asarray(action, dtype=np.float32)
                obs[i], reward, terminated, truncated, _ = envs[i].step(action)
                ret[i] += float(reward)
                length[i] += 1
                total_steps += 1
                if terminated or truncated:
                    returns.append(ret[i])
                    lengths.append(length[i])
                    if on_episode:
                        on_episode(len(returns), ret[i], length[i], total_steps)
                    ret[i], length[i] = 0.0, 0
                    if more():
                        obs[i], _ = envs[i].reset(seed=seed + started)
                        started += 1
                    else:
                        active[i] = False
    finally:
        for env in envs:
            env.close()
    return EvaluationResult(tuple(returns), tuple(lengths))


def find_model(root: Path) -> Path:
    """The d3rlpy model file under ``root``: ``model.d3`` in a model folder, or in its newest checkpoint."""
    if root.is_file() and root.name.endswith(".d3"):
        return root
    candidates = sorted(root.rglob(MODEL_FILE))
    if not candidates:
        found = sorted(p.name for p in root.rglob("*") if p.is_file())[:8]
        raise UserError(
            f"No d3rlpy model ({MODEL_FILE}) under {root}"
            + (f"; found: {', '.join(found)}." if found else " (the folder is empty).")
            + " Pass the /opt/ml/model output of an offline training job (its model.tar.gz, extracted)."
        )
    # Prefer a model folder's own file (checkpoint/model.d3 next to metadata.json), else the newest checkpoint.
    with_metadata = [c for c in candidates if (c.parent / "metadata.json").is_file() or (c.parent.parent / "metadata.json").is_file()]
    return (with_metadata or candidates)[-1]


def model_metadata(model_file: Path) -> dict[str, Any]:
    """metadata.json next to the model (or one level up), or {}."""
    for folder in (model_file.parent, model_file.parent.parent):
        path = folder / "metadata.json"
        if path.is_file():
            try:
                return json.loads(path.read_text())
            except json.JSONDecodeError as exc:
                raise UserError(f"{path} is not valid JSON: {exc}") from exc
    return {}


def load_model(model_file: Path) -> Any:
    """Load a d3rlpy model written by :func:`d3rlpy.base.dump_learnable` (our checkpoints and model folder)."""
    import d3rlpy

    try:
        return d3rlpy.load_learnable(str(model_file), device="cpu:0")
    except Exception as exc:  # noqa: BLE001 - a corrupt or foreign file: the user's to fix
        raise UserError(f"Cannot load the d3rlpy model {model_file}: {type(exc).__name__}: {exc}") from exc


def evaluate_model(
    model_root: Path,
    env_id: str | None,
    episodes: int | None,
    steps: int | None,
    seed: int = 10_000,
    env_config: Mapping[str, Any] | None = None,
    stream: TextIO | None = None,
) -> EvaluationResult:
    """Evaluate the d3rlpy model under ``model_root`` in ``env_id`` (default: the env it was trained for)."""
    import torch

    torch.set_num_threads(1)
    out = stream or sys.stdout
    model_file = find_model(model_root)
    metadata = model_metadata(model_file)
    env_id = env_id or metadata.get("env")
    if not env_id:
        raise UserError(f"No environment to evaluate {model_file} in: set the 'env' hyperparameter (e.g. CartPole-v0).")
    algo = load_model(model_file)
    if episodes is None and steps is None:
        episodes = DEFAULT_EVALUATE_EPISODES
    print(f"rlrt: evaluating {model_file} in {env_id} "
          + (f"for {episodes} episodes" if episodes else f"for {steps} steps"), file=out, flush=True)

    def on_episode(index: int, total: float, length: int, total_steps: int) -> None:
        print(testing_line(index, total, total_steps), file=out, flush=True)

    result = run_episodes(algo.predict, env_id, episodes=episodes, max_total_steps=None if episodes else steps,
                          seed=seed, env_config=env_config, on_episode=on_episode)
    for line in result.summary_lines():
        print(line, file=out)
    out.flush()
    return result


def evaluate_model_job(base_dir: Path | None = None) -> int:
    """The evaluation job: hyperparameters ``env`` / ``evaluate_episodes`` / ``evaluate_steps`` / preset, the model in
    the ``model`` channel (or ``checkpoint``). Ends through the one failure path."""
    from runtime.config import hyperparameters as hp
    from runtime.errors import default_failure_file, run_job
    from runtime.config.presets import load_preset
    from runtime.job.environment import load_environment

    def job() -> int:
        env = load_environment(base_dir)
        given = {k: v for k, v in env.hyperparameters.items() if not k.startswith(hp.SAGEMAKER_PREFIX)}
        checks = {k: hp.TOP_LEVEL_KEYS[k] for k in (hp.EVALUATE_EPISODES, hp.EVALUATE_STEPS, hp.EVAL_ENV, hp.SEED)}
        problems = [p for k, c in checks.items() if k in given for p in [hp.check_value(k, given[k], c)] if p]
        if problems:
            raise UserError("Invalid hyperparameter: " + "; ".join(problems))
        env_id = given.get(hp.EVAL_ENV)
        preset_name = next((given[k] for k in (hp.PRESET, *hp.PRESET_ALIASES) if k in given), None)
        if env_id is None and preset_name:
            env_id = load_preset(str(preset_name)).env
        channel = next((c for c in ("model", "checkpoint") if env.channel_dir(c).is_dir()), None)
        if channel is None:
            env.require_channel("model")
        result = evaluate_model(
            env.channel_dir(str(channel)),
            env_id,
            given.get(hp.EVALUATE_EPISODES),
            given.get(hp.EVALUATE_STEPS),
            seed=int(given.get(hp.SEED, 10_000)),
        )
        env.intermediate_dir.mkdir(parents=True, exist_ok=True)
        (env.intermediate_dir / "evaluation.json").write_text(
            json.dumps({"returns": list(result.returns), "lengths": list(result.lengths), "mean": result.mean}, indent=2)
        )
        return 0

    return run_job(job, lambda: (base_dir / "output" / "failure") if base_dir else default_failure_file())
