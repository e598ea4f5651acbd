"""SageMaker entry point (the Unity seed's `evaluate-unity.py`): evaluate the model in the 'model' channel on the
Unity game, found as in training (a player in the 'train' channel, or a registry id such as "Basic").

Hyperparameters: evaluate_episodes, algorithm, env (and optionally evaluate_steps, config, record_video_every, seed);
see `rlrt evaluate --help`. A game that cannot render gets no videos (one line says so). SageMaker script mode also
passes hyperparameters as command-line flags; they duplicate hyperparameters.json, which is what the runtime reads,
so the flags are ignored here.
"""

from runtime.cli import run

if __name__ == "__main__":
    run(["evaluate"])
