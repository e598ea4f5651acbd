"""The model folder's manifest (``model/rlrt_manifest.json``, written last by the training job): every command that
reads a model (``serve``, ``transform``, ``evaluate``, warm starts, ``export``) refuses a damaged file by name, and a
truncated ``model.tar.gz`` is named as such; ``rlrt export`` rewrites exports that are gone and the manifest."""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

from tests.conftest import make_job_tree, run_rlrt


def test_a_damaged_or_truncated_model_is_refused_by_name_and_export_repairs_missing_exports(tmp_path: Path) -> None:
    tree = make_job_tree(tmp_path / "ml", {"rl.training.stop.training_iteration": 1, "record_video_every": 0})
    assert run_rlrt(["train"], base=tree.base, timeout=240).returncode == 0
    manifest = json.loads((tree.model / "rlrt_manifest.json").read_text())["files"]
    assert {"policy.onnx", "metadata.json", "config.json"} <= set(manifest) and any(
        name.startswith("checkpoint/") for name in manifest
    )

    damaged = tmp_path / "damaged"
    shutil.copytree(tree.model, damaged)
    onnx = bytearray((damaged / "policy.onnx").read_bytes())
    onnx[200:600] = bytes(400)  # 400 bytes overwritten: the same size, another model
    (damaged / "policy.onnx").write_bytes(bytes(onnx))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "states.jsonl").write_text("[0.0, 0.1, 0.0, -0.1]\n")
    for args in (
        ["transform", "--model", str(damaged), "--input", str(tmp_path / "in"), "--output", str(tmp_path / "out")],
        ["evaluate", "--model", str(damaged), "--set", "evaluate_episodes=1"],
    ):
        refused = run_rlrt(args, base=tmp_path / "job", timeout=120)
        assert refused.returncode == 2, refused.stderr[-2000:]
        assert f"The model in {damaged} is damaged: policy.onnx changed (sha256 differs)" in refused.stderr
    assert not (tmp_path / "out").exists()

    archive = tmp_path / "model.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tree.model, arcname=".")
    archive.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    truncated = run_rlrt(["evaluate", "--model", str(archive)], base=tmp_path / "job2", timeout=120)
    assert truncated.returncode == 2 and f"Cannot unpack the model archive {archive}" in truncated.stderr

    exports_gone = tmp_path / "exports-gone"
    shutil.copytree(tree.model, exports_gone)
    (exports_gone / "policy.onnx").unlink()
    repaired = run_rlrt(["export", "--model-dir", str(exports_gone)], base=tmp_path / "job3", timeout=240)
    assert repaired.returncode == 0, repaired.stderr[-2000:]
    played = run_rlrt(
        ["evaluate", "--model", str(exports_gone), "--set", "evaluate_episodes=1", "--set", "record_video_every=0"],
        base=tmp_path / "job4",
        timeout=120,
    )
    assert played.returncode == 0, played.stderr[-2000:]
