"""SageMaker entry point (the seeds' `evaluate-ray.py`): evaluate the model in the 'model' channel.

Hyperparameters: evaluate_episodes, algorithm, env (and optionally evaluate_steps, config, record_video_every,
seed); see `rlrt evaluate --help`. SageMaker script mode also passes hyperparameters as command-line flags; they
duplicate hyperparameters.json, which is what the runtime reads, so the flags are ignored here.
"""

from runtime.cli import run

if __name__ == "__main__":
    run(["evaluate"])
