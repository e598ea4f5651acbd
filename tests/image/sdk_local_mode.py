"""The SageMaker Python SDK's local mode as the real client of the image (run in the SDK's own environment, see
requirements/sdk.in): `RLEstimator(image_uri=IMAGE, instance_type="local")`, `fit()` with local code and a `file://`
input, then `deploy(instance_type="local")` and `predict()` with seed 000's request.

    python sdk_local_mode.py IMAGE WORKDIR   -> prints the prediction as JSON on its last line; exit 0 on success

Every container the SDK starts carries the label ``RUN_LABEL=$RLRT_IMAGE_RUN`` (``local.container_config``).
No AWS: dummy credentials and region, `LocalSession` with `local_code: True` (the source dir is mounted, not
uploaded), a `file://` output path and a named code location (no default bucket, so no STS or S3 call), telemetry
off.
"""

from __future__ import annotations

import json
import os
import runpy
import shutil
import sys
from pathlib import Path

import boto3
from sagemaker.deserializers import JSONDeserializer
from sagemaker.local import LocalSession
from sagemaker.predictor import Predictor
from sagemaker.rl import RLEstimator
from sagemaker.serializers import JSONSerializer

REPO_ROOT = Path(__file__).resolve().parents[2]
# By path: the SDK's environment has a top-level `tests` package of its own that shadows this one.
_INPUTS = runpy.run_path(str(Path(__file__).with_name("inputs.py")))
TINY_REACHER, SEED_REQUEST, RUN_LABEL = _INPUTS["TINY_REACHER"], _INPUTS["SEED_REQUEST"], _INPUTS["RUN_LABEL"]

HYPERPARAMETERS = {k: v for k, v in TINY_REACHER.items() if k != "preset"}  # the entry point names the preset
HYPERPARAMETERS["rl.training.stop.training_iteration"] = 1


def main(image: str, workdir: Path) -> int:
    """Train, deploy and predict through the SDK's local mode; print the prediction."""
    source = workdir / "src"
    source.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO_ROOT / "entrypoints" / "train-reacher.py", source / "train-reacher.py")
    notes = workdir / "input-notes"
    notes.mkdir(exist_ok=True)
    (notes / "README.txt").write_text("a file:// channel the SDK mounts as /opt/ml/input/data/notes\n")
    output = workdir / "output"
    output.mkdir(exist_ok=True)

    boto_session = boto3.Session(aws_access_key_id="local", aws_secret_access_key="local", region_name="us-west-2")
    # The SDK's own switches: telemetry off (it would call an S3 endpoint), local code (mounted, not uploaded).
    session = LocalSession(
        boto_session=boto_session,
        sagemaker_config={"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}},
    )
    # container_config: what the SDK adds to every container it starts (its compose services): the run's label.
    session.config = {
        "local": {"local_code": True, "container_config": {"labels": {RUN_LABEL: os.environ["RLRT_IMAGE_RUN"]}}}
    }
    estimator = RLEstimator(
        entry_point="train-reacher.py",
        source_dir=str(source),
        image_uri=image,
        role="arn:aws:iam::111111111111:role/local-mode",
        instance_count=1,
        instance_type="local",
        output_path=f"file://{output}",
        # deploy() resolves a code bucket before it checks for local code (sagemaker/model.py, _upload_code): naming
        # one here skips the default bucket's STS call; with local code nothing is uploaded to it.
        code_location="s3://rlrt-local-mode/code",
        sagemaker_session=session,
        hyperparameters=HYPERPARAMETERS,
    )
    estimator.fit(inputs={"notes": f"file://{notes}"}, wait=True, logs=True)
    print(f"sdk: model data {estimator.model_data}", flush=True)
    # deploy() returns None for an image_uri model (RLEstimator.create_model gives a FrameworkModel without a
    # predictor class), so the SDK's own Predictor is attached to the endpoint by name, as one attaches to any endpoint.
    endpoint = "rlrt-local-mode"
    estimator.deploy(initial_instance_count=1, instance_type="local", endpoint_name=endpoint)
    predictor = Predictor(
        endpoint, sagemaker_session=session, serializer=JSONSerializer(), deserializer=JSONDeserializer()
    )
    try:
        result = predictor.predict(SEED_REQUEST)
    finally:
        predictor.delete_endpoint()
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], Path(sys.argv[2])))
