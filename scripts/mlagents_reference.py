"""ML-Agents' own export of a policy for each stand-in game's behavior spec, as the independent reference for rlrt's
``mlagents/<Behavior>.onnx`` (tests/unit/test_mlagents_export.py compares the signatures).

Runs in a side environment with the ``mlagents`` trainer package (1.1.0), never in rlrt's pinned one::

    python3.11 -m venv /tmp/mlagents-ref
    /tmp/mlagents-ref/bin/pip install --no-deps --ignore-requires-python mlagents==1.1.0 mlagents_envs==1.1.0
    /tmp/mlagents-ref/bin/pip install "cattrs<1.7,>=1.1.0" attrs numpy==1.23.5
    echo "$(rlrt's venv)/lib/python3.11/site-packages" > /tmp/mlagents-ref/lib/python3.11/site-packages/rlrt.pth
    PYTHONPATH=. /tmp/mlagents-ref/bin/python scripts/mlagents_reference.py tests/data/mlagents_reference

(mlagents 1.1.0 declares Python <= 3.10.12 and numpy < 1.24; its torch code runs on rlrt's torch, whose ONNX
exporter it is given as in its own release: the TorchScript-based one.) Each spec's signature (names, order,
element types, shapes with None for a dynamic dimension, the constant outputs' values, the opset) is written as
``<spec>.json``; each of ML-Agents' own files must also pass rlrt's checker.
"""

from __future__ import annotations

import functools
import json
import sys
import tempfile
from pathlib import Path

# name: (observation shapes as mlagents-envs 0.28 / the stand-in player give them (a camera (H, W, C)),
#        continuous size, discrete branches)
SPECS = {
    "basic": ([(20,)], 0, (3,)),
    "two_branches": ([(20,)], 0, (3, 2)),
    "3dball": ([(8,)], 2, ()),
    "visual": ([(8, 20, 3), (20,)], 0, (3,)),
    "hybrid": ([(20,)], 2, (3, 2)),
}


def mlagents_export(shapes: list[tuple[int, ...]], continuous: int, branches: tuple[int, ...], path: Path) -> None:
    import torch  # heavy: torch (~1.5 s)
    from mlagents.trainers.policy.torch_policy import TorchPolicy  # heavy: ML-Agents' trainer
    from mlagents.trainers.settings import EncoderType, NetworkSettings  # heavy: ML-Agents' trainer
    from mlagents.trainers.torch_entities.model_serialization import ModelSerializer  # heavy: ML-Agents' trainer
    from mlagents.trainers.torch_entities.networks import SimpleActor  # heavy: ML-Agents' trainer
    from mlagents_envs.base_env import (  # heavy: ML-Agents
        ActionSpec,
        BehaviorSpec,
        DimensionProperty,
        ObservationSpec,
        ObservationType,
    )

    torch.onnx.export = functools.partial(torch.onnx.export, dynamo=False)  # mlagents 1.1.0's torch had no other
    specs = []
    for shape in shapes:
        if len(shape) == 3:  # ML-Agents 3.x+ describes a camera channel-first
            shape = (shape[2], shape[0], shape[1])
            dims = (
                DimensionProperty.NONE,
                DimensionProperty.TRANSLATIONAL_EQUIVARIANCE,
                DimensionProperty.TRANSLATIONAL_EQUIVARIANCE,
            )
        else:
            dims = (DimensionProperty.NONE,)
        specs.append(ObservationSpec(shape, dims, ObservationType.DEFAULT, "sensor"))
    spec = BehaviorSpec(specs, ActionSpec(continuous, branches))
    settings = NetworkSettings(normalize=True, hidden_units=16, num_layers=1, vis_encode_type=EncoderType.MATCH3)
    policy = TorchPolicy(0, spec, settings, SimpleActor, {"conditional_sigma": False, "tanh_squash": False})
    ModelSerializer(policy).export_policy_model(str(path.with_suffix("")))


def main(out: Path) -> None:
    from runtime.export.mlagents_check import check_mlagents_model, read_signature
    from runtime.export.mlagents_names import ActionSpec

    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for name, (shapes, continuous, branches) in SPECS.items():
            path = Path(scratch) / f"{name}.onnx"
            mlagents_export(shapes, continuous, branches, path)
            check_mlagents_model(path, shapes, ActionSpec(continuous, branches))  # rlrt's checker takes it
            signature = read_signature(path)
            signature.pop("batch_names")  # the exporter's own names for unnamed dimensions
            signature["made_by"] = "scripts/mlagents_reference.py with mlagents 1.1.0"
            (out / f"{name}.json").write_text(json.dumps(signature, indent=1) + "\n")
            print(f"{name}: {[i['name'] for i in signature['inputs']]} -> {[o['name'] for o in signature['outputs']]}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "tests/data/mlagents_reference"))
