"""The d3rlpy training session behind the loop driver's :class:`runtime.contracts.TrainingSession` contract.

An iteration is an epoch: ``n_steps_per_epoch`` gradient steps on mini-batches sampled from the ``train`` channel's
logged data; after it, off-policy evaluation (IS, WIS, DR, SDR, and FQE when ``fqe_steps`` > 0), optionally an
evaluation of the greedy policy in the environment (``evaluation_episodes``), the OPE lines and the OPE CSV.
With ``select_by`` other than ``last``, the exported model is the epoch with the best value of that signal (model
selection on an off-policy estimate or on the evaluation return); the checkpoints hold the latest epoch.
"""

from __future__ import annotations

import copy
import io
import json
import math
import os
import pickle
import time
from pathlib import Path
from typing import Any, Callable, Mapping

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.registry import make_env
from runtime.backends.d3rlpy.config import is_discrete, split_config
from runtime.backends.d3rlpy.library import GRAD_STEP_FILE, import_d3rlpy, save_algo
from runtime.backends.d3rlpy.policy import discrete_policy_module, policy_tables, serving_model
from runtime.backends.d3rlpy import squared_error
from runtime.config import hyperparameters as hp
from runtime.config.threads import job_threads, use_threads
from runtime.contracts import Actor, BackendContext, ModelInfo, Step, TrainingSession
from runtime.errors import JobInterrupted, UserError
from runtime.evaluate.episodes import EvaluationResult, run_episodes
from runtime.export.policy import ServingModel
from runtime.names import CHECKPOINT_DIR, D3RLPY_MODEL_FILE
from runtime.offline import ope
from runtime.offline.dataset import load_logged_data
from runtime.offline.sampler import TransitionTable
from runtime.offline.sources import common_folder, given_data_sources, offline_data_source
from runtime.train.checkpoints import TrainingState
from runtime.train.reporting import IterationMetrics

EVALUATION_SEED = 10_000
FINAL_EVALUATION_EPISODES = 5
"""Episodes the exported policy is evaluated for after training (hyperparameter ``evaluate_episodes``; 0: none)."""


def _time_limit(env_id: str | None) -> int | None:
    if not env_id:
        return None
    try:
        return gym.spec(env_id).max_episode_steps
    except Exception:  # noqa: BLE001 - an env registered by an optional package: no time limit known
        return None


def _check_data_against_env(data: Any, env_id: str) -> tuple[Any, Any]:
    """The data must fit the environment it is evaluated in; returns the environment's spaces."""
    env = make_env(env_id)
    try:
        shape = env.observation_space.shape
        if shape is None:  # a Dict or Tuple space: the logged data's observations are flat vectors
            raise UserError(f"{env_id}'s observations have no fixed shape; the data in the train channel needs one.")
        obs_size = int(np.prod(shape))
        if obs_size != data.observation_size:
            raise UserError(
                f"The data in the train channel has {data.observation_size} state features but {env_id}'s observations "
                f"have {obs_size}. Set 'rl.training.env' to the environment the data was logged in."
            )
        action_space = env.action_space
        if isinstance(action_space, spaces.Discrete) != data.discrete:
            kind = "discrete" if data.discrete else "continuous"
            raise UserError(f"The data's actions are {kind} but {env_id}'s are not.")
        if isinstance(action_space, spaces.Discrete) and data.n_actions > int(action_space.n):
            raise UserError(f"The data has {data.n_actions} actions but {env_id} has {int(action_space.n)}.")
        return env.observation_space, env.action_space
    finally:
        env.close()


def _mean_of(losses: Mapping[str, Any], keys: tuple[str, ...]) -> float:
    """The epoch's mean of the first of ``keys`` d3rlpy reported (NaN when none)."""
    key = next((k for k in keys if k in losses), None)
    return float(np.mean(losses[key])) if key is not None else math.nan


def _learning_rate(algo: Any) -> float:
    """d3rlpy's configured learning rate (the Q function's, else the actor's), NaN when it has none."""
    config = getattr(algo, "config", None)
    for name in ("learning_rate", "critic_learning_rate", "actor_learning_rate"):
        value = getattr(config, name, None)
        if isinstance(value, (int, float)):
            return float(value)
    return math.nan


class D3rlpySession(TrainingSession):
    """One d3rlpy algorithm trained epoch by epoch on logged data."""

    units = ("epoch", "gradient steps")

    def __init__(self, context: BackendContext) -> None:
        d3rlpy = import_d3rlpy()
        from d3rlpy.algos.utility import build_scalers_with_transition_picker  # heavy: d3rlpy

        self.context = context
        spec, job, out = context.spec, context.job, context.out
        d3config, self.own = split_config(spec.algorithm, spec.config)
        threads = job_threads(spec.threads, spec.config, job.num_cpus)
        use_threads(threads.learner)
        print(threads.line(), file=out, flush=True)
        self.env_id = context.env_id
        self.discrete = is_discrete(spec.algorithm)
        sources = given_data_sources(job, self.own["input"]) if self.own["input"] else [offline_data_source(job)]
        data_dir = common_folder(sources)
        self.data = data = load_logged_data(sources, self.own["time_limit"] or _time_limit(self.env_id))
        if data.discrete != self.discrete:
            raise UserError(
                f"{spec.algorithm} needs {'discrete' if self.discrete else 'continuous'} actions, but the data in "
                f"{data_dir} has {'discrete' if data.discrete else 'continuous'} ones."
            )
        self.spaces = _check_data_against_env(data, self.env_id) if self.env_id else None
        print(
            f"rlrt: offline data: {data.num_episodes} episodes, {data.num_transitions} steps from {len(data.files)} "
            f"file(s) in {data_dir} ({', '.join(os.path.relpath(p, data_dir) for p in data.files[:5])}"
            f"{', ...' if len(data.files) > 5 else ''}); "
            f"mean logged return {float(np.mean(data.episode_returns())):.2f}"
            + ("" if data.behaviour_probs is not None else "; no behaviour probabilities: only FQE is reported"),
            file=out,
            flush=True,
        )
        if spec.seed is not None:
            d3rlpy.seed(spec.seed)
        self.dataset = dataset = data.to_d3rlpy()
        self.algo: Any = d3config.create(device="cpu:0")
        algo = self.algo
        build_scalers_with_transition_picker(algo, dataset)
        algo.create_impl((data.observation_size,), data.n_actions)
        # The same transitions and distribution as dataset.sample_transition_batch, without its per-sample loop.
        self.sample = dataset.sample_transition_batch if algo.need_returns_to_go else TransitionTable(dataset).sample
        self.gamma = d3config.gamma
        self.batch_size = int(d3config.batch_size)
        self.temperature = float(self.own["ope_temperature"])
        self.reward_model = ope.fit_reward_model(data) if self.discrete and data.behaviour_probs is not None else None
        self.fqe = (
            ope.FQETracker(
                algo,
                dataset,
                data,
                d3config.gamma,
                sample=self.sample,
                observation_scaler=copy.deepcopy(algo.observation_scaler),
                q_func_factory=squared_error.fqe_q_function(self.discrete),
            )
            if self.own["fqe_steps"] > 0
            else None
        )
        self.step_limit = min(
            [spec.stop[k] for k in ("gradient_steps", hp.STOP_TIMESTEPS_TOTAL) if k in spec.stop], default=math.inf
        )
        self.select_by = str(self.own["select_by"])
        self.best: tuple[float, int, bytes] | None = None
        self.update_seconds = 0.0
        self.ope_csv = ope.OPECsv(job.intermediate_dir / ope.OPE_CSV)

    def describe(self) -> str:
        return (
            f"{self.context.spec.algorithm} (d3rlpy) offline on {self.env_id or 'logged data'}, "
            f"{int(self.own['n_steps_per_epoch'])} gradient steps per epoch, batch {self.batch_size}"
        )

    def rollout_actor(self) -> Actor:
        """observation -> action: the greedy policy being trained (for the driver's rollout videos)."""
        return lambda observation: self.algo.predict(np.asarray(observation, dtype=np.float32)[None])[0]

    def checkpoint_spaces(self) -> tuple[Any, Any]:
        """The environment's spaces, or the data's when the job names no environment; recorded in each checkpoint."""
        if self.spaces is not None:
            return self.spaces
        data = self.data
        observations = spaces.Box(-np.inf, np.inf, shape=(data.observation_size,), dtype=np.float32)
        actions = (
            spaces.Discrete(data.n_actions)
            if self.discrete
            else spaces.Box(-1.0, 1.0, shape=(data.n_actions,), dtype=np.float32)
        )
        return observations, actions

    def load_weights(self, checkpoint: Path) -> None:
        """Warm start: the networks' weights (and optimizer state) of ``checkpoint``; the gradient step stays 0."""
        with (checkpoint / D3RLPY_MODEL_FILE).open("rb") as handle:
            obj = pickle.load(handle)
        self.algo.impl.load_model(io.BytesIO(obj["torch"]))

    def restore(self, checkpoint: Path) -> None:
        self.load_weights(checkpoint)
        grad_file = checkpoint / GRAD_STEP_FILE
        if grad_file.is_file():
            self.algo.set_grad_step(int(json.loads(grad_file.read_text())["grad_step"]))

    def save(self, folder: Path) -> None:
        save_algo(self.algo, folder)

    def step(self, state: TrainingState, stop_requested: Callable[[], bool]) -> Step:
        n = int(min(self.own["n_steps_per_epoch"], max(0, self.step_limit - state.timesteps_total)))
        losses: dict[str, list[float]] = {}
        done = 0
        tick = time.perf_counter()
        try:
            for _ in range(n):
                for key, value in self.algo.update(self.sample(self.batch_size)).items():
                    losses.setdefault(key, []).append(float(value))
                done += 1
                if stop_requested():
                    break
        except JobInterrupted:
            pass
        seconds = time.perf_counter() - tick
        self.update_seconds += seconds
        empty = IterationMetrics(0, 0, 0.0, math.nan, math.nan, math.nan, math.nan, 0, math.nan)
        if done < n:
            return Step(done, 0, empty, interrupted=True)
        epoch = state.training_iteration + 1
        estimates = self._off_policy_evaluation()
        evaluation = EvaluationResult((), ())
        if self.env_id and self.own["evaluation_episodes"] > 0:
            evaluation = run_episodes(
                self.algo.predict,
                self.env_id,
                episodes=int(self.own["evaluation_episodes"]),
                seed=EVALUATION_SEED + 1000 * epoch,
            )
        returns = evaluation.returns
        metrics = IterationMetrics(
            training_iteration=epoch,
            timesteps_total=0,
            time_total_s=0.0,
            episode_reward_mean=evaluation.mean,
            episode_reward_max=float(np.max(returns)) if returns else math.nan,
            episode_reward_min=float(np.min(returns)) if returns else math.nan,
            episode_len_mean=float(np.mean(evaluation.lengths)) if evaluation.lengths else math.nan,
            episodes_total=0,
            env_steps_per_s=math.nan,  # offline: no environment steps are taken for training
            policy_loss=_mean_of(losses, ("imitator_loss", "actor_loss")),
            value_loss=_mean_of(losses, ("td_loss", "critic_loss", "loss")),
            learning_rate=_learning_rate(self.algo),
            **estimates.values,  # progress.csv's ope_* columns: learning_curve.png draws them per epoch
        )
        lines = [
            *estimates.lines(),
            *(f"{k}: {np.mean(v):.6g}" for k, v in sorted(losses.items())),
            f"gradient_steps_per_s: {done / max(1e-9, seconds):.6g}",
        ]
        self.ope_csv.write(
            {
                "Training Iter": epoch,
                "Gradient Steps": state.timesteps_total + done,
                "Wall-Clock Time": round(state.time_total_s, 3),
                "Evaluation Reward": evaluation.mean,
                **estimates.row(),
            }
        )
        signal_value = {"last": math.nan, "episode_reward_mean": evaluation.mean, **estimates.values}.get(
            self.select_by, math.nan
        )
        improved = self.best is None or signal_value > self.best[0]
        if self.select_by != "last" and math.isfinite(signal_value) and improved:
            buffer = io.BytesIO()
            self.algo.impl.save_model(buffer)
            self.best = (signal_value, epoch, buffer.getvalue())
        return Step(done, len(returns), metrics, tuple(lines))

    def _off_policy_evaluation(self) -> Any:
        fqe_value = self.fqe.step(int(self.own["fqe_steps"])) if self.fqe is not None else math.nan
        if not self.discrete:
            return ope.evaluate_all(self.data, None, None, None, self.gamma, fqe_value)
        module = discrete_policy_module(self.algo, self.temperature)
        _, target_probs, q_values = policy_tables(module, self.data.observations)
        return ope.evaluate_all(self.data, target_probs, q_values, self.reward_model, self.gamma, fqe_value)

    def finish(self) -> tuple[ModelInfo, Mapping[str, Any]]:
        selected: int | None = None
        if self.best is not None:
            self.algo.impl.load_model(io.BytesIO(self.best[2]))
            selected = self.best[1]
            print(
                f"rlrt: exporting epoch {selected} (best {self.select_by} = {self.best[0]:.6g})",
                file=self.context.out,
                flush=True,
            )
        data = self.data
        obs_space, act_space = self.checkpoint_spaces()
        extra = {
            "model_file": f"{CHECKPOINT_DIR}/{D3RLPY_MODEL_FILE}",
            "data": {
                "episodes": data.num_episodes,
                "transitions": data.num_transitions,
                "files": [str(p) for p in data.files],
            },
        }
        training = {
            "update_seconds": round(self.update_seconds, 3),
            "select_by": self.select_by,
            **({"selected_epoch": selected} if selected is not None else {}),
        }
        return ModelInfo("d3rlpy", obs_space, act_space, extra), training

    def write_model(self, model_dir: Path) -> None:
        """The selected epoch's weights into the model folder's checkpoint (the checkpoints hold the latest)."""
        save_algo(self.algo, model_dir / CHECKPOINT_DIR)

    def serving_model(self, model_dir: Path) -> ServingModel:
        """The selected epoch's policy (as written into ``model_dir`` by :meth:`write_model`)."""
        return serving_model(self.algo, self.discrete, self.temperature)

    def final_evaluation_episodes(self) -> int:
        """``evaluate_episodes`` (default 5) when the job names an environment to play the exported policy in."""
        return int(self.context.spec.extras.get(hp.EVALUATE_EPISODES, FINAL_EVALUATION_EPISODES)) if self.env_id else 0

    def close(self) -> None:
        self.ope_csv.close()
