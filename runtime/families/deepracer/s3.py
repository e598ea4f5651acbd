"""Optional real S3 for DeepRacer jobs, never required: with ``s3_bucket`` set and an S3 endpoint configured, the job
reads its inputs from the notebook's keys and writes ``training_metrics.json``, the simtrace CSVs and mp4s back.

"Configured" means, without probing the network: ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL`` (an S3-compatible
store such as the MinIO of deepracer-for-cloud), or credentials boto3's default chain reads from the environment or
files (access keys, a profile, web identity, the SageMaker/ECS container credentials). Otherwise the job uses the
train channel and ``output/`` only and boto3 is not even imported. An endpoint that refuses, a missing bucket or key
is a UserError naming the endpoint and the ``s3://`` URI.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Mapping

from runtime.errors import UserError
from runtime.families.deepracer.dialect import SIMTRACE_DIR, TRAINING_METRICS
from runtime.families.deepracer.files import s3_key

ENDPOINT_ENVS = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
CREDENTIAL_ENVS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_PROFILE",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
)
METRICS_KEY = "training_metrics.json"
ITERATION_DATA = "iteration-data/training"
"""The notebook's SIMTRACE_S3_PREFIX / MP4_S3_OBJECT_PREFIX below ``s3_prefix``."""


def s3_configured(environ: Mapping[str, str] | None = None) -> str | None:
    """How S3 is configured (a short description), or None: no endpoint and no credentials, S3 is not used."""
    env = os.environ if environ is None else environ
    for name in ENDPOINT_ENVS:
        if env.get(name):
            return f"{name}={env[name]}"
    for name in CREDENTIAL_ENVS:
        if env.get(name):
            return f"credentials from {name}"
    files = [Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or Path.home() / ".aws" / "credentials")]
    return next((f"credentials in {f}" for f in files if f.is_file()), None)


class S3Store:
    """The job's bucket through boto3 (imported here only)."""

    def __init__(self, bucket: str, region: str | None, how: str) -> None:
        import boto3  # heavy: boto3 (optional S3 only)
        from botocore.config import Config  # heavy: botocore (optional S3 only)

        self.bucket, self.how = bucket, how
        self.client = boto3.client(
            "s3",
            region_name=region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1",
            config=Config(retries={"max_attempts": 2}, connect_timeout=5, read_timeout=30),
        )
        self.endpoint = self.client.meta.endpoint_url

    def failure(self, action: str, key: str, exc: Exception) -> UserError:
        return UserError(
            f"S3 ({self.how}, endpoint {self.endpoint}): cannot {action} s3://{self.bucket}/{key}: "
            f"{type(exc).__name__}: {exc}. Unset the endpoint/credentials to use the train channel only."
        )

    def exists(self, key: str) -> bool:
        """Whether the object ``key`` exists (False for a 404; other errors raise a UserError)."""
        from botocore.exceptions import BotoCoreError, ClientError  # heavy: botocore (optional S3 only)

        try:
            self.client.head_object(Bucket=self.bucket, Key=key)
            return True
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in ("404", "NoSuchKey", "NotFound"):
                return False
            raise self.failure("read", key, exc) from None
        except BotoCoreError as exc:
            raise self.failure("reach", key, exc) from None

    def download(self, key: str, target: Path) -> Path:
        from botocore.exceptions import BotoCoreError, ClientError  # heavy: botocore (optional S3 only)

        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.client.download_file(self.bucket, key, str(target))
        except (BotoCoreError, ClientError) as exc:
            raise self.failure("download", key, exc) from None
        return target

    def download_prefix(self, prefix: str, root: Path) -> list[Path]:
        """Every object under ``prefix/`` into ``root/<key>``."""
        from botocore.exceptions import BotoCoreError, ClientError  # heavy: botocore (optional S3 only)

        found = []
        try:
            for page in self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=prefix.rstrip("/") + "/"
            ):
                for item in page.get("Contents", []):
                    found.append(self.download(item["Key"], root / item["Key"]))
        except (BotoCoreError, ClientError) as exc:
            raise self.failure("list", prefix + "/", exc) from None
        return found

    def upload(self, path: Path, key: str) -> None:
        from botocore.exceptions import BotoCoreError, ClientError  # heavy: botocore (optional S3 only)

        try:
            self.client.upload_file(str(path), self.bucket, key)
        except (BotoCoreError, ClientError) as exc:
            raise self.failure("upload", key, exc) from None


def open_store(extras: Mapping[str, Any], out: Any = None) -> S3Store | None:
    """The job's S3 store when ``s3_bucket`` is given and S3 is configured, else None (nothing touched)."""
    bucket = str(extras.get("s3_bucket") or "").strip()
    how = s3_configured() if bucket else None
    if not how:
        return None
    store = S3Store(bucket, extras.get("aws_region"), how)
    try:
        store.client.head_bucket(Bucket=bucket)
    except Exception as exc:  # noqa: BLE001 - refused connection, unknown bucket, denied: all the user's to fix
        raise store.failure("reach the bucket of", "", exc) from None
    if out is not None:
        print(
            f"rlrt: S3 ({how}, endpoint {store.endpoint}): reading inputs from and writing outputs to s3://{bucket}/",
            file=out,
            flush=True,
        )
    return store


def stage_inputs(store: S3Store, extras: Mapping[str, Any], root: Path) -> Path:
    """Download the notebook's inputs (the reward function, model_metadata.json, training_params.yaml under
    ``s3_prefix``, and the pretrained prefix) into ``root`` laid out as the bucket; returns ``root`` (used as the
    train channel)."""
    prefix = s3_key(extras.get("s3_prefix") or "")
    for name in ("model_metadata_s3_key", "reward_function_s3_source"):
        if extras.get(name):
            key = s3_key(extras[name])
            if not store.exists(key):
                raise UserError(
                    f"{name} names s3://{store.bucket}/{key}, which does not exist (S3 {store.how}, "
                    f"endpoint {store.endpoint})."
                )
            store.download(key, root / key)
    if prefix:
        key = f"{prefix}/training_params.yaml"
        if store.exists(key):
            store.download(key, root / key)
    pretrained = s3_key(extras.get("pretrained_s3_prefix") or "")
    if pretrained:
        source = S3Store(str(extras.get("pretrained_s3_bucket") or store.bucket), extras.get("aws_region"), store.how)
        source.download_prefix(pretrained, root)
    root.mkdir(parents=True, exist_ok=True)
    return root


class OutputSync:
    """Uploads the DeepRacer outputs under ``output/intermediate`` to the notebook's keys as they change."""

    def __init__(self, store: S3Store, extras: Mapping[str, Any], intermediate: Path) -> None:
        prefix = s3_key(extras.get("s3_prefix") or "")
        self.store, self.intermediate = store, intermediate
        self.metrics_key = s3_key(extras.get("metrics_s3_object_key") or f"{prefix}/{METRICS_KEY}".lstrip("/"))
        self.iteration_prefix = s3_key(extras.get("simtrace_s3_prefix") or f"{prefix}/{ITERATION_DATA}".lstrip("/"))
        self.sent: dict[Path, tuple[int, int]] = {}

    def sync(self) -> None:
        """Upload what is new or changed: training_metrics.json, simtrace CSVs, mp4s."""
        metrics = self.intermediate / TRAINING_METRICS
        self._send(metrics, self.metrics_key)
        traces = self.intermediate / SIMTRACE_DIR.parent
        for path in sorted(traces.rglob("*.csv")) if traces.is_dir() else []:
            self._send(path, f"{self.iteration_prefix}/{path.relative_to(traces).as_posix()}")
        for path in sorted(self.intermediate.rglob("*.mp4")):
            self._send(path, f"{self.iteration_prefix}/{path.name}")

    def _send(self, path: Path, key: str) -> None:
        if not path.is_file():
            return
        stat = path.stat()
        stamp = (stat.st_size, stat.st_mtime_ns)
        if self.sent.get(path) != stamp:
            self.store.upload(path, key)
            self.sent[path] = stamp
