"""SageMaker entry point named as in the DeepRacer seed (`training_worker.py`): DeepRacer training with the
'deepracer-ppo' preset. The reward function, model_metadata.json, training_params.yaml and an optional track
`<WORLD_NAME>.npy` come from the `train` channel; DeepRacer's hyperparameters (batch_size, lr, ...) are accepted.
"""

from runtime.cli import run

if __name__ == "__main__":
    run(["train", "--default-preset", "deepracer-ppo"])
