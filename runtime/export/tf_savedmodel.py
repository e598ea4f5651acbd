"""Build a TensorFlow SavedModel from rlrt's framework-neutral policy description. Runs in TensorFlow's environment.

    python tf_savedmodel.py policy_spec.json policy_weights.npz OUT_DIR [CHECK_IN.npz CHECK_OUT.npz]

This file is executed by TensorFlow's own interpreter (scripts/install-tf.sh), never imported by the runtime: it
imports only TensorFlow, numpy and the standard library. The SavedModel's ``serving_default`` signature takes
``observations`` (float32 ``[batch, obs_dim]``, raw: the observation filter is inside) and returns ``actions``
(and ``action_probabilities`` for discrete policies; and ``q_values`` for a ``q_ensemble`` head: the mean of the
Q-function MLPs, BCQ's imitator filter, ``softmax(Q / temperature)`` over the allowed actions), as TensorFlow
Serving expects. With CHECK_IN/CHECK_OUT the
saved model is loaded back and run on CHECK_IN's observations; outputs go to CHECK_OUT as ``output_0``, ...
"""

from __future__ import annotations

import json
import sys

import numpy as np


def _activation(tf, name):
    return {
        "linear": tf.identity,
        "tanh": tf.math.tanh,
        "relu": tf.nn.relu,
        "sigmoid": tf.math.sigmoid,
        "elu": tf.nn.elu,
        "silu": tf.nn.silu,
    }[name]


def _run_mlp(tf, layers, variables, x):
    for layer in layers:
        if layer["type"] == "dense":
            x = tf.matmul(x, variables[layer["weight"]]) + variables[layer["bias"]]
        else:
            x = _activation(tf, layer["activation"])(x)
    return x


def _q_ensemble(tf, spec, variables, x):
    """d3rlpy's discrete policy (runtime.backends.d3rlpy.policy.discrete_policy_module), op for op."""
    head = spec["head"]
    q = tf.reduce_mean(tf.stack([_run_mlp(tf, layers, variables, x) for layers in spec["q_functions"]], axis=0), axis=0)
    if spec.get("imitator") is not None:
        log_probs = tf.nn.log_softmax(_run_mlp(tf, spec["imitator"], variables, x), axis=1)
        allowed = (log_probs - tf.reduce_max(log_probs, axis=1, keepdims=True)) > float(head["filter_threshold"])
        shifted = q - tf.reduce_min(q, axis=1, keepdims=True) + 1e-5
        actions = tf.argmax(shifted * tf.cast(allowed, tf.float32), axis=1, output_type=tf.int64)
        logits = tf.where(allowed, q / float(head["temperature"]), tf.fill(tf.shape(q), -1e30))
    else:
        actions = tf.argmax(q, axis=1, output_type=tf.int64)
        logits = q / float(head["temperature"])
    return {
        "actions": actions + int(head["start"]),
        "action_probabilities": tf.nn.softmax(logits, axis=1),
        "q_values": q,
    }


def build(spec_path: str, weights_path: str, out_dir: str) -> list:
    import tensorflow as tf  # heavy: TensorFlow (its own environment)

    with open(spec_path, encoding="utf-8") as handle:
        spec = json.load(handle)
    if spec.get("format") != "rlrt-policy-spec/1":
        raise SystemExit(f"unknown policy spec format {spec.get('format')!r}")
    weights = dict(np.load(weights_path))
    dim = int(spec["observation_dim"])
    head = spec["head"]
    obs_filter = spec.get("observation_filter")
    outputs = list(spec["outputs"])

    class Policy(tf.Module):
        def __init__(self):
            super().__init__(name="rlrt_policy")
            self.variables_by_name = {
                k: tf.Variable(v.astype(np.float32), trainable=False, name=k) for k, v in weights.items()
            }
            if obs_filter:
                mean = np.asarray(obs_filter["mean"], np.float64) if obs_filter["demean"] else np.zeros(dim)
                std = np.asarray(obs_filter["std"], np.float64)
                scale = std + obs_filter["eps"] if obs_filter["destd"] else np.ones(dim)
                self.obs_mean = tf.constant(mean.astype(np.float32))
                self.obs_scale = tf.constant(scale.astype(np.float32))
            if head["kind"] not in ("categorical", "q_ensemble") and head["bounded"]:
                self.low = tf.constant(np.asarray(head["low"], np.float32))
                self.high = tf.constant(np.asarray(head["high"], np.float32))

        @tf.function(input_signature=[tf.TensorSpec([None, dim], tf.float32, name="observations")])
        def serve(self, observations):
            x = observations
            if obs_filter:
                x = (x - self.obs_mean) / self.obs_scale
                if obs_filter.get("clip"):
                    clip = float(obs_filter["clip"])
                    x = tf.clip_by_value(x, -clip, clip)
            if head["kind"] == "q_ensemble":
                return _q_ensemble(tf, spec, self.variables_by_name, x)
            x = _run_mlp(tf, spec["layers"], self.variables_by_name, x)
            if head["kind"] == "categorical":
                return {
                    "actions": tf.argmax(x, axis=-1, output_type=tf.int64) + int(head["start"]),
                    "action_probabilities": tf.nn.softmax(x, axis=-1),
                }
            action = x[:, : int(head["size"])]
            if head["kind"] == "squashed_gaussian":
                action = tf.math.tanh(action)
            if head["bounded"]:
                if head["normalized"]:
                    action = self.low + (action + 1.0) * (self.high - self.low) / 2.0
                action = tf.minimum(tf.maximum(action, self.low), self.high)
            return {"actions": action}

    policy = Policy()
    tf.saved_model.save(policy, out_dir, signatures={"serving_default": policy.serve})
    return outputs


def check(out_dir: str, outputs: list, check_in: str, check_out: str) -> None:
    import tensorflow as tf  # heavy: TensorFlow (its own environment)

    loaded = tf.saved_model.load(out_dir)
    signature = loaded.signatures["serving_default"]
    observations = np.load(check_in)["observations"].astype(np.float32)
    result = signature(observations=tf.constant(observations))
    np.savez(check_out, **{f"output_{i}": result[name].numpy() for i, name in enumerate(outputs)})


def main(argv: list) -> int:
    if len(argv) not in (3, 5):
        print(__doc__, file=sys.stderr)
        return 2
    outputs = build(argv[0], argv[1], argv[2])
    if len(argv) == 5:
        check(argv[2], outputs, argv[3], argv[4])
    import tensorflow as tf  # heavy: TensorFlow (its own environment)

    print(f"tensorflow {tf.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
