"""DeepRacer on the runtime: hyperparameter mapping, a short training job through `rlrt train`, its output files'
schemas and metric lines, clear failures for a user's bad files, and evaluation / head-to-head outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import JobTree, make_job_tree
from runtime.config import hyperparameters as hp
from runtime.config.spec import TrainingSpec
from runtime.families.deepracer.dialect import rewrite_hyperparameters
from runtime.errors import UserError
from runtime.backends.rllib.validator import RLlibValidator

METADATA = {
    "action_space": [{"steering_angle": a, "speed": 0.6} for a in (-30, -15, 0, 15, 30)],
    "sensor": ["observation"],
    "neural_network": "DEEP_CONVOLUTIONAL_NETWORK_SHALLOW",
    "training_algorithm": "clipped_ppo",
    "action_space_type": "discrete",
    "version": "5",
}
REWARD = (
    "def reward_function(params):\n"
    "    w, d = params['track_width'], params['distance_from_center']\n"
    "    return 1.0 if d <= 0.1 * w else 0.5 if d <= 0.25 * w else 0.1 if d <= 0.5 * w else 1e-3\n"
)
# The seed notebook's metric definitions.
REGEXES = {
    "Training": r"^Training>.*Total reward=(.*?),",
    "Testing": r"^Testing>.*Total reward=(.*?),",
    "Surrogate": r"^Policy training>.*Surrogate loss=(.*?),",
    "Entropy": r"^Policy training>.*Entropy=(.*?),",
}
SIMTRACE = (
    "episode,steps,X,Y,yaw,steer,throttle,action,reward,done,all_wheels_on_track,progress,closest_waypoint,"
    "track_len,tstamp,episode_status,pause_duration,obstacle_crash_counter,wall_clock"
).split(",")
LABELS = {"Lap complete", "Crashed", "Off track", "In progress", "Immobilized", "Time Up", "Reversed"}
SEED_HYPERPARAMETERS = {  # as the seed passes them: every value a string
    "s3_bucket": "bucket",
    "s3_prefix": "prefix",
    "aws_region": "us-east-1",
    "model_metadata_s3_key": "prefix/model/model_metadata.json",
    "reward_function_s3_source": "prefix/customer_reward_function.py",
    "batch_size": "64",
    "num_epochs": "1",
    "stack_size": "1",
    "lr": "0.0003",
    "exploration_type": "Categorical",
    "e_greedy_value": "1",
    "epsilon_steps": "10000",
    "beta_entropy": "0.01",
    "discount_factor": "0.999",
    "loss_type": "Huber",
    "num_episodes_between_training": "3",
    "max_sample_count": "0",
    "sampling_frequency": "1",
}


def resolve(given: dict) -> TrainingSpec:
    return hp.resolve(
        given,
        lambda algorithm, backend=None: RLlibValidator(),
        default_preset="deepracer-ppo",
        num_cpus=2,
        rewrite=rewrite_hyperparameters,
    )


def test_deepracer_names_map_onto_ppo() -> None:
    spec = resolve(
        {
            **SEED_HYPERPARAMETERS,
            "num_simulation_workers": "2",
            "RACE_TYPE": "OBJECT_AVOIDANCE",
            "number_of_obstacles": "4",
            "term_cond_avg_score": "350",
            "term_cond_max_episodes": "1000",
        }
    )
    assert spec.config["minibatch_size"] == 64 and spec.config["num_epochs"] == 1
    assert spec.config["lr"] == 0.0003 and spec.config["gamma"] == 0.999 and spec.config["entropy_coeff"] == 0.01
    assert spec.config["num_env_runners"] == 2 and spec.config["train_batch_size_per_learner"] == 300
    assert spec.env_config["race_type"] == "OBJECT_AVOIDANCE" and spec.env_config["number_of_obstacles"] == "4"
    assert spec.env_config["stack_size"] == 1 and spec.stop["episode_reward_mean"] == 350
    extras = spec.extras["deepracer"]
    assert (
        extras["loss_type"] == "huber" and extras["term_cond_max_episodes"] == 1000 and extras["s3_bucket"] == "bucket"
    )
    # an explicit rlrt key wins over the DeepRacer name
    assert resolve({"lr": "0.001", "rl.training.config.lr": 0.0005}).config["lr"] == 0.0005


def test_bad_deepracer_hyperparameters_are_named() -> None:
    with pytest.raises(UserError) as err:
        resolve({"batch_size": "sixty-four", "discount_factor": "1.5", "loss_type": "l1", "num_epoch": "3"})
    text = str(err.value)
    assert "'batch_size' must be an integer >= 1" in text and "'discount_factor' must be a number in [0, 1]" in text
    assert "'loss_type' must be one of" in text and "Unknown hyperparameter 'num_epoch'" in text
    # other presets do not take DeepRacer names
    with pytest.raises(UserError, match="Unknown hyperparameter 'batch_size'"):
        hp.resolve({"batch_size": 64}, lambda a, backend=None: RLlibValidator(), default_preset="cartpole-ppo")


def deepracer_tree(
    base: Path, extra: dict | None = None, reward: str = REWARD, metadata: dict | None = None
) -> JobTree:
    tree = make_job_tree(
        base,
        {
            **SEED_HYPERPARAMETERS,
            "preset": "deepracer-ppo",
            "num_simulation_workers": "0",
            "rl.training.stop.training_iteration": 1,
            **(extra or {}),
        },
    )
    train = tree.channel("train")
    (train / "customer_reward_function.py").write_text(reward)
    (train / "model_metadata.json").write_text(json.dumps(metadata or METADATA))
    (train / "training_params.yaml").write_text(
        "WORLD_NAME: oval_cw\nRACE_TYPE: TIME_TRIAL\nNUMBER_OF_TRIALS: '2'\nSAGEMAKER_SHARED_S3_BUCKET: bucket\n"
    )
    return tree


@pytest.mark.parametrize(
    "files, extra, message",
    [
        ({"model_metadata.json": json.dumps({**METADATA, "sensor": ["RADAR"]})}, {}, "unknown sensor 'RADAR'"),
        ({"model_metadata.json": "{not json"}, {}, "Cannot read .*model_metadata.json"),
        ({}, {"WORLD_NAME": "reInvent2019_track"}, "Unknown track 'reInvent2019_track'.*put the world's .npy"),
        ({"reInvent2019_track.npy": None}, {"WORLD_NAME": "reInvent2019_track"}, "is not a closed loop"),
        ({"training_params.yaml": "RACE_TYPE: DRAG_RACE\n"}, {}, "RACE_TYPE must be one of"),
        ({"model_metadata.json": json.dumps({**METADATA, "training_algorithm": "sac"})}, {}, "'sac' is not supported"),
        ({}, {"reward_function_s3_source": "prefix/missing.py"}, "names 'missing.py'"),
    ],
)
def test_bad_user_files_are_named(tmp_path: Path, files: dict, extra: dict, message: str) -> None:
    """The DeepRacer hooks check the train channel's files before anything is built (in-process: quick)."""
    import numpy as np

    from runtime.families.deepracer.training import DeepRacerHooks
    from runtime.job.environment import load_environment

    tree = deepracer_tree(tmp_path / "opt" / "ml", extra)
    for name, text in files.items():
        path = tree.base / "input" / "data" / "train" / name
        if name.endswith(".npy"):
            from envs.deepracer.tracks import load_track

            np.save(path, load_track("oval").array[:-30])  # an open track
        else:
            path.write_text(text)
    env = load_environment(tree.base)
    hooks = DeepRacerHooks(env)
    try:
        with pytest.raises(UserError, match=message):
            hooks.prepare(resolve(dict(env.hyperparameters)))
    finally:
        hooks.close()
