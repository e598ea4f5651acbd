"""Building RLlib's AlgorithmConfig from a spec: environment registration with Ray's registry, multi-agent policies,
the observation filter, the initial log-std. (Starting and stopping Ray: :mod:`.ray_process`.)"""

from __future__ import annotations

import functools
import math
import re
from typing import Any, Mapping

import gymnasium

from envs.errors import EnvConfigError, EnvStartError
from envs.registry import agent_groups, env_info, group_function, make_env
from envs.vector import has_native_vector, make_native_vector
from runtime.backends.rllib.config import (
    _TYPE_OF_NONE_DEFAULTS,
    SHARED_POLICY,
    algorithm_config_class,
    default_config_dict,
)
from runtime.backends.rllib.episode_metrics import on_episode_end as exact_episode_metrics
from runtime.backends.rllib.episode_metrics import with_episode_statistics
from runtime.backends.rllib.episode_output import OUTPUT_SETTING, on_episode_end, on_sample_end
from runtime.backends.rllib.finite_values import with_finite_values
from runtime.backends.rllib.images import float_observations, raw_space, with_float_observations
from runtime.backends.rllib.multi_agent_env import as_rllib_multi_agent_env
from runtime.backends.rllib.ppo_learner import ppo_learner_class
from runtime.backends.rllib.reward_norm import (
    NORMALIZE_REWARDS,
    evaluation_config,
    multi_agent_refusal,
    split_context,
    training_env_config,
    with_normalized_rewards,
)
from runtime.backends.rllib.reward_scale import REWARD_SCALE, scaled_rewards
from runtime.config.spec import TrainingSpec
from runtime.config.threads import SETTING as THREADS
from runtime.errors import UserError
from runtime.job.env_config import env_start_error


OFFLINE_ONLY = ("BC", "MARWIL", "CQL", "IQL")
"""RLlib's algorithms that train only from offline data (its ``input_``): named, but RLlib refuses their configuration
here."""


DISCRETE_ONLY = ("DQN",)
"""RLlib's algorithms that act only in a Discrete action space (a Q-value per action); SAC takes Box or Discrete."""


def check_discrete_actions(algorithm: str, env_id: str, action_space: Any) -> None:
    """A UserError when ``algorithm`` acts only in discrete actions and ``env_id``'s are not (RLlib itself fails deep
    in building its module, on the deprecated ``RLModule(config=...)``). A multi-agent or composite space is left
    to RLlib."""
    if algorithm not in DISCRETE_ONLY or isinstance(action_space, (gymnasium.spaces.Discrete, type(None))):
        return
    if isinstance(action_space, (gymnasium.spaces.Box, gymnasium.spaces.MultiDiscrete, gymnasium.spaces.MultiBinary)):
        instead = "PPO or SAC" if isinstance(action_space, gymnasium.spaces.Box) else "PPO"
        raise UserError(
            f"{algorithm} needs discrete actions; {env_id} has {type(action_space).__name__} actions "
            f"({action_space}): use {instead} (rl.training.run), or an environment with Discrete "
            "actions."
        )


def rllib_env_name(env_id: str) -> str:
    """The name our environments are registered under with Ray Tune's registry."""
    return f"rlrt/{env_id}"


def _make_registered_env(env_id: str, env_context: Mapping[str, Any]) -> Any:
    env_config = dict(env_context)
    if env_info(env_id).job_context:
        # RLlib's EnvContext carries the env runner's index as an attribute; environments that launch external
        # processes (Unity players) use it to pick their own port.
        env_config.setdefault("worker_index", int(getattr(env_context, "worker_index", 0) or 0))
    env = make_env(env_id, env_config)
    return as_rllib_multi_agent_env(env) if env_info(env_id).multi_agent else env


def register_environment(env_id: str) -> str:
    """Register ``env_id`` with Ray's env registry (so env runners build it with our adapters); return its name."""
    from ray.tune.registry import register_env  # heavy: Ray Tune

    name = rllib_env_name(env_id)
    creator = _job_env_creator(env_id) or functools.partial(_make_registered_env, env_id)
    register_env(name, functools.partial(_counted_env, creator, env_id))
    return name


def _counted_env(creator: Any, env_id: str, env_context: Any) -> Any:
    """``creator``'s env with every episode's return and length counted by gymnasium (see episode_metrics), each
    reward and observation checked to be finite first (see finite_values). With ``num_envs`` in the context (RLlib's
    ``gym_env_vectorize_mode: vector_entry_point``, the default where :func:`envs.vector.has_native_vector` holds:
    runtime.config.runners), that many copies in the environment's own vectorised class, or stepped one by one
    (gymnasium's ``SyncVectorEnv``, as RLlib's default ``sync``) when the job builds the env its own way. With
    ``normalize_rewards`` (its gamma in the context: see reward_norm), the rewards are normalised outside the counting,
    so the reported returns stay the environment's."""
    env_context, reward_gamma = split_context(env_context)
    if isinstance(env_context, Mapping) and "num_envs" in env_context:
        count = int(env_context["num_envs"])
        context = {k: v for k, v in env_context.items() if k != "num_envs"}
        env = (
            make_native_vector(env_id, count)
            if is_registry_creator(creator) and has_native_vector(env_id, context)
            else gymnasium.vector.SyncVectorEnv([functools.partial(creator, context)] * count)
        )
    else:
        env = creator(env_context)
    counted = with_episode_statistics(with_finite_values(env, env_id))
    return counted if reward_gamma is None else with_normalized_rewards(counted, reward_gamma, env_id)


def is_registry_creator(creator: Any) -> bool:
    """Whether ``creator`` builds the environment as the registry does (not a job's own creator)."""
    return isinstance(creator, functools.partial) and creator.func is _make_registered_env


def _job_env_creator(env_id: str) -> Any:
    """The RLlib creator of an environment the job's own code registered with gymnasium at run time, whose entry
    point offers one (``rllib_env_creator(env_context)``: the sagemaker_rl launcher's user env creators). Such an
    entry point exists only in this process; RLlib pickles the creator to its env runners, which then call it with
    their own ``EnvContext`` (worker and vector index)."""
    spec = gymnasium.registry.get(env_id)
    return getattr(spec.entry_point, "rllib_env_creator", None) if spec is not None else None


def mean_std_filter(env: Any = None, spaces: Any = None, device: Any = None) -> Any:
    """An env-to-module connector normalising observations by running mean and std (RLlib's MeanStdFilter)."""
    from ray.rllib.connectors.env_to_module.mean_std_filter import MeanStdFilter  # heavy: RLlib

    return MeanStdFilter(multi_agent=False)


def policy_id_for(group: str) -> str:
    """RLlib's id for the policy of agent group ``group``: characters RLlib refuses in ids (they are folder names in
    checkpoints: ``<>:"/\\|?*``) become ``_``, e.g. Unity's behavior ``3DBall?team=0`` -> ``3DBall_team=0``."""
    return re.sub(r'[<>:"/\\|?*]', "_", group).rstrip(". ") or "group"


def _policy_for_group(agent_id: Any, episode: Any = None, *, group_of: Any, **kwargs: Any) -> str:
    return policy_id_for(group_of(agent_id))


def _shared_policy(agent_id: Any, episode: Any = None, **kwargs: Any) -> str:
    return SHARED_POLICY


def multi_agent_policies(env_id: str, env_config: Mapping[str, Any], mode: str = "per_group") -> tuple[set[str], Any]:
    """RLlib's ``policies`` and ``policy_mapping_fn`` for the multi-agent environment ``env_id``.

    ``per_group``: one policy per agent group (for Unity, per behavior: agent ``"<behavior>_<id>"`` -> policy
    ``policy_id_for(<behavior>)``); the groups are read from the environment once. ``shared``: one policy for every
    agent (all groups must have the same spaces).
    """
    try:
        groups = agent_groups(env_id, env_config)
    except EnvConfigError as exc:
        raise UserError(str(exc)) from exc
    except EnvStartError as exc:
        raise env_start_error(env_id, exc) from exc
    if mode == "shared":
        distinct = {(repr(obs), repr(act)) for obs, act in groups.values()}
        if len(distinct) > 1:
            raise UserError(
                "rl.training.config.multi_agent_policies=shared needs every agent group to have the same spaces; "
                + "; ".join(f"{name}: {obs} -> {act}" for name, (obs, act) in groups.items())
            )
        return {SHARED_POLICY}, _shared_policy
    policies = {policy_id_for(group) for group in groups}
    if len(policies) != len(groups):
        raise UserError(
            f"The agent groups {sorted(groups)} do not map onto distinct RLlib policy ids ({sorted(policies)})."
        )
    return policies, functools.partial(_policy_for_group, group_of=group_function(env_id))


def policy_spaces(algo: Any) -> tuple[Any, Any]:
    """The trained policy's observation and action spaces (for multi-agent: gymnasium Dicts by policy id)."""
    if algo.config.is_multi_agent:
        modules = {mid: algo.get_module(mid) for mid in sorted(algo.config.policies)}
        return (
            gymnasium.spaces.Dict({mid: m.observation_space for mid, m in modules.items()}),
            gymnasium.spaces.Dict({mid: m.action_space for mid, m in modules.items()}),
        )
    module = algo.get_module()
    connectors = algo.get_state(components=["env_runner/env_to_module_connector"])
    state = (connectors.get("env_runner") or {}).get("env_to_module_connector")
    return raw_space(module.observation_space, state), module.action_space


def mean_std_filter_multi_agent(env: Any = None, spaces: Any = None, device: Any = None) -> Any:
    """:func:`mean_std_filter` for multi-agent environments (one running mean and std per agent)."""
    from ray.rllib.connectors.env_to_module.mean_std_filter import MeanStdFilter  # heavy: RLlib

    return MeanStdFilter(multi_agent=True)


def build_algorithm_config(
    spec: TrainingSpec,
    env_name: str,
    num_gpus: int = 0,
    env_config: Mapping[str, Any] | None = None,
    env_id: str | None = None,
    action_mask: bool = False,
) -> Any:
    """An RLlib AlgorithmConfig for ``spec`` on the registered environment ``env_name``.

    ``env_config`` replaces ``spec.env_config`` (the runtime passes it completed with the job's context, see
    :mod:`runtime.job.env_config`); ``env_id`` (the registry id) lets a multi-agent environment get its policies;
    ``action_mask``: the observations carry an action mask (``{"action_mask", "observations"}``), and PPO trains
    RLlib's masking module on them (masked actions get no probability, in training and in the exports).
    """
    config_class = algorithm_config_class(spec.algorithm)
    config = config_class()
    defaults = default_config_dict(spec.algorithm)
    settings: dict[str, Any] = {
        # An integral float (7.0) where RLlib wants an integer: the check let it through; RLlib needs an int.
        key: int(value)
        if isinstance(value, float)
        and value.is_integer()
        and isinstance(defaults.get(key, _TYPE_OF_NONE_DEFAULTS.get(key)), int)
        else value
        for key, value in spec.config.items()
    }
    model_config: dict[str, Any] = dict(settings.pop("model_config", None) or {})
    log_std_init = model_config.pop("log_std_init", None)
    observation_filter = settings.pop("observation_filter", "NoFilter")
    reward_scale = float(settings.pop(REWARD_SCALE, 1.0))
    normalize_rewards = bool(settings.pop(NORMALIZE_REWARDS, False))
    settings.pop(THREADS, None)  # rlrt's, applied by the session (runtime.backends.rllib.threads)
    policies_mode = str(settings.pop("multi_agent_policies", "per_group"))
    episode_folder = settings.pop(OUTPUT_SETTING, None)
    custom_model = settings.pop("custom_model", None)
    settings.pop("custom_model_config", None)
    if custom_model is not None and not action_mask:
        raise UserError(
            f"'rl.training.config.model.custom_model' names {custom_model!r}, an RLlib 1.x custom model (ModelV2), "
            "which RLlib 2.x's new API stack (what rlrt trains) does not run: remove 'custom_model' and "
            "'custom_model_config' and shape RLlib's default network with model_config (fcnet_hiddens, "
            'fcnet_activation, conv_filters, use_lstm; docs/MIGRATING.md, "Porting a custom model"). An action-'
            "masking model needs no port: an environment whose Dict observation has an 'action_mask' entry is "
            f"masked by rlrt itself; {env_id or env_name}'s observations have none."
        )
    env_config = dict(spec.env_config if env_config is None else env_config)
    multi_agent = env_id is not None and env_info(env_id).multi_agent
    if normalize_rewards and multi_agent:
        raise UserError(multi_agent_refusal(env_id or env_name))
    if num_gpus and "num_gpus_per_learner" not in settings:
        settings["num_gpus_per_learner"] = 1
    try:
        config.update_from_dict(settings)
        if normalize_rewards:  # by the algorithm's own discount, as SB3's VecNormalize; never in evaluation
            gamma = float(settings.get("gamma", defaults.get("gamma", 0.99)))
            config.environment(env=env_name, env_config=training_env_config(env_config, gamma))
            config.evaluation(evaluation_config=evaluation_config(config.evaluation_config))
        else:
            config.environment(env=env_name, env_config=env_config)
        config.framework("torch")
        if multi_agent and env_id is not None:
            policies, mapping = multi_agent_policies(env_id, env_config, policies_mode)
            config.multi_agent(policies=policies, policy_mapping_fn=mapping)
        if spec.seed is not None:
            config.debugging(seed=spec.seed)
        if action_mask:
            config.rl_module(
                rl_module_spec=masking_module_spec(spec.algorithm, {**config.model_config, **model_config})
            )
        elif model_config:
            merged = {**config.model_config, **model_config}
            config.rl_module(model_config=merged)
        if log_std_init is not None:
            config.callbacks(on_algorithm_init=functools.partial(initial_log_std, float(log_std_init)))
        episode_end: list[Any] = [exact_episode_metrics]
        if episode_folder:
            episode_end.append(functools.partial(on_episode_end, str(episode_folder)))
            config.callbacks(on_sample_end=functools.partial(on_sample_end, str(episode_folder)))
        config.callbacks(on_episode_end=episode_end)
        if spec.algorithm == "PPO" and "learner_class" not in settings:
            config.learners(learner_class=ppo_learner_class())
        if reward_scale != 1.0:
            config.learners(learner_connector=functools.partial(scaled_rewards, reward_scale))
        if multi_agent and observation_filter == "MeanStdFilter":
            config.env_runners(env_to_module_connector=mean_std_filter_multi_agent)
        elif not multi_agent:  # integer observations (camera frames) reach the model as float32 (see images)
            config.env_runners(
                env_to_module_connector=with_float_observations(mean_std_filter)
                if observation_filter == "MeanStdFilter"
                else float_observations
            )
        config.validate()
    except (ValueError, TypeError, KeyError) as exc:
        offline = (
            f" RLlib's {spec.algorithm} learns only from logged data, which rlrt's RLlib backend does not read "
            "(RLlib's offline settings are refused); d3rlpy's offline algorithms do "
            "(rl.training.backend=d3rlpy, docs/OFFLINE.md)."
            if spec.algorithm in OFFLINE_ONLY
            else ""
        )
        raise UserError(f"RLlib rejected the {spec.algorithm} configuration: {exc}{offline}") from exc
    return config


def masking_module_spec(algorithm: str, model_config: Mapping[str, Any]) -> Any:
    """RLlib's action-masking PPO module (``ray.rllib.examples.rl_modules.classes.action_masking_rlm``) for an
    environment whose observations carry an action mask; other algorithms: a :class:`UserError`."""
    if algorithm != "PPO":
        raise UserError(
            f"The environment's observations carry an 'action_mask': action masking trains with PPO "
            f"(RLlib's masking module); {algorithm} has none. Set rl.training.run to PPO, or drop the "
            "mask from the observations."
        )
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec  # heavy: Ray and RLlib (~4 s)
    from ray.rllib.examples.rl_modules.classes.action_masking_rlm import (  # heavy: Ray and RLlib (~4 s)
        ActionMaskingTorchRLModule,
    )

    return RLModuleSpec(module_class=ActionMaskingTorchRLModule, model_config=dict(model_config))


def initial_log_std(value: float, algorithm: Any, **_: Any) -> None:
    """RLlib's ``on_algorithm_init`` callback for ``model_config.log_std_init``: start every Gaussian policy's log
    standard deviation at ``value`` (RLlib starts it at 0, i.e. a standard deviation of 1 on actions that are clipped
    to [-1, 1]; RL Zoo starts PyBullet's robots at -2), then give the env runners the learners' weights.

    With ``free_log_std`` the log-std is a parameter of its own; otherwise it is the second half of the policy head's
    output, whose bias is set to ``value``. Raises UserError when no module of the algorithm has a Gaussian policy."""
    results = algorithm.learner_group.foreach_learner(functools.partial(_fill_learner_log_std, value))
    if not any(result.get() for result in results):
        raise UserError(
            "'rl.training.config.model_config.log_std_init' sets the initial spread of a Gaussian policy; "
            f"this {type(algorithm).__name__} job's policies have none (discrete actions, or a model "
            "without a policy head). Remove the setting."
        )
    for group in (algorithm.env_runner_group, getattr(algorithm, "eval_env_runner_group", None)):
        if group is not None:
            group.sync_weights(from_worker_or_learner_group=algorithm.learner_group, inference_only=True)


def _fill_learner_log_std(value: float, learner: Any) -> bool:
    """Fill the log-std of each Gaussian policy in ``learner``'s modules; whether there was one."""
    return any([fill_log_std(module, value) for module in learner.module.values()])


def fill_log_std(module: Any, value: float) -> bool:
    """Set ``module``'s initial log standard deviation to ``value``; False when it has no Gaussian policy head."""
    import torch  # heavy: torch, loaded with RLlib

    head = getattr(module, "pi", None)
    if head is None or not isinstance(module.action_space, gymnasium.spaces.Box):
        return False
    with torch.no_grad():
        if isinstance(getattr(head, "log_std", None), torch.nn.Parameter):
            head.log_std.fill_(value)
            return True
        layers = [layer for layer in head.modules() if isinstance(layer, torch.nn.Linear)]
        half = math.prod(module.action_space.shape)
        if not layers or layers[-1].bias is None or layers[-1].out_features != 2 * half:
            return False
        layers[-1].bias[half:].fill_(value)
    return True
