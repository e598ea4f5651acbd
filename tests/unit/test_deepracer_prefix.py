"""DeepRacer's S3 keys in the train channel: ``model_metadata_s3_key``, ``reward_function_s3_source`` and
``s3_prefix`` resolve whether the channel holds the prefix folder (the notebook's bucket layout) or its content; a
prefix or a pretrained prefix that matches nothing is named (in-process: the hooks check before anything is built)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.errors import UserError
from tests.unit.test_deepracer_runtime import METADATA, REWARD, SEED_HYPERPARAMETERS, resolve
from tests.conftest import make_job_tree

THREE_ACTIONS = {**METADATA, "action_space": [{"steering_angle": a, "speed": 0.8} for a in (-20, 0, 20)]}


def notebook_tree(base: Path, layout: str, extra: dict | None = None):
    """The notebook's uploads: ``<prefix>/customer_reward_function.py``, ``<prefix>/model/model_metadata.json``;
    ``layout`` "bucket": the channel holds the prefix folder, "prefix": its content, "other": something else."""
    tree = make_job_tree(
        base, {**SEED_HYPERPARAMETERS, "preset": "deepracer-ppo", "num_simulation_workers": "0", **(extra or {})}
    )
    train = tree.channel("train")
    root = {"bucket": train / "prefix", "prefix": train, "other": train / "another-prefix"}[layout]
    (root / "model").mkdir(parents=True)
    (root / "customer_reward_function.py").write_text(REWARD)
    (root / "model" / "model_metadata.json").write_text(json.dumps(THREE_ACTIONS))
    return tree


def prepare(tree):
    from runtime.families.deepracer.training import DeepRacerHooks
    from runtime.job.environment import load_environment

    env = load_environment(tree.base)
    hooks = DeepRacerHooks(env)
    try:
        return hooks, hooks.prepare(resolve(dict(env.hyperparameters)))
    finally:
        hooks.close()


@pytest.mark.parametrize("layout", ["bucket", "prefix"])
def test_the_notebook_keys_resolve_in_either_layout(tmp_path: Path, layout: str) -> None:
    tree = notebook_tree(tmp_path / "ml", layout)
    hooks, spec = prepare(tree)
    root = tree.base / "input" / "data" / "train" / ("prefix" if layout == "bucket" else "")
    assert hooks.metadata_path == (root / "model" / "model_metadata.json")
    assert hooks.reward_path == root / "customer_reward_function.py"
    assert len(spec.env_config["model_metadata"]["action_space"]) == 3


def test_a_prefix_that_matches_nothing_is_named(tmp_path: Path) -> None:
    tree = notebook_tree(tmp_path / "ml", "other")
    with pytest.raises(UserError, match=r"s3_prefix 'prefix' matches nothing in the train channel .*another-prefix"):
        prepare(tree)


def test_a_key_found_nowhere_lists_where_it_looked(tmp_path: Path) -> None:
    tree = notebook_tree(tmp_path / "ml", "prefix", {"reward_function_s3_source": "s3://bucket/prefix/mine.py"})
    with pytest.raises(
        UserError,
        match=r"names 'mine.py', but the train channel has no such file \(looked at: "
        r".*prefix/mine.py, .*train/mine.py\)",
    ):
        prepare(tree)


def test_a_pretrained_prefix_that_matches_nothing_is_named(tmp_path: Path) -> None:
    from runtime.families.deepracer.files import pretrained_model

    train = tmp_path / "train"
    (train / "old-model").mkdir(parents=True)
    (train / "old-model" / "notes.txt").write_text("no model here")
    assert pretrained_model(train, {}) is None
    with pytest.raises(
        UserError,
        match=r"pretrained_s3_prefix 'old-model' \(bucket b\) matches no model .*old-model"
        r".*No model in",
    ):
        pretrained_model(train, {"pretrained_s3_bucket": "b", "pretrained_s3_prefix": "old-model"})
    with pytest.raises(UserError, match=r"pretrained_s3_prefix 'gone' .* matches no model"):
        pretrained_model(train, {"pretrained_s3_prefix": "gone"})


def test_without_an_endpoint_or_credentials_s3_is_not_touched(tmp_path: Path) -> None:
    """The notebook always passes s3_bucket; with no S3 configured the job uses the train channel and never imports
    boto3 (so it cannot reach the network)."""
    import subprocess
    import sys

    code = (
        "import sys; from runtime.families.deepracer.s3 import open_store, s3_configured\n"
        "assert s3_configured() is None\n"
        "assert open_store({'s3_bucket': 'bucket', 's3_prefix': 'prefix'}) is None\n"
        "assert 'boto3' not in sys.modules and 'botocore' not in sys.modules\n"
    )
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    from runtime.families.deepracer.s3 import s3_configured

    assert s3_configured({"AWS_ENDPOINT_URL": "http://127.0.0.1:9000"}) == "AWS_ENDPOINT_URL=http://127.0.0.1:9000"
    assert (
        s3_configured({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/x", "HOME": str(tmp_path)})
        == "credentials from AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
    )


def test_the_prefix_folder_is_found_without_s3_prefix(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """the notebook's files under ``train/<prefix>/`` and no ``s3_prefix`` hyperparameter: that one folder
    is used (it trained the documentation's example reward and 5 default actions before), and a line names the
    files."""
    tree = notebook_tree(
        tmp_path / "ml", "other", {"s3_prefix": "", "model_metadata_s3_key": "", "reward_function_s3_source": ""}
    )
    hooks, spec = prepare(tree)
    root = tree.base / "input" / "data" / "train" / "another-prefix"
    assert hooks.reward_path == root / "customer_reward_function.py"
    assert len(spec.env_config["model_metadata"]["action_space"]) == 3
    assert f"rlrt: DeepRacer files: reward function {root / 'customer_reward_function.py'}" in capsys.readouterr().out
