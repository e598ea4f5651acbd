"""More of a Coach preset as one rlrt job (``sagemaker_rl.coach_translate``): Coach's Actor-Critic (A3C) as RLlib's
PPO, convolutional input embedders as RLlib's ``conv_filters``, observation and reward filters, and the preset's
video settings; each setting translated or named in one line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium
import numpy as np
import pytest

from runtime.config.hyperparameters import resolve
from runtime.errors import UserError
from runtime.plugins import INSTALLED
from sagemaker_rl.coach_translate import translate
from tests.unit.test_coach_translate import CARTPOLE, CONFIG, graph_manager
from tests.unit.test_rl_coach_params import rl_coach  # noqa: F401 - the fixture

A3C_PRESET = """
from rl_coach.agents.actor_critic_agent import ActorCriticAgentParameters
from rl_coach.agents.policy_optimization_agent import PolicyGradientRescaler
from rl_coach.base_parameters import VisualizationParameters, PresetValidationParameters
from rl_coach.core_types import TrainingSteps, EnvironmentEpisodes, EnvironmentSteps
from rl_coach.environments.gym_environment import GymVectorEnvironment
from rl_coach.filters.filter import InputFilter
from rl_coach.filters.reward.reward_rescale_filter import RewardRescaleFilter
from rl_coach.graph_managers.basic_rl_graph_manager import BasicRLGraphManager
from rl_coach.graph_managers.graph_manager import ScheduleParameters

schedule_params = ScheduleParameters()
schedule_params.improve_steps = TrainingSteps(10000000000)
schedule_params.steps_between_evaluation_periods = EnvironmentEpisodes(10)
schedule_params.evaluation_steps = EnvironmentEpisodes(1)
schedule_params.heatup_steps = EnvironmentSteps(0)

agent_params = ActorCriticAgentParameters()
agent_params.algorithm.policy_gradient_rescaler = PolicyGradientRescaler.GAE
agent_params.algorithm.discount = 0.99
agent_params.algorithm.apply_gradients_every_x_episodes = 1
agent_params.algorithm.num_steps_between_gradient_updates = 5
agent_params.algorithm.gae_lambda = 1
agent_params.algorithm.beta_entropy = 0.01
agent_params.network_wrappers['main'].optimizer_type = 'Adam'
agent_params.network_wrappers['main'].learning_rate = 0.0001
agent_params.input_filter = InputFilter()
agent_params.input_filter.add_reward_filter('rescale', RewardRescaleFilter(1/200.))

env_params = GymVectorEnvironment(level='CartPole-v0')

preset_validation_params = PresetValidationParameters()
preset_validation_params.test = True
preset_validation_params.min_reward_threshold = 150
preset_validation_params.max_episodes_to_achieve_reward = 300
preset_validation_params.num_workers = 8

graph_manager = BasicRLGraphManager(agent_params=agent_params, env_params=env_params,
                                    schedule_params=schedule_params, vis_params=VisualizationParameters(),
                                    preset_validation_params=preset_validation_params)
"""
"""Coach's own ``rl_coach/presets/CartPole_A3C.py``, as Coach ships it."""


def config_of(job: Any) -> dict[str, Any]:
    return {k[len(CONFIG) :]: v for k, v in job.hyperparameters.items() if k.startswith(CONFIG)}


def a3c(tmp_path: Path, edit: tuple[str, str] | None = None) -> Any:
    text = A3C_PRESET if edit is None else A3C_PRESET.replace(*edit)
    (tmp_path / "CartPole_A3C.py").write_text(text)
    return graph_manager(tmp_path / "CartPole_A3C.py")


def test_actor_critic_is_trained_as_ppo(rl_coach: None, tmp_path: Path) -> None:
    """Coach's CartPole_A3C preset: PPO with one gradient step per t_max batch, GAE from the preset, and one line
    saying A3C is trained as PPO; the reward filter is named, not applied."""
    job = translate(a3c(tmp_path))
    assert (job.algorithm, job.hyperparameters["rl.training.run"], job.pass_bar) == ("PPO", "PPO", 150.0)
    assert config_of(job) == {
        "lr": 0.0001,
        "grad_clip": 40.0,
        "gamma": 0.99,
        "use_gae": True,
        "lambda": 1.0,
        "entropy_coeff": 0.01,
        "vf_loss_coeff": 0.5,
        "train_batch_size_per_learner": 5,
        "minibatch_size": 5,
        "num_epochs": 1,
        "use_kl_loss": False,
        "vf_clip_param": 1e10,
        "reward_scale": 0.005,
        "model_config": {"fcnet_hiddens": [256, 512], "fcnet_activation": "relu", "vf_share_layers": True},
    }
    notes = "\n".join(job.notes)
    assert [n for n in job.notes if "trained as RLlib's PPO (RLlib 2.x has no A3C)" in n] == [
        "agent_params: ActorCriticAgentParameters (A3C) is trained as RLlib's PPO (RLlib 2.x has no A3C): one "
        "synchronous gradient step per batch of 5 environment steps (num_steps_between_gradient_updates), not "
        "asynchronous workers; RLlib standardises each batch's advantages"
    ]
    assert "agent_params.input_filter.reward_filters.rescale: RewardRescaleFilter(0.005) -> reward_scale 0.005" in notes
    assert "preset_validation_params.num_workers: 8 not translated" in notes
    assert len(job.notes) == 5, notes  # + improve_steps and steps_between_evaluation_periods

    # Coach's default rescaler, A_VALUE: n-step advantages, GAE with lambda 1 whatever gae_lambda says.
    default = a3c(tmp_path, ("agent_params.algorithm.policy_gradient_rescaler = PolicyGradientRescaler.GAE\n", ""))
    default.agent_params.algorithm.gae_lambda = 0.9
    assert config_of(translate(default))["lambda"] == 1.0
    gae = a3c(tmp_path)
    gae.agent_params.algorithm.gae_lambda = 0.95
    gae.agent_params.algorithm.apply_gradients_every_x_episodes = 5
    gae.agent_params.algorithm.num_steps_between_gradient_updates = 20
    job = translate(gae)
    assert config_of(job)["lambda"] == 0.95 and config_of(job)["train_batch_size_per_learner"] == 20
    notes = "\n".join(job.notes)
    assert "apply_gradients_every_x_episodes: 5 not translated" in notes
    assert "estimate_state_value_using_gae: False not translated" in notes


def test_the_actor_critic_translation_resolves_as_an_rlrt_job(rl_coach: None, tmp_path: Path) -> None:
    """RLlib's PPO accepts a batch of A3C's t_max steps in one minibatch (rlrt's check and RLlib's validator)."""
    job = translate(a3c(tmp_path, ("TrainingSteps(10000000000)", "TrainingSteps(2)")))
    base = tmp_path / "base.yaml"
    base.write_text("name: a3c\nenv: CartPole-v0\nalgorithm: PPO\nconfig: {}\nstop: {}\n")
    spec = resolve(job.hyperparameters, INSTALLED.validator_for, default_preset=str(base), num_cpus=2)
    assert spec.algorithm == "PPO" and spec.config["train_batch_size_per_learner"] == 5
    assert spec.stop == {"timesteps_total": 2} and spec.config["reward_scale"] == 0.005
    with pytest.raises(UserError, match="'rl.training.config.reward_scale' must be a finite number other than 0"):
        resolve(
            {**job.hyperparameters, CONFIG + "reward_scale": 0},
            INSTALLED.validator_for,
            default_preset=str(base),
            num_cpus=2,
        )


def test_reward_scale_scales_what_the_learner_trains_on() -> None:
    """rlrt's reward_scale (Coach's RewardRescaleFilter): the first piece of RLlib's learner connector pipeline puts
    the scaled rewards in the train batch; the episodes (whose returns rlrt reports) keep the environment's own."""
    import functools

    from ray.rllib.algorithms.ppo import PPOConfig  # heavy: Ray and RLlib
    from ray.rllib.env.single_agent_episode import SingleAgentEpisode  # heavy: Ray and RLlib

    from runtime.backends.rllib.reward_scale import scaled_rewards

    env = gymnasium.make("CartPole-v1")
    config = PPOConfig().environment("CartPole-v1").learners(learner_connector=functools.partial(scaled_rewards, 0.5))
    pipeline = config.build_learner_connector(env.observation_space, env.action_space)
    episode = SingleAgentEpisode(observation_space=env.observation_space, action_space=env.action_space)
    episode.add_env_reset(env.reset(seed=0)[0])
    for reward in (1.0, 2.0, 4.0):
        episode.add_env_step(env.step(0)[0], 0, reward)
    batch = pipeline.connectors[0](rl_module=None, batch={}, episodes=[episode], explore=False, shared_data={})
    assert list(batch["rewards"].values()) == [[0.5, 1.0, 2.0]]
    assert list(episode.get_rewards()) == [1.0, 2.0, 4.0]
    # RLlib's own pieces after it keep the scaled column (the train batch GAE and the losses read).
    trained = pipeline(rl_module=None, batch={}, episodes=[episode], shared_data={})
    assert list(np.asarray(trained["rewards"])) == [0.5, 1.0, 2.0]


class ImageEnv(gymnasium.Env):
    """A [height, width, channels] Box observation (an image)."""

    observation_space = gymnasium.spaces.Box(0, 255, (16, 16, 3), np.uint8)
    action_space = gymnasium.spaces.Discrete(2)


def image_preset(edit: Any = None) -> Any:
    """The CartPole Clipped PPO preset on an image: a convolutional embedder."""
    from rl_coach.architectures.layers import Conv2d, Dense

    gm = graph_manager(CARTPOLE / "preset-cartpole-clippedppo.py")
    gm.env_params.level = "image_env:ImageEnv"
    main = gm.agent_params.network_wrappers["main"]
    main.input_embedders_parameters["observation"].scheme = [Conv2d(8, 4, 2), Conv2d(16, [3, 3], 1), Dense(32)]
    main.input_embedders_parameters["observation"].activation_function = "relu"
    main.middleware_parameters.activation_function = "relu"
    if edit is not None:
        edit(main)
    return gm


def test_a_convolutional_embedder_becomes_rllibs_conv_filters(rl_coach: None) -> None:
    job = translate(image_preset())
    model = config_of(job)["model_config"]
    assert model == {
        "conv_filters": [[8, [4, 4], 2, "valid"], [16, [3, 3], 1, "valid"]],
        "conv_activation": "relu",
        "head_fcnet_hiddens": [32, 64],
        "head_fcnet_activation": "relu",
        "vf_share_layers": False,
    }
    assert any(
        n.startswith(
            "agent_params.network_wrappers.main.input_embedders_parameters.observation.scheme: "
            "2 Conv2d -> model_config.conv_filters"
        )
        for n in job.notes
    ), job.notes

    from rl_coach.architectures.layers import Conv2d, Dense

    with pytest.raises(UserError, match="middleware_parameters.scheme holds Conv2d"):
        translate(image_preset(lambda main: setattr(main.middleware_parameters, "scheme", [Conv2d(8, 3, 1)])))
    with pytest.raises(UserError, match="Conv2d layers before its Dense layers"):
        translate(
            image_preset(
                lambda main: setattr(
                    main.input_embedders_parameters["observation"], "scheme", [Dense(8), Conv2d(8, 3, 1)]
                )
            )
        )


def test_rllib_builds_the_translated_convolutions(rl_coach: None) -> None:
    """RLlib's PPO module on a [16, 16, 3] observation with the translated model_config: Coach's valid padding
    (16 -> 7 -> 5 pixels), its filters, then the heads' Dense layers."""
    import torch  # heavy: torch (a CNN forward pass)
    from ray.rllib.algorithms.ppo import PPOConfig  # heavy: Ray and RLlib

    model = config_of(translate(image_preset()))["model_config"]
    spec = PPOConfig().rl_module(model_config=model).get_default_rl_module_spec()
    spec.observation_space, spec.action_space = ImageEnv.observation_space, ImageEnv.action_space
    spec.model_config = {**PPOConfig().model_config, **model}
    module = spec.build()
    convolutions = [m for m in module.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [(c.out_channels, c.kernel_size, c.stride) for c in convolutions][:2] == [
        (8, (4, 4), (2, 2)),
        (16, (3, 3), (1, 1)),
    ]
    image = torch.zeros((2, 16, 16, 3))
    out = module.forward_inference({"obs": image})["action_dist_inputs"]
    assert tuple(out.shape) == (2, 2)
    encoder = module.encoder.actor_encoder if hasattr(module.encoder, "actor_encoder") else module.encoder
    assert tuple(encoder({"obs": image})["encoder_out"].shape) == (2, 16 * 5 * 5)


def test_observation_normalisation_and_videos(rl_coach: None) -> None:
    """ObservationNormalizationFilter -> rlrt's MeanStdFilter (also in the export); dump_gifs / dump_mp4 -> videos of
    the evaluation episodes; both False: nothing set (rlrt's defaults)."""
    from rl_coach.filters.filter import InputFilter
    from rl_coach.filters.observation.observation_normalization_filter import ObservationNormalizationFilter

    gm = graph_manager(CARTPOLE / "preset-cartpole-dqn.py")
    gm.agent_params.input_filter = InputFilter()
    gm.agent_params.input_filter.add_observation_filter("observation", "norm", ObservationNormalizationFilter())
    gm.visualization_parameters.dump_gifs = False
    gm.visualization_parameters.dump_mp4 = True
    job = translate(gm)
    assert config_of(job)["observation_filter"] == "MeanStdFilter" and job.videos
    notes = "\n".join(job.notes)
    assert (
        "agent_params.input_filter.observation_filters.observation.norm: ObservationNormalizationFilter -> "
        "observation_filter MeanStdFilter"
        in notes
        and "Coach clipped at [-5, 5]" in notes
    )
    assert "visualization_parameters.dump_mp4: True -> mp4 videos of the evaluation episodes" in notes
    gm.visualization_parameters.dump_mp4 = False
    gm.agent_params.input_filter = InputFilter()
    job = translate(gm)
    assert "observation_filter" not in config_of(job) and not job.videos
    assert not any("visualization_parameters" in n or "input_filter" in n for n in job.notes), job.notes
