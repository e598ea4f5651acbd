"""The threads of a job's processes (runtime.config.threads): one rule over the job's layout, the setting that
overrides it for the learner, its check, the job's line and what config.yaml records."""

from __future__ import annotations

import os

import pytest

from runtime.config import hyperparameters as hp
from runtime.config.threads import (
    ACTING_THREADS,
    GPU_LEARNER_THREADS,
    THREAD_VARIABLES,
    Layout,
    choose_threads,
    job_threads,
    layout_of,
    thread_variables,
    use_threads,
)
from runtime.errors import UserError
from runtime.job.setup import resolve_spec
from runtime.plugins import INSTALLED


@pytest.mark.parametrize(
    ("layout", "learner", "env_runner"),
    [
        # The default CartPole job on 2 CPUs: the driver samples and learns a 64 x 64 network.
        (Layout(cpus=2, widest_layer=64), 1, 1),
        # Small networks stay at one thread per process however many cores there are.
        (Layout(cpus=16, env_runners=15, widest_layer=256), 1, 1),
        (Layout(cpus=64, env_runners=3, widest_layer=64), 1, 1),
        # A large learner gets the cores the env runners leave, shared among the learners.
        (Layout(cpus=16, env_runners=7, widest_layer=1024), 9, 1),
        (Layout(cpus=16, env_runners=4, learners=2, widest_layer=512), 6, 1),
        (Layout(cpus=16, env_runners=4, cpus_per_env_runner=2, convolutional=True), 8, 2),
        (Layout(cpus=4, env_runners=3, cpus_per_env_runner=0.5, widest_layer=2048), 2, 1),
        # Runners that ask for more CPUs than there are leave the learner one (RLlib caps them: one stays for it).
        (Layout(cpus=2, env_runners=4, widest_layer=1024), 1, 1),
        # A GPU learner only builds its batch on the CPU.
        (Layout(cpus=16, env_runners=15, gpus_per_learner=1, widest_layer=1024), GPU_LEARNER_THREADS, 1),
        (Layout(cpus=8, env_runners=0, gpus_per_learner=0.5, convolutional=True), GPU_LEARNER_THREADS, 1),
        # The setting decides the learner's, whatever the layout; the env runners keep the rule's.
        (Layout(cpus=2, widest_layer=64, override=2), 2, 1),
        (Layout(cpus=16, env_runners=7, widest_layer=1024, override=3), 3, 1),
        (Layout(cpus=16, env_runners=15, gpus_per_learner=1, override=4), 4, 1),
    ],
)
def test_the_rule_gives_each_process_its_threads(layout: Layout, learner: int, env_runner: int) -> None:
    threads = choose_threads(layout)
    assert (threads.learner, threads.env_runner) == (learner, env_runner)


def test_the_driver_has_the_learners_threads_only_when_the_learner_runs_in_it() -> None:
    large = dict(cpus=16, env_runners=7, widest_layer=1024)
    assert choose_threads(Layout(**large)).driver == 9  # type: ignore[arg-type]
    assert choose_threads(Layout(**large, learners=1)).driver == ACTING_THREADS  # type: ignore[arg-type]


def test_the_layout_is_read_from_rllibs_and_d3rlpys_settings() -> None:
    assert layout_of({}, 2) == Layout(cpus=2, widest_layer=256)  # RLlib's and d3rlpy's default 256 x 256
    rllib = layout_of(
        {
            "num_env_runners": 3,
            "num_cpus_per_env_runner": 2,
            "num_learners": 1,
            "model_config": {"fcnet_hiddens": [64, 64], "head_fcnet_hiddens": [512], "conv_filters": [[16, [4, 4], 2]]},
            "num_threads": "3",
        },
        8,
    )
    assert rllib == Layout(
        cpus=8, env_runners=3, cpus_per_env_runner=2.0, learners=1, widest_layer=512, convolutional=True, override=3
    )
    assert layout_of({"hidden_units": [1024, 1024]}, 4).widest_layer == 1024  # d3rlpy's
    assert layout_of({}, 4, gpus=1).gpus_per_learner == 1  # a GPU job's learner takes one (the session's default)
    assert layout_of({"num_gpus_per_learner": 0.5}, 4, gpus=1).gpus_per_learner == 0.5


def test_the_jobs_line_says_the_choice_the_layout_and_the_setting() -> None:
    assert choose_threads(Layout(cpus=2, env_runners=1, widest_layer=64)).line() == (
        "rlrt: torch threads: learner 1, env runners 1 each (2 CPUs, 1 env runner, CPU learner, small network; "
        "rl.training.config.num_threads overrides)"
    )
    assert choose_threads(Layout(cpus=2, widest_layer=64)).line() == (
        "rlrt: torch threads: learner 1, no env runners (2 CPUs, CPU learner, small network; "
        "rl.training.config.num_threads overrides)"
    )
    assert choose_threads(Layout(cpus=16, env_runners=7, widest_layer=1024, override=4)).line() == (
        "rlrt: torch threads: learner 4, env runners 1 each (16 CPUs, 7 env runners, CPU learner, large network; "
        "rl.training.config.num_threads=4 sets the learner's)"
    )


def test_the_record_says_what_chose() -> None:
    assert choose_threads(Layout(cpus=2, widest_layer=64)).record() == {
        "learner": 1,
        "env_runner": 1,
        "cpus": 2,
        "env_runners": 0,
        "chosen_by": "rlrt's rule",
    }
    assert choose_threads(Layout(cpus=2, override=2)).record()["chosen_by"] == "rl.training.config.num_threads"


def test_a_spec_made_without_the_jobs_setup_gets_the_rules_choice() -> None:
    chosen = choose_threads(Layout(cpus=2, override=5))
    assert job_threads(chosen, {}, 2) is chosen
    assert job_threads(None, {"model_config": {"fcnet_hiddens": [1024]}}, 4).learner == 4


def test_the_default_job_resolves_to_one_thread_and_config_yaml_records_it() -> None:
    spec = resolve_spec({}, INSTALLED, num_cpus=2)
    assert spec.threads is not None and (spec.threads.learner, spec.threads.env_runner) == (1, 1)
    assert spec.to_dict()["threads"] == {
        "learner": 1,
        "env_runner": 1,
        "cpus": 2,
        "env_runners": 0,
        "chosen_by": "rlrt's rule",
    }
    assert resolve_spec({}, INSTALLED).to_dict()["threads"] is None  # a check only (rlrt tune's): no layout


@pytest.mark.parametrize("backend", [{}, {"preset": "cartpole-bcq"}])
def test_the_setting_is_checked_like_the_others_on_both_backends(backend: dict[str, str]) -> None:
    spec = resolve_spec({**backend, "rl.training.config.num_threads": "2"}, INSTALLED, num_cpus=2)
    assert spec.threads is not None and spec.threads.learner == 2
    for wrong in (0, 1.5, "two", True):
        with pytest.raises(UserError, match="num_threads' must be an integer >= 1"):
            resolve_spec({**backend, "rl.training.config.num_threads": wrong}, INSTALLED, num_cpus=2)
    with pytest.raises(UserError, match="num_threads"):
        resolve_spec({**backend, "rl.training.config.num_thread": 2}, INSTALLED, num_cpus=2)


def test_the_setting_never_reaches_rllib() -> None:
    from runtime.backends.rllib.algorithm import build_algorithm_config

    spec = hp.resolve({"rl.training.config.num_threads": 3}, INSTALLED.validator_for, num_cpus=2)
    assert "num_threads" not in build_algorithm_config(spec, "CartPole-v1").to_dict()


def test_the_variables_and_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    import torch

    assert thread_variables(3) == {name: "3" for name in THREAD_VARIABLES}
    before = torch.get_num_threads()
    for name in THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    try:
        use_threads(1)
        assert torch.get_num_threads() == 1
        assert all(os.environ[name] == "1" for name in THREAD_VARIABLES)
    finally:
        torch.set_num_threads(before)
