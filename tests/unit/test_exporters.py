"""The export formats are :class:`runtime.export.exporter.Exporter` objects in ``formats.EXPORTERS``: a fourth
format is its own class plus one registration line, and the pipeline, the model folder (its export files, the
manifest, a rerun's clean-up, a multi-agent model's paths), ``metadata.json`` and the job's log follow from it; its
failing check fails the export with its reason. Also: torch's ONNX exporter runs on public API alone."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runtime.contracts import Plugins
from runtime.errors import UserError
from runtime.export import formats
from runtime.export.checks import compare_outputs, torch_outputs
from runtime.export.exporter import ExportInput, Exporter
from runtime.export.model_dir import is_export_output
from runtime.export.pipeline import _under
from runtime.export.torchscript_export import TorchScript
from runtime.job.environment import load_environment
from runtime.plugins import INSTALLED
from runtime.serving import sagemaker_inference
from runtime.train.driver import train
from runtime.train.manifest import verify_manifest
from tests.conftest import make_job_tree
from tests.unit.test_driver import CountingBackend, spec

TABLE = "policy_table.npz"


class ProbabilityTable(Exporter):
    """A made-up format: the policy's action probabilities on the check's observations, as a table."""

    name = "probability_table"
    files = (TABLE,)
    title = "probability table"
    shift = 0.0
    """What the format gets wrong (0: nothing)."""

    def export(self, model: ExportInput, dest: Path) -> None:
        probabilities = torch_outputs(model.serving.module, model.observations)[1]
        np.savez(dest / TABLE, observations=model.observations, probabilities=probabilities + self.shift)

    def check(self, model: ExportInput, dest: Path) -> dict[str, Any]:
        with np.load(dest / TABLE) as table:
            error = compare_outputs(
                "the probability table",
                model.serving.head,
                [table["probabilities"]],
                [model.reference[1]],
                names=["action_probabilities"],
            )
        return {self.name: TABLE, "max_abs_error": {self.name: error}}


class WrongTable(ProbabilityTable):
    shift = 0.25


@pytest.fixture
def counting_backend() -> Plugins:
    return Plugins(backends=(CountingBackend(), *INSTALLED.backends), families=INSTALLED.families)


def test_a_fourth_format_is_one_class_and_one_registration_line(
    counting_backend: Plugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setattr(formats, "EXPORTERS", (*formats.EXPORTERS, ProbabilityTable()))
    tree = make_job_tree(tmp_path / "opt" / "ml")
    train(load_environment(tree.base), spec({"training_iteration": 2}), counting_backend)
    with np.load(tree.model / TABLE) as table:
        assert table["probabilities"].shape == (64, 2)
    serving = json.loads((tree.model / "metadata.json").read_text())["serving"]
    assert serving["probability_table"] == TABLE and serving["max_abs_error"]["probability_table"] == 0.0
    assert serving["onnx"] == "policy.onnx" and set(serving["max_abs_error"]) == {
        "torchscript",
        "onnx",
        "probability_table",
    }
    assert TABLE in json.loads((tree.model / "rlrt_manifest.json").read_text())["files"]
    assert f"{TABLE} (probability table)" in capsys.readouterr().out
    assert is_export_output(TABLE) and _under("policies/a", serving)["probability_table"] == f"policies/a/{TABLE}"
    assert f"{TABLE} (probability table)" in formats.describe_formats()

    monkeypatch.undo()  # unregistered: a file of that name is a user's, which a rerun keeps
    assert not is_export_output(TABLE)


def test_a_failing_check_fails_the_export_with_its_reason(
    counting_backend: Plugins, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(formats, "EXPORTERS", (*formats.EXPORTERS, WrongTable()))
    tree = make_job_tree(tmp_path / "opt" / "ml")
    with pytest.raises(
        UserError,
        match=r"Training finished, but the model cannot be served: ExportMismatch: the "
        r"probability table: output 0 differs by 0\.25 .* The checkpoint is kept",
    ):
        train(load_environment(tree.base), spec({"training_iteration": 2}), counting_backend)
    metadata = json.loads((tree.model / "metadata.json").read_text())
    assert metadata["serving"]["error"].startswith("ExportMismatch: the probability table: output 0 differs by 0.25")
    assert (tree.model / "checkpoint" / "value.json").read_text() == "2"
    assert not (tree.model / TABLE).exists()  # a format whose check failed leaves no file
    assert (tree.model / "policy.onnx").is_file() and not verify_manifest(tree.model).damaged


def test_an_exporter_must_say_how_it_exports_and_checks() -> None:
    class NoCheck(Exporter):
        name, files, title = "x", ("x.bin",), "x"

        def export(self, model: ExportInput, dest: Path) -> None:
            (dest / "x.bin").write_bytes(b"")

    with pytest.raises(TypeError, match="abstract method 'check'|abstract method check"):
        NoCheck()  # type: ignore[abstract]


def test_the_formats_files_are_the_model_folders_export_outputs() -> None:
    names = {path for exporter in formats.EXPORTERS for path in exporter.files}
    assert names == {
        "policy.pt",
        "policy.onnx",
        "policy_spec.json",
        "policy_weights.npz",
        "1/",
        "code/inference.py",
        "code/rlrt_codec.py",
        "code/rlrt_number_rows.py",
        "mlagents/",
        "model.onnx",
    }  # the layout serving, transform and the image read
    assert all(is_export_output(name.rstrip("/")) for name in names) and is_export_output("policies/a/policy.onnx")
    assert not any(is_export_output(name) for name in ("checkpoint", "metadata.json", "config.json", "source"))
    # code/inference.py runs where rlrt is not installed, so it spells the TorchScript file's name itself.
    assert sagemaker_inference.TORCHSCRIPT in TorchScript.files


def test_torch_onnx_export_runs_on_public_api_with_the_pinned_onnx(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch's TorchScript-based ONNX exporter (``dynamo=False``) imports the ``onnx`` package: the lock pins one
    that imports on its protobuf (requirements/main.in), so no private hook around the exporter is needed. Without
    it the export fails, which is why the pin is there."""
    import onnx
    import torch

    from runtime.export.onnx_export import export_onnx, onnx_outputs
    from runtime.export.policy import CATEGORICAL, ActionHead, build_serving_policy

    head = ActionHead(CATEGORICAL, 2)
    policy = build_serving_policy(torch.nn.Linear(3, 2), 3, head, None)
    export_onnx(policy, 3, head, tmp_path / "policy.onnx")
    onnx.checker.check_model(onnx.load(str(tmp_path / "policy.onnx")))
    observations = np.ones((5, 3), dtype=np.float32)
    np.testing.assert_allclose(
        onnx_outputs(tmp_path / "policy.onnx", observations)[1], torch_outputs(policy, observations)[1], atol=1e-6
    )

    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` fails
    with pytest.raises(Exception, match="onnx"):
        export_onnx(policy, 3, head, tmp_path / "without.onnx")


def test_a_recurrent_module_is_refused_with_what_to_do() -> None:
    """RLlib's own is_stateful() (an LSTM's memory): no serving policy, and the message says why and what instead."""
    from gymnasium import spaces
    from ray.rllib.algorithms.ppo import PPOConfig

    from runtime.backends.rllib.policy import serving_policy_from_parts

    config = PPOConfig()
    spec = config.get_default_rl_module_spec()
    spec.observation_space = spaces.Box(-1.0, 1.0, (5,), np.float32)
    spec.action_space = spaces.Discrete(3)
    spec.model_config = {**config.model_config, "use_lstm": True, "max_seq_len": 4}
    with pytest.raises(UserError, match="cannot export a recurrent policy .* train without use_lstm"):
        serving_policy_from_parts(spec.build(), None, normalize_actions=True)
