"""SageMaker Python SDK 3's `ModelTrainer` in local container mode as the real client of the image (run in SDK 3's own
environment, see requirements/sdk3.in), the two ways an SDK 3 user starts a training job:

    python sdk3_model_trainer.py IMAGE ROOT image    -> ModelTrainer(training_image=IMAGE): the image runs with no
                                                        command, as SageMaker starts a bring-your-own-container job
    python sdk3_model_trainer.py IMAGE ROOT source   -> and SourceCode(entry_script="train-reacher.py"): SDK 3's own
                                                        driver scripts run the seed's entry point in the image

Both give the dotted `rl.training.*` names nested under one `rl` object (docs/SAGEMAKER.md's SDK 3 form: SDK 3
exports each hyperparameter as a shell variable, which a dotted name cannot be). ROOT is the `local_container_root`:
the SDK writes its compose file and the job's folders there, and the docker-compose project (and so every container's
`com.docker.compose.project.working_dir` label) is ROOT. Prints the `model.tar.gz` path as JSON on its last line.
No AWS: dummy credentials and region; local mode opens a session only for S3 inputs or an ECR image, neither used.
"""

from __future__ import annotations

import json
import runpy
import shutil
import sys
from pathlib import Path
from typing import Any

from sagemaker.train import ModelTrainer
from sagemaker.train.configs import Compute, SourceCode
from sagemaker.train.model_trainer import Mode

REPO_ROOT = Path(__file__).resolve().parents[2]
# By path: the SDK's environment may have a top-level `tests` package of its own that shadows this one.
TINY_REACHER = runpy.run_path(str(Path(__file__).with_name("inputs.py")))["TINY_REACHER"]


def nested(dotted: dict[str, Any]) -> dict[str, Any]:
    """`{"rl.training.stop.x": 1, "preset": "p"}` -> `{"rl": {"training": {"stop": {"x": 1}}}, "preset": "p"}`."""
    tree: dict[str, Any] = {}
    for name, value in dotted.items():
        *parents, leaf = name.split(".")
        node = tree
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return tree


def main(image: str, root: Path, how: str) -> int:
    """Train one tiny Reacher iteration through ModelTrainer's local container mode; print the model's path."""
    hyperparameters = nested({**TINY_REACHER, "rl.training.stop.training_iteration": 1})
    source_code = None
    if how == "source":
        source = root.with_name(root.name + "-src")
        source.mkdir(parents=True, exist_ok=True)
        shutil.copy(REPO_ROOT / "entrypoints" / "train-reacher.py", source / "train-reacher.py")
        source_code = SourceCode(source_dir=str(source), entry_script="train-reacher.py")
        del hyperparameters["preset"]  # the entry point names it, as the seeds' scripts do
    root.mkdir(parents=True, exist_ok=True)
    trainer = ModelTrainer(
        training_image=image,
        training_mode=Mode.LOCAL_CONTAINER,
        role="arn:aws:iam::111111111111:role/local-mode",
        compute=Compute(instance_type="local_cpu", instance_count=1),
        local_container_root=str(root),
        source_code=source_code,
        hyperparameters=hyperparameters,
    )
    trainer.train(wait=True, logs=True)
    models = sorted(root.rglob("model.tar.gz"))
    print(json.dumps([str(path) for path in models]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2]), sys.argv[3]))
