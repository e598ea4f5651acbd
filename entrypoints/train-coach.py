"""SageMaker entry point (the Batch RL seed's `train-coach.py`): offline training with the 'cartpole-bcq' preset
(d3rlpy discrete BCQ, the seed's DDQN-BCQ) on the rollouts in the `train` channel, unless hyperparameters
(`RLCOACH_PRESET`, `preset`) name another preset. Hyperparameters are read from hyperparameters.json.
"""

from runtime.cli import run

if __name__ == "__main__":
    run(["train", "--default-preset", "cartpole-bcq"])
