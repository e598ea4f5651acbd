"""RL Baselines3 Zoo's and CleanRL's first environments train through the real ``rlrt train --env ID``:
gymnasium's Box2D LunarLander-v3 and MuJoCo Hopper-v5 pick their Zoo-tuned presets, train one tiny iteration,
film the final policy headless (MuJoCo through EGL or OSMesa, chosen by rlrt) and export a policy that answers a
request through the serving app."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.evaluate.video import count_frames
from tests.conftest import make_job_tree, run_rlrt
from tests.quiet_logs import unexpected_lines

# One iteration of a few hundred steps on the driver's own envs: the presets' sizes are the Zoo's (16,384 steps an
# update for LunarLander), which a test need not pay for.
TINY = [
    "--set",
    "rl.training.stop.training_iteration=1",
    "--set",
    "rl.training.config.num_env_runners=0",
    "--set",
    "rl.training.config.num_envs_per_env_runner=2",
    "--set",
    "rl.training.config.train_batch_size=256",
    "--set",
    "rl.training.config.sgd_minibatch_size=128",
    "--set",
    "rl.training.config.num_sgd_iter=1",
]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("env", "preset", "observation_dim"),
    [("LunarLander-v3", "lunarlander-ppo", 8), ("Hopper-v5", "mujoco-hopper-ppo", 11)],
)
def test_a_zoo_env_trains_with_its_preset_films_and_serves(
    tmp_path: Path, env: str, preset: str, observation_dim: int
) -> None:
    from runtime.serving.app import InferenceApp, call

    tree = make_job_tree(tmp_path / "ml")
    # No MUJOCO_GL from the caller: rlrt picks an offscreen backend itself.
    run = run_rlrt(["train", "--env", env, "--algo", "ppo", *TINY], base=tree.base, timeout=300, MUJOCO_GL="")
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert f"rlrt: training PPO on {env} (preset {preset})" in output
    assert unexpected_lines(output) == []
    config = json.loads((tree.model / "config.json").read_text())
    assert config["preset"] == preset and config["env"] == env
    videos = list(tree.intermediate.glob("rollout-final-iteration-*.mp4"))
    assert len(videos) == 1 and count_frames(videos[0]) > 1, output[-2000:]

    body = json.dumps({"instances": [[0.0] * observation_dim]}).encode()
    status, _, answer = call(
        InferenceApp(tree.model), "POST", "/invocations", body, {"Content-Type": "application/json"}
    )
    assert status == 200, answer
    assert len(json.loads(answer)["predictions"]) == 1


@pytest.mark.slow
def test_the_seeds_humanoid_trains_off_policy_with_sac_and_serves(tmp_path: Path) -> None:
    """``--env HumanoidBulletEnv-v0 --algo sac`` picks humanoid-sac; two 100-step iterations, learning after the
    first 100 random steps; the greedy policy answers with 17 joint torques in [-1, 1]."""
    import csv

    from runtime.serving.app import InferenceApp, call

    tree = make_job_tree(tmp_path / "ml")
    run = run_rlrt(
        [
            "train",
            "--env",
            "HumanoidBulletEnv-v0",
            "--algo",
            "sac",
            "--set",
            "rl.training.stop.training_iteration=2",
            "--set",
            "rl.training.config.num_steps_sampled_before_learning_starts=100",
            "--set",
            "record_video_every=0",
        ],
        base=tree.base,
        timeout=300,
    )
    output = run.stdout + run.stderr
    assert run.returncode == 0, output[-4000:]
    assert "rlrt: training SAC on HumanoidBulletEnv-v0 (preset humanoid-sac)" in output
    assert unexpected_lines(output) == []
    with (tree.intermediate / "progress.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["training_iteration"]) for row in rows] == [1, 2]
    assert float(rows[-1]["value_loss"]) >= 0 and int(rows[-1]["timesteps_total"]) >= 200  # it learned

    body = json.dumps({"instances": [[0.0] * 44]}).encode()
    status, _, answer = call(
        InferenceApp(tree.model), "POST", "/invocations", body, {"Content-Type": "application/json"}
    )
    assert status == 200, answer
    (action,) = json.loads(answer)["predictions"]
    assert len(action) == 17 and all(-1.0 <= value <= 1.0 for value in action)
