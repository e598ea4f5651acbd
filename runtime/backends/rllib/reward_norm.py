"""``rl.training.config.normalize_rewards``: rlrt's own setting that normalises the rewards the training env runners
hand the learner as Stable-Baselines3's ``VecNormalize`` (RL Zoo's ``normalize: true``) and CleanRL do: each reward
divided by the running standard deviation of the discounted return (gamma: the algorithm's), then clipped to
[-10, 10]. Without it, a robot's raw returns with a gamma near 1 can make the value loss dwarf the policy loss, and
the gradient-norm clip over the whole module then leaves the policy's share of the update next to nothing.

gymnasium's own wrappers do it (``NormalizeReward``, then ``ClipReward``; their vector versions for a vectorised
env), outside the env's ``RecordEpisodeStatistics`` (:mod:`.episode_metrics`): every reported return, the pass bar
and the stop criteria stay the environment's own. Only the training env runners get the wrappers: the setting
travels to the env creator as :data:`ENV_KEY` in the training ``env_config``, which the evaluation env runners'
override (RLlib's ``evaluation_config``) turns off, and rlrt's own evaluation, videos and serving build the env
without it. The running statistics live in the env runners' envs, not in checkpoints: a resumed job starts them
afresh (as the policy only ever sees observations, what it serves does not depend on them).
"""

from __future__ import annotations

from typing import Any, Mapping

import gymnasium

from runtime.errors import UserError

NORMALIZE_REWARDS = "normalize_rewards"
"""The setting's key under ``rl.training.config``."""

ENV_KEY = "rlrt_reward_normalization_gamma"
"""The ``env_config`` key that carries the discount of the normalisation to the training env creator, which takes
it out before the environment sees its config."""

CLIP = 10.0
"""SB3's ``clip_reward`` default and CleanRL's clip: a normalised reward stays within [-CLIP, CLIP]."""

EPSILON = 1e-8
"""SB3's and gymnasium's default: keeps the division finite before the return has any spread."""


def normalize_rewards_problem(name: str, value: Any) -> str | None:
    """Why ``value`` is not the setting's (true or false), or None."""
    if not isinstance(value, bool):
        return f"'{name}' must be true or false (normalise the rewards the learner trains on), got {value!r}"
    return None


def training_env_config(env_config: Mapping[str, Any], gamma: float) -> dict[str, Any]:
    """``env_config`` for the training env runners: with the discount the env creator normalises the rewards by."""
    return {**env_config, ENV_KEY: float(gamma)}


def evaluation_config(evaluation: Mapping[str, Any] | None) -> dict[str, Any]:
    """RLlib's ``evaluation_config`` (the user's, or none) whose env runners do not normalise: RLlib builds their
    config from the training one and merges an override's ``env_config`` into the training ``env_config`` (no key can
    be taken out), so the override sets :data:`ENV_KEY` to None, which :func:`split_context` reads as off."""
    out = dict(evaluation or {})
    out["env_config"] = {**dict(out.get("env_config") or {}), ENV_KEY: None}
    return out


def split_context(env_context: Any) -> tuple[Any, float | None]:
    """``(env_context without ENV_KEY, its gamma or None)``; an RLlib ``EnvContext`` stays one (worker index kept),
    and the context itself is not changed: RLlib hands the same one to every env of a runner."""
    if not isinstance(env_context, Mapping) or ENV_KEY not in env_context:
        return env_context, None
    gamma = None if env_context[ENV_KEY] is None else float(env_context[ENV_KEY])
    rest = {k: v for k, v in env_context.items() if k != ENV_KEY}
    if hasattr(env_context, "copy_with_overrides"):
        return env_context.copy_with_overrides(env_config=rest), gamma
    return rest, gamma


def with_normalized_rewards(env: Any, gamma: float, env_id: str) -> Any:
    """``env`` (a single-agent gymnasium env or a vectorised one) with its rewards normalised by gymnasium's
    ``NormalizeReward`` and clipped to [-CLIP, CLIP]; a multi-agent env is refused (no gymnasium wrapper steps it)."""
    from ray.rllib.env.multi_agent_env import MultiAgentEnv  # heavy: RLlib (loaded in every env runner anyway)

    if isinstance(env, gymnasium.vector.VectorEnv):
        vector = gymnasium.wrappers.vector
        return vector.ClipReward(vector.NormalizeReward(env, gamma=gamma, epsilon=EPSILON), -CLIP, CLIP)
    if not isinstance(env, gymnasium.Env) or isinstance(env, MultiAgentEnv):
        raise UserError(multi_agent_refusal(env_id))
    normalized = gymnasium.wrappers.NormalizeReward(env, gamma=gamma, epsilon=EPSILON)
    return gymnasium.wrappers.ClipReward(normalized, -CLIP, CLIP)


def multi_agent_refusal(env_id: str) -> str:
    """The message refusing the setting for the multi-agent environment ``env_id``."""
    return (
        f"'rl.training.config.{NORMALIZE_REWARDS}' normalises a single-agent environment's rewards (gymnasium's "
        f"NormalizeReward, as SB3's VecNormalize); {env_id} is multi-agent: remove the setting, or scale the "
        "rewards with rl.training.config.reward_scale."
    )
