"""Coach's serving answer: a model trained from a Coach preset (its ``model.onnx``, :mod:`runtime.export.coach_export`)
answers a request sent as SageMaker RL Coach's notebooks send it, a bare JSON list of one observation's numbers, as
their ``deploy-mxnet-coach.py`` did: the JSON list of ``model.onnx``'s outputs for that observation, each
``.tolist()`` of a batch of one (discrete PPO: ``[[value], [[p0, p1, ...]]]``, so ``value, action = answer`` and
``answer[1][0]`` are the notebooks' unpacking; continuous PPO: ``[[value], [[mean, ...]], [[std, ...]]]``, so
``value, mean, std = answer``; DQN: ``[[[q0, q1, ...]]]``). Every other request (rows, ``instances``,
``inputs``, CSV, JSON lines) gets rlrt's answer.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from runtime.serving import codec

COACH_REQUEST = "a Coach-shaped request (a JSON list of one observation's numbers, as deploy-mxnet-coach.py took it)"


class CoachModel:
    """``model.onnx`` in ONNX Runtime: one observation -> Coach's list of outputs."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.input = session.get_inputs()[0].name

    def answer(self, observation: np.ndarray) -> bytes:
        """``transform_fn``'s answer for one observation (``expand_dims(0)``, run, each output's ``.tolist()``)."""
        outputs = self.session.run(None, {self.input: observation.reshape(1, -1).astype(np.float32)})
        return json.dumps([np.asarray(output).tolist() for output in outputs]).encode()


def coach_observation(
    body: bytes, content_type: str | None, accept: str | None, observation_dim: int
) -> np.ndarray | None:
    """The observation of a Coach-shaped request, or None for any other (answered as rlrt answers it). A flat list
    of the wrong length, or of anything but finite numbers, is a :class:`codec.RequestError` saying what to send."""
    if (codec.media_type(content_type) or codec.JSON) != codec.JSON:
        return None
    if accept and accept.strip() and codec.response_type(accept, codec.JSON) != codec.JSON:
        return None  # Coach answered JSON only: another Accept gets rlrt's rows
    text = body.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not text.startswith(b"[") or text[1:].lstrip().startswith((b"[", b"{")):
        return None
    try:
        value = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None  # rlrt's decoder says what is wrong with it
    if not isinstance(value, list) or not value:
        return None
    if len(value) != observation_dim:
        raise codec.RequestError(
            f"{COACH_REQUEST} must hold the observation's {observation_dim} numbers, got "
            f"{len(value)}; send one observation, [x1, ..., x{observation_dim}], or several "
            'as {"instances": [[...], ...]} for rlrt\'s answer'
        )
    return np.asarray(codec.to_observations(value, observation_dim, COACH_REQUEST)[0], dtype=np.float32)
