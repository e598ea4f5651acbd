"""The limits every hyperparameter keeps (runtime/config/limits.py): text that is not UTF-8, integers past 64 bits or
past Python's integer-string limit, negative or zero counts, and the env_config settings rlrt reads itself, each
refused by the quick check and by the full resolution with the key, the value (shortened) and what is allowed."""

from __future__ import annotations

import codecs
from pathlib import Path
from typing import Any

import pytest

from runtime.config import hyperparameters as hp
from runtime.config.limits import limit_problems
from runtime.config.presets import DEFAULT_PRESET
from runtime.config.spec import TrainingSpec
from runtime.errors import UserError, write_failure
from runtime.job.plan import plan_job
from runtime.job.setup import open_job
from runtime.plugins import INSTALLED
from runtime.train.job import _quick_check  # the 2-second check itself
from tests.conftest import make_job_tree


def resolve(given: dict[str, Any]) -> TrainingSpec:
    return hp.resolve(given, INSTALLED.validator_for, num_cpus=2)


def quick(given: dict[str, Any], base: Path) -> str:
    """What the 2-second check (before RLlib loads and Ray starts) says of ``given`` (--set on a SageMaker tree)."""
    job = open_job(make_job_tree(base).base, False, given)
    with pytest.raises(UserError) as refused:
        _quick_check(job, plan_job(job.hyperparameters, INSTALLED, DEFAULT_PRESET, job.overrides))
    return str(refused.value)


HUGE_TEXT = "9" * 100_000
CASES = [  # (hyperparameters, what the message must say besides the key)
    ({"rl.training.config.\udcff": 1}, ["rl.training.config.\\xff", "not UTF-8"]),
    ({"rl.training.config.lr": "0.\udcff"}, ["0.\\xff", "not UTF-8"]),
    (
        {"rl.training.stop.training_iteration": 10**400 - 1},
        ["99999999…", "(400 digits)", ">= 1", "9223372036854775807"],
    ),
    ({"rl.training.stop.training_iteration": "9" * 400}, ["(400 digits)", "9223372036854775807"]),
    ({"rl.training.config.lr": HUGE_TEXT}, ["(100000 digits)", "64 bits"]),
    ({"rl.training.config.num_env_runners": HUGE_TEXT}, ["(100000 digits)", "64 bits"]),
    ({"rl.training.config.env_config.max_episode_steps": -5}, [">= 1", "-5"]),
    ({"rl.training.config.env_config": {"max_episode_steps": "0"}}, [">= 1", "0"]),
    ({"rl.training.config.env_config.episode_step_cap": 2.5}, [">= 1", "2.5"]),
    ({"rl.training.config.num_env_runners": -1}, [">= 0", "-1"]),
    ({"rl.training.config.num_workers": -1}, [">= 0", "-1"]),
    ({"rl.training.config.train_batch_size": 0}, [">= 1", "got 0"]),
    ({"rl.training.config.minibatch_size": 0}, [">= 1", "got 0"]),
    ({"rl.training.config.num_epochs": 0}, [">= 1", "got 0"]),
    ({"rl.training.config.rollout_fragment_length": 0}, [">= 1", "got 0"]),
    ({"rl.training.config.num_learners": -1}, [">= 0", "-1"]),
    ({"rl.training.config.num_cpus_per_env_runner": -1}, [">= 0", "-1"]),
    ({"rl.training.config.evaluation_duration": 0}, [">= 1", "got 0"]),
    ({"rl.training.config.n_step": 0, "rl.training.run": "DQN"}, [">= 1", "got 0"]),
    ({"rl.training.config.target_network_update_freq": -1, "rl.training.run": "DQN"}, [">= 0", "-1"]),
]


@pytest.mark.parametrize(("given", "said"), CASES, ids=lambda c: repr(c)[:60] if isinstance(c, dict) else None)
def test_refused_by_the_quick_check_and_the_full_one_naming_key_value_and_range(
    given: dict[str, Any], said: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))  # open_job points it at the tree: restored after
    key = next(k for k in given if k != hp.RUN).replace("\udcff", "\\xff")
    fast = quick(given, tmp_path / "ml")
    with pytest.raises(UserError) as full:
        resolve(given)
    for message in (fast, str(full.value)):
        assert key in message and all(part in message for part in said), message
        assert len(message) < 400, message  # the value shortened
        message.encode("utf-8")  # a failure file can hold it


def test_numbers_within_the_limits_still_resolve() -> None:
    spec = resolve(
        {
            "rl.training.stop.training_iteration": 2**63 - 1,
            "rl.training.config.num_env_runners": 0,
            "rl.training.config.env_config.max_episode_steps": "200",
            "rl.training.config.lr": "1" + "0" * 18,
        }
    )
    assert spec.stop["training_iteration"] == 2**63 - 1 and spec.env_config["max_episode_steps"] == "200"
    assert spec.config["lr"] == 1e18
    assert not limit_problems({"rl.training.config.env_config": {"max_episode_steps": None}, "sagemaker_x": "\udcff"})


def test_the_failure_file_holds_text_that_is_not_utf8(tmp_path: Path) -> None:
    failure = tmp_path / "output" / "failure"
    write_failure(failure, "Unknown key 'rl.training.config.\udcff'")
    assert failure.read_text(encoding="utf-8") == "Unknown key 'rl.training.config.\\udcff'\n"


def test_a_user_presets_own_unknown_key_names_the_preset_file(tmp_path: Path) -> None:
    preset = tmp_path / "mine.yaml"
    preset.write_text(
        "name: mine\nenv: CartPole-v1\nalgorithm: PPO\nconfig: {lrr: 0.1}\nstop: {training_iteration: 1}\n"
    )
    with pytest.raises(UserError) as refused:
        resolve({"preset": str(preset)})
    assert (
        f"preset file {preset}: Unknown PPO configuration key 'rl.training.config.lrr'. Did you mean "
        "'rl.training.config.lr'?" in str(refused.value)
    )
    with pytest.raises(UserError) as given:  # the same key given on the command line is the user's, not the file's
        resolve({"rl.training.config.lrr": 0.1})
    assert "preset" not in str(given.value) and "'rl.training.config.lrr'" in str(given.value)


@pytest.mark.parametrize("content_type", ["text/csv", "application/json", "application/jsonlines"])
def test_a_request_body_with_a_utf8_byte_order_mark_is_read(content_type: str) -> None:
    """Excel and Windows tools start UTF-8 text with a byte-order mark: /invocations (the codec) reads past it."""
    from runtime.serving import codec

    body = {
        "text/csv": b"0.1,0.2,0.3,0.4\n1,2,3,4\n",
        "application/json": b"[[0.1, 0.2, 0.3, 0.4], [1, 2, 3, 4]]",
        "application/jsonlines": b"[0.1, 0.2, 0.3, 0.4]\n[1, 2, 3, 4]\n",
    }[content_type]
    decoded = codec.decode(codecs.BOM_UTF8 + body, content_type, 4)
    assert decoded.observations.tolist() == codec.decode(body, content_type, 4).observations.tolist()
    assert decoded.observations.shape == (2, 4)


def test_dqn_refuses_actions_that_are_not_discrete_naming_the_space() -> None:
    import gymnasium

    from runtime.backends.rllib.algorithm import check_discrete_actions

    with pytest.raises(
        UserError,
        match=r"DQN needs discrete actions; Pendulum-v1 has Box actions \(Box\(-2.0, 2.0, "
        r"\(1,\), float32\)\): use PPO or SAC",
    ):
        check_discrete_actions("DQN", "Pendulum-v1", gymnasium.make("Pendulum-v1").action_space)
    with pytest.raises(UserError, match="has MultiDiscrete actions .*: use PPO "):
        check_discrete_actions("DQN", "X-v0", gymnasium.spaces.MultiDiscrete([2, 3]))
    check_discrete_actions("DQN", "CartPole-v1", gymnasium.spaces.Discrete(2))
    check_discrete_actions("SAC", "Pendulum-v1", gymnasium.spaces.Box(-1, 1, (1,)))
    check_discrete_actions("DQN", "multi", None)  # spaces not known: RLlib decides
