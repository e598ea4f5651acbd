"""Off-policy evaluation (OPE) of a learned policy on logged data, as Intel Coach computed it for Batch RL.

Inputs per logged transition ``t`` (state ``s_t``, logged action ``a_t``, reward ``r_t``):

- ``mu(a|s_t)``: the behaviour probabilities logged with the data (``all_action_probabilities``);
- ``pi(a|s_t)``: the target policy's probabilities. For a learned Q function Coach used a softmax of the Q values
  (``softmax(Q / temperature)``); for BCQ the actions its imitation filter rules out get probability 0
  (:func:`softmax_policy`);
- ``Q(s_t, a)``: the learned Q values; ``R(s_t, a)``: a reward model (immediate reward), for the one-step estimators.

Estimators (``rho_t = pi(a_t|s_t) / mu(a_t|s_t)``, ``G_e`` the discounted return of episode ``e``):

- ``importance_sampling``: trajectory-wise IS, ``mean_e(w_e G_e)`` with ``w_e = prod_t rho_t`` (unbiased);
- ``weighted_importance_sampling``: ``sum_e w_e G_e / sum_e w_e`` (Coach's WIS; 0 when every weight is 0);
- ``sequential_doubly_robust``: Jiang & Li (2016), backwards per episode
  ``DR_t = V(s_t) + rho_t (r_t + gamma DR_{t+1} - Q(s_t, a_t))`` with ``V(s) = sum_a pi(a|s) Q(s, a)``,
  averaged over episodes (Coach's SDR);
- ``one_step_estimators``: Coach's contextual-bandit estimators over all transitions: inverse propensity score
  ``mean(rho_t r_t)``, direct method ``mean(sum_a pi R)``, doubly robust ``mean(rho_t (r_t - R(s_t,a_t))) + DM``.
  These estimate the expected *immediate* reward per step, not an episode's return.

Fitted Q Evaluation (FQE, Le et al. 2019) comes from d3rlpy (:class:`FQETracker`).
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from runtime.metric_lines import OFF_POLICY_ESTIMATES, metric_line
from runtime.offline.dataset import LoggedData

# stdout metric name -> CSV column: Coach's names (the seed notebook plots WIS and SDR).
METRIC_COLUMNS = dict(OFF_POLICY_ESTIMATES)


def softmax_policy(q_values: np.ndarray, temperature: float, allowed: np.ndarray | None = None) -> np.ndarray:
    """``softmax(Q / temperature)`` per row; actions with ``allowed == False`` get probability 0."""
    if temperature <= 0:
        raise ValueError("temperature must be > 0")
    logits = np.asarray(q_values, dtype=np.float64) / temperature
    if allowed is not None:
        logits = np.where(allowed, logits, -np.inf)
    logits = logits - logits.max(axis=1, keepdims=True)
    weights = np.exp(logits)
    return np.asarray(weights / weights.sum(axis=1, keepdims=True), dtype=np.float64)


def _episode_slices(bounds: np.ndarray) -> Iterable[slice]:
    for e in range(len(bounds) - 1):
        yield slice(int(bounds[e]), int(bounds[e + 1]))


def _rho(data: LoggedData, target_probs: np.ndarray) -> np.ndarray:
    if data.behaviour_probs is None:
        raise ValueError("the logged data has no behaviour probabilities")
    rows = np.arange(data.num_transitions)
    return np.asarray(target_probs[rows, data.actions] / data.behaviour_probs[rows, data.actions])


def discounted_returns(data: LoggedData, gamma: float) -> np.ndarray:
    """``G_e = sum_t gamma^t r_t`` for every episode."""
    out = np.empty(data.num_episodes)
    for e, sl in enumerate(_episode_slices(data.episode_bounds)):
        rewards = data.rewards[sl].astype(np.float64)
        out[e] = float(np.sum(rewards * gamma ** np.arange(len(rewards))))
    return out


def episode_weights(data: LoggedData, target_probs: np.ndarray) -> np.ndarray:
    """``w_e = prod_t pi(a_t|s_t) / mu(a_t|s_t)`` for every episode."""
    rho = _rho(data, target_probs)
    return np.array([float(np.prod(rho[sl])) for sl in _episode_slices(data.episode_bounds)])


def importance_sampling(data: LoggedData, target_probs: np.ndarray, gamma: float) -> float:
    """Trajectory-wise (ordinary) importance sampling estimate of the target policy's discounted return."""
    return float(np.mean(episode_weights(data, target_probs) * discounted_returns(data, gamma)))


def weighted_importance_sampling(data: LoggedData, target_probs: np.ndarray, gamma: float) -> float:
    """Weighted importance sampling (Coach's WIS): ``sum w_e G_e / sum w_e``, 0 when the weights sum to 0."""
    weights = episode_weights(data, target_probs)
    total = float(weights.sum())
    if total == 0.0:
        return 0.0
    return float(np.sum(weights * discounted_returns(data, gamma)) / total)


def sequential_doubly_robust(data: LoggedData, target_probs: np.ndarray, q_values: np.ndarray, gamma: float) -> float:
    """Jiang & Li's doubly robust estimator for sequential decisions (Coach's SDR), averaged over episodes."""
    rho = _rho(data, target_probs)
    values = np.sum(target_probs * q_values, axis=1)
    q_logged = q_values[np.arange(data.num_transitions), data.actions]
    per_episode = []
    for sl in _episode_slices(data.episode_bounds):
        estimate = 0.0
        for t in range(sl.stop - 1, sl.start - 1, -1):
            estimate = values[t] + rho[t] * (float(data.rewards[t]) + gamma * estimate - q_logged[t])
        per_episode.append(estimate)
    return float(np.mean(per_episode))


def one_step_estimators(
    data: LoggedData, target_probs: np.ndarray, reward_model: np.ndarray
) -> tuple[float, float, float]:
    """Coach's per-step (contextual bandit) estimators: (inverse propensity score, direct method, doubly robust)."""
    rho = _rho(data, target_probs)
    rewards = data.rewards.astype(np.float64)
    ips = float(np.mean(rho * rewards))
    dm = float(np.mean(np.sum(target_probs * reward_model, axis=1)))
    predicted = reward_model[np.arange(data.num_transitions), data.actions]
    dr = float(np.mean(rho * (rewards - predicted))) + dm
    return ips, dm, dr


def fit_reward_model(data: LoggedData, ridge: float = 1e-3) -> np.ndarray:
    """Immediate-reward predictions ``R(s_t, a)`` for every logged state and action: one ridge regression on
    ``[s, 1]`` per action (Coach trained a reward network for the same role). Actions never logged get the mean
    reward."""
    x = np.concatenate([data.observations.astype(np.float64), np.ones((data.num_transitions, 1))], axis=1)
    out = np.empty((data.num_transitions, data.n_actions))
    mean = float(np.mean(data.rewards)) if data.num_transitions else 0.0
    for a in range(data.n_actions):
        mask = data.actions == a
        if not np.any(mask):
            out[:, a] = mean
            continue
        xa, ya = x[mask], data.rewards[mask].astype(np.float64)
        coef = np.linalg.solve(xa.T @ xa + ridge * np.eye(x.shape[1]), xa.T @ ya)
        out[:, a] = x @ coef
    return out


@dataclass(frozen=True)
class OPEResult:
    """One evaluation of all estimators (NaN where an estimator could not run)."""

    values: dict[str, float]

    def lines(self) -> list[str]:
        """``ope_<name>: <float>`` lines for stdout (non-finite values left out)."""
        return [metric_line(k, v) for k, v in self.values.items() if math.isfinite(v)]

    def row(self) -> dict[str, float]:
        """CSV row keyed by Coach's column names."""
        return {METRIC_COLUMNS[k]: v for k, v in self.values.items()}


def evaluate_all(
    data: LoggedData,
    target_probs: np.ndarray | None,
    q_values: np.ndarray | None,
    reward_model: np.ndarray | None,
    gamma: float,
    fqe: float = math.nan,
) -> OPEResult:
    """Run every estimator the inputs allow (the importance-sampling family needs logged probabilities)."""
    values = {key: math.nan for key in METRIC_COLUMNS}
    if data.behaviour_probs is not None and target_probs is not None:
        values["ope_is"] = importance_sampling(data, target_probs, gamma)
        values["ope_wis"] = weighted_importance_sampling(data, target_probs, gamma)
        if q_values is not None:
            values["ope_sdr"] = sequential_doubly_robust(data, target_probs, q_values, gamma)
        if reward_model is not None:
            values["ope_ips"], values["ope_dm"], values["ope_dr"] = one_step_estimators(
                data, target_probs, reward_model
            )
    values["ope_fqe"] = fqe
    return OPEResult(values)


class FQETracker:
    """d3rlpy's Fitted Q Evaluation of a policy that keeps changing: a (Discrete)FQE warm-started across epochs.

    Each :meth:`step` trains the FQE Q function ``steps`` more gradient steps against the current policy and
    returns the estimated value of the logged initial states, ``mean Q_fqe(s_0, pi(s_0))``. ``q_func_factory``
    replaces d3rlpy's default Q-function: with discrete actions that one fits with the Huber loss, whose minimiser
    is not the expected target FQE estimates, so the d3rlpy backend passes a squared-error one.
    """

    def __init__(
        self,
        algo: Any,
        dataset: Any,
        data: LoggedData,
        gamma: float,
        learning_rate: float = 1e-4,
        batch_size: int = 100,
        target_update_interval: int = 100,
        observation_scaler: Any = None,
        sample: Any = None,
        q_func_factory: Any = None,
    ) -> None:
        from d3rlpy.ope import FQE, DiscreteFQE, FQEConfig  # heavy: d3rlpy (offline jobs only)

        config = FQEConfig(
            learning_rate=learning_rate,
            batch_size=batch_size,
            gamma=gamma,
            target_update_interval=target_update_interval,
            observation_scaler=observation_scaler,
            **({"q_func_factory": q_func_factory} if q_func_factory is not None else {}),
        )
        cls = DiscreteFQE if data.discrete else FQE
        self.fqe = cls(algo=algo, config=config, device="cpu:0")
        self.sample = sample or dataset.sample_transition_batch
        self.algo = algo
        self.initial = data.observations[data.episode_bounds[:-1]]
        self.fqe.build_with_dataset(dataset)

    def step(self, steps: int) -> float:
        """Train ``steps`` more FQE updates; the current estimate of the policy's value."""
        for _ in range(steps):
            self.fqe.update(self.sample(self.fqe.config.batch_size))
        actions = self.algo.predict(self.initial)
        return float(np.mean(self.fqe.predict_value(self.initial, actions)))


OPE_CSV = "worker_0.batch_rl_graph.main_level.main_level.agent_0.csv"
"""The OPE CSV under output/intermediate, named as Coach named it (the seed notebook reads this file)."""


class OPECsv:
    """Appends one row per epoch to the OPE CSV (Coach's column names)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.columns = [
            "Training Iter",
            "Gradient Steps",
            "Wall-Clock Time",
            "Evaluation Reward",
            *METRIC_COLUMNS.values(),
        ]
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
