"""Property-based fuzzing of every parser of user input (docs/RELIABILITY.md, "Fuzzed parsers").

This module: hyperparameters (with the backends' validators and the DeepRacer dialect), preset YAML, tuning files,
the RAY_ADDRESS a job is told to join;
test_fuzz_data_parsers.py: the Batch RL CSV/Parquet loader, serving request bodies, DeepRacer tracks and
model_metadata.json. Property: any input either works or fails with the parser's documented user-facing error
(UserError, the serving codec's RequestError, DeepRacer's TrackError / MetadataError, EnvConfigError) whose message is
non-empty and names the culprit; any other exception, or an example slower than the deadline, is a bug. A watchdog
ends an example that hangs. CI runs a bounded, seeded number of examples (profile ``rlrt-fuzz`` in fuzz_support.py);
``RLRT_FUZZ_EXAMPLES=5000 python bench/fuzz_parsers.py`` runs many more.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fuzz_support import FUZZ, JSONISH, SCALARS, truncations, watchdog, works_or_user_error, write
from hypothesis import example, given
from hypothesis import strategies as st

from runtime.backends.d3rlpy.config import COACH_NAMES
from runtime.backends.rllib.config import OLD_NAMES, OLD_SCHEDULES
from runtime.cluster.node import host_and_port, port_open
from runtime.config.hyperparameters import decode_value
from runtime.config.limits import limit_problems
from runtime.config.presets import load_preset_file
from runtime.config.values import readable
from runtime.errors import UserError
from runtime.families.deepracer.dialect import TRAINING_HYPERPARAMETERS
from runtime.job.setup import resolve_spec
from runtime.plugins import INSTALLED
from runtime.job.plan import given_config
from runtime.tuning import load_tuning_spec, parse_tuning_spec  # the tuning file's parser (re-point here if it moves)

pytestmark = pytest.mark.filterwarnings("ignore")


def sdk_encoded(value: Any) -> Any:
    """What a job reads back for ``value`` passed to the SDK: every value JSON-encoded as a string, then decoded."""
    return decode_value(json.dumps(value) if not isinstance(value, str) else json.dumps(json.dumps(value)))


def near_miss(name: str) -> st.SearchStrategy[str]:
    """``name`` itself, or with one character dropped, doubled, upper-cased or a space added."""
    return st.integers(0, max(len(name) - 1, 0)).flatmap(
        lambda i: st.sampled_from(
            [
                name,
                name[:i] + name[i + 1 :],
                name[:i] + name[i] * 2 + name[i + 1 :],
                name.upper(),
                name + " ",
                " " + name,
            ]
        )
    )


HP_KEYS = [
    "preset",
    "RLRAY_PRESET",
    "rl.training.run",
    "rl.training.env",
    "rl.training.checkpoint_freq",
    "rl.training.keep_checkpoints_num",
    "seed",
    "evaluate_episodes",
    "save_model",
    "rl_num_instances_secondary",
    "rl.training.config.lr",
    "rl.training.config.gamma",
    "rl.training.config.train_batch_size",
    "rl.training.config.num_sgd_iter",
    "rl.training.config.model",
    "rl.training.config.model.fcnet_hiddens",
    "rl.training.config.model_config.fcnet_hiddens",
    "rl.training.config.lr_schedule",
    "rl.training.config.entropy_coeff",
    "rl.training.config.horizon",
    "rl.training.config.observation_filter",
    "rl.training.config.env_config",
    "rl.training.config.env_config.max_episode_steps",
    "rl.training.config.",
    "rl.training.stop.training_iteration",
    "rl.training.stop.episode_reward_mean",
    "rl.training.stop.time_total_s",
    "rl.training.stop.epochs",
    "rl.training.config.batch_size",
    "rl.training.config.learning_rate",
    "rl.training.config.discount",
    "rl.training.config.hidden_units",
    "rl.training.config.select_by",
    "rl.training.config.observation_scaler",
    "rl.training.config.n_steps_per_epoch",
    "batch_size",
    "lr",
    "discount_factor",
    "num_episodes_between_training",
    "exploration_type",
    "stack_size",
    "world_name",
    "sagemaker_program",
    "_tuning_objective_metric",
]
PRESETS = st.sampled_from(["cartpole-ppo", "cartpole-bcq", "pendulum-bcq", "deepracer-ppo", "cartpol-ppo", ""])


# What a shell that is not UTF-8 hands over (undecodable bytes as surrogate escapes), integers past 64 bits and past
# Python's integer-string limit (as text: json.loads refuses them), negative and zero counts.
NOT_UTF8 = st.builds(lambda text, byte: text + chr(0xDC00 + byte), st.text(max_size=6), st.integers(0x80, 0xFF))
LIMIT_VALUES = st.one_of(
    NOT_UTF8,
    st.sampled_from(["9" * 400, "9" * 100_000, "-" + "9" * 5000, 2**63, -(2**63) - 1, 10**400 - 1]),
    st.integers(-3, 0),
)


@st.composite
def hyperparameters(draw: st.DrawFn) -> dict[str, Any]:
    names = st.sampled_from(HP_KEYS).flatmap(near_miss)
    keys = draw(st.lists(st.one_of(names, st.text(max_size=20), st.builds(str.__add__, names, NOT_UTF8)), max_size=5))
    given = {key: draw(JSONISH.map(sdk_encoded) | JSONISH | LIMIT_VALUES) for key in keys}
    if draw(st.booleans()):
        given["preset"] = draw(PRESETS)
    return given


# Old names the backends and the DeepRacer dialect translate; a message names the key's current name.
RENAMED = {
    **OLD_NAMES,
    **OLD_SCHEDULES,
    **COACH_NAMES,
    "model": "model_config",
    **{k: target.split(".")[-1].split(":")[-1] for k, (_, target) in TRAINING_HYPERPARAMETERS.items()},
}


def _culprits(given: dict[str, Any]) -> list[str]:
    """Anything a message may name: a key, a dotted part of one (``model_config.x`` is reported as ``x``), its
    translated name, a string value (an unknown preset or algorithm)."""
    names = set()
    for key, value in given.items():
        names.add(key if key.strip() else "empty name")
        parts = [p for p in key.split(".") if p and p not in ("rl", "training", "config", "stop", "env_config")]
        names.update(parts + [RENAMED[p.lower()] for p in parts if p.lower() in RENAMED])
        if isinstance(value, str):
            names.add(value)
    return sorted(names)


@pytest.fixture(scope="module")
def backends_imported() -> None:
    """Import RLlib and d3rlpy once, so that the deadline measures parsing, not a first import."""
    for preset in ("cartpole-ppo", "cartpole-bcq", "deepracer-ppo"):
        resolve_spec({"preset": preset}, INSTALLED)


@FUZZ
@given(hyperparameters())
@example({"rl.training.config.lr_schedule": [[10**400, 0.1]]})
@example({"rl.training.config.lr": [[0, 1], [10**400, 0.5]]})
@example({"": None, "preset": "cartpole-ppo"})
@example({"rl.training.stop.training_iteration": 10**400 - 1})
@example({"rl.training.config.lr": "9" * 100_000})
@example({"rl.training.config.\udcff": 1})
@example({"rl.training.config.env_config.max_episode_steps": -5})
@example({"rl.training.config.num_env_runners": -1})
def test_hyperparameters(backends_imported: None, given_hp: dict[str, Any]) -> None:
    """Either a spec every later step can use (its text UTF-8, its numbers within 64 bits and floats) or a
    UserError naming the culprit in text a failure file holds: never another exception, now or after Ray started."""
    failed = works_or_user_error(
        lambda: _usable(resolve_spec(given_hp, INSTALLED, num_cpus=2)),
        (UserError,),
        [readable(c) for c in _culprits(given_hp)],
    )
    if failed is not None:
        str(failed).encode("utf-8")
    with watchdog():  # the 2-second check (runtime.train.job._quick_check) returns its problems, never raises
        if not limit_problems(given_hp):
            for algorithm in ("PPO", "DiscreteBCQ"):
                INSTALLED.backend_for(algorithm).quick_check(algorithm, given_config(given_hp))


def _usable(spec: Any) -> None:
    """A resolved spec holds only what the driver, the progress bar and config.json can take."""
    text = json.dumps(spec.to_dict(), ensure_ascii=False)
    text.encode("utf-8")
    for value in spec.stop.values():
        float(value)
    for key in ("max_episode_steps", "episode_step_cap"):
        assert spec.env_config.get(key) is None or int(spec.env_config[key]) >= 1, spec.env_config
    numbers = re.findall(r"-?\d+", text)
    assert all(len(n.lstrip("-")) <= 19 for n in numbers), "an integer past 64 bits resolved"


# Numeric keys of each kind (the preset each is checked under): a string that spells a valid number is that number.
INTEGER_KEYS = [
    ("cartpole-ppo", "rl.training.config.num_sgd_iter"),
    ("cartpole-ppo", "rl.training.stop.training_iteration"),
    ("cartpole-ppo", "rl.training.config.horizon"),
    ("cartpole-ppo", "seed"),
    ("cartpole-bcq", "rl.training.config.batch_size"),
    ("cartpole-ppo", "rl.training.checkpoint_freq"),
]
FLOAT_KEYS = [
    ("cartpole-ppo", "rl.training.config.lr"),
    ("cartpole-ppo", "rl.training.stop.time_total_s"),
    ("cartpole-bcq", "rl.training.config.learning_rate"),
    ("cartpole-ppo", "rl.training.config.kl_coeff"),
]


def _spelled(number: float | int, style: int) -> str:
    return [str(number), f" {number} ", f"{number:e}" if isinstance(number, float) else f"+{number}"][style]


@FUZZ
@given(st.sampled_from(INTEGER_KEYS + FLOAT_KEYS), st.integers(1, 10**6) | st.floats(1e-6, 1e6), st.integers(0, 2))
@example(("cartpole-ppo", "rl.training.config.num_sgd_iter"), 4, 0)
def test_numbers_given_as_strings(backends_imported: None, key: tuple[str, str], number: float, style: int) -> None:
    """``"4"`` (as the SDK delivers ``{"key": "4"}``: ``"\\"4\\""`` in hyperparameters.json) resolves exactly as
    ``4``, or fails with the same message;
    an integer key refuses a fractional string."""
    preset, name = key
    text = _spelled(number, style)

    def outcome(value: Any) -> Any:
        try:
            # hyperparameters.json holds json.dumps(value) (the SDK's encoding); the job decodes it once.
            spec = resolve_spec(
                {"preset": preset, name: decode_value(json.dumps(value))}, INSTALLED, num_cpus=2
            ).to_dict()
            return {k: v for k, v in spec.items() if k != "hyperparameters"}  # the record keeps what was given
        except UserError as exc:
            return str(exc).replace(json.dumps(value), "V").replace(json.dumps(float(value)), "V")

    with watchdog():
        as_text = outcome(text)
        parsed = json.loads(text.strip().lstrip("+"))
        if key in INTEGER_KEYS and not isinstance(parsed, int):
            assert isinstance(as_text, str) and name.split(".")[-1] in as_text or "num_epochs" in as_text
        else:
            assert as_text == outcome(parsed if key in INTEGER_KEYS or isinstance(parsed, float) else float(parsed))


@FUZZ
@given(st.text(max_size=40) | st.sampled_from(["[" * 5000, '{"a": ' * 5000, "1e400", "-0", '"\\ud800"']))
@example("[" * 5000)
def test_hyperparameter_value_decoding(text: str) -> None:
    """``decode_value`` (hyperparameters.json values, ``--set KEY=VALUE``) never fails: JSON or the text itself."""
    with watchdog():
        decode_value(text)


# --- files: YAML presets, tuning files ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


def yaml_text(value: Any) -> str:
    return yaml.safe_dump(value, allow_unicode=True, default_flow_style=None, sort_keys=False)


GOOD_PRESET = yaml.safe_load((Path(__file__).resolve().parents[2] / "presets" / "cartpole-ppo.yaml").read_text())
PRESET_FIELDS = ["name", "env", "algorithm", "config", "stop", "pass_bar", "checkpoint", "aliases", "description"]


@st.composite
def preset_documents(draw: st.DrawFn) -> str:
    data = dict(GOOD_PRESET)
    for key in draw(st.lists(st.sampled_from(PRESET_FIELDS + ["pass_bar.value", "checkpoint.frequency"]), max_size=3)):
        if "." in key:
            outer, inner = key.split(".")
            data[outer] = {**(data.get(outer) if isinstance(data.get(outer), dict) else {}), inner: draw(JSONISH)}
        elif draw(st.booleans()):
            data.pop(key, None)
        else:
            data[key] = draw(JSONISH)
    return draw(truncations(st.just(yaml_text(data))))


@FUZZ
@given(preset_documents() | st.text(max_size=60) | st.binary(max_size=60).map(lambda b: b.decode("latin-1")))
@example("pass_bar: {metric: m, value: abc}\nname: x\nenv: e\nalgorithm: PPO\nstop: {}\n")
@example("pass_bar: {metric: m, value: 1}\nname: x\nenv: e\nalgorithm: PPO\nstop: null\n")
@example("pass_bar: {metric: m, value: 1}\nname: x\nenv: e\nalgorithm: PPO\nstop: {}\ncheckpoint: 5\n")
@example("pass_bar: {metric: m, value: 1}\nname: x\nenv: e\nalgorithm: PPO\nstop: {}\ncheckpoint: {keep: x}\n")
@example("pass_bar: {metric: m, value: 1}\nname: x\nenv: e\nalgorithm: PPO\nstop: {}\naliases: 3\n")
@example("pass_bar: {metric: m, value: 1e999999}\nname: x\nenv: e\nalgorithm: PPO\nstop: {}\n")
@example("\udcff")
def test_preset_file(folder: Path, text: str) -> None:
    path = write(folder, "preset.yaml", text)
    works_or_user_error(lambda: load_preset_file(path), (UserError,), [str(path)])


TUNING_FIELDS = {
    "objective_metric_name": st.sampled_from(["episode_reward_mean", "reward"]),
    "objective_type": st.sampled_from(["Maximize", "minimize", "max"]),
    "strategy": st.sampled_from(["Grid", "Random"]),
    "max_jobs": st.integers(-1, 5) | SCALARS,
    "max_parallel_jobs": st.integers(0, 3) | SCALARS,
    "static_hyperparameters": JSONISH,
}
RANGE = st.fixed_dictionaries(
    {"type": st.sampled_from(["Continuous", "Integer", "Categorical", "ContinuousParameter", "x"])},
    optional={
        "min_value": SCALARS,
        "max_value": SCALARS,
        "values": JSONISH,
        "scaling_type": st.sampled_from(["Auto", "Logarithmic", "ReverseLogarithmic", "Linear", "log"]),
    },
)


@st.composite
def tuning_documents(draw: st.DrawFn) -> Any:
    doc = draw(st.fixed_dictionaries({}, optional=TUNING_FIELDS))
    if draw(st.booleans()):
        doc["hyperparameter_ranges"] = draw(
            st.dictionaries(st.sampled_from(["rl.training.config.lr", "lr", "x"]), RANGE | JSONISH, max_size=2)
        )
    else:
        doc["ParameterRanges"] = draw(
            JSONISH
            | st.fixed_dictionaries(
                {},
                optional={
                    "ContinuousParameterRanges": st.lists(
                        JSONISH | st.just({"Name": "lr", "MinValue": "0.1"}), max_size=2
                    ),
                    "CategoricalParameterRanges": JSONISH,
                },
            )
        )
    if draw(st.booleans()):
        doc[draw(st.sampled_from(list(TUNING_FIELDS)).flatmap(near_miss) | st.integers())] = draw(SCALARS)
    return doc


@FUZZ
@given(tuning_documents())
@example({1: 2})
@example({"hyperparameter_ranges": {"lr": {"type": "Continuous", "min_value": 10**400, "max_value": 1}}})
@example({"ParameterRanges": {"ContinuousParameterRanges": 5}})
def test_tuning_document(doc: Any) -> None:
    works_or_user_error(lambda: parse_tuning_spec(doc, "tuning.yaml"), (UserError,))


@FUZZ
@given(
    truncations(tuning_documents().map(lambda d: yaml_text(d) if not isinstance(d, str) else d))
    | st.binary(max_size=40).map(lambda b: b.decode("latin-1"))
)
@example("\udcff")
@example("[" * 1000)
def test_tuning_file(folder: Path, text: str) -> None:
    path = write(folder, "tuning.yaml", text)
    works_or_user_error(lambda: load_tuning_spec(path), (UserError,))


# --- RAY_ADDRESS ------------------------------------------------------------------------------------------------
@FUZZ
@given(st.text(max_size=40) | st.builds(lambda h, p: f"{h}:{p}", st.text(max_size=20), st.integers(-5, 10**6)))
@example("127.0.0.1:99999")
@example("host:\u00b2")
@example("[::1]:6379")
def test_ray_address(address: str) -> None:
    """``host_and_port`` (the RAY_ADDRESS a job joins is probed there first): a host and a TCP port, None for what Ray
    resolves itself, or a UserError naming the port that is not one."""
    target: list[Any] = []
    if works_or_user_error(lambda: target.append(host_and_port(address)), (UserError,), [address]) is None:
        if target[0] is not None:
            host, port = target[0]
            assert host and 0 <= port <= 65535 and "://" not in address


@pytest.mark.parametrize(
    "address, target",
    [
        ("127.0.0.1:6379", ("127.0.0.1", 6379)),
        ("head-svc.ray:10001", ("head-svc.ray", 10001)),
        ("[::1]:6379", ("::1", 6379)),
        ("auto", None),
        ("local", None),
        ("ray://head:10001", None),
        ("10.0.0.1", None),
        (":6379", None),
        ("host:x", None),
    ],
)
def test_ray_address_forms(address: str, target: tuple[str, int] | None) -> None:
    assert host_and_port(address) == target


@pytest.mark.parametrize("address", ["host:99999", "127.0.0.1:" + "9" * 5000])
def test_a_port_over_65535_is_a_user_error(address: str) -> None:
    with pytest.raises(UserError, match="is not a TCP port"):
        host_and_port(address)


def test_a_host_name_the_resolver_refuses_is_a_closed_port() -> None:
    assert port_open("a" * 300, 6379, timeout_s=1) is False  # the IDNA codec raises UnicodeError (a ValueError)


@FUZZ
@given(
    st.dictionaries(st.text(max_size=12), JSONISH, max_size=5),
    st.dictionaries(st.text(max_size=12), JSONISH, max_size=5),
    st.booleans(),
)
def test_hyperparameter_sources(stored: dict[str, Any], given_hp: dict[str, Any], earlier_run: bool) -> None:
    """The lines naming where each value came from (a rerun, or --set over a SageMaker tree): any values, never an
    error; when printed, every key the user could have chosen is listed once, with its winning value's source."""
    from runtime.job.setup import hyperparameter_sources

    with watchdog():
        text = hyperparameter_sources(stored, given_hp, Path("/t/hyperparameters.json"), earlier_run)
    if not stored:
        assert text == ""
    if text:
        listed = text.split("\n")[1:]  # one line a key: control characters are escaped
        assert all(line.isprintable() for line in listed)
        keys = sorted(k for k in {*stored, *given_hp} if not k.startswith("sagemaker_"))
        if all(k.isprintable() and "=" not in k for k in keys):
            assert [line[2:].split("=", 1)[0] for line in listed] == keys
            assert all(line.endswith("(that file)") == (line[2:].split("=", 1)[0] not in given_hp) for line in listed)


@FUZZ
@given(
    truncations(st.dictionaries(st.text(max_size=12), JSONISH, max_size=4).map(json.dumps))
    | st.binary(max_size=40).map(lambda b: b.decode("latin-1"))
)
def test_a_local_trees_stored_hyperparameters_file(folder: Path, text: str) -> None:
    """Whatever an earlier run (or the user) left in a local tree's hyperparameters.json: the rerun works or names
    the file; the file is never lost to an error."""
    from runtime.job.setup import open_job

    import os
    import uuid

    root = folder / f"tree-{uuid.uuid4().hex}"
    (root / "input" / "config").mkdir(parents=True)
    hp_file = write(root / "input" / "config", "hyperparameters.json", text)
    before = hp_file.read_bytes()
    saved = os.environ.get("SAGEMAKER_BASE_DIR")  # open_job points it at the tree it opens
    try:
        error = works_or_user_error(
            lambda: open_job(root, True, {"rl.training.config.lr": 0.01}), (UserError,), culprits=[str(hp_file)]
        )
    finally:
        if saved is None:
            os.environ.pop("SAGEMAKER_BASE_DIR", None)
        else:
            os.environ["SAGEMAKER_BASE_DIR"] = saved
    if error is not None:
        assert hp_file.read_bytes() == before
