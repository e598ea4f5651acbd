"""A Coach preset's ``graph_manager`` (built by rlrt's ``rl_coach`` parameter package) as one rlrt training job.

:func:`translate` reads what the preset set (its agent, networks, schedule, environment and validation parameters)
and returns rlrt hyperparameters in rlrt's own grammar (``rl.training.run``, ``rl.training.env``,
``rl.training.config.*`` in RLlib 2.x names, ``rl.training.stop.*``), the pass bar, the episodes of the evaluation
after training, and one line for each setting that was mapped approximately or not at all. Every attribute a preset
sets away from its class's Coach default is either translated or named in a line: nothing is dropped silently.
A preset rlrt cannot train (an agent or head with no RLlib counterpart, a layer other than ``Dense``) is a
:class:`runtime.errors.UserError` naming what. An environment given as ``level="module:Class"`` is marked
(``CoachJob.user_env``) for the launcher to register from source_dir. A Batch RL preset (``BatchRLGraphManager``
with DDQN-BCQ) becomes d3rlpy's DiscreteBCQ on its dataset (:mod:`sagemaker_rl.coach_batch`).

Classes are recognised by their names (``ClippedPPOAgentParameters``, ...), so the same code reads Coach's own
parameter objects; nothing here imports ``rl_coach``.
"""

from __future__ import annotations

from typing import Any, Mapping

from runtime.config import hyperparameters as hp
from runtime.errors import UserError
from sagemaker_rl.coach_batch import translate_batch
from sagemaker_rl.coach_filters import translate_filters, translate_videos
from sagemaker_rl.coach_reader import CONFIG, MAIN, CoachJob, Reader
from sagemaker_rl.coach_reader import class_name as _name
from sagemaker_rl.coach_reader import network_layers
from sagemaker_rl.coach_reader import steps as _steps
from sagemaker_rl.coach_reader import untranslated as _untranslated
from sagemaker_rl.coach_schedule import translate_schedule
from sagemaker_rl.coach_values import RLLIB_ACTIVATIONS


def _network(reader: Reader, config: dict[str, Any]) -> None:
    """The main network's layers, activation, learning rate and gradient clipping."""
    convolutions, hidden, coach_activation = network_layers(reader, images=True)
    activation = RLLIB_ACTIVATIONS.get(coach_activation.lower())
    if activation is None:
        path = f"{MAIN}.middleware_parameters.activation_function"
        raise UserError(
            f"'{path}' must be one of {', '.join(RLLIB_ACTIVATIONS)} (the activations RLlib's model "
            f"builds), got {coach_activation!r}{reader.where(path)}."
        )
    reader.used.add(f"{MAIN}.heads_parameters")
    config["lr"] = float(reader.get(f"{MAIN}.learning_rate"))
    clip = reader.get(f"{MAIN}.clip_gradients")
    if clip is not None:
        config["grad_clip"] = float(clip)
    if not convolutions:
        config["model_config"] = {"fcnet_hiddens": hidden, "fcnet_activation": str(activation)}
        return
    # An image: RLlib's CNN encoder (conv_filters, flattened) feeds the heads; its fcnet_hiddens apply to vectors
    # only, so the Dense layers after the convolutions are the heads' hidden layers.
    config["model_config"] = {
        "conv_filters": convolutions,
        "conv_activation": str(activation),
        "head_fcnet_hiddens": hidden,
        "head_fcnet_activation": str(activation),
    }
    reader.note(
        f"{MAIN}.input_embedders_parameters.observation.scheme",
        f"{len(convolutions)} Conv2d -> model_config.conv_filters (an image observation [height, width, "
        f"channels]), its Dense layers and the middleware's -> head_fcnet_hiddens {hidden}; RLlib's CNN "
        "takes the observation unscaled (Coach's image embedder divided it by input_rescaling, 255)",
    )


def _ppo(reader: Reader, config: dict[str, Any]) -> None:
    config.update(
        {
            "gamma": float(reader.get("agent_params.algorithm.discount")),
            "lambda": float(reader.get("agent_params.algorithm.gae_lambda")),
            "use_gae": bool(reader.get("agent_params.algorithm.estimate_state_value_using_gae")),
            "clip_param": float(reader.get("agent_params.algorithm.clip_likelihood_ratio_using_epsilon")),
            "entropy_coeff": float(reader.get("agent_params.algorithm.beta_entropy")),
            "num_epochs": int(reader.get("agent_params.algorithm.optimization_epochs")),
            "use_kl_loss": bool(reader.get("agent_params.algorithm.use_kl_regularization")),
            "minibatch_size": int(reader.get(f"{MAIN}.batch_size")),
        }
    )
    # Coach's PPO heads have separate networks unless use_separate_networks_per_head is off.
    config["model_config"]["vf_share_layers"] = not reader.get(f"{MAIN}.use_separate_networks_per_head")
    playing = _environment_steps(
        reader,
        "agent_params.algorithm.num_consecutive_playing_steps",
        ": RLlib's PPO collects a number of environment steps per update",
    )
    if playing is not None:
        config["train_batch_size_per_learner"] = playing
    decay = reader.get("agent_params.algorithm.clipping_decay_schedule")
    if _name(decay) != "ConstantSchedule":
        reader.note(
            "agent_params.algorithm.clipping_decay_schedule",
            f"{_name(decay)} not translated: RLlib's PPO keeps clip_param constant",
        )
    # The target network holds the old policy in Coach; RLlib keeps the old action log-probabilities instead.
    reader.used.add("agent_params.algorithm.num_steps_between_copying_online_weights_to_target")


A3C_VALUE_LOSS_BOUND = 1e10
"""A3C's value loss is not clipped: RLlib's PPO clamps it at ``vf_clip_param`` (default 10, which CartPole's returns
exceed, zeroing the value's gradient), here at a bound no loss reaches."""


def _actor_critic(reader: Reader, config: dict[str, Any]) -> None:
    """Coach's A3C as RLlib's PPO with one plain gradient step per batch of ``num_steps_between_gradient_updates``
    (A3C's t_max) environment steps: no minibatches or epochs, so PPO's clipping never acts (the ratio is 1)."""
    heads = {_name(h): index for index, h in enumerate(reader.get(f"{MAIN}.heads_parameters", mark=False))}
    if sorted(heads) != ["PolicyHeadParameters", "VHeadParameters"]:
        raise UserError(
            f"{MAIN}.heads_parameters is {list(heads)}{reader.where(MAIN + '.heads_parameters')}: rlrt "
            "translates Actor-Critic's value and policy heads (VHeadParameters, PolicyHeadParameters)."
        )
    rescaler = reader.get("agent_params.algorithm.policy_gradient_rescaler")
    rescaler_name = str(getattr(rescaler, "name", rescaler))
    gae = rescaler_name == "GAE"
    if rescaler_name not in ("GAE", "A_VALUE"):
        reader.note(
            "agent_params.algorithm.policy_gradient_rescaler",
            f"{rescaler_name} not translated: trained with A_VALUE's advantages (Coach's Actor-Critic "
            "computes only A_VALUE and GAE)",
        )
    t_max = int(reader.get("agent_params.algorithm.num_steps_between_gradient_updates"))
    lam = float(reader.get("agent_params.algorithm.gae_lambda"))
    config.update(
        {
            "gamma": float(reader.get("agent_params.algorithm.discount")),
            # A_VALUE's advantage (the discounted return to the batch's end, bootstrapped, less the value) is GAE with
            # lambda 1.
            "use_gae": True,
            "lambda": lam if gae else 1.0,
            "entropy_coeff": float(reader.get("agent_params.algorithm.beta_entropy")),
            "vf_loss_coeff": float(reader.get(f"{MAIN}.heads_parameters.{heads['VHeadParameters']}.loss_weight"))
            / float(reader.get(f"{MAIN}.heads_parameters.{heads['PolicyHeadParameters']}.loss_weight")),
            "train_batch_size_per_learner": t_max,
            "minibatch_size": t_max,
            "num_epochs": 1,
            "use_kl_loss": False,
            "vf_clip_param": A3C_VALUE_LOSS_BOUND,
        }
    )
    config["model_config"]["vf_share_layers"] = not reader.get(f"{MAIN}.use_separate_networks_per_head")
    estimate = bool(reader.get("agent_params.algorithm.estimate_state_value_using_gae"))
    if gae and not estimate and lam != 1.0:
        reader.note(
            "agent_params.algorithm.estimate_state_value_using_gae",
            "False not translated: RLlib's PPO trains the value on the GAE returns (Coach: on the discounted returns)",
        )
    every = int(reader.get("agent_params.algorithm.apply_gradients_every_x_episodes"))
    if every != 1:
        reader.note(
            "agent_params.algorithm.apply_gradients_every_x_episodes",
            f"{every} not translated: RLlib's PPO applies each batch's gradient step at once",
        )
    reader.used.add(f"{MAIN}.async_training")
    reader.notes.append(
        f"agent_params: ActorCriticAgentParameters (A3C) is trained as RLlib's PPO (RLlib 2.x has no "
        f"A3C): one synchronous gradient step per batch of {t_max} environment steps "
        "(num_steps_between_gradient_updates), not asynchronous workers; RLlib standardises each "
        "batch's advantages"
    )


def _environment_steps(reader: Reader, key: str, why: str = "") -> int | None:
    """The setting ``key`` when the preset counts it in environment steps; otherwise None, and one "not translated"
    line (``why`` follows it)."""
    counted = _steps(reader.get(key))
    if counted and counted[0] == "EnvironmentSteps":
        return counted[1]
    reader.note(key, f"{counted} not translated{why}")
    return None


def _dqn(reader: Reader, config: dict[str, Any], double_q: bool) -> None:
    heads = [_name(h) for h in reader.get(f"{MAIN}.heads_parameters", mark=False)]
    if heads not in (["QHeadParameters"], ["DuelingQHeadParameters"]):
        raise UserError(
            f"{MAIN}.heads_parameters is {heads}{reader.where(MAIN + '.heads_parameters')}: rlrt "
            "translates a Q head (QHeadParameters) or a dueling one (DuelingQHeadParameters)."
        )
    config.update(
        {
            "gamma": float(reader.get("agent_params.algorithm.discount")),
            "double_q": double_q,
            "dueling": heads == ["DuelingQHeadParameters"],
            "n_step": 1,
            "train_batch_size_per_learner": int(reader.get(f"{MAIN}.batch_size")),
            "tau": float(reader.get("agent_params.algorithm.rate_for_copying_weights_to_target")),
            # Coach's Q head fits the squared error unless told to use Huber; RLlib's default is Huber.
            "td_error_loss_fn": "huber" if reader.get(f"{MAIN}.replace_mse_with_huber_loss") else "mse",
        }
    )
    copying = _environment_steps(
        reader,
        "agent_params.algorithm.num_steps_between_copying_online_weights_to_target",
        ": RLlib updates the target network every N environment steps",
    )
    if copying is not None:
        config["target_network_update_freq"] = copying
    playing = _environment_steps(reader, "agent_params.algorithm.num_consecutive_playing_steps")
    if playing is not None:
        # Coach trains one batch every N environment steps: RLlib's replay ratio says the same.
        config["training_intensity"] = float(reader.get(f"{MAIN}.batch_size")) / playing
    size = reader.get("agent_params.memory.max_size")
    if _name(size[0]) == "MemoryGranularity" and getattr(size[0], "name", "") == "Transitions":
        config["replay_buffer_config"] = {"type": "EpisodeReplayBuffer", "capacity": int(size[1])}
    else:
        reader.note("agent_params.memory.max_size", f"{size} not translated: RLlib's replay holds transitions")
    epsilon = "agent_params.exploration.epsilon_schedule"
    schedule = reader.get(epsilon)
    if _name(schedule) == "LinearSchedule":
        config["epsilon"] = [
            [0, float(reader.get(f"{epsilon}.initial_value"))],
            [int(reader.get(f"{epsilon}.decay_steps")), float(reader.get(f"{epsilon}.final_value"))],
        ]
    elif _name(schedule) == "ConstantSchedule":
        config["epsilon"] = [[0, float(reader.get(f"{epsilon}.initial_value"))]]
    else:
        reader.note(epsilon, f"{_name(schedule)} not translated")
    config["adam_epsilon"] = float(reader.get(f"{MAIN}.optimizer_epsilon"))


AGENTS = {
    "ClippedPPOAgentParameters": "PPO",
    "ActorCriticAgentParameters": "PPO",
    "DQNAgentParameters": "DQN",
    "DDQNAgentParameters": "DQN",
}
"""The Coach agents rlrt trains, and the RLlib algorithm each becomes."""


def _environment(reader: Reader, job: CoachJob) -> None:
    env = reader.get("env_params", mark=False)
    if _name(env) not in ("GymVectorEnvironment", "GymEnvironmentParameters"):
        raise UserError(
            f"env_params is {_name(env)}{reader.where('env_params')}: rlrt translates gym environments "
            "(GymVectorEnvironment)."
        )
    level = reader.get("env_params.level")  # a text (coach_values); 'module:Class' needs both parts
    module, colon, attribute = level.partition(":")
    if colon and not (module.strip() and attribute.strip()):
        raise UserError(
            f"env_params.level {level!r}{reader.where('env_params.level')} must be a gym id or "
            "'module:Class' (a class or function in source_dir that makes the environment)."
        )
    job.user_env = bool(colon)
    job.env = level
    job.hyperparameters[hp.ENV] = level
    extra = reader.get("env_params.additional_simulator_parameters") or {}
    if extra:
        job.hyperparameters[CONFIG + "env_config"] = dict(extra)
    for part in ("frame_skip", "default_input_filter", "default_output_filter"):
        reader.used.add(f"env_params.{part}")


def translate(graph_manager: Any, origins: Mapping[str, str] | None = None) -> CoachJob:
    """The rlrt job for a Coach preset's ``graph_manager`` (see the module's docstring); ``origins``: the settings
    the job's hyperparameters set (:func:`sagemaker_rl.coach_values.hyperparameter_origins`), which messages about
    their values name."""
    if not hasattr(graph_manager, "agent_params"):
        raise UserError(
            f"{_name(graph_manager)} has no single agent_params: rlrt translates a BasicRLGraphManager "
            "(one agent, one environment)."
        )
    if _name(graph_manager) == "BatchRLGraphManager":
        return translate_batch(graph_manager, origins)
    reader = Reader(graph_manager, origins)
    agent = reader.get("agent_params", mark=False)
    algorithm = AGENTS.get(_name(agent))
    if algorithm is None or _name(graph_manager) != "BasicRLGraphManager":
        raise UserError(
            f"{_name(graph_manager)} with {_name(agent)}{reader.where('agent_params')}: rlrt "
            f"translates a BasicRLGraphManager with {', '.join(AGENTS)} (to RLlib's PPO / DQN), or a "
            "BatchRLGraphManager with DDQNBCQAgentParameters (to d3rlpy's DiscreteBCQ)."
        )
    job = CoachJob({hp.RUN: algorithm}, algorithm, "")
    config: dict[str, Any] = {}
    _network(reader, config)
    if _name(agent) == "ActorCriticAgentParameters":
        _actor_critic(reader, config)
    elif algorithm == "PPO":
        _ppo(reader, config)
    else:
        _dqn(reader, config, double_q=_name(agent) == "DDQNAgentParameters")
    translate_filters(reader, config)
    job.hyperparameters.update({CONFIG + key: value for key, value in config.items()})
    _environment(reader, job)
    translate_videos(reader, job)
    translate_schedule(reader, job, algorithm)
    threshold = reader.get("preset_validation_params.min_reward_threshold")
    job.pass_bar = float(threshold) if threshold else None
    for part in ("test", "max_episodes_to_achieve_reward"):
        reader.used.add(f"preset_validation_params.{part}")  # Coach's own test of the preset, not training
    job.notes = (
        reader.notes
        + job.notes
        + [f"{path}: {value} not translated" for path, value in _untranslated(reader, graph_manager, agent)]
    )
    return job
