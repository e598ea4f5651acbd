"""Optional real S3 for the DeepRacer notebook: with ``s3_bucket`` set and an S3-compatible endpoint
(``AWS_ENDPOINT_URL``: here moto's standalone S3 server on loopback, as deepracer-for-cloud uses MinIO), the job reads
the notebook's keys (no train channel at all) and writes ``training_metrics.json``, the simtrace and the mp4s back under
its prefix; an endpoint that refuses fails the job naming it. Without an endpoint or credentials nothing touches S3 (the
other DeepRacer tests pass ``s3_bucket`` too)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.cluster.node import free_ports
from tests.conftest import make_job_tree
from tests.jobs.test_deepracer_notebook_jobs import NOTEBOOK, STOP, run_worker
from tests.unit.test_deepracer_runtime import METADATA, REWARD

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


@pytest.fixture
def s3_server(monkeypatch: pytest.MonkeyPatch):
    from moto.server import ThreadedMotoServer

    for name, value in CREDENTIALS.items():
        monkeypatch.setenv(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.mark.slow
def test_the_notebook_keys_on_an_s3_compatible_store(tmp_path: Path, s3_server: str) -> None:
    import boto3

    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    bucket, prefix = NOTEBOOK["s3_bucket"], NOTEBOOK["s3_prefix"]
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=NOTEBOOK["reward_function_s3_source"], Body=REWARD.encode())
    s3.put_object(Bucket=bucket, Key=NOTEBOOK["model_metadata_s3_key"], Body=json.dumps(METADATA).encode())
    s3.put_object(Bucket=bucket, Key=f"{prefix}/training_params.yaml", Body=b"WORLD_NAME: oval_cw\n")

    tree = make_job_tree(tmp_path / "ml", {**NOTEBOOK, **STOP})
    run = run_worker(tree.base, AWS_ENDPOINT_URL=s3_server, **CREDENTIALS)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"rlrt: S3 (AWS_ENDPOINT_URL={s3_server}" in run.stdout and "track 'oval_cw'" in run.stdout
    keys = {item["Key"] for item in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]}
    assert f"{prefix}/training_metrics.json" in keys
    assert f"{prefix}/iteration-data/training/training-simtrace/0-iteration.csv" in keys, keys
    videos = sorted(p.name for p in tree.intermediate.rglob("*.mp4"))
    assert videos and {f"{prefix}/iteration-data/training/{name}" for name in videos} <= keys, (videos, keys)
    metrics = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}/training_metrics.json")["Body"].read())
    assert metrics == json.loads((tree.intermediate / "training_metrics.json").read_text())
    assert any(m["phase"] == "training" for m in metrics["metrics"])

    # The next job warm-starts from that model read from S3 (pretrained_s3_bucket / pretrained_s3_prefix).
    for path in tree.model.rglob("*"):
        if path.is_file():
            s3.upload_file(str(path), bucket, f"{prefix}/model/{path.relative_to(tree.model).as_posix()}")
    nxt = make_job_tree(
        tmp_path / "next", {**NOTEBOOK, **STOP, "pretrained_s3_bucket": bucket, "pretrained_s3_prefix": prefix}
    )
    run = run_worker(nxt.base, AWS_ENDPOINT_URL=s3_server, **CREDENTIALS)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"(pretrained_s3_prefix '{prefix}': PPO on DeepRacer-v0, trained 1 iteration(s)" in run.stdout


def test_an_s3_endpoint_that_refuses_is_named(tmp_path: Path) -> None:
    port = free_ports(1)[0]  # a port nothing listens on
    endpoint = f"http://127.0.0.1:{port}"
    tree = make_job_tree(tmp_path / "ml", {**NOTEBOOK, **STOP})
    run = run_worker(tree.base, AWS_ENDPOINT_URL=endpoint, **CREDENTIALS)
    assert run.returncode == 2, run.stdout[-2000:] + run.stderr[-2000:]
    failure = tree.failure.read_text()
    assert f"endpoint {endpoint}" in failure and f"s3://{NOTEBOOK['s3_bucket']}/" in failure, failure
    assert "Traceback" not in run.stderr
