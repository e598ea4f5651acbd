"""A Coach Batch RL preset (``BatchRLGraphManager`` with ``DDQNBCQAgentParameters``, its dataset a ``CsvDataset``) as
rlrt's offline job: d3rlpy's DiscreteBCQ on the same logged data (``rl.training.run: DiscreteBCQ``).

:func:`translate_batch` reads the preset (network, its loss, discount, learning rate, batch size, target update,
BCQ's action drop, schedule, spaces) into d3rlpy's settings; :func:`find_dataset` finds the ``CsvDataset`` file for
the job and sizes an epoch as Coach's Batch RL did (one pass over the data), checking the data against the preset's
``SpacesDefinition``. As in :mod:`sagemaker_rl.coach_translate`, every setting is translated or named in a line.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping

from runtime.backends.d3rlpy import squared_error
from runtime.config import hyperparameters as hp
from runtime.errors import UserError
from runtime.offline.dataset import load_logged_data
from runtime.offline.sources import offline_data_source
from sagemaker_rl.coach_reader import CONFIG, MAIN, STOP, CoachJob, Reader, class_name, network_layers, steps
from sagemaker_rl.coach_reader import untranslated

ALGORITHM = "DiscreteBCQ"
ACTION_FLEXIBILITY = 0.3
"""d3rlpy's DiscreteBCQ default (and rlrt's cartpole-bcq preset's): the threshold a Coach KNN action drop becomes."""
DEFAULT_REWARD_MODEL_EPOCHS = 100
"""BatchRLGraphManager's default ``reward_model_num_epochs``."""


def _action_drop(reader: Reader, config: dict[str, Any]) -> None:
    """BCQ's choice of the actions the Bellman max may take -> d3rlpy's ``action_flexibility``."""
    method = reader.get("agent_params.algorithm.action_drop_method_parameters", mark=False)
    path = "agent_params.algorithm.action_drop_method_parameters"
    if class_name(method) == "NNImitationModelParameters":
        # The same rule as d3rlpy's: drop actions whose imitation probability is below threshold x the largest.
        config["action_flexibility"] = float(reader.get(f"{path}.mask_out_actions_threshold"))
        reader.note(
            f"{path}.imitation_model_num_epochs",
            "not translated: d3rlpy trains its imitation model with the Q-function, one step each",
        )
    elif class_name(method) == "KNNParameters":
        config["action_flexibility"] = ACTION_FLEXIBILITY
        reader.note(
            path,
            f"KNNParameters -> action_flexibility {ACTION_FLEXIBILITY} (the nearest: d3rlpy's BCQ "
            "drops the actions a learned imitation model gives less than this fraction of the most "
            "likely action's probability, where Coach's KNN dropped actions far from the data's "
            "states)",
        )
    else:
        raise UserError(
            f"{path} is {class_name(method)}{reader.where(path)}: rlrt translates KNNParameters or "
            "NNImitationModelParameters (to d3rlpy's action_flexibility)."
        )


def _dataset(reader: Reader, job: CoachJob) -> None:
    source = reader.get("agent_params.memory.load_memory_from_file_path")
    if source is None:
        job.notes.append(
            "agent_params.memory.load_memory_from_file_path: None: the 'train' channel's data (or a CSV in source_dir)"
        )
    elif class_name(source) == "CsvDataset":
        job.dataset = str(source.filepath)
        if not source.is_episodic:
            reader.note(
                "agent_params.memory.load_memory_from_file_path.is_episodic",
                "False not translated: rlrt reads episodes by the CSV's episode_id",
            )
    else:
        where = reader.where("agent_params.memory.load_memory_from_file_path")
        raise UserError(
            f"agent_params.memory.load_memory_from_file_path is {class_name(source)}{where}: rlrt reads "
            "a CsvDataset (the seeds' rollout CSV: episode_id, action, reward, state_features, ...)."
        )
    for part in ("max_size", "shared_memory"):
        reader.used.add(f"agent_params.memory.{part}")
    ratio = reader.get("agent_params.memory.train_to_eval_ratio")
    if ratio is not None and float(ratio) < 1:
        reader.note(
            "agent_params.memory.train_to_eval_ratio",
            f"{ratio} not translated: rlrt trains on all the episodes and evaluates them all off-policy",
        )


def _schedule(reader: Reader, job: CoachJob) -> None:
    improve = steps(reader.get("improve_steps"))
    if improve is None or improve[0] not in ("TrainingSteps", "Time"):
        raise UserError(
            f"improve_steps is {improve}{reader.where('improve_steps')}: a Batch RL preset counts "
            "TrainingSteps (epochs: passes over the dataset) or Time."
        )
    key = "epochs" if improve[0] == "TrainingSteps" else hp.STOP_TIME_TOTAL_S
    job.hyperparameters[STOP + key] = improve[1]
    job.notes.append(
        f"improve_steps: {improve[0]}({improve[1]}) -> stop at {key} {improve[1]}"
        + (" (an epoch: a pass over the data)" if key == "epochs" else "")
    )
    between = steps(reader.get("steps_between_evaluation_periods"))
    if between not in (None, ("TrainingSteps", 1)):
        reader.note(
            "steps_between_evaluation_periods", f"{between} not translated: rlrt evaluates off-policy after every epoch"
        )
    evaluation = steps(reader.get("evaluation_steps"))
    if evaluation and evaluation[1] > 0:
        job.evaluation_episodes = evaluation[1] if evaluation[0] == "EnvironmentEpisodes" else 5
    heatup = steps(reader.get("heatup_steps"))
    if heatup and heatup[1] > 0:
        reader.note("heatup_steps", f"{heatup} not translated: offline training has no heatup")


def translate_batch(graph_manager: Any, origins: Mapping[str, str] | None = None) -> CoachJob:
    """The offline (d3rlpy DiscreteBCQ) job for a ``BatchRLGraphManager`` preset; :class:`UserError` naming what rlrt
    cannot translate. ``origins``: as :func:`sagemaker_rl.coach_translate.translate`'s."""
    reader = Reader(graph_manager, origins)
    agent = reader.get("agent_params", mark=False)
    if class_name(agent) != "DDQNBCQAgentParameters":
        raise UserError(
            f"BatchRLGraphManager with {class_name(agent)}{reader.where('agent_params')}: rlrt "
            "translates Batch RL with DDQNBCQAgentParameters (to d3rlpy's DiscreteBCQ)."
        )
    if getattr(graph_manager, "experience_generating_agent_params", None) is not None:
        raise UserError(
            "BatchRLGraphManager with experience_generating_agent_params: rlrt trains on logged data; "
            "collect it first (`rlrt collect`) and pass it as a CsvDataset or in the 'train' channel."
        )
    heads = [class_name(h) for h in reader.get(f"{MAIN}.heads_parameters", mark=False)]
    if heads != ["QHeadParameters"]:
        raise UserError(
            f"{MAIN}.heads_parameters is {heads}{reader.where(MAIN + '.heads_parameters')}: d3rlpy's "
            "DiscreteBCQ has a Q head (QHeadParameters)."
        )
    _, hidden, activation = network_layers(reader)
    if activation != "relu":
        reader.note(
            f"{MAIN}.middleware_parameters.activation_function",
            f"{activation!r} not translated: d3rlpy's encoder uses relu",
        )
    config: dict[str, Any] = {
        "hidden_units": hidden,
        "learning_rate": float(reader.get(f"{MAIN}.learning_rate")),
        "batch_size": int(reader.get(f"{MAIN}.batch_size")),
        "gamma": float(reader.get("agent_params.algorithm.discount")),
        "optim_factory": {
            "type": "adam",
            "params": {
                "eps": float(reader.get(f"{MAIN}.optimizer_epsilon")),
                "betas": [
                    float(reader.get(f"{MAIN}.adam_optimizer_beta1")),
                    float(reader.get(f"{MAIN}.adam_optimizer_beta2")),
                ],
            },
        },
    }
    if not reader.get(f"{MAIN}.replace_mse_with_huber_loss"):
        # Coach fits Q with the squared error unless told otherwise; d3rlpy's own Q-function always uses Huber,
        # with which the seed's preset diverges (runtime/backends/d3rlpy/squared_error.py).
        config["q_func_factory"] = squared_error.TYPE
    copying = steps(reader.get("agent_params.algorithm.num_steps_between_copying_online_weights_to_target"))
    if copying and copying[0] == "TrainingSteps":
        config["target_update_interval"] = copying[1]
    else:
        reader.note(
            "agent_params.algorithm.num_steps_between_copying_online_weights_to_target",
            f"{copying} not translated: d3rlpy copies the target network every N gradient steps (TrainingSteps)",
        )
    rate = float(reader.get("agent_params.algorithm.rate_for_copying_weights_to_target"))
    if rate != 1.0:
        reader.note(
            "agent_params.algorithm.rate_for_copying_weights_to_target",
            f"{rate} not translated: d3rlpy's DiscreteBCQ copies the whole target network",
        )
    _action_drop(reader, config)
    reader.note("agent_params.exploration.epsilon_schedule", "not used: offline training takes no actions")
    if float(reader.get("agent_params.exploration.evaluation_epsilon")) != 0:
        reader.note("agent_params.exploration.evaluation_epsilon", "not translated: rlrt evaluates greedily")
    for part in ("num_consecutive_playing_steps", "num_consecutive_training_steps"):
        reader.used.add(f"agent_params.algorithm.{part}")  # offline: no playing; training is the epoch's steps
    job = CoachJob({hp.RUN: ALGORITHM}, ALGORITHM, "")
    job.hyperparameters.update({CONFIG + key: value for key, value in config.items()})
    _dataset(reader, job)
    _schedule(reader, job)
    env = graph_manager.env_params
    if env is not None:
        level = str(reader.get("env_params.level"))
        job.env, job.user_env = level, ":" in level
        job.hyperparameters[hp.ENV] = level
    threshold = reader.get("preset_validation_params.min_reward_threshold")
    job.pass_bar = float(threshold) if threshold and job.evaluation_episodes else None
    for part in ("test", "max_episodes_to_achieve_reward", "min_reward_threshold"):
        reader.used.add(f"preset_validation_params.{part}")
    spaces = graph_manager.spaces_definition
    if spaces is not None:
        job.spaces = (
            int(spaces.state["observation"].num_elements),
            len(spaces.action.actions) if class_name(spaces.action) == "DiscreteActionSpace" else -1,
        )
    epochs = int(reader.get("reward_model_num_epochs"))
    if epochs != DEFAULT_REWARD_MODEL_EPOCHS:
        job.notes.append(
            f"reward_model_num_epochs: {epochs} not translated: rlrt fits its own reward model for the "
            "doubly robust estimates (DR, SDR)"
        )
    job.notes = (
        reader.notes
        + job.notes
        + [f"{path}: {value} not translated" for path, value in untranslated(reader, graph_manager, agent)]
    )
    return job


def find_dataset(job: CoachJob, tree: Any, source_dir: Path) -> None:
    """Point the job at its data and size its epoch: the ``CsvDataset`` file (a relative path in ``source_dir`` or
    the working folder, an ``/opt/ml/...`` one in the job's tree), else the 'train' channel (or a CSV in the code
    folder); one epoch is one pass over the data's transitions (Coach's Batch RL epoch). ``tree``: the job's
    :class:`runtime.job.environment.JobEnvironment`. The data's spaces must be the preset's ``SpacesDefinition``."""
    found: Path | None = None
    if job.dataset:
        given = Path(job.dataset)
        candidates = [tree.in_tree(given)] if given.is_absolute() else [source_dir / given, Path.cwd() / given]
        found = next((c.resolve() for c in candidates if c.exists()), None)
        if found is not None:
            job.hyperparameters[CONFIG + "input"] = str(found)
    source = found or offline_data_source(tree)
    if job.dataset and found is None:
        job.notes.append(
            f"agent_params.memory.load_memory_from_file_path: CsvDataset({job.dataset!r}) is not in "
            f"source_dir: the data in {source}"
        )
    data = load_logged_data(source)
    if job.spaces is not None:
        if not data.discrete or job.spaces != (data.observation_size, data.n_actions):
            raise UserError(
                f"the data in {source} has observations of {data.observation_size} values and "
                f"{data.n_actions} {'discrete' if data.discrete else 'continuous'} actions, but the "
                f"preset's SpacesDefinition says {job.spaces[0]} values and {job.spaces[1]} discrete "
                "actions."
            )
    batch = int(job.hyperparameters[CONFIG + "batch_size"])
    per_epoch = max(1, math.ceil(data.num_transitions / batch))
    job.hyperparameters[CONFIG + "n_steps_per_epoch"] = per_epoch
    job.notes.append(
        f"one epoch: {per_epoch} gradient steps (a pass over the {data.num_transitions} transitions at "
        f"batch {batch}, as Coach's Batch RL epoch)"
    )
