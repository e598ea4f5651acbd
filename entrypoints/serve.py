"""The image's `serve` (SageMaker endpoints and Batch Transform run `docker run IMAGE serve`): serve /opt/ml/model.

Port, workers and timeout come from SAGEMAKER_BIND_TO_PORT, SAGEMAKER_MODEL_SERVER_WORKERS and
SAGEMAKER_MODEL_SERVER_TIMEOUT; see `rlrt serve --help`. Extra arguments are passed on to `rlrt serve`.
"""

import sys

from runtime.cli import main

if __name__ == "__main__":
    sys.exit(main(["serve", *sys.argv[1:]]))
