"""The offline training driver: logged data -> d3rlpy algorithm -> epochs of gradient steps, OPE, report -> export.

Read top to bottom: :func:`train_offline` is the whole loop. An epoch is ``n_steps_per_epoch`` gradient steps on
mini-batches sampled from the ``train`` channel's data; after each epoch the driver runs off-policy evaluation
(IS, WIS, DR, SDR, and FQE when ``fqe_steps`` > 0), optionally evaluates the greedy policy in the environment
(``evaluation_episodes``), prints the metric lines, appends to ``progress.csv`` and the OPE CSV, and checkpoints
every ``checkpoint_frequency`` epochs. SIGTERM, resume and the failure path work as in online training.

With ``select_by`` other than ``last``, the exported model is the epoch with the best value of that signal
(model selection on an off-policy estimate, or on the evaluation return); the checkpoints hold the latest epoch.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import logging
import math
import shutil
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from runtime.config import hyperparameters as hp
from runtime.train.checkpoints import CheckpointManager, TrainingState
from runtime.errors import EXIT_SIGTERM, JobInterrupted, UserError
from runtime.export.model_dir import CHECKPOINT_DIR, METADATA_JSON, describe_space, library_versions, write_resolved_config
from runtime.config.hyperparameters import TrainingSpec
from runtime.offline import ope
from runtime.backends.d3rlpy.config import is_discrete, split_config
from runtime.offline.dataset import LoggedData, load_logged_data
from runtime.evaluate.episodes import MODEL_FILE, EvaluationResult, run_episodes
from runtime.offline.sampler import TransitionTable
from runtime.backends.d3rlpy.policy import discrete_policy_module, export_policy, policy_tables
from runtime.train.reporting import IterationMetrics, Reporter
from runtime.job.environment import CHANNEL_TRAIN, JobEnvironment
from runtime.train.driver import SIGTERM_GRACE_S, TrainResult, _SigtermWatch

log = logging.getLogger(__name__)

OPE_CSV = "worker_0.batch_rl_graph.main_level.main_level.agent_0.csv"
"""The OPE CSV under output/intermediate, named as Coach named it (the seed notebook reads this file)."""
EVALUATION_SEED = 10_000
FINAL_EVALUATION_EPISODES = 5
"""Episodes the exported policy is evaluated for after training (hyperparameter ``evaluate_episodes``; 0: none)."""


def quiet_d3rlpy() -> None:
    """d3rlpy logs every dataset and build step at INFO/DEBUG through structlog; keep its warnings only."""
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def _stop_targets(spec: TrainingSpec) -> dict[str, float]:
    stop = dict(spec.stop)
    targets: dict[str, float] = {}
    for key in ("epochs", hp.STOP_TRAINING_ITERATION):
        if key in stop:
            targets["epochs"] = min(targets.get("epochs", math.inf), stop[key])
    for key in ("gradient_steps", hp.STOP_TIMESTEPS_TOTAL):
        if key in stop:
            targets["gradient_steps"] = min(targets.get("gradient_steps", math.inf), stop[key])
    if hp.STOP_TIME_TOTAL_S in stop:
        targets["time_total_s"] = stop[hp.STOP_TIME_TOTAL_S]
    if hp.STOP_EPISODE_REWARD_MEAN in stop:
        targets["episode_reward_mean"] = stop[hp.STOP_EPISODE_REWARD_MEAN]
    return targets


def _stop_reason(targets: dict[str, float], epoch: int, steps: int, seconds: float, reward: float) -> str | None:
    checks = (("epochs", epoch), ("gradient_steps", steps), ("time_total_s", seconds), ("episode_reward_mean", reward))
    for key, value in checks:
        if key in targets and math.isfinite(value) and value >= targets[key]:
            return f"{key} {value:g} >= {targets[key]:g}"
    return None


def _time_limit(env_id: str | None) -> int | None:
    if not env_id:
        return None
    import gymnasium as gym

    try:
        spec = gym.spec(env_id)
    except Exception:  # noqa: BLE001 - an env registered by an optional package: no time limit known
        return None
    return spec.max_episode_steps


def _check_data_against_env(data: LoggedData, env_id: str, discrete: bool, algorithm: str) -> None:
    from gymnasium import spaces

    from envs.registry import make_env

    env = make_env(env_id)
    try:
        obs_size = int(np.prod(env.observation_space.shape))
        if obs_size != data.observation_size:
            raise UserError(
                f"The data in the train channel has {data.observation_size} state features but {env_id}'s observations "
                f"have {obs_size}. Set 'rl.training.env' to the environment the data was logged in."
            )
        if isinstance(env.action_space, spaces.Discrete) != data.discrete:
            raise UserError(f"The data's actions are {'discrete' if data.discrete else 'continuous'} but {env_id}'s are not.")
        if data.discrete and data.n_actions > int(env.action_space.n):
            raise UserError(f"The data has {data.n_actions} actions but {env_id} has {int(env.action_space.n)}.")
    finally:
        env.close()


def _save_algo(algo: Any, folder: Path) -> None:
    import d3rlpy

    d3rlpy.base.dump_learnable(algo, str(folder / MODEL_FILE))
    (folder / "grad_step.json").write_text(json.dumps({"grad_step": int(algo.grad_step)}))


def _restore_algo(algo: Any, folder: Path) -> None:
    import pickle

    with (folder / MODEL_FILE).open("rb") as handle:
        obj = pickle.load(handle)
    algo.impl.load_model(io.BytesIO(obj["torch"]))
    grad_file = folder / "grad_step.json"
    if grad_file.is_file():
        algo.set_grad_step(int(json.loads(grad_file.read_text())["grad_step"]))


class _OPECsv:
    """Appends one row per epoch to the OPE CSV (Coach's column names)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.columns = ["Training Iter", "Gradient Steps", "Wall-Clock Time", "Evaluation Reward",
                        *ope.METRIC_COLUMNS.values()]
        path.parent.mkdir(parents=True, exist_ok=True)
        new = not path.exists() or path.stat().st_size == 0
        self.handle = path.open("a", newline="", encoding="utf-8")
        self.writer = csv.DictWriter(self.handle, fieldnames=self.columns)
        if new:
            self.writer.writeheader()

    def write(self, row: dict[str, Any]) -> None:
        self.writer.writerow({k: ("" if isinstance(v, float) and not math.isfinite(v) else v) for k, v in row.items()})
        self.handle.flush()

    def close(self) -> None:
        self.handle.close()


def train_offline(env: JobEnvironment, spec: TrainingSpec, stream: TextIO | None = None) -> TrainResult:
    """Train ``spec`` (a d3rlpy algorithm) on the ``train`` channel's data; exit code 143 after SIGTERM."""
    import d3rlpy
    import torch
    from d3rlpy.algos.utility import build_scalers_with_transition_picker

    from envs.registry import UnknownEnvironmentError, canonical_env_id

    out = stream or sys.stdout
    quiet_d3rlpy()
    d3config, own = split_config(spec.algorithm, spec.config)
    torch.set_num_threads(int(own["num_threads"]))
    try:
        env_id: str | None = canonical_env_id(spec.env) if spec.env and spec.env.lower() != "none" else None
    except UnknownEnvironmentError as exc:
        raise UserError(str(exc)) from exc
    discrete = is_discrete(spec.algorithm)
    data_dir = env.require_channel(CHANNEL_TRAIN)
    data = load_logged_data(data_dir, own["time_limit"] or _time_limit(env_id))
    if data.discrete != discrete:
        raise UserError(
            f"{spec.algorithm} needs {'discrete' if discrete else 'continuous'} actions, but the data in {data_dir} has "
            f"{'discrete' if data.discrete else 'continuous'} ones."
        )
    if env_id:
        _check_data_against_env(data, env_id, discrete, spec.algorithm)
    print(
        f"rlrt: offline data: {data.num_episodes} episodes, {data.num_transitions} steps from {len(data.files)} file(s) "
        f"in {data_dir}; mean logged return {float(np.mean(data.episode_returns())):.2f}"
        + ("" if data.behaviour_probs is not None else "; no behaviour probabilities: only FQE is reported"),
        file=out,
        flush=True,
    )
    write_resolved_config(env.intermediate_dir, spec)
    if spec.seed is not None:
        d3rlpy.seed(spec.seed)
    dataset = data.to_d3rlpy()
    algo = d3config.create(device="cpu:0")
    build_scalers_with_transition_picker(algo, dataset)
    algo.create_impl((data.observation_size,), data.n_actions)

    # The same transitions and distribution as dataset.sample_transition_batch, without its per-sample Python loop.
    sample = dataset.sample_transition_batch if algo.need_returns_to_go else TransitionTable(dataset).sample
    checkpoints = CheckpointManager(env.checkpoint_dir, spec.checkpoint_keep)
    state = TrainingState(preset=spec.preset, algorithm=spec.algorithm, env=env_id or "")
    latest = checkpoints.latest()
    if latest is not None:
        _restore_algo(algo, latest)
        state = CheckpointManager.read_state(latest)
        print(f"rlrt: resumed from {latest} (epoch {state.training_iteration}, {state.timesteps_total} gradient steps)",
              file=out, flush=True)

    temperature = float(own["ope_temperature"])
    reward_model = ope.fit_reward_model(data) if discrete and data.behaviour_probs is not None else None
    fqe = ope.FQETracker(algo, dataset, data, d3config.gamma, observation_scaler=copy.deepcopy(algo.observation_scaler),
                         sample=sample) if own["fqe_steps"] > 0 else None
    targets = _stop_targets(spec)
    steps_per_epoch = int(own["n_steps_per_epoch"])
    batch_size = int(d3config.batch_size)
    reporter = Reporter(env.intermediate_dir, env.tensorboard_dir, f"{spec.preset} ({env_id or 'logged data'}, {spec.algorithm})", out)
    ope_csv = _OPECsv(env.intermediate_dir / OPE_CSV)
    select_by = str(own["select_by"])
    best: tuple[float, int, bytes] | None = None
    print(
        f"rlrt: training {spec.algorithm} (d3rlpy) offline, {steps_per_epoch} gradient steps per epoch, batch "
        f"{batch_size}; stop when " + " or ".join(f"{k} >= {v:g}" for k, v in targets.items()),
        file=out,
        flush=True,
    )
    stopped_by = ""
    metrics: IterationMetrics | None = None
    last_saved = -1
    started = time.monotonic()
    time_offset = state.time_total_s
    update_seconds = 0.0
    try:
        with _SigtermWatch(SIGTERM_GRACE_S) as sigterm:
            while True:
                if sigterm.requested:
                    stopped_by = "SIGTERM"
                    break
                n = steps_per_epoch
                if "gradient_steps" in targets:
                    n = int(min(n, max(0, targets["gradient_steps"] - state.timesteps_total)))
                losses: dict[str, list[float]] = {}
                done_steps = 0
                tick = time.perf_counter()
                try:
                    for _ in range(n):
                        loss = algo.update(sample(batch_size))
                        done_steps += 1
                        for key, value in loss.items():
                            losses.setdefault(key, []).append(float(value))
                        if sigterm.requested:
                            break
                except JobInterrupted:
                    stopped_by = "SIGTERM"
                epoch_update_s = time.perf_counter() - tick
                update_seconds += epoch_update_s
                state = TrainingState(
                    training_iteration=state.training_iteration + 1,
                    timesteps_total=state.timesteps_total + done_steps,
                    episodes_total=state.episodes_total,
                    time_total_s=time_offset + time.monotonic() - started,
                    preset=state.preset, algorithm=state.algorithm, env=state.env,
                )
                if stopped_by == "SIGTERM" or (sigterm.requested and done_steps < n):
                    stopped_by = "SIGTERM"
                    break
                estimates = _off_policy_evaluation(algo, data, discrete, temperature, reward_model, d3config.gamma, fqe,
                                                   int(own["fqe_steps"]))
                evaluation = EvaluationResult((), ())
                if env_id and own["evaluation_episodes"] > 0:
                    evaluation = run_episodes(algo.predict, env_id, episodes=int(own["evaluation_episodes"]),
                                              seed=EVALUATION_SEED + 1000 * state.training_iteration)
                    state = TrainingState(**{**asdict(state), "episodes_total": state.episodes_total + len(evaluation.returns)})
                metrics = IterationMetrics(
                    training_iteration=state.training_iteration,
                    timesteps_total=state.timesteps_total,
                    time_total_s=state.time_total_s,
                    episode_reward_mean=evaluation.mean,
                    episode_reward_max=float(np.max(evaluation.returns)) if evaluation.returns else math.nan,
                    episode_reward_min=float(np.min(evaluation.returns)) if evaluation.returns else math.nan,
                    episode_len_mean=float(np.mean(evaluation.lengths)) if evaluation.lengths else math.nan,
                    episodes_total=state.episodes_total,
                    env_steps_per_s=math.nan,  # offline: no environment steps are taken for training
                )
                reporter.report(metrics)
                extra = estimates.lines() + [f"{k}: {np.mean(v):.6g}" for k, v in sorted(losses.items())]
                extra.append(f"gradient_steps_per_s: {done_steps / max(1e-9, epoch_update_s):.6g}")
                out.write("\n".join(extra) + "\n")
                out.flush()
                ope_csv.write({"Training Iter": state.training_iteration, "Gradient Steps": state.timesteps_total,
                               "Wall-Clock Time": round(state.time_total_s, 3), "Evaluation Reward": evaluation.mean,
                               **estimates.row()})
                signal_value = {"last": math.nan, "episode_reward_mean": evaluation.mean,
                                **estimates.values}.get(select_by, math.nan)
                if select_by != "last" and math.isfinite(signal_value) and (best is None or signal_value > best[0]):
                    buffer = io.BytesIO()
                    algo.impl.save_model(buffer)
                    best = (signal_value, state.training_iteration, buffer.getvalue())
                if state.training_iteration % spec.checkpoint_frequency == 0:
                    checkpoints.save(lambda folder: _save_algo(algo, folder), state)
                    last_saved = state.training_iteration
                reason = _stop_reason(targets, state.training_iteration, state.timesteps_total, state.time_total_s,
                                      evaluation.mean)
                if reason:
                    stopped_by = reason
                    break
            sigterm.disarm()
            state = TrainingState(**{**asdict(state), "time_total_s": time_offset + time.monotonic() - started})
            checkpoint = checkpoints.latest() if last_saved == state.training_iteration else None
            checkpoint = checkpoint or checkpoints.save(lambda folder: _save_algo(algo, folder), state)
    finally:
        reporter.close()
        ope_csv.close()
    if stopped_by == "SIGTERM":
        print(f"rlrt: stopped by SIGTERM; checkpoint {checkpoint}; a new job in this tree resumes", file=out, flush=True)
        return TrainResult(state, metrics, stopped_by, checkpoint, EXIT_SIGTERM)
    selected = state.training_iteration
    if best is not None:
        algo.impl.load_model(io.BytesIO(best[2]))
        selected = best[1]
        print(f"rlrt: exporting epoch {selected} (best {select_by} = {best[0]:.6g})", file=out, flush=True)
    write_offline_model_dir(env, spec, algo, data, env_id, discrete, temperature, checkpoint,
                            {**asdict(state), "stopped_by": stopped_by, "selected_epoch": selected,
                             "update_seconds": round(update_seconds, 3),
                             "select_by": select_by, **({"final": asdict(metrics)} if metrics else {})})
    if env_id:
        _final_evaluation(algo, env_id, int(spec.extras.get(hp.EVALUATE_EPISODES, FINAL_EVALUATION_EPISODES)),
                          state.training_iteration, env.intermediate_dir, out)
    print(f"rlrt: done ({stopped_by}); model in {env.model_dir}", file=out, flush=True)
    return TrainResult(state, metrics, stopped_by, checkpoint)


def _final_evaluation(algo: Any, env_id: str, episodes: int, iteration: int, intermediate: Path, out: TextIO) -> None:
    """Evaluate the exported policy in ``env_id`` (Coach-style ``Testing>`` lines, summary, evaluation.json)."""
    from runtime.evaluate.episodes import testing_line

    if episodes < 1:
        return
    print(f"rlrt: evaluating the exported policy in {env_id} for {episodes} episodes", file=out, flush=True)

    def on_episode(index: int, total: float, length: int, total_steps: int) -> None:
        print(testing_line(index, total, total_steps, iteration), file=out, flush=True)

    result = run_episodes(algo.predict, env_id, episodes=episodes, seed=EVALUATION_SEED, on_episode=on_episode)
    out.write("\n".join(result.summary_lines()) + "\n")
    out.flush()
    (intermediate / "evaluation.json").write_text(
        json.dumps({"returns": list(result.returns), "lengths": list(result.lengths), "mean": result.mean}, indent=2)
    )


def _off_policy_evaluation(algo: Any, data: LoggedData, discrete: bool, temperature: float, reward_model: Any,
                           gamma: float, fqe: ope.FQETracker | None, fqe_steps: int) -> ope.OPEResult:
    fqe_value = fqe.step(fqe_steps) if fqe is not None else math.nan
    if not discrete:
        return ope.evaluate_all(data, None, None, None, gamma, fqe_value)
    module = discrete_policy_module(algo, temperature)
    _, target_probs, q_values = policy_tables(module, data.observations)
    return ope.evaluate_all(data, target_probs, q_values, reward_model, gamma, fqe_value)


def write_offline_model_dir(env: JobEnvironment, spec: TrainingSpec, algo: Any, data: LoggedData, env_id: str | None,
                            discrete: bool, temperature: float, checkpoint: Path, training: dict[str, Any]) -> None:
    """Fill /opt/ml/model: checkpoint/ (d3rlpy model.d3), policy.pt, policy.onnx, config.json/yaml, metadata.json."""
    from gymnasium import spaces

    model_dir = env.model_dir
    model_dir.mkdir(parents=True, exist_ok=True)
    target = model_dir / CHECKPOINT_DIR
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(checkpoint, target)
    _save_algo(algo, target)  # the selected weights (the same as the checkpoint's unless select_by chose another epoch)
    write_resolved_config(model_dir, spec)
    policy = export_policy(algo, model_dir, discrete, data.observation_size, temperature)
    obs_space = spaces.Box(-np.inf, np.inf, shape=(data.observation_size,), dtype=np.float32)
    if env_id:
        from envs.registry import make_env

        probe = make_env(env_id)
        obs_space, act_space = probe.observation_space, probe.action_space
        probe.close()
    elif discrete:
        act_space = spaces.Discrete(data.n_actions)
    else:
        act_space = spaces.Box(-1.0, 1.0, shape=(data.n_actions,), dtype=np.float32)
    metadata = {
        "env": env_id,
        "preset": spec.preset,
        "algorithm": spec.algorithm,
        "framework": "d3rlpy",
        "checkpoint": CHECKPOINT_DIR,
        "model_file": f"{CHECKPOINT_DIR}/{MODEL_FILE}",
        "serving": policy,  # the same key the RLlib exports use, so `rlrt serve` and `rlrt transform` take it
        "observation_space": describe_space(obs_space),
        "action_space": describe_space(act_space),
        "data": {"episodes": data.num_episodes, "transitions": data.num_transitions,
                 "files": [str(p) for p in data.files]},
        "training": training,
        "versions": library_versions(),
    }
    (model_dir / METADATA_JSON).write_text(json.dumps(metadata, indent=2, default=str))
