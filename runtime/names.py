"""Every name a job shares with the world outside the code: environment variables, the job tree's paths, input
channels, the model folder's file names, output files and the serving tensors' names.

One module, so that a path in the ``/opt/ml`` contract or a file name in the model folder is spelled once
(docs/ARCHITECTURE.md). The layout of a job tree (``SAGEMAKER_BASE_DIR``, default ``/opt/ml``)::

    <base>/input/config/{hyperparameters,resourceconfig,inputdataconfig}.json
    <base>/input/data/<channel>/
    <base>/code/             the job's source_dir
    <base>/model/            final artefacts (the file names under "the model folder" below)
    <base>/checkpoints/      periodic checkpoints
    <base>/output/failure    one clear reason when the job fails
    <base>/output/intermediate/, <base>/output/tensorboard/, <base>/output/data/ (its checkpoint/: the last checkpoint)
"""

from __future__ import annotations

from pathlib import Path

# ----- environment variables -------------------------------------------------------------------------------------
BASE_DIR_ENV = "SAGEMAKER_BASE_DIR"
"""Root of the job tree (honoured by sagemaker-training); default :data:`DEFAULT_BASE_DIR`."""
NUM_CPUS_ENV = "SM_NUM_CPUS"
NUM_GPUS_ENV = "SM_NUM_GPUS"
MODEL_DIR_ENV = "SM_MODEL_DIR"
MODULE_DIR_ENV = "SM_MODULE_DIR"
"""Where SageMaker put the job's code (``source_dir``); used only when it is a local folder, else
:data:`CODE_DIR_IN_TREE`."""
TF_PYTHON_ENV = "RLRT_TF_PYTHON"
"""The python of the TensorFlow environment (scripts/install-tf.sh); unset or empty: no SavedModel."""
TIMINGS_ENV = "RLRT_TIMINGS"
"""``1``: print the start-up and finish timeline (``rlrt-timing: <phase> <seconds since process start>``) to stderr."""

DEFAULT_BASE_DIR = Path("/opt/ml")

# ----- the job tree ----------------------------------------------------------------------------------------------
CONFIG_DIR = Path("input") / "config"
DATA_DIR = Path("input") / "data"
HYPERPARAMETERS_JSON = "hyperparameters.json"
RESOURCE_CONFIG_JSON = "resourceconfig.json"
INPUT_DATA_CONFIG_JSON = "inputdataconfig.json"
LOCAL_TREE_FILE = CONFIG_DIR / ".rlrt-local-tree"
"""Marks a tree ``rlrt train`` laid out itself (not SageMaker, docker or a user): a rerun there stores its options in
the tree's ``hyperparameters.json`` as the first run did, and ``--force`` removes them."""
MODEL_DIR = "model"
CHECKPOINTS_DIR = "checkpoints"
OUTPUT_DIR = "output"
FAILURE_FILE = Path(OUTPUT_DIR) / "failure"
INTERMEDIATE_DIR = Path(OUTPUT_DIR) / "intermediate"
TENSORBOARD_DIR = Path(OUTPUT_DIR) / "tensorboard"
OUTPUT_DATA_DIR = Path(OUTPUT_DIR) / "data"
OUTPUT_CHECKPOINT_DIR = OUTPUT_DATA_DIR / "checkpoint"
"""The final checkpoint, loadable as a model (SageMaker tars ``output/data`` into ``output.tar.gz``; the Batch RL seed
extracts it and passes ``checkpoint/`` to evaluation in the ``checkpoint`` channel)."""
EVALUATION_DIR = Path(OUTPUT_DIR) / "evaluation"
"""``rlrt evaluate`` of a model in a job tree writes beside it, ``<tree>/output/evaluation/<time>/`` (videos,
``evaluation.json``), not into a tree of its own."""
CODE_DIR_IN_TREE = "code"
"""``<base>/code`` (``/opt/ml/code``): the job's ``source_dir``; offline data is looked for there without a ``train``
channel."""

# ----- input channels --------------------------------------------------------------------------------------------
CHANNEL_TRAIN = "train"
"""Offline datasets, a Unity game, DeepRacer's reward function / model_metadata.json / track."""
CHANNEL_MODEL = "model"
"""A trained model to evaluate or serve."""
CHANNEL_CHECKPOINT = "checkpoint"
"""The seeds' legacy restore channel (Coach flows)."""
CHANNEL_PRETRAINED = "pretrained"
"""Warm start: a model folder, ``model.tar.gz`` or checkpoint whose weights a new job starts from (fresh counters)."""

# ----- the model folder ------------------------------------------------------------------------------------------
CHECKPOINT_DIR = "checkpoint"
"""The framework's own checkpoint inside the model folder."""
CONFIG_JSON = "config.json"
CONFIG_YAML = "config.yaml"
METADATA_JSON = "metadata.json"
TORCHSCRIPT_FILE = "policy.pt"
ONNX_FILE = "policy.onnx"
POLICY_SPEC_FILE = "policy_spec.json"
POLICY_WEIGHTS_FILE = "policy_weights.npz"
SAVEDMODEL_DIR = "1"
CODE_DIR = "code"
POLICIES_DIR = "policies"
"""A multi-agent model's exports: ``policies/<policy id>/`` holds each policy's (the same files as a single one's)."""
SERVE_POLICY_ENV = "RLRT_POLICY"
"""Which policy of a multi-agent model ``rlrt serve`` / ``transform`` serve (not needed when it has one)."""
SCRIPT_SOURCE_DIR = "source"
"""A launcher job's training script (and the source-dir modules it imports), kept in the model folder so that
``rlrt evaluate`` can register the script's own environment again; with :data:`SCRIPT_ENVIRONMENT_JSON`."""
SCRIPT_ENVIRONMENT_JSON = "rlrt_environment.json"
"""In :data:`SCRIPT_SOURCE_DIR`: ``{"entry_point": <the script>, "registered": <the name it registered>}``."""
D3RLPY_MODEL_FILE = "model.d3"
"""d3rlpy's own model file in a d3rlpy checkpoint (the Batch RL seed's ``checkpoint`` channel holds one bare)."""

# ----- outputs ---------------------------------------------------------------------------------------------------
EVALUATION_JSON = "evaluation.json"
STATE_FILE = "rlrt_state.json"
"""Our counters inside each checkpoint (and what wrote it: algorithm, environment, spaces)."""
MANIFEST_FILE = "rlrt_manifest.json"
"""Written last into each checkpoint: every file's size and sha256."""
JOB_LOCK_FILE = Path(OUTPUT_DIR) / ".rlrt-training.lock"
"""Held (``flock``) by the training job of a tree for as long as it runs; it names the job's pid."""
FAILURE_ROOM_FILE = ".rlrt-failure-room"
"""Held beside ``output/failure`` while a training job runs, removed as it ends: room for the failure file on a disk
that filled up (:func:`runtime.errors.keep_room_for_failure`)."""
DAMAGED_SUFFIX = ".damaged"
"""A damaged checkpoint is renamed to ``checkpoint_<iteration>.damaged`` (never resumed from, never pruned)."""

# ----- serving tensors -------------------------------------------------------------------------------------------
OBSERVATIONS = "observations"
ACTIONS = "actions"
ACTION_PROBABILITIES = "action_probabilities"
Q_VALUES = "q_values"
STATE_VALUE = "state_value"
