"""``mlagents/<Behavior>.onnx``: a Unity policy in ML-Agents' own ONNX convention, checked by ML-Agents' loader rules
(runtime/export/mlagents_check.py) and compared with what ML-Agents' trainer itself exports for the same behavior
spec (tests/data/mlagents_reference/, made by scripts/mlagents_reference.py with mlagents 1.1.0)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from runtime.export import mlagents_names as ml
from runtime.export.mlagents_check import NotAnMLAgentsModel, check_mlagents_model, read_signature, sensor_inputs
from runtime.export.mlagents_export import action_spec, unsupported
from runtime.export.pipeline import export_policies, export_serving
from runtime.export.policy import (
    CATEGORICAL,
    GAUSSIAN,
    HYBRID,
    MULTI_CATEGORICAL,
    ActionHead,
    ObservationFilter,
    ServingModel,
    build_serving_policy,
    serving_model_of,
)

REFERENCE = Path(__file__).resolve().parent.parent / "data" / "mlagents_reference"

# The stand-in player's games (tests/unity_player): name -> (sensors as the gymnasium space has them, continuous size,
# discrete branches, behavior name); the same specs as scripts/mlagents_reference.py's.
GAMES: dict[str, tuple[list[tuple[int, ...]], int, tuple[int, ...], str]] = {
    "basic": ([(20,)], 0, (3,), "Basic?team=0"),
    "two_branches": ([(20,)], 0, (3, 2), "Basic?team=0"),
    "3dball": ([(8,)], 2, (), "3DBall?team=0"),
    "visual": ([(8, 20, 3), (20,)], 0, (3,), "Basic?team=0"),
    "hybrid": ([(20,)], 2, (3, 2), "Basic?team=0"),
}


def unity_model(game: str, names: tuple[str, ...] | None = None, seed: int = 0) -> ServingModel:
    """A serving model as the RLlib backend hands a Unity policy over: a small network behind a MeanStdFilter."""
    import torch

    shapes, continuous, branches, behavior = GAMES[game]
    dim = sum(int(np.prod(shape)) for shape in shapes)
    torch.manual_seed(seed)
    outputs = 2 * continuous + sum(branches)
    body = torch.nn.Sequential(torch.nn.Linear(dim, 16), torch.nn.Tanh(), torch.nn.Linear(16, outputs))
    if continuous and branches:
        head = ActionHead(
            HYBRID, continuous, low=[-1.0] * continuous, high=[1.0] * continuous, normalized=True, parts=list(branches)
        )
    elif continuous:
        head = ActionHead(GAUSSIAN, continuous, low=[-1.0] * continuous, high=[1.0] * continuous, normalized=True)
    elif len(branches) == 1:
        head = ActionHead(CATEGORICAL, branches[0])
    else:
        head = ActionHead(MULTI_CATEGORICAL, sum(branches), parts=list(branches))
    rng = np.random.default_rng(seed)
    obs_filter = ObservationFilter(rng.normal(size=dim), rng.uniform(0.5, 2.0, size=dim), 1e-8, 10.0)
    model = serving_model_of(build_serving_policy(body, dim, head, obs_filter), head, obs_filter)
    return dataclasses.replace(model, unity=ml.UnityBehavior(names or (behavior,), tuple(shapes)))


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, dict[str, Any]]]:
    """Every game's model folder after the export pipeline, and its ``serving`` section."""
    found = {}
    for game in GAMES:
        folder = tmp_path_factory.mktemp(game)
        found[game] = (folder, export_serving(folder, unity_model(game)))
    return found


@pytest.mark.parametrize("game", list(GAMES))
def test_a_unity_policy_is_exported_in_mlagents_convention_and_passes_the_checker(
    game: str, exported: dict[str, tuple[Path, dict[str, Any]]]
) -> None:
    folder, section = exported[game]
    name = "3DBall.onnx" if game == "3dball" else "Basic.onnx"  # the Behavior Name without "?team=0"
    assert section["mlagents"] == [f"mlagents/{name}"] and section["mlagents_opset"] == 9
    assert section["max_abs_error"]["mlagents"] <= 1e-5
    shapes, continuous, branches, _ = GAMES[game]
    check_mlagents_model(folder / "mlagents" / name, shapes, ml.ActionSpec(continuous, branches))


@pytest.mark.parametrize("game", list(GAMES))
def test_the_signature_is_mlagents_own(game: str, exported: dict[str, tuple[Path, dict[str, Any]]]) -> None:
    """Names, order, element types, shapes (None: dynamic), constant values and opset as ML-Agents' trainer exports
    them for the same behavior spec."""
    folder, section = exported[game]
    mine = read_signature(folder / section["mlagents"][0])
    mine.pop("batch_names")
    theirs = json.loads((REFERENCE / f"{game}.json").read_text())
    assert theirs.pop("made_by").endswith("mlagents 1.1.0")
    assert mine == theirs


def test_the_deterministic_outputs_are_the_policys_with_its_normalisation_folded_in(
    exported: dict[str, tuple[Path, dict[str, Any]]],
) -> None:
    """Raw sensors in (a camera channel-first), the trained policy's greedy action out; the sampled actions keep to
    the mask and to [-1, 1]."""
    import onnxruntime as ort
    import torch

    for game in ("visual", "3dball", "hybrid"):
        folder, section = exported[game]
        shapes = GAMES[game][0]
        model = unity_model(game)
        observations = np.random.default_rng(1).normal(size=(32, model.observation_dim)).astype(np.float32) * 4
        with torch.no_grad():
            expected = model.module(torch.as_tensor(observations))[0].numpy()
        session = ort.InferenceSession(str(folder / section["mlagents"][0]), providers=["CPUExecutionProvider"])
        feed = {f"obs_{i}": part for i, part in enumerate(sensor_inputs(observations, shapes))}
        if game == "visual":
            feed["action_masks"] = np.ones((32, 3), np.float32)
            got = dict(zip(ml.output_names(ml.ActionSpec(0, (3,))), session.run(None, feed)))
            np.testing.assert_array_equal(got["deterministic_discrete_actions"][:, 0], expected)
            assert got["discrete_actions"].dtype == np.int64 and set(got["discrete_actions"].ravel()) <= {0, 1, 2}
        elif game == "hybrid":  # rlrt's row: the continuous actions, then each branch's greedy action
            feed["action_masks"] = np.ones((32, 5), np.float32)
            got = dict(zip(ml.output_names(ml.ActionSpec(2, (3, 2))), session.run(None, feed)))
            np.testing.assert_allclose(got["deterministic_continuous_actions"], expected[:, :2], atol=1e-5)
            np.testing.assert_array_equal(got["deterministic_discrete_actions"], expected[:, 2:])
            assert np.all(np.abs(got["continuous_actions"]) <= 1.0) and got["discrete_actions"].shape == (32, 2)
        else:
            got = dict(zip(ml.output_names(ml.ActionSpec(2, ())), session.run(None, feed)))
            np.testing.assert_allclose(got["deterministic_continuous_actions"], expected, atol=1e-5)
            assert np.all(np.abs(got["continuous_actions"]) <= 1.0)


def _broken(source: Path, target: Path, edit: Any) -> Path:
    import onnx

    model = onnx.load(str(source))
    edit(model.graph)
    onnx.save(model, str(target))
    return target


def test_a_computed_version_number_fails_the_checker(
    exported: dict[str, tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    """version_number as 0 * max(obs_0) + 3: the same value, but computed from an input, which ML-Agents' loader
    reads without running the model."""
    from onnx import helper

    folder, section = exported["basic"]

    def compute_version(graph: Any) -> None:
        producer = next(node for node in graph.node if node.output[0] == "version_number")
        producer.output[0] = "version_constant"
        graph.node.extend(
            [
                helper.make_node("ReduceMax", ["obs_0"], ["obs_max"], keepdims=0),
                helper.make_node("Mul", ["obs_max", "zero"], ["obs_zero"]),
                helper.make_node("Add", ["obs_zero", "version_constant"], ["version_number"]),
            ]
        )
        graph.initializer.append(helper.make_tensor("zero", 1, [], [0.0]))

    path = _broken(folder / section["mlagents"][0], tmp_path / "Basic.onnx", compute_version)
    with pytest.raises(NotAnMLAgentsModel, match="version_number is computed in the graph"):
        check_mlagents_model(path, [(20,)], ml.ActionSpec(0, (3,)))


def test_a_missing_mask_input_and_a_foreign_input_fail_the_checker(
    exported: dict[str, tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    from onnx import helper

    folder, section = exported["two_branches"]
    source = folder / section["mlagents"][0]

    def drop_masks(graph: Any) -> None:  # the mask becomes a constant "all allowed"
        mask = next(value for value in graph.input if value.name == "action_masks")
        graph.input.remove(mask)
        graph.initializer.append(helper.make_tensor("action_masks", 1, [1, 5], [1.0] * 5))

    spec = ml.ActionSpec(0, (3, 2))
    with pytest.raises(NotAnMLAgentsModel, match=r"missing \['action_masks'\]"):
        check_mlagents_model(_broken(source, tmp_path / "a.onnx", drop_masks), [(20,)], spec)

    def add_epsilon(graph: Any) -> None:
        graph.input.append(helper.make_tensor_value_info("epsilon", 1, ["batch", 2]))

    with pytest.raises(NotAnMLAgentsModel, match=r"refused: \['epsilon'\]"):
        check_mlagents_model(_broken(source, tmp_path / "b.onnx", add_epsilon), [(20,)], spec)
    # rlrt's own serving ONNX is another convention altogether.
    with pytest.raises(NotAnMLAgentsModel, match="opset 17"):
        check_mlagents_model(folder / "policy.onnx", [(20,)], spec)


def test_an_operator_barracuda_cannot_import_fails_the_checker(
    exported: dict[str, tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    folder, section = exported["basic"]

    def erf(graph: Any) -> None:
        next(node for node in graph.node if node.op_type == "Tanh").op_type = "Erf"

    with pytest.raises(NotAnMLAgentsModel, match=r"operators \['Erf'\], which Barracuda"):
        check_mlagents_model(
            _broken(folder / section["mlagents"][0], tmp_path / "e.onnx", erf), [(20,)], ml.ActionSpec(0, (3,))
        )


def test_masks_force_the_only_allowed_action_and_an_ignored_mask_fails(
    exported: dict[str, tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    """A model that takes action_masks but never applies it is refused (the checker allows one action at a time)."""
    from onnx import helper

    folder, section = exported["two_branches"]

    def ignore_masks(graph: Any) -> None:
        graph.initializer.append(helper.make_tensor("all_allowed", 1, [1, 5], [1.0] * 5))
        for node in graph.node:
            node.input[:] = ["all_allowed" if name == "action_masks" else name for name in node.input]
        graph.node.append(helper.make_node("Identity", ["action_masks"], ["unused_masks"]))

    path = _broken(folder / section["mlagents"][0], tmp_path / "c.onnx", ignore_masks)
    with pytest.raises(NotAnMLAgentsModel, match="ignores action_masks"):
        check_mlagents_model(path, [(20,)], ml.ActionSpec(0, (3, 2)))


def test_jobs_the_convention_cannot_express_are_skipped_with_a_reason() -> None:
    from runtime.export.mlagents_export import MLAgentsOnnx

    model = unity_model("basic")
    assert unsupported(model) is None and action_spec(model.head) == ml.ActionSpec(0, (3,))
    assert unsupported(dataclasses.replace(model, unity=None)) == "not a Unity game"
    assert MLAgentsOnnx().skipped("not a Unity game") == {"mlagents": None}  # nothing said for other games
    random = unsupported(dataclasses.replace(model, stochastic="an LSTM's state"))
    assert random is not None and "random" in random
    shifted = dataclasses.replace(model, head=ActionHead(CATEGORICAL, 3, start=1))
    assert unsupported(shifted) == "ML-Agents' discrete actions start at 0"
    wrong = dataclasses.replace(model, unity=ml.UnityBehavior(("Basic",), ((21,),)))
    assert "not the game's sensors" in str(unsupported(wrong))
    assert MLAgentsOnnx().skipped("why")["mlagents_skipped"] == "why"


def test_a_multi_agent_game_has_one_file_per_behavior_side_by_side(tmp_path: Path) -> None:
    """Each behavior's policy in model/mlagents/<Behavior>.onnx; a policy shared by two behaviors: a file each."""
    models = {
        "3DBall_team=0": unity_model("3dball"),
        "shared": unity_model("basic", names=("Striker?team=0", "Goalie?team=1")),
    }
    section = export_policies(tmp_path, models)
    assert section["policies"]["3DBall_team=0"]["mlagents"] == ["mlagents/3DBall.onnx"]
    assert section["policies"]["shared"]["mlagents"] == ["mlagents/Goalie.onnx", "mlagents/Striker.onnx"]
    assert sorted(p.name for p in (tmp_path / "mlagents").iterdir()) == ["3DBall.onnx", "Goalie.onnx", "Striker.onnx"]
    assert not (tmp_path / "policies" / "shared" / "mlagents").exists()
    check_mlagents_model(tmp_path / "mlagents" / "Goalie.onnx", [(20,)], ml.ActionSpec(0, (3,)))


def test_the_behavior_comes_from_the_model_folder(tmp_path: Path) -> None:
    from runtime.backends.rllib.unity_behaviors import unity_behavior

    box = {"type": "Box", "shape": [20], "dtype": "float32"}
    camera = {"type": "Box", "shape": [8, 20, 3], "dtype": "float32"}
    (tmp_path / "config.json").write_text(json.dumps({"env": "Unity", "env_config": {"env_name": "my_game.x86_64"}}))
    (tmp_path / "metadata.json").write_text(
        json.dumps({"observation_space": {"type": "Tuple", "spaces": [camera, box]}})
    )
    assert unity_behavior(tmp_path, None) == ml.UnityBehavior(("my_game",), ((8, 20, 3), (20,)))
    (tmp_path / "config.json").write_text(json.dumps({"env": "Unity", "env_config": {"behavior_name": "Roller"}}))
    assert unity_behavior(tmp_path, None).names == ("Roller",)  # type: ignore[union-attr]
    (tmp_path / "config.json").write_text(json.dumps({"env": "unity-multi:3DBall", "env_config": {}}))
    (tmp_path / "metadata.json").write_text(
        json.dumps({"observation_space": {"type": "Dict", "spaces": {"3DBall_team=0": {**box, "shape": [8]}}}})
    )
    assert unity_behavior(tmp_path, "3DBall_team=0") == ml.UnityBehavior(("3DBall",), ((8,),))
    (tmp_path / "config.json").write_text(json.dumps({"env": "CartPole-v1"}))
    assert unity_behavior(tmp_path, None) is None
    assert ml.file_name("3DBall?team=0") == "3DBall.onnx" and ml.file_name("a/b?team=1") == "a_b.onnx"


class _Backend:
    """A backend that rebuilds the given serving model from any model folder (``rlrt export --check``)."""

    def __init__(self, model: ServingModel) -> None:
        self.model = model

    def require_backend_for_model(self, model_dir: Path, metadata: Any) -> _Backend:
        return self

    def serving_model(self, model_dir: Path) -> ServingModel:
        return self.model


def test_rlrt_export_check_names_a_broken_or_missing_file(
    exported: dict[str, tuple[Path, dict[str, Any]]], tmp_path: Path
) -> None:
    import io
    import shutil

    from runtime.errors import UserError
    from runtime.export.pipeline import check_mlagents_folder
    from runtime.train.manifest import write_manifest

    model = unity_model("two_branches")
    folder = tmp_path / "model"
    shutil.copytree(exported["two_branches"][0], folder)
    (folder / "metadata.json").write_text("{}")
    write_manifest(folder)
    out = io.StringIO()
    check_mlagents_folder(folder, _Backend(model), out)  # type: ignore[arg-type]
    assert out.getvalue().startswith("rlrt: mlagents/Basic.onnx passes ML-Agents' loader rules")
    other = unity_model("two_branches", seed=1)  # another policy than the file's: its greedy actions differ
    with pytest.raises(UserError, match="deterministic_discrete_actions differ"):
        check_mlagents_folder(folder, _Backend(other), out)  # type: ignore[arg-type]
    (folder / "mlagents" / "Basic.onnx").unlink()
    write_manifest(folder)
    with pytest.raises(UserError, match=r"Basic.onnx is missing: `rlrt export --model-dir"):
        check_mlagents_folder(folder, _Backend(model), out)  # type: ignore[arg-type]
    with pytest.raises(UserError, match="holds no Unity policy"):
        check_mlagents_folder(folder, _Backend(dataclasses.replace(model, unity=None)), out)  # type: ignore[arg-type]
