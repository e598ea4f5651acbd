"""SageMaker serving handlers, copied into ``model.tar.gz`` as ``code/inference.py`` (next to ``rlrt_codec.py`` and
``rlrt_number_rows.py``).

- SageMaker's **PyTorch** serving container calls ``model_fn`` / ``input_fn`` / ``predict_fn`` / ``output_fn``:
  the TorchScript policy ``policy.pt`` answers the same requests as ``rlrt serve``.
- SageMaker's **TensorFlow Serving** container calls ``input_handler`` / ``output_handler`` around TensorFlow
  Serving (which serves ``1/``): requests in any of rlrt's formats (including the seeds' columnar request with
  placeholder inputs) become ``{"instances": [...]}`` for the ``observations``-only signature, and responses come
  back in rlrt's formats.

Neither container has rlrt installed, so this file needs only the standard library, numpy, ``rlrt_codec.py`` and
``rlrt_number_rows.py`` (rlrt's own request/response code) and, in ``model_fn``, torch.
"""

from __future__ import annotations

import json
import os

try:  # inside rlrt
    from runtime.serving import codec
except ImportError:  # inside a SageMaker serving container: the copy next to this file
    import rlrt_codec as codec  # type: ignore[no-redef]

import numpy as np

METADATA = "metadata.json"
TORCHSCRIPT = "policy.pt"


class _Model:
    def __init__(self, model_dir: str) -> None:
        import torch  # heavy: torch (~1.5 s)

        with open(os.path.join(model_dir, METADATA), encoding="utf-8") as handle:
            self.metadata = json.load(handle)
        self.observation_dim = codec.observation_dim_from_metadata(self.metadata)
        self.outputs = list(self.metadata["serving"]["outputs"])
        self.policy = torch.jit.load(os.path.join(model_dir, TORCHSCRIPT), map_location="cpu").eval()

    def predict(self, observations: np.ndarray) -> dict:
        import torch  # heavy: torch (~1.5 s)

        with torch.no_grad():
            results = self.policy(torch.as_tensor(observations, dtype=torch.float32))
        return {name: value.numpy() for name, value in zip(self.outputs, results)}


# --- SageMaker PyTorch serving container -----------------------------------------------------------------------


def model_fn(model_dir: str) -> _Model:
    """Load the TorchScript policy and its metadata."""
    return _Model(model_dir)


def input_fn(request_body, request_content_type):
    """Parse a request (JSON, JSON lines or CSV) into (observations, response style, request type)."""
    body = request_body.encode("utf-8") if isinstance(request_body, str) else bytes(request_body)
    return body, request_content_type


def predict_fn(input_data, model: _Model):
    """Run the policy; returns what ``output_fn`` encodes."""
    body, content_type = input_data
    try:
        decoded = codec.decode(body, content_type, model.observation_dim)
    except codec.RequestError as exc:
        raise _client_error(exc) from None
    return model.predict(decoded.observations), decoded


def output_fn(prediction, accept):
    """Encode the prediction in the accepted format."""
    outputs, decoded = prediction
    try:
        kind = codec.response_type(accept, decoded.content_type)
    except codec.RequestError as exc:
        raise _client_error(exc) from None
    return codec.encode(outputs, decoded.style, kind), kind


def _client_error(exc: Exception) -> Exception:
    """The toolkit's error type, so the container answers 4xx with the message instead of 500."""
    try:
        from sagemaker_inference.errors import GenericInferenceToolkitError  # heavy: SageMaker's inference toolkit
    except ImportError:  # outside the container (tests): the codec's own error
        return exc
    error: Exception = GenericInferenceToolkitError(getattr(exc, "status", 400), str(exc))
    return error


# --- SageMaker TensorFlow Serving container ----------------------------------------------------------------------


def _observation_dim() -> int | None:
    model_dir = os.environ.get("SM_MODEL_DIR", "/opt/ml/model")
    try:
        with open(os.path.join(model_dir, METADATA), encoding="utf-8") as handle:
            return codec.observation_dim_from_metadata(json.load(handle))
    except (OSError, ValueError, KeyError):
        return None


def input_handler(data, context):
    """rlrt request -> a TensorFlow Serving request for the ``observations``-only signature.

    Columnar requests stay columnar (``{"inputs": {"observations": ...}}``, placeholders dropped) and everything
    else becomes ``{"instances": ...}``, so TensorFlow Serving's answer (``outputs`` or ``predictions``) tells
    :func:`output_handler` which shape to answer in (the container's context is immutable).
    """
    body = data.read() if hasattr(data, "read") else data
    body = body.encode("utf-8") if isinstance(body, str) else bytes(body)
    dim = _observation_dim()
    if dim is None:
        raise ValueError("metadata.json with the observation shape is missing from the model")
    decoded = codec.decode(body, getattr(context, "request_content_type", None), dim)
    codec.response_type(getattr(context, "accept_header", None), decoded.content_type)  # 406 before inference
    if decoded.style == codec.COLUMNAR:
        return json.dumps({"inputs": {codec.OBSERVATIONS: decoded.observations.tolist()}})
    return json.dumps({"instances": decoded.observations.tolist()})


def output_handler(response, context):
    """TensorFlow Serving's answer -> rlrt's response formats (``outputs`` or ``predictions``)."""
    if response.status_code != 200:
        raise ValueError(response.content.decode("utf-8"))
    answer = json.loads(response.content.decode("utf-8"))
    if "outputs" in answer:
        style = codec.COLUMNAR
        raw = answer["outputs"]
        outputs = (
            {k: np.asarray(v) for k, v in raw.items()} if isinstance(raw, dict) else {codec.ACTIONS: np.asarray(raw)}
        )
    else:
        style = codec.ROWS
        predictions = answer["predictions"]
        if predictions and isinstance(predictions[0], dict):
            outputs = {name: np.asarray([p[name] for p in predictions]) for name in predictions[0]}
        else:
            outputs = {codec.ACTIONS: np.asarray(predictions)}
    request_type = codec.media_type(getattr(context, "request_content_type", None)) or codec.JSON
    kind = codec.response_type(getattr(context, "accept_header", None), request_type)
    return codec.encode(outputs, style, kind), kind
