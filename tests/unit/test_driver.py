"""The one training loop with a third backend: a backend the driver has never heard of plugs in through the
:class:`runtime.contracts.Plugins` it is handed alone, and gets resume, checkpoint cadence, the stop rule and the
model folder."""

from __future__ import annotations

import io
import json
import math
import re
from pathlib import Path
from typing import Any, Mapping

import numpy as np

import pytest
from conftest import make_job_tree
from gymnasium import spaces

from runtime.config.spec import TrainingSpec
from runtime.contracts import BackendContext, BackendFactory, ConfigValidator, ModelInfo, Plugins, Step, TrainingSession
from runtime.errors import JobInterrupted, UserError
from runtime.export.policy import CATEGORICAL, ActionHead, ServingModel, build_serving_policy, serving_model_of
from runtime.job.environment import load_environment
from runtime.job.setup import resolve_spec
from runtime.plugins import INSTALLED
from runtime.train.checkpoints import TrainingState
from runtime.train.driver import stop_reason, train
from runtime.train.reporting import IterationMetrics


class CountingSession(TrainingSession):
    """A 'library' whose policy is a number that grows by one per iteration (10 steps, 2 episodes each)."""

    units = ("round", "ticks")

    def __init__(self, context: BackendContext) -> None:
        self.context = context
        self.algo = {"value": 0}
        self.exported: list[Path] = []

    def describe(self) -> str:
        return f"counting on {self.context.env_id}"

    def restore(self, checkpoint: Path) -> None:
        self.algo["value"] = json.loads((checkpoint / "value.json").read_text())

    def step(self, state: TrainingState, stop_requested: Any) -> Step:
        self.algo["value"] += 1
        metrics = IterationMetrics(0, 0, 0.0, float(self.algo["value"]), math.nan, math.nan, math.nan, 0, math.nan)
        return Step(10, 2, metrics, lines=(f"counter: {self.algo['value']}",))

    def save(self, folder: Path) -> None:
        (folder / "value.json").write_text(json.dumps(self.algo["value"]))

    def finish(self) -> tuple[ModelInfo, Mapping[str, Any]]:
        return ModelInfo("counting", spaces.Box(-1, 1, (4,)), spaces.Discrete(2)), {"final_value": self.algo["value"]}

    def write_model(self, model_dir: Path) -> None:
        (model_dir / "policy.txt").write_text(str(self.algo["value"]))

    def serving_model(self, model_dir: Path) -> ServingModel:
        """A linear policy over 4 observations, its bias the counter (so the export shows which value it holds)."""
        import torch

        if self.context.spec.extras.get("unservable"):
            raise RuntimeError("the counting library has no serving policy")
        body = torch.nn.Linear(4, 2)
        with torch.no_grad():
            body.weight.zero_()
            body.bias.copy_(torch.tensor([0.0, float(self.algo["value"])]))
        head = ActionHead(CATEGORICAL, 2)
        return serving_model_of(build_serving_policy(body, 4, head, None), head, None)

    def close(self) -> None:
        pass


class AnyConfig(ConfigValidator):
    """The counting library takes any configuration."""

    def translate(self, algorithm: str, config: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
        return dict(config), {}, []

    def check(self, algorithm: str, config: Mapping[str, Any]) -> list[str]:
        return []

    def sizes_env_runners(self, algorithm: str) -> bool:
        return False


class CountingBackend(BackendFactory):
    """A third backend that trains PPO (as RLlib does): its own files and one registration line."""

    name = "counting"
    algorithms = ("PPO",)

    def validator(self) -> AnyConfig:
        return AnyConfig()

    def create(self, context: BackendContext) -> CountingSession:
        return CountingSession(context)

    def serving_model(self, model_dir: Path) -> ServingModel:
        raise AssertionError("not used: the session exports")

    def load_actor(self, model_dir: Path, metadata: Mapping[str, Any]) -> Any:
        raise AssertionError("not used: no evaluation")


@pytest.fixture
def counting_backend() -> Plugins:
    """The installed plug-ins with the counting backend registered last (the one registration line)."""
    return Plugins(backends=(*INSTALLED.backends, CountingBackend()), families=INSTALLED.families)


def spec(stop: Mapping[str, Any], **extras: Any) -> TrainingSpec:
    return TrainingSpec(
        preset="counting",
        env="CartPole-v1",
        algorithm="PPO",
        config={},
        env_config={},
        stop=dict(stop),
        checkpoint_frequency=2,
        checkpoint_keep=5,
        extras=extras,
        backend="counting",
    )


def test_a_third_backend_training_ppo_is_chosen_only_when_named(counting_backend: Plugins, tmp_path: Path) -> None:
    assert counting_backend.backend_for("PPO").name == "rllib"  # the algorithm's default stays RLlib
    named = resolve_spec(
        {"rl.training.run": "PPO", "rl.training.backend": "counting", "rl.training.stop.training_iteration": 2},
        counting_backend,
    )
    assert (named.backend, counting_backend.training_backend(named).name) == ("counting", "counting")
    tree = make_job_tree(tmp_path / "opt" / "ml")
    assert train(load_environment(tree.base), named, counting_backend).exit_code == 0
    assert json.loads((tree.model / "metadata.json").read_text())["framework"] == "counting"


def test_a_new_backend_gets_the_whole_loop(
    counting_backend: Plugins, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    tree = make_job_tree(tmp_path / "opt" / "ml")
    env = load_environment(tree.base)
    first = train(env, spec({"training_iteration": 3}), counting_backend)
    assert (first.stopped_by, first.exit_code) == ("training_iteration 3 >= 3", 0)
    assert (first.state.timesteps_total, first.state.episodes_total) == (30, 6)
    assert sorted(p.name for p in tree.checkpoints.iterdir()) == ["checkpoint_000002", "checkpoint_000003"]
    metadata = json.loads((tree.model / "metadata.json").read_text())
    assert metadata["framework"] == "counting" and metadata["training"]["final_value"] == 3
    assert metadata["action_space"] == {"type": "Discrete", "n": 2, "start": 0}
    assert (tree.model / "policy.txt").read_text() == "3"
    assert metadata["serving"]["onnx"] == "policy.onnx" and (tree.model / "rlrt_manifest.json").is_file()
    assert not (tree.model / ".rlrt-staging").exists()
    assert (tree.model / "checkpoint" / "value.json").read_text() == "3"
    out = capsys.readouterr().out
    assert "episode_reward_mean: 3" in out and "counter: 3" in out and "timesteps_total: 30" in out

    # A second job in the same tree resumes from the newest checkpoint and continues the counters.
    second = train(load_environment(tree.base), spec({"training_iteration": 5}), counting_backend)
    assert f"resumed from {tree.checkpoints / 'checkpoint_000003'}" in capsys.readouterr().out
    assert (second.state.training_iteration, second.state.timesteps_total) == (5, 50)
    assert (tree.model / "policy.txt").read_text() == "5"


def test_resume_message_names_the_backends_units(
    counting_backend: Plugins, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    tree = make_job_tree(tmp_path / "opt" / "ml")
    train(load_environment(tree.base), spec({"training_iteration": 2}), counting_backend)
    capsys.readouterr()
    train(load_environment(tree.base), spec({"episode_reward_mean": 4}), counting_backend)
    out = capsys.readouterr().out
    assert "(round 2, 20 ticks)" in out
    assert "episode_reward_mean 4 >= 4" in out


def test_a_damaged_newest_checkpoint_is_moved_aside_and_the_older_one_resumed(
    counting_backend: Plugins, tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(
        CountingSession, "checkpoint_spaces", lambda self: (spaces.Box(-1, 1, (4,)), spaces.Discrete(2)), raising=False
    )
    tree = make_job_tree(tmp_path / "opt" / "ml")
    train(load_environment(tree.base), spec({"training_iteration": 4}), counting_backend)
    state = json.loads((tree.checkpoints / "checkpoint_000004" / "rlrt_state.json").read_text())
    assert (state["observation_space"], state["action_space"]) == ("Box(4,)", "Discrete(2)")
    (tree.checkpoints / "checkpoint_000004" / "value.json").write_text("")  # a partial sync from S3
    capsys.readouterr()
    second = train(load_environment(tree.base), spec({"training_iteration": 5}), counting_backend)
    out = capsys.readouterr().out
    assert (
        "rlrt: warning: checkpoint checkpoint_000004 is damaged (value.json truncated: 0 of 1 bytes); moved aside "
        "to checkpoint_000004.damaged; resuming from the older checkpoint_000002"
    ) in out
    assert f"resumed from {tree.checkpoints / 'checkpoint_000002'} (round 2, 20 ticks)" in out
    assert (second.state.training_iteration, second.state.timesteps_total) == (5, 50)
    assert (tree.model / "policy.txt").read_text() == "5"  # the value 2 restored, then three rounds
    names = sorted(p.name for p in tree.checkpoints.iterdir())
    assert names == ["checkpoint_000002", "checkpoint_000004", "checkpoint_000004.damaged", "checkpoint_000005"]


@pytest.mark.parametrize(
    ("stop", "expected"),
    [
        ({"epochs": 2}, "epochs 2 >= 2"),
        ({"gradient_steps": 100}, "gradient_steps 100 >= 100"),
        ({"timesteps_total": 101}, None),
        ({"episode_reward_mean": 1.0}, None),  # NaN: no episode has ended, nothing is met
        ({"time_total_s": 5, "training_iteration": 2}, "training_iteration 2 >= 2"),
    ],
)
def test_stop_rule(stop: dict, expected: str | None) -> None:
    metrics = IterationMetrics(2, 100, 1.5, math.nan, math.nan, math.nan, math.nan, 0, math.nan)
    assert stop_reason(stop, metrics) == expected


@pytest.mark.parametrize(
    ("stop", "expected"),
    [
        ({"episodes_total": 7}, "episodes_total 7 >= 7"),
        ({"episodes_total": 8}, None),
        ({"episode_reward_max": 30}, "episode_reward_max 30 >= 30"),
        ({"episode_reward_min": -2}, "episode_reward_min -1 >= -2"),
        ({"episode_len_mean": 151}, None),
    ],
)
def test_tune_1x_stop_keys(stop: dict, expected: str | None) -> None:
    metrics = IterationMetrics(2, 100, 1.5, 12.0, 30.0, -1.0, 150.0, 7, math.nan)
    assert stop_reason(stop, metrics) == expected


def test_a_model_that_cannot_be_served_fails_the_job_and_keeps_its_checkpoint(
    counting_backend: Plugins, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """Exit 0 promises a servable model: an export that fails ends the job with its reason; model/ keeps the
    checkpoint, metadata.json says why, and the manifest covers what is there."""
    from runtime.train.manifest import verify_manifest

    tree = make_job_tree(tmp_path / "opt" / "ml")
    with pytest.raises(
        UserError,
        match=r"Training finished, but the model cannot be served: RuntimeError: the "
        r"counting library has no serving policy The checkpoint is kept in .*model/"
        r"checkpoint",
    ):
        train(load_environment(tree.base), spec({"training_iteration": 2}, unservable=True), counting_backend)
    metadata = json.loads((tree.model / "metadata.json").read_text())
    assert "the counting library has no serving policy" in metadata["serving"]["error"]
    assert (tree.model / "checkpoint" / "value.json").read_text() == "2"
    assert not (tree.model / "policy.onnx").exists() and not verify_manifest(tree.model).damaged
    assert "rlrt: done" not in capsys.readouterr().out


def test_stale_exports_of_an_earlier_model_are_replaced(counting_backend: Plugins, tmp_path: Path) -> None:
    """A rerun in the same tree: the new model's files replace the old ones'; exports it does not write are
    removed; a user's own file stays."""
    tree = make_job_tree(tmp_path / "opt" / "ml")
    train(load_environment(tree.base), spec({"training_iteration": 1}), counting_backend)
    (tree.model / "policy_weights.npz").write_bytes(b"old export")
    (tree.model / "notes.txt").write_text("mine")
    train(load_environment(tree.base), spec({"training_iteration": 2}), counting_backend)
    assert (tree.model / "notes.txt").read_text() == "mine"
    assert (tree.model / "policy.txt").read_text() == "2"
    names = json.loads((tree.model / "rlrt_manifest.json").read_text())["files"]
    assert "notes.txt" in names and "policy.onnx" in names


def test_no_environment_steps_no_model(
    counting_backend: Plugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Iterations that sampled nothing (every env runner dead) are no training: the job fails, model/ stays empty."""

    def idle(self: CountingSession, state: TrainingState, stop_requested: Any) -> Step:
        metrics = IterationMetrics(0, 0, math.nan, math.nan, math.nan, math.nan, math.nan, 0, math.nan)
        return Step(0, 0, metrics)

    monkeypatch.setattr(CountingSession, "step", idle)
    tree = make_job_tree(tmp_path / "opt" / "ml")
    with pytest.raises(UserError, match=r"No training happened: 2 iteration\(s\) took 0 ticks"):
        train(load_environment(tree.base), spec({"training_iteration": 2}), counting_backend)
    assert not (tree.model / "metadata.json").exists()


def test_sigterm_while_the_model_folder_is_written_completes_it_first(
    counting_backend: Plugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """SIGTERM in the middle of the export: the folder is finished (exports, metadata and manifest of one model),
    then the job stops with 143."""
    import os
    import signal

    from runtime.serving.model_store import OnnxPolicy
    from runtime.train.manifest import verify_manifest

    serving_model = CountingSession.serving_model

    def interrupted(self: CountingSession, model_dir: Path) -> ServingModel:
        os.kill(os.getpid(), signal.SIGTERM)
        return serving_model(self, model_dir)

    tree = make_job_tree(tmp_path / "opt" / "ml")
    train(load_environment(tree.base), spec({"training_iteration": 1}), counting_backend)
    monkeypatch.setattr(CountingSession, "serving_model", interrupted)
    with pytest.raises(JobInterrupted) as stopped:
        train(load_environment(tree.base), spec({"training_iteration": 2}), counting_backend)
    assert stopped.value.exit_code == 143 and stopped.value.phase == "writing the model folder"
    assert f"{tree.model} is complete (no final evaluation)" in str(stopped.value)
    assert "SIGTERM received while writing the model folder: finishing it first" in capsys.readouterr().err
    assert not verify_manifest(tree.model).damaged
    assert json.loads((tree.model / "metadata.json").read_text())["training"]["training_iteration"] == 2
    assert OnnxPolicy(tree.model).predict(np.zeros((1, 4), np.float32))["actions"].tolist() == [1]


def test_a_full_disk_is_named_before_training(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No room for a checkpoint: exit 2 naming the folder and its free space, before any training (item 5)."""
    import shutil
    from collections import namedtuple

    from runtime.job import setup

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(setup.shutil, "disk_usage", lambda path: usage(10 * 2**20, 9 * 2**20, 2**20))
    with pytest.raises(
        UserError,
        match=r"The checkpoints folder .*/checkpoints has 1.0 MB free: the job needs at "
        r"least 64 MB there",
    ):
        setup.require_writable(tmp_path / "checkpoints", "checkpoints")
    assert shutil.disk_usage is setup.shutil.disk_usage


def test_a_signal_during_the_final_evaluation_stops_it_with_the_model_folder_complete(
    counting_backend: Plugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM while the exported policy is played after training: the evaluation stops at once (no
    ``evaluation.json``), the model folder already complete, and the failure names the phase."""
    import os
    import signal

    from runtime.train.manifest import verify_manifest

    played: list[int] = []

    def actor(observation: Any) -> int:
        played.append(1)
        if len(played) == 5:
            os.kill(os.getpid(), signal.SIGTERM)
        return 0

    monkeypatch.setattr(CountingSession, "final_evaluation_episodes", lambda self: 50)
    monkeypatch.setattr(CountingSession, "rollout_actor", lambda self: actor)
    tree = make_job_tree(tmp_path / "opt" / "ml")
    with pytest.raises(JobInterrupted) as stopped:
        train(load_environment(tree.base), spec({"training_iteration": 1}, record_video_every=0), counting_backend)
    assert (stopped.value.exit_code, stopped.value.phase) == (143, "the final evaluation")
    assert str(stopped.value).endswith(f"The model in {tree.model} is complete; the final evaluation was not written.")
    assert len(played) == 5 and verify_manifest(tree.model).status == "intact"
    assert not (tree.base / "output" / "intermediate" / "evaluation.json").exists()


class Terminal(io.StringIO):
    """A stdout that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    "console, expected",
    [
        (None, [rf"round {i} \| {10 * i} ticks, [0-9,]+/s \| return {i} \| 00:00(, ETA 00:00)?" for i in (1, 2, 3)]),
        ("quiet", []),
    ],
)
def test_a_terminal_gets_a_line_per_iteration_and_quiet_gets_none(
    counting_backend: Plugins, tmp_path: Path, console: str | None, expected: list[str]
) -> None:
    """At a terminal each iteration is one line in the session's own words (not its 7-8 metric lines and its own
    lines); ``--quiet`` prints none; progress.csv gets every iteration either way. The learning curve's title leads
    with what trained (an Acrobot job's read "cartpole-ppo (PPO on Acrobot-v1)")."""
    from PIL import Image

    tree = make_job_tree(tmp_path / "opt" / "ml")
    out = Terminal()
    assert (
        train(
            load_environment(tree.base), spec({"training_iteration": 3}), counting_backend, stream=out, console=console
        ).exit_code
        == 0
    )
    shown = [line for line in out.getvalue().splitlines() if not line.startswith(("rlrt: ", "  "))]
    assert len(shown) == len(expected) and all(re.fullmatch(p, line) for p, line in zip(expected, shown)), shown
    assert "episode_reward_mean" not in out.getvalue() and "counter: " not in out.getvalue()
    assert len((tree.intermediate / "progress.csv").read_text().splitlines()) == 4
    with Image.open(tree.intermediate / "learning_curve.png") as png:
        assert png.text["Title"] == "counting on CartPole-v1 (preset counting)"
