"""A Coach preset's bad value, unknown hyperparameter or untranslated agent is refused in the preset's own words: the
Coach setting (``agent_params.algorithm.discount``, never RLlib's ``gamma``), the preset's file and line or the
hyperparameter that set it, the value and what is allowed (``sagemaker_rl.coach_values``, checked where the
translation reads each value)."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest

from runtime.errors import UserError
from sagemaker_rl.coach_launcher import SageMakerCoachPresetLauncher
from sagemaker_rl.coach_translate import translate
from tests.unit.test_rl_coach_params import CARTPOLE, rl_coach  # noqa: F401 - the fixture

PPO, DQN = "preset-cartpole-clippedppo.py", "preset-cartpole-dqn.py"


def edited(folder: Path, preset: str, line: str, new: str) -> tuple[Path, int]:
    """The example's ``preset`` with its ``line`` replaced by ``new``, in ``folder``; and the line's number."""
    lines = (CARTPOLE / preset).read_text().splitlines()
    number = lines.index(line) + 1
    lines[number - 1] = new
    path = folder / preset
    path.write_text("\n".join(lines) + "\n")
    return path, number


@pytest.mark.parametrize(
    "preset, line, new, refusal, translated",
    [
        (
            PPO,
            "agent_params.algorithm.discount = 0.99",
            "agent_params.algorithm.discount = 1.5",
            "'agent_params.algorithm.discount' must be a number in [0, 1], got 1.5",
            "gamma",
        ),
        (
            PPO,
            "agent_params.algorithm.optimization_epochs = 10",
            "agent_params.algorithm.optimization_epochs = 0",
            "'agent_params.algorithm.optimization_epochs' must be an integer >= 1, got 0",
            "num_epochs",
        ),
        (
            PPO,
            'agent_params.network_wrappers["main"].batch_size = 64',
            'agent_params.network_wrappers["main"].batch_size = 0',
            "'agent_params.network_wrappers.main.batch_size' must be an integer >= 1, got 0",
            "minibatch_size",
        ),
        (
            PPO,
            "agent_params.algorithm.gae_lambda = 0.95",
            "agent_params.algorithm.gae_lambda = 'high'",
            "'agent_params.algorithm.gae_lambda' must be a number in [0, 1], got \"high\" (str)",
            "lambda",
        ),
        (
            PPO,
            "schedule_params.heatup_steps = EnvironmentSteps(0)",
            "schedule_params.heatup_steps = EnvironmentSteps(-5)",
            "'heatup_steps' must be a step count with n an integer >= 0: EnvironmentSteps(n), EnvironmentEpisodes(n), "
            "TrainingSteps(n), Frames(n), Time(n); got EnvironmentSteps(-5)",
            "num_steps_sampled_before_learning_starts",
        ),
        (
            PPO,
            "schedule_params.evaluation_steps = EnvironmentEpisodes(5)",
            "schedule_params.evaluation_steps = EnvironmentEpisodes(-2)",
            "'evaluation_steps' must be a step count with n an integer >= 0",
            "evaluation_duration",
        ),
        (
            PPO,
            "schedule_params.improve_steps = TrainingSteps(10000)",
            "schedule_params.improve_steps = TrainingSteps(0)",
            "'improve_steps' must be a step count with n an integer >= 1",
            "timesteps_total",
        ),
        (
            PPO,
            "schedule_params.steps_between_evaluation_periods = EnvironmentSteps(204)",
            "schedule_params.steps_between_evaluation_periods = EnvironmentEpisodes(0)",
            "'steps_between_evaluation_periods' must be a step count with n an integer >= 1",
            "timesteps_total",
        ),
        (
            DQN,
            "agent_params.algorithm.num_consecutive_playing_steps = EnvironmentSteps(1)",
            "agent_params.algorithm.num_consecutive_playing_steps = EnvironmentSteps(0)",
            "'agent_params.algorithm.num_consecutive_playing_steps' must be a step count with n an integer >= 1",
            "training_intensity",
        ),
        (
            DQN,
            "schedule_params.improve_steps = TrainingSteps(10000000000)",
            "schedule_params.improve_steps = 10000",
            "'improve_steps' must be a step count with n an integer >= 1: "
            "EnvironmentSteps(n), EnvironmentEpisodes(n), TrainingSteps(n), Frames(n), Time(n); got 10000 (int)",
            "stop",
        ),
    ],
)
def test_a_bad_value_in_the_preset_names_the_setting_its_line_and_what_is_allowed(
    rl_coach: None, tmp_path: Path, preset: str, line: str, new: str, refusal: str, translated: str
) -> None:
    path, number = edited(tmp_path, preset, line, new)
    with pytest.raises(UserError) as caught:
        translate(runpy.run_path(str(path))["graph_manager"])
    message = str(caught.value)
    assert message.startswith(refusal) and message.endswith(f" ({preset}, line {number})."), message
    assert f"'{translated}'" not in message and "rl.training" not in message


class _Launcher(SageMakerCoachPresetLauncher):
    folder = Path()

    def path_of_main_launcher(self) -> str:
        return str(self.folder)


def launcher_job(folder: Path, monkeypatch: pytest.MonkeyPatch, preset: str, **hyperparameters: object) -> object:
    """The launcher's job for ``preset`` in ``folder`` with the job's ``hyperparameters`` (as SageMaker gives
    them)."""
    monkeypatch.setenv("SM_HPS", json.dumps(hyperparameters))
    _Launcher.folder = folder
    return _Launcher().coach_job(folder / preset)


def test_a_bad_hyperparameter_is_named_as_the_job_gave_it(
    rl_coach: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / PPO).write_text((CARTPOLE / PPO).read_text())
    with pytest.raises(
        UserError,
        match=r"^'agent_params\.algorithm\.discount' must be a number in \[0, 1\], got 1\.5 "
        r"\(the hyperparameter rl\.agent_params\.algorithm\.discount\)\.$",
    ):
        launcher_job(tmp_path, monkeypatch, PPO, **{"rl.agent_params.algorithm.discount": "1.5"})
    with pytest.raises(
        UserError,
        match=r"^'heatup_steps' must be a step count .* got EnvironmentSteps\(-5\) \(the "
        r"hyperparameter rl\.heatup_steps:EnvironmentSteps\)\.$",
    ):
        launcher_job(tmp_path, monkeypatch, PPO, **{"rl.heatup_steps:EnvironmentSteps": "-5"})
    job = launcher_job(
        tmp_path,
        monkeypatch,
        PPO,
        **{"rl.agent_params.algorithm.use_kl_regularization": "false", "rl.agent_params.algorithm.discount": "0.9"},
    )
    config = job.hyperparameters  # type: ignore[attr-defined]
    assert config["rl.training.config.use_kl_loss"] is False and config["rl.training.config.gamma"] == 0.9


@pytest.mark.parametrize(
    "name, refusal",
    [
        (
            "rl.agent_params.algorithm.discont",
            "The hyperparameter rl.agent_params.algorithm.discont names nothing the "
            "preset's graph manager holds: agent_params.algorithm (ClippedPPOAlgorithmParameters) has no setting "
            "'discont'. Did you mean rl.agent_params.algorithm.discount?",
        ),
        (
            "rl.agent_params.algoritm.discount",
            "The hyperparameter rl.agent_params.algoritm.discount names nothing the "
            "preset's graph manager holds: agent_params (ClippedPPOAgentParameters) has no setting 'algoritm'. Did you "
            "mean rl.agent_params.algorithm.discount?",
        ),
        (
            "rl.improve_step:TrainingSteps",
            "The hyperparameter rl.improve_step:TrainingSteps names nothing the preset's "
            "graph manager holds: the graph manager (BasicRLGraphManager) has no setting 'improve_step'. Did you mean "
            "rl.improve_steps:TrainingSteps?",
        ),
        (
            "rl.agent_params.network_wrappers.mian.batch_size",
            "agent_params.network_wrappers (dict) has no setting "
            "'mian'. Did you mean rl.agent_params.network_wrappers.main.batch_size?",
        ),
        (
            "rl.agent_params.algorithm",
            "The hyperparameter rl.agent_params.algorithm names a group of settings "
            "(ClippedPPOAlgorithmParameters), not one setting",
        ),
    ],
)
def test_a_misspelt_hyperparameter_is_refused_with_the_closest_name(
    rl_coach: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, refusal: str
) -> None:
    """As the same typo in the preset file is (Coach's ``Parameter 'discont' does not exist``)."""
    (tmp_path / PPO).write_text((CARTPOLE / PPO).read_text())
    with pytest.raises(UserError) as caught:
        launcher_job(tmp_path, monkeypatch, PPO, **{name: "1"})
    assert refusal in str(caught.value), str(caught.value)


def test_an_untranslated_agent_is_named_with_those_rlrt_translates(rl_coach: None, tmp_path: Path) -> None:
    """A DDPG preset imports ``rl_coach.agents.ddpg_agent``, which rlrt's ``rl_coach`` does not have."""
    text = (
        (CARTPOLE / PPO)
        .read_text()
        .replace(
            "from rl_coach.agents.clipped_ppo_agent import ClippedPPOAgentParameters",
            "from rl_coach.agents.ddpg_agent import DDPGAgentParameters",
        )
    )
    (tmp_path / "preset-ddpg.py").write_text("# a DDPG preset\n" + text)
    _Launcher.folder = tmp_path
    with pytest.raises(UserError) as caught:
        _Launcher().preset_from_name("preset-ddpg")
    message = str(caught.value)
    assert message.startswith(
        "DDPG is not translated by rlrt (these are: ClippedPPO (to RLlib's PPO), ActorCritic "
        "(to RLlib's PPO), DQN (to RLlib's DQN), DDQN (to RLlib's DQN), DDQNBCQ (to d3rlpy's "
        "DiscreteBCQ, in a BatchRLGraphManager)): preset-ddpg.py, line 2 imports "
        "rl_coach.agents.ddpg_agent (from rl_coach.agents.ddpg_agent import "
        "DDPGAgentParameters)."
    ), message
    (tmp_path / "preset-doom.py").write_text("import os\nfrom rl_coach.environments.doom_environment import Doom\n")
    with pytest.raises(
        UserError,
        match=r"^preset-doom\.py, line 2 imports rl_coach\.environments\.doom_environment "
        r"\(from .*\), which rlrt's rl_coach does not have",
    ):
        _Launcher().preset_from_name("preset-doom")
    (tmp_path / "preset-mine.py").write_text("import my_missing_module\n")
    with pytest.raises(UserError, match="^preset-mine.py: ModuleNotFoundError: No module named 'my_missing_module'$"):
        _Launcher().preset_from_name("preset-mine")
