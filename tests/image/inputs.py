"""What the image tests and the SDK's local-mode driver both send: a tiny Reacher PPO job and seed 000's request.

Plain data, importable from the SageMaker SDK's own environment (which has neither pytest nor this project's deps).
"""

TINY_REACHER = {
    "preset": "reacher-ppo",
    "rl.training.config.train_batch_size_per_learner": 600,
    "rl.training.config.num_envs_per_env_runner": 2,
    "rl.training.config.num_epochs": 1,
    "rl.training.config.minibatch_size": 200,
}
SEED_REQUEST = {
    "inputs": {
        "observations": [[1.0] * 9],
        "prev_action": [0, 0],
        "is_training": False,
        "prev_reward": -1,
        "seq_lens": -1,
    }
}
"""Seed 000's request to the Reacher endpoint (`np.ones(shape=(1, 9))` and its placeholders)."""
RUN_LABEL = "rlrt.test-run"
"""The label on every container the image tests start (`docker run --label`, and the SDK's local mode through its
``local.container_config``); its value is the run's id, ``RLRT_IMAGE_RUN`` (set by scripts/test-image, which removes
exactly the containers carrying it afterwards)."""
