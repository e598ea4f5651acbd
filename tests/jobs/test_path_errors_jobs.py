"""A path a command cannot read or write ends in one message family (``runtime/paths.py``), through the real CLI:
exit 2, the path, what is there and what to do, never ``Framework error`` or a wrong "does not exist"; nothing
half-written left. Read-only and full disks are real tmpfs mounts (root ignores ``chmod``)."""

from __future__ import annotations

import gzip
import io
import json
import shutil
import tarfile
import zlib
from pathlib import Path

import pytest
import yaml

from tests.conftest import make_job_tree, run_rlrt
from tests.path_faults import fifo, tmpfs, under_a_file
from tests.trained_models import cartpole_model, tf_env, tf_python  # noqa: F401 - fixtures
from tests.unit.test_tuning import _spec

COLLECT = ["collect", "--num-envs", "2", "--num-episodes", "1", "--no-progress"]


def _user_error(done, *phrases: str) -> str:  # type: ignore[no-untyped-def]
    """The command ended as a user error saying every phrase; its stderr."""
    assert done.returncode == 2, (done.returncode, done.stderr[-3000:])
    assert "Framework error" not in done.stderr and "Traceback" not in done.stderr, done.stderr[-3000:]
    for phrase in phrases:
        assert phrase in done.stderr, (phrase, done.stderr[-3000:])
    return done.stderr


def test_collect_output_on_a_read_only_disk_or_under_a_file_or_a_folder(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", read_only=True) as ro:
        _user_error(
            run_rlrt([*COLLECT, "--output", str(ro / "d.csv")]), f"{ro} is on a read-only file system", "without `:ro`"
        )
        _user_error(run_rlrt([*COLLECT, "--dump-states", str(ro / "s.jsonl")]), "read-only file system")
    blocked = under_a_file(tmp_path)
    _user_error(run_rlrt([*COLLECT, "--output", str(blocked)]), f"{blocked.parent} is a file, not a folder")
    folder = tmp_path / "d.csv"
    folder.mkdir()
    _user_error(run_rlrt([*COLLECT, "--output", str(folder)]), f"The --output file {folder} is a folder, not a file")


def test_collect_onto_a_full_disk_leaves_no_temporary_file(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "full", full=True) as full:
        _user_error(
            run_rlrt([*COLLECT, "--output", str(full / "d.csv")]),
            f"The --output file {full / 'd.csv'} cannot be written: no space left on its disk",
        )
        assert sorted(p.name for p in full.iterdir()) == [".filler"]  # before: .d.csv.tmp left behind


def test_collect_policy_file_that_is_a_folder_or_a_broken_link(tmp_path: Path) -> None:
    _user_error(run_rlrt([*COLLECT, "--policy-file", str(tmp_path)]), f"{tmp_path} is a folder, not a file")
    link = tmp_path / "link.out"
    link.symlink_to(tmp_path / "gone.out")
    _user_error(run_rlrt([*COLLECT, "--policy-file", str(link)]), "is a symbolic link to", "which does not exist")


@pytest.fixture
def states(tmp_path: Path) -> Path:
    folder = tmp_path / "states"
    folder.mkdir()
    (folder / "s.jsonl").write_text("[0.01, 0.02, 0.03, 0.04]\n[0.0, 0.0, 0.0, 0.0]\n")
    return folder


def test_transform_output_that_cannot_be_written_and_input_that_is_no_file(
    tmp_path: Path, states: Path, cartpole_model: Path
) -> None:
    model = str(cartpole_model / "model")
    with tmpfs(tmp_path / "ro", read_only=True) as ro:
        _user_error(
            run_rlrt(["transform", "--model", model, "--input", str(states), "--output", str(ro / "out")]),
            "read-only file system",
        )
    blocked = under_a_file(tmp_path, "out")
    _user_error(
        run_rlrt(["transform", "--model", model, "--input", str(states), "--output", str(blocked)]),
        f"{blocked.parent} is a file, not a folder",
    )
    _user_error(
        run_rlrt(["transform", "--model", model, "--input", "/dev/null", "--output", str(tmp_path / "o")]),
        "The --input /dev/null is a device, not a file",
    )  # before: "does not exist"


def test_transform_never_reads_its_own_outputs(tmp_path: Path, states: Path, cartpole_model: Path) -> None:
    model = str(cartpole_model / "model")
    _user_error(
        run_rlrt(["transform", "--model", model, "--input", str(states), "--output", str(states)]),
        "is the --input folder",
    )
    assert sorted(p.name for p in states.iterdir()) == ["s.jsonl"]
    for _ in range(2):  # before: the second run transformed out/s.jsonl.out into out/out/s.jsonl.out.out
        done = run_rlrt(
            ["transform", "--model", model, "--input", str(states), "--output", str(states / "out"), "--no-progress"]
        )
        assert done.returncode == 0, done.stderr[-3000:]
        assert "1 file(s)" in done.stdout
    assert sorted(str(p.relative_to(states)) for p in states.rglob("*")) == ["out", "out/s.jsonl.out", "s.jsonl"]


def test_tune_file_that_is_a_folder_and_output_that_cannot_be_written(tmp_path: Path) -> None:
    _user_error(
        run_rlrt(["tune", str(tmp_path), "--output", str(tmp_path / "o")]),
        f"The tuning file {tmp_path} is a folder, not a file",
    )  # before: "does not exist"
    file = tmp_path / "tune.yaml"
    file.write_text(yaml.safe_dump(_spec()))
    blocked = under_a_file(tmp_path, "out")
    _user_error(run_rlrt(["tune", str(file), "--output", str(blocked)]), f"{blocked.parent} is a file, not a folder")
    with tmpfs(tmp_path / "ro", read_only=True) as ro:
        _user_error(run_rlrt(["tune", str(file), "--output", str(ro / "out")]), "read-only file system")


def _model_files(model: Path) -> dict[str, bytes]:
    return {str(p.relative_to(model)): p.read_bytes() for p in model.rglob("*") if p.is_file()}


def test_export_on_a_read_only_or_full_model_folder(tmp_path: Path, cartpole_model: Path) -> None:
    files = _model_files(cartpole_model / "model")
    with tmpfs(tmp_path / "ro", size="64m", read_only=True, content=files) as ro:
        _user_error(run_rlrt(["export", "--model-dir", str(ro)]), f"The --model-dir folder {ro} is on a read-only")
    with tmpfs(
        tmp_path / "full",
        size="64m",
        full=True,
        content={k: v for k, v in files.items() if not k.startswith(("policy", "code/"))},
    ) as full:
        _user_error(run_rlrt(["export", "--model-dir", str(full)]), f"{full} cannot be written: no space left")
        assert not list(full.glob("*.tmp")) and not (full / "policy.onnx").exists()


def test_export_of_an_archive_or_a_folder_that_holds_no_model(tmp_path: Path, cartpole_model: Path) -> None:
    tarball = tmp_path / "model.tar.gz"
    with tarfile.open(tarball, "w:gz") as archive:
        archive.add(cartpole_model / "model", arcname=".")
    _user_error(
        run_rlrt(["export", "--model-dir", str(tarball)]), "is a model archive, not a model folder", "tar -xzf"
    )  # before: "The model in ... is damaged"
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "a.txt").write_text("x")
    _user_error(
        run_rlrt(["export", "--model-dir", str(tmp_path / "notes")]),
        "is not a model folder",
        "no metadata.json (found: a.txt)",
    )


def test_a_model_archive_with_a_crc_error_is_named_for_it(tmp_path: Path, cartpole_model: Path) -> None:
    """A bit flipped in a stored archive: the gzip stream's CRC no longer matches. ``tarfile`` took the garbled header
    for the archive's end and the message named a deleted temporary folder with its files "missing"."""
    plain = io.BytesIO()
    with tarfile.open(fileobj=plain, mode="w") as archive:
        archive.add(cartpole_model / "model", arcname=".")
    data = bytearray(plain.getvalue())
    with tarfile.open(fileobj=io.BytesIO(bytes(data))) as archive:
        members = archive.getmembers()
    header = members[len(members) // 2].offset
    data[header + 150] ^= 0x01  # the header's checksum field
    packed = bytearray(gzip.compress(bytes(data)))
    packed[-8:-4] = zlib.crc32(plain.getvalue()).to_bytes(4, "little")  # the CRC of the bytes before the flip
    bad = tmp_path / "model.tar.gz"
    bad.write_bytes(bytes(packed))
    (tmp_path / "in.jsonl").write_text("[0.0, 0.0, 0.0, 0.0]\n")
    stderr = _user_error(
        run_rlrt(
            ["transform", "--model", str(bad), "--input", str(tmp_path / "in.jsonl"), "--output", str(tmp_path / "out")]
        ),
        f"Cannot unpack the model archive {bad}",
        "CRC check failed",
    )
    assert "rlrt-model-" not in stderr


@pytest.mark.parametrize("folder", ["checkpoints", "model", "output"])
def test_a_job_folder_that_is_a_file_is_named(tmp_path: Path, folder: str) -> None:
    tree = make_job_tree(tmp_path / "ml", {"rl.training.stop.training_iteration": 1})
    (tree.base / folder).write_text("a file")
    stderr = _user_error(
        run_rlrt(["train"], base=tree.base, timeout=120),
        f"The {folder} folder {tree.base / folder} is a file, not a folder",
    )
    assert "without `:ro`" not in stderr  # before: "not writable (File exists) ... mount it read-write"


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_offline_data_that_is_a_folder_or_a_named_pipe(tmp_path: Path, kind: str) -> None:
    tree = make_job_tree(tmp_path / "ml", {"preset": "cartpole-bcq"})
    data = tree.channel("train") / "d.csv"
    data.mkdir() if kind == "folder" else fifo(data)
    what = "a folder" if kind == "folder" else "a named pipe (FIFO)"
    _user_error(
        run_rlrt(["train"], base=tree.base, timeout=120), f"d.csv ({what})", f"{data} is {what}, not a file"
    )  # before: "(the folder is empty)"


def test_a_pipe_mode_channel_is_named(tmp_path: Path) -> None:
    tree = make_job_tree(tmp_path / "ml", {"preset": "cartpole-bcq"})
    config = tree.base / "input" / "config" / "inputdataconfig.json"
    config.write_text(json.dumps({"train": {"TrainingInputMode": "Pipe"}}))
    fifo(tree.base / "input" / "data" / "train_0")
    _user_error(
        run_rlrt(["train"], base=tree.base, timeout=120), "Pipe mode", "train_0 is a named pipe", "input_mode='File'"
    )  # before: "... does not exist"


def test_nothing_half_written_stays_after_a_failed_transform(
    tmp_path: Path, states: Path, cartpole_model: Path
) -> None:
    with tmpfs(tmp_path / "full", full=True) as full:
        _user_error(
            run_rlrt(
                [
                    "transform",
                    "--model",
                    str(cartpole_model / "model"),
                    "--input",
                    str(states),
                    "--output",
                    str(full / "out"),
                ]
            ),
            "no space left",
        )
        assert not list(full.rglob("*.partial"))
    shutil.rmtree(tmp_path / "full", ignore_errors=True)


def test_evaluate_with_an_output_folder_that_is_a_file(tmp_path: Path, cartpole_model: Path) -> None:
    tree = make_job_tree(tmp_path / "ml")
    (tree.base / "output").mkdir()
    tree.intermediate.write_text("a file")
    stderr = _user_error(
        run_rlrt(
            ["evaluate", "--model", str(cartpole_model / "model"), "--set", "evaluate_episodes=1"],
            base=tree.base,
            timeout=180,
        ),
        f"The output/intermediate folder {tree.intermediate} is a file, not a folder",
    )
    assert "Episode reward" not in stderr  # before: a framework error after the episodes were played
