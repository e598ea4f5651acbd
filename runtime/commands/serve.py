"""``rlrt serve``: serve a model over HTTP (``/ping``, ``/invocations``), as the image's ``serve``."""

from __future__ import annotations

import argparse
from typing import Sequence

from runtime.commands.options import RAW, user_path
from runtime.errors import command_failure_file, run_job
from runtime.serving.server import run_server


def add_parser(sub: argparse._SubParsersAction) -> None:
    serve = sub.add_parser(
        "serve",
        help="serve a model over HTTP (/ping, /invocations), as the image's `serve`",
        description=(
            "Serve a trained model's ONNX policy (gunicorn worker processes, each serving with hypercorn): GET "
            "/ping, POST /invocations (application/json TensorFlow-Serving style 'inputs' or 'instances', "
            "application/jsonlines, text/csv). Settings default "
            "to SageMaker's variables: SAGEMAKER_BIND_TO_PORT (8080), SAGEMAKER_MODEL_SERVER_WORKERS (CPUs), "
            "SAGEMAKER_MODEL_SERVER_TIMEOUT (60 s)."
        ),
        epilog=(
            "examples:\n"
            "  rlrt serve                                  # /opt/ml/model (or $SAGEMAKER_BASE_DIR/model)\n"
            "  rlrt serve --model rlrt-jobs/cartpole-ppo-20260101-120000/model --port 8081\n"
            "  rlrt serve --model model.tar.gz --workers 4\n"
            "  curl -s localhost:8080/invocations -H 'Content-Type: application/json' \\\n"
            '       -d \'{"inputs": {"observations": [[0.0, 0.1, 0.0, -0.1]]}}\''
        ),
        formatter_class=RAW,
    )
    serve.add_argument(
        "--model", type=user_path, help="model folder or model.tar.gz (default: $SAGEMAKER_BASE_DIR/model)"
    )
    serve.add_argument("--host", help="address to bind (default 0.0.0.0)")
    serve.add_argument("--port", type=int, help="port (default $SAGEMAKER_BIND_TO_PORT or 8080)")
    serve.add_argument("--workers", type=int, help="worker processes (default $SAGEMAKER_MODEL_SERVER_WORKERS or CPUs)")
    serve.add_argument(
        "--timeout", type=int, help="worker timeout in s (default $SAGEMAKER_MODEL_SERVER_TIMEOUT or 60)"
    )
    serve.set_defaults(run=run)


def run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    """Serve until stopped, through the one failure path (beside jobs: no failure file of its own)."""
    return run_job(
        lambda: run_server(args.model, args.host, args.port, args.workers, args.timeout),
        failure_file=command_failure_file,
    )
