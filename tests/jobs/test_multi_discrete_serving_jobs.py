"""A policy over several discrete action parts (``MultiDiscrete``, a ``Tuple`` of ``Discrete``) trains, exports
(TorchScript and ONNX checked against the torch policy) and serves: a row's prediction is its list of actions, one per
part."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import requests

from tests.conftest import start_rlrt
from tests.jobs.test_sagemaker_rl_jobs import TINY, run_script_mode
from tests.jobs.test_serving_server import free_port, onnx_predict, stop, wait_until_ready
from tests.quiet_logs import unexpected_lines

ENV = '''
import gymnasium as gym
import numpy as np


class Picker(gym.Env):
    """Observe three numbers; pick an item of each of two menus (2 and 3 items)."""

    def __init__(self, config=None):
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
        self.action_space = gym.spaces.MultiDiscrete([2, 3]) if (config or {}).get("menus") != "tuple" \
            else gym.spaces.Tuple([gym.spaces.Discrete(2), gym.spaces.Discrete(3)])
        self.steps = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.steps = 0
        return self.observation_space.sample(), {}

    def step(self, action):
        self.steps += 1
        assert self.action_space.contains(tuple(action) if isinstance(self.action_space, gym.spaces.Tuple)
                                          else np.asarray(action)), action
        reward = float(action[0] == 1) + float(action[1] == 2)
        return self.observation_space.sample(), reward, False, self.steps >= 10, {}
'''

SCRIPT = """
from ray.tune.registry import register_env
from sagemaker_rl.ray_launcher import SageMakerRayLauncher


class Launcher(SageMakerRayLauncher):
    def register_env_creator(self):
        from picker import Picker
        register_env("Picker-v0", lambda config: Picker(config))

    def get_experiment_config(self):
        return {"training": {"env": "Picker-v0", "run": "PPO", "stop": {"training_iteration": 1},
                             "config": {"num_workers": 1}}}


if __name__ == "__main__":
    Launcher().train_main()
"""


@pytest.mark.slow
@pytest.mark.parametrize("menus", ["multidiscrete", "tuple"])
def test_multi_discrete_actions_train_export_and_serve_a_list_per_row(tmp_path: Path, menus: str) -> None:
    run, tree = run_script_mode(
        tmp_path,
        "train-picker.py",
        {"train-picker.py": SCRIPT, "picker.py": ENV},
        {**TINY, "save_model": 1, "rl.training.config.env_config": {"menus": menus}},
        timeout=400,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert unexpected_lines(output) == []
    assert (tree.model / "policy.onnx").is_file() and (tree.model / "policy.pt").is_file()
    metadata = json.loads((tree.model / "metadata.json").read_text())
    assert metadata["action_space"]["type"] == {"multidiscrete": "MultiDiscrete", "tuple": "Tuple"}[menus]
    assert metadata["serving"]["head"]["kind"] == "multi_categorical", metadata["serving"]
    assert metadata["serving"]["head"]["parts"] == [2, 3] and metadata["serving"]["head"]["starts"] == [0, 0]

    observations = np.array([[0.1, -0.2, 0.3], [-0.5, 0.5, 0.0]], np.float32)
    expected = onnx_predict(tree.model, observations)
    assert expected["actions"].shape == (2, 2) and expected["action_probabilities"].shape == (2, 5)
    port, log = free_port(), tmp_path / "serve.log"
    process = start_rlrt(
        ["serve", "--host", "127.0.0.1"],
        base=tree.base,
        log=log,
        SAGEMAKER_BIND_TO_PORT=str(port),
        SAGEMAKER_MODEL_SERVER_WORKERS="1",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, log)
        rows = requests.post(url + "/invocations", json={"instances": observations.tolist()}, timeout=10)
        assert rows.status_code == 200, rows.text
        assert rows.json()["predictions"] == expected["actions"].tolist()  # a list of actions per row
        columns = requests.post(
            url + "/invocations", json={"inputs": {"observations": observations.tolist()}}, timeout=10
        )
        assert columns.status_code == 200, columns.text
        outputs = columns.json()["outputs"]
        assert outputs["actions"] == expected["actions"].tolist()
        np.testing.assert_allclose(outputs["action_probabilities"], expected["action_probabilities"], atol=1e-6)
    finally:
        stop(process)
