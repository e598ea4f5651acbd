"""SageMaker entry point (the Unity seed's `train-unity.py`): train with the 'unity-basic-ppo' preset unless
hyperparameters name another.

The game: rl.training.config.env_config.env_name (default "Basic") is an ML-Agents registry id, or, with a `train`
channel, the file name of the Linux player uploaded there. SageMaker script mode also passes hyperparameters as
command-line flags; they duplicate hyperparameters.json, which is what the runtime reads, so they are ignored here.
"""

from runtime.cli import run

if __name__ == "__main__":
    run(["train", "--default-preset", "unity-basic-ppo"])
