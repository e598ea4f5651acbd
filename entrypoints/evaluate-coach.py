"""SageMaker entry point (the Batch RL seed's `evaluate-coach.py`): `rlrt evaluate-offline`, the alias of
`rlrt evaluate` for the offline-trained (d3rlpy) model passed in the `model` channel (or the seed's `checkpoint`
channel); hyperparameters `evaluate_steps` or `evaluate_episodes`, `env`, `RLCOACH_PRESET` (e.g.
`preset-cartpole-ddqnbcq-env`). Prints Coach-style `Testing>` lines.
"""

from runtime.cli import run

if __name__ == "__main__":
    run(["evaluate-offline"])
