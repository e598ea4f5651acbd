"""rlrt's squared-error Q-function for d3rlpy (``q_func_factory: mean_squared_error``): its TD loss against a NumPy
calculation, and a model that names it saved and loaded in a fresh process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from runtime.backends.d3rlpy import squared_error
from runtime.backends.d3rlpy.library import import_d3rlpy, save_algo
from runtime.names import D3RLPY_MODEL_FILE

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def test_the_td_loss_is_the_squared_error_of_a_numpy_calculation() -> None:
    d3rlpy = import_d3rlpy()
    import torch

    torch.manual_seed(0)
    encoder = d3rlpy.models.VectorEncoderFactory(hidden_units=[8]).create((3,))
    q_func, forwarder = squared_error.factory_class()().create_discrete(encoder, 8, 2)
    rng = np.random.default_rng(0)
    obs = rng.normal(size=(16, 3)).astype(np.float32)
    actions = rng.integers(0, 2, size=(16, 1))
    rewards = rng.normal(size=(16, 1)).astype(np.float32)
    target = (10 * rng.normal(size=(16, 1))).astype(np.float32)  # TD errors well beyond Huber's quadratic zone
    terminals = (rng.random(size=(16, 1)) < 0.3).astype(np.float32)
    args = [torch.from_numpy(x) for x in (obs, actions, rewards, target, terminals)]
    loss = forwarder.compute_error(*args, gamma=0.9).detach()
    with torch.no_grad():
        q = q_func(torch.from_numpy(obs)).q_value.numpy()
    value = np.take_along_axis(q, actions, axis=1)
    expected = np.mean((value - (rewards + 0.9 * target * (1 - terminals))) ** 2)
    assert float(loss) == pytest.approx(float(expected), rel=1e-5)
    assert forwarder.compute_error(*args, gamma=0.9, reduction="none").shape == (16, 1)
    huber = d3rlpy.models.MeanQFunctionFactory().create_discrete(encoder, 8, 2)[1]
    assert float(huber.compute_error(*args, gamma=0.9).detach()) < 0.5 * float(loss)  # d3rlpy's own is not it


def test_a_model_naming_it_loads_in_a_fresh_process(tmp_path: Path) -> None:
    d3rlpy = import_d3rlpy()
    squared_error.register()  # a second registration is a no-op, not d3rlpy's "already registered"
    rng = np.random.default_rng(0)
    data = d3rlpy.dataset.MDPDataset(
        rng.normal(size=(40, 4)).astype(np.float32),
        rng.integers(0, 2, size=40),
        np.ones(40, np.float32),
        np.arange(40) % 10 == 9,
        action_space=d3rlpy.constants.ActionSpace.DISCRETE,
    )
    config = d3rlpy.algos.DiscreteBCQConfig(q_func_factory=squared_error.factory_class()())
    algo = config.create(device="cpu")
    algo.build_with_dataset(data)
    save_algo(algo, tmp_path)
    code = (
        "import sys, pathlib; from runtime.backends.d3rlpy.library import load_algo; "
        "print(load_algo(pathlib.Path(sys.argv[1])).config.q_func_factory.get_type())"
    )
    out = (
        subprocess.run(
            [sys.executable, "-c", code, str(tmp_path / D3RLPY_MODEL_FILE)], capture_output=True, text=True, check=True
        )
        .stdout.strip()
        .splitlines()[-1]
    )
    assert out == squared_error.TYPE
