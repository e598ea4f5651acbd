"""SageMaker entry point (the seeds' `train-reacher.py`): train with the 'reacher-ppo' preset unless
hyperparameters name another.

SageMaker script mode also passes hyperparameters as command-line flags; they duplicate hyperparameters.json, which
is what the runtime reads, so the flags are ignored here.
"""

from runtime.cli import run

if __name__ == "__main__":
    run(["train", "--default-preset", "reacher-ppo"])
