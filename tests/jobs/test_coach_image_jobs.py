"""A Coach preset with a convolutional embedder on an image observation, its agent Coach's Actor-Critic (A3C) and a
reward filter, trains as one rlrt job (``rlrt train --preset src/preset-x.py``): RLlib's PPO with the preset's Conv2d
layers as its CNN and the rewards scaled for the learner only, the policy exported (ONNX) and played for the preset's
evaluation episodes."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.conftest import run_rlrt

IMAGE_ENV = '''
import gymnasium
import numpy as np


class ImageEnv(gymnasium.Env):
    """A 12x12 RGB image, all dark or all bright; action 1 on a bright image (0 on a dark one) earns 1."""

    observation_space = gymnasium.spaces.Box(0, 255, (12, 12, 3), np.uint8)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self, **config):
        self.bright = False
        self.steps = 0

    def _image(self):
        return np.full((12, 12, 3), 255 if self.bright else 0, np.uint8)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.steps = 0
        self.bright = bool(self.np_random.integers(2))
        return self._image(), {}

    def step(self, action):
        reward = float(int(action) == int(self.bright))
        self.steps += 1
        self.bright = bool(self.np_random.integers(2))
        return self._image(), reward, False, self.steps >= 10, {}
'''

PRESET = """
from rl_coach.agents.actor_critic_agent import ActorCriticAgentParameters
from rl_coach.architectures.layers import Conv2d, Dense
from rl_coach.base_parameters import VisualizationParameters
from rl_coach.core_types import EnvironmentEpisodes, EnvironmentSteps, TrainingSteps
from rl_coach.environments.gym_environment import GymVectorEnvironment
from rl_coach.filters.filter import InputFilter
from rl_coach.filters.reward.reward_rescale_filter import RewardRescaleFilter
from rl_coach.graph_managers.basic_rl_graph_manager import BasicRLGraphManager
from rl_coach.graph_managers.graph_manager import ScheduleParameters

schedule_params = ScheduleParameters()
schedule_params.improve_steps = TrainingSteps(2)
schedule_params.steps_between_evaluation_periods = EnvironmentEpisodes(10)
schedule_params.evaluation_steps = EnvironmentEpisodes(2)
schedule_params.heatup_steps = EnvironmentSteps(0)

agent_params = ActorCriticAgentParameters()
agent_params.algorithm.num_steps_between_gradient_updates = 40
agent_params.network_wrappers["main"].input_embedders_parameters["observation"].scheme = [Conv2d(8, 4, 2),
                                                                                          Conv2d(16, 3, 1)]
agent_params.network_wrappers["main"].middleware_parameters.scheme = [Dense(32)]
agent_params.input_filter = InputFilter()
agent_params.input_filter.add_reward_filter("rescale", RewardRescaleFilter(0.1))

graph_manager = BasicRLGraphManager(agent_params=agent_params,
                                    env_params=GymVectorEnvironment(level="image_env:ImageEnv"),
                                    schedule_params=schedule_params, vis_params=VisualizationParameters())
"""


@pytest.mark.slow
def test_an_actor_critic_preset_on_images_trains_as_ppo_with_its_convolutions(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "image_env.py").write_text(IMAGE_ENV)
    (src / "preset-image-a3c.py").write_text(PRESET)
    job = tmp_path / "job"
    run = run_rlrt(["train", "--base-dir", str(job), "--preset", "src/preset-image-a3c.py"], cwd=tmp_path)
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "ActorCriticAgentParameters (A3C) is trained as RLlib's PPO (RLlib 2.x has no A3C)" in output
    config = json.loads((job / "model" / "config.json").read_text())
    settings = config["config"]
    assert settings["model_config"]["conv_filters"] == [[8, [4, 4], 2, "valid"], [16, [3, 3], 1, "valid"]]
    assert settings["model_config"]["head_fcnet_hiddens"] == [32]
    assert settings["train_batch_size_per_learner"] == 40 and settings["num_epochs"] == 1
    # The RewardRescaleFilter scales what the learner trains on; the reported returns are the environment's own
    # (1 per rewarded step of 10: a best episode of the ~80 played earns more than 1, scaled it could not), as
    # Coach reported them.
    assert settings["reward_scale"] == 0.1
    best = [float(m) for m in re.findall(r"^episode_reward_max: ([-\d.]+)", output, re.M)]
    assert best and max(best) > 1.0, output[-3000:]
    assert config["stop"] == {"timesteps_total": 2}  # Coach: one training step per environment step
    assert (job / "model" / "policy.onnx").is_file()
    testing = [line for line in output.splitlines() if line.startswith("Testing>") and "Total reward=" in line]
    assert len(testing) == 2, output[-3000:]
    # Later, from another folder: rlrt evaluate plays the model in the preset's own environment, its module kept
    # with the model (src/ is not on the path).
    (tmp_path / "elsewhere").mkdir()
    played = run_rlrt(
        ["evaluate", "--model", str(job), "--set", "evaluate_episodes=2", "--set", "record_video_every=0"],
        cwd=tmp_path / "elsewhere",
    )
    assert played.returncode == 0, (played.stdout + played.stderr)[-3000:]
    assert "on sagemaker_rl/image_env.ImageEnv for 2 episode(s)" in played.stdout
    [folder] = (job / "output" / "evaluation").iterdir()
    assert json.loads((folder / "evaluation.json").read_text())["episodes"] == 2
