"""Ray 1.x APIs that Ray 2.x removed, found in a script-mode source dir before the script runs
(runtime/job/removed_apis.py), each named with its file, line and replacement; fallbacks and the seeds' own scripts
pass."""

from __future__ import annotations

import tarfile
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from runtime.errors import UserError
from runtime.job.removed_apis import findings, outside_reason, read_source_dir, refuse_removed_apis, removed_apis_in
from tests.conftest import REPO_ROOT

OLD_SCRIPT = textwrap.dedent("""
    import ray
    from ray.rllib.agents.ppo import PPOTrainer
    import ray.rllib.agents.dqn as dqn
    from ray.rllib.models import ModelCatalog, Model
    from ray.rllib.models.tf.tf_modelv2 import TFModelV2

    try:
        from ray.rllib.agents.impala import ImpalaTrainer  # a fallback the script guards itself
    except ImportError:
        ImpalaTrainer = None

    ModelCatalog.register_custom_model("masked", object)
    EXPERIMENT = {"training": {"run": "APEX", "env": "CartPole-v1"}}
""")


def test_each_removed_api_is_named_with_its_line_and_replacement() -> None:
    found = findings(OLD_SCRIPT, "train.py")
    assert [f.split(": ", 1)[0] for f in found] == [
        "train.py:3",
        "train.py:4",
        "train.py:5",
        "train.py:6",
        "train.py:13",
        "train.py:14",
    ]
    text = "\n".join(found)
    assert "ray.rllib.algorithms" in text and "torch RLModule" in text and "prioritized replay" in text
    assert "ImpalaTrainer" not in text  # guarded by its own try/except ImportError


def test_the_examples_other_removed_algorithms_and_their_action_mask_model_are_named() -> None:
    """The network-compression example's A3C; the resource-allocation examples' "action_mask" model, which needs no
    port (rlrt masks a Dict observation's 'action_mask' itself), unlike another custom model."""
    source = textwrap.dedent("""
        from ray.rllib.models import ModelCatalog
        ModelCatalog.register_custom_model("action_mask", object)
        ModelCatalog.register_custom_model("attention", object)
        EXPERIMENT = {"training": {"run": "A3C", "env": "NetworkCompression-v1"}}
    """)
    masked, other, a3c = findings(source, "train.py")
    assert masked.startswith("train.py:3: ") and "needs no port" in masked and "'action_mask' entry" in masked
    assert other.startswith("train.py:4: ") and "port it to a torch RLModule" in other and "needs no port" not in other
    assert a3c.startswith('train.py:5: `"run": "A3C"`: A3C and A2C are gone from Ray 2.x: train PPO, or APPO')


def test_the_entry_point_and_what_it_imports_from_the_source_dir_are_checked(tmp_path: Path) -> None:
    """Only what the job runs: the seeds' src/ also holds other jobs' scripts (the Ray 1.x evaluate-ray.py)."""
    src = tmp_path / "src"
    (src / "lib").mkdir(parents=True)
    (src / "train.py").write_text("import lib.model\nfrom sagemaker_rl.ray_launcher import SageMakerRayLauncher\n")
    (src / "lib" / "__init__.py").write_text("")
    (src / "lib" / "model.py").write_text("from ray.rllib.models.tf.tf_modelv2 import TFModelV2\n")
    (src / "train-clean.py").write_text("from sagemaker_rl.ray_launcher import SageMakerRayLauncher\n")
    (src / "evaluate-ray.py").write_text("from ray.rllib.agents.registry import get_agent_class\n")
    with tarfile.open(tmp_path / "sourcedir.tar.gz", "w:gz") as tar:
        tar.add(src, arcname=".")
    for location in (str(src), f"file://{tmp_path / 'sourcedir.tar.gz'}"):
        files = read_source_dir(location)
        with pytest.raises(UserError, match=r"lib/model\.py:1: `from ray\.rllib\.models\.tf\.tf_modelv2"):
            refuse_removed_apis(location, files, "train.py")
        refuse_removed_apis(location, files, "train-clean.py")  # evaluate-ray.py beside it is another job's script
        assert removed_apis_in(files, "evaluate-ray.py")[0].startswith("evaluate-ray.py:1: ")
    assert read_source_dir("s3://bucket/sourcedir.tar.gz") == {}  # downloaded later: not inspected


def test_the_seeds_scripts_and_rlrts_entry_points_pass() -> None:
    for folder in (REPO_ROOT.parent / "shared" / "smrl", REPO_ROOT / "entrypoints"):
        for path in sorted(folder.glob("*.py")):
            assert findings(path.read_text(), path.name) == [], path


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_any_text_is_read_without_an_error(source: str) -> None:
    assert isinstance(findings(source, "x.py"), list)


MEMBER_NAMES = st.lists(st.sampled_from(["..", ".", "code", "lib", "x.py", "a", "/", ""]), min_size=1, max_size=5)
MEMBER_TYPES = st.sampled_from(
    [
        tarfile.REGTYPE,
        tarfile.DIRTYPE,
        tarfile.SYMTYPE,
        tarfile.LNKTYPE,
        tarfile.CHRTYPE,
        tarfile.BLKTYPE,
        tarfile.FIFOTYPE,
    ]
)


@settings(max_examples=400, deadline=None)
@given(parts=MEMBER_NAMES, link_parts=MEMBER_NAMES, kind=MEMBER_TYPES)
def test_an_archive_member_is_refused_exactly_when_pythons_data_filter_refuses_it(
    parts: list[str], link_parts: list[str], kind: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The check is held to Python's own ``data`` extraction filter (this Python has it; the image's does not), with
    one difference on purpose: a leading ``/``, which the filter strips, is refused, since the unfiltered extraction
    sagemaker-training does writes such a member at its absolute path."""
    member = tarfile.TarInfo("/".join(parts))
    member.type, member.linkname = kind, "/".join(link_parts)
    folder = str(tmp_path_factory.getbasetemp() / "code")
    ours = outside_reason(member, folder)
    if member.name.startswith("/"):
        assert ours == "absolute"
        return
    try:
        tarfile.data_filter(member, folder)
        theirs = None
    except tarfile.FilterError as exc:
        theirs = type(exc).__name__
    assert (ours is None) == (theirs is None), (member.name, member.type, member.linkname, ours, theirs)
    names = {
        "outside": "OutsideDestinationError",
        "special": "SpecialFileError",
        "absolute link": "AbsoluteLinkError",
        "link outside": "LinkOutsideDestinationError",
    }
    assert ours is None or names[ours] == theirs


def test_an_archive_with_a_member_outside_its_folder_is_refused_with_the_member_named(tmp_path: Path) -> None:
    archive = tmp_path / "sourcedir.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        (tmp_path / "train.py").write_text("print('hi')\n")
        tar.add(tmp_path / "train.py", arcname="train.py")
        tar.add(tmp_path / "train.py", arcname="../../../x.py")
    with pytest.raises(UserError, match=r"'\.\./\.\./\.\./x\.py', which points outside the folder"):
        read_source_dir(str(archive))
