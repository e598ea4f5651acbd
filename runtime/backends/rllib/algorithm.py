"""Building RLlib's AlgorithmConfig from a spec: environment registration with Ray's registry, multi-agent policies,
the observation filter, and starting Ray."""

from __future__ import annotations

import functools
import logging
import math
import re
from typing import Any, Mapping

from runtime.errors import UserError
from runtime.config.hyperparameters import TrainingSpec

from runtime.backends.rllib.config import SHARED_POLICY, _TYPE_OF_NONE_DEFAULTS, algorithm_config_class, default_config_dict

log = logging.getLogger(__name__)


class EarlyRayStart:
    """Ray starting in a background thread, so that its processes start while the job imports RLlib and checks its
    spec; :func:`init_ray` waits for it.

    The thread stays until Ray is shut down: Ray ties its processes to the life of the thread that started them
    (``PR_SET_PDEATHSIG`` follows the thread, not the process), so a thread that ended would take them along.
    """

    def __init__(self, num_cpus: int, num_gpus: int) -> None:
        import threading

        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(num_cpus, num_gpus), name=RAY_START_THREAD,
                                       daemon=True)
        self.thread.ready = self.ready  # type: ignore[attr-defined] - what init_ray waits for
        self.thread.start()

    def _run(self, num_cpus: int, num_gpus: int) -> None:
        import time

        import ray

        try:
            init_ray(num_cpus, num_gpus)
        except Exception:  # noqa: BLE001 - the session's own init_ray starts Ray again and reports the error
            log.debug("early Ray start failed", exc_info=True)
        finally:
            self.ready.set()
        while ray.is_initialized():
            time.sleep(0.2)

    def cancel(self) -> None:
        """The job does not train with RLlib after all (or its spec was rejected): stop what was started."""
        self.ready.wait()
        shutdown_ray()
        self.thread.join()


def shutdown_ray() -> None:
    """Shut Ray down and end what its stopped processes leave behind.

    A Ray that :class:`EarlyRayStart` started ends with its thread: the GCS and raylet get SIGKILL (the thread's
    ``PR_SET_PDEATHSIG``), and the raylet's own children, its dashboard and runtime-env agents and idle workers, are
    left: the agents notice within ~2 s, then try for about a minute to report to the dead GCS before they exit
    (SIGTERM does not shorten that). So this waits for that thread, then kills every process below a child of this
    one that has ended; other children (and a cluster this process only joined) are left alone.
    """
    import threading
    import time

    import psutil
    import ray

    trees = []
    for child in psutil.Process().children():
        try:
            trees.append((child, child.children(recursive=True)))
        except psutil.Error:
            continue
    ray.shutdown()
    for thread in _early_start_threads():
        if thread is not threading.current_thread():
            thread.join(timeout=5)  # its end ends the processes it started (see EarlyRayStart)
    orphans = [proc for child, below in trees if _ended(child) for proc in below if not _ended(proc)]
    for proc in orphans:
        try:
            proc.kill()
        except psutil.Error:
            pass
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline and not all(_ended(proc) for proc in orphans):
        time.sleep(0.02)


def _ended(proc: Any) -> bool:
    import psutil

    try:
        return not proc.is_running() or proc.status() == psutil.STATUS_ZOMBIE
    except psutil.Error:
        return True


RAY_START_THREAD = "rlrt-ray-start"
"""The name of :class:`EarlyRayStart`'s thread."""


def wait_for_early_start() -> None:
    """Wait until an :class:`EarlyRayStart` under way has started Ray (or failed); at once when there is none.
    Called before anything that touches Ray (registering an environment would otherwise start a second one)."""
    for thread in _early_start_threads():
        thread.ready.wait()  # type: ignore[attr-defined]


def _early_start_threads() -> list[Any]:
    """The thread of an :class:`EarlyRayStart` (running or just ended), if any."""
    import threading

    return [thread for thread in threading.enumerate() if thread.name == RAY_START_THREAD]


def init_ray(num_cpus: int, num_gpus: int) -> None:
    """Start a local Ray instance sized to the job's machine (or join ``RAY_ADDRESS`` when set); when an
    :class:`EarlyRayStart` is under way, wait for it instead."""
    import os
    import threading

    import ray

    from runtime.backends.rllib.quiet import quiet_ray_logs

    quiet_ray_logs()
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if threading.current_thread().name != RAY_START_THREAD:
        wait_for_early_start()
    if ray.is_initialized():
        return
    if os.environ.get("RAY_ADDRESS"):
        _join_ray(os.environ["RAY_ADDRESS"])
    else:
        # "local": always a fresh instance, never a cluster someone else started on this machine with `ray start`.
        # Its processes are this job's own, so Ray's token authentication guards nothing (a multi-host cluster turns
        # it on with RLRT_RAY_AUTH_TOKEN, runtime.cluster.node).
        os.environ.setdefault("RAY_AUTH_MODE", "disabled")
        # Ray prestarts an idle worker per CPU for the first driver: a driver that samples itself needs none, and
        # env-runner actors start their own. ~1.2 CPU-seconds less per job on 2 cores (bench/RESULTS.md, issue 12).
        os.environ.setdefault("RAY_prestart_worker_first_driver", "0")
        ray.init(address="local", num_cpus=num_cpus, num_gpus=num_gpus, include_dashboard=False, log_to_driver=True,
                 runtime_env={"worker_process_setup_hook": f"{quiet_ray_logs.__module__}.{quiet_ray_logs.__name__}"})


RAY_ADDRESS_PROBE_S = 5.0
"""How long :func:`init_ray` tries a TCP connection to ``RAY_ADDRESS``'s host:port before it calls the cluster
unreachable (Ray itself retries a silent address for ~10 minutes)."""


def _join_ray(address: str) -> None:
    """Join the Ray cluster at ``address`` (``RAY_ADDRESS``); a cluster that is not there is a UserError at once."""
    import ray

    from runtime.cluster.node import host_and_port, port_open

    advice = ("Unset RAY_ADDRESS to let the job start its own Ray instance, or start that cluster first "
              "(`ray start --head`).")
    try:
        target = host_and_port(address)  # None for "auto", "local", ray:// URLs: Ray's to resolve
    except UserError as exc:
        raise UserError(f"RAY_ADDRESS={exc} {advice}") from exc
    if target is not None and not port_open(*target, timeout_s=RAY_ADDRESS_PROBE_S):
        raise UserError(f"RAY_ADDRESS={address} names a Ray cluster that does not answer: no TCP connection to "
                        f"{address} within {RAY_ADDRESS_PROBE_S:g} s. {advice}")
    try:
        ray.init(address=address, log_to_driver=True)
    except (ConnectionError, ValueError) as exc:  # ValueError: an address Ray cannot parse ("host:x")
        raise UserError(f"RAY_ADDRESS={address}: Ray could not join that cluster ({exc}). {advice}") from exc


def rllib_env_name(env_id: str) -> str:
    """The name our environments are registered under with Ray Tune's registry."""
    return f"rlrt/{env_id}"


def _make_registered_env(env_id: str, env_context: Mapping[str, Any]) -> Any:
    from envs.registry import env_info, make_env

    env_config = dict(env_context)
    if env_info(env_id).job_context:
        # RLlib's EnvContext carries the env runner's index as an attribute; environments that launch external
        # processes (Unity players) use it to pick their own port.
        env_config.setdefault("worker_index", int(getattr(env_context, "worker_index", 0) or 0))
    return make_env(env_id, env_config)


def register_environment(env_id: str) -> str:
    """Register ``env_id`` with Ray's env registry (so env runners build it with our adapters); return its name."""
    from ray.tune.registry import register_env

    name = rllib_env_name(env_id)
    register_env(name, _job_env_creator(env_id) or functools.partial(_make_registered_env, env_id))
    return name


def _job_env_creator(env_id: str) -> Any:
    """The RLlib creator of an environment the job's own code registered with gymnasium at run time, whose entry
    point offers one (``rllib_env_creator(env_context)``: the sagemaker_rl launcher's user env creators). Such an
    entry point exists only in this process; RLlib pickles the creator to its env runners, which then call it with
    their own ``EnvContext`` (worker and vector index)."""
    import gymnasium

    spec = gymnasium.registry.get(env_id)
    return getattr(spec.entry_point, "rllib_env_creator", None) if spec is not None else None


def mean_std_filter(env: Any = None, spaces: Any = None, device: Any = None) -> Any:
    """An env-to-module connector normalising observations by running mean and std (RLlib's MeanStdFilter)."""
    from ray.rllib.connectors.env_to_module.mean_std_filter import MeanStdFilter

    return MeanStdFilter(multi_agent=False)


def policy_id_for(group: str) -> str:
    """RLlib's id for the policy of agent group ``group``: characters RLlib refuses in ids (they are folder names in
    checkpoints: ``<>:"/\\|?*``) become ``_``, e.g. Unity's behavior ``3DBall?team=0`` -> ``3DBall_team=0``."""
    return re.sub(r'[<>:"/\\|?*]', "_", group).rstrip(". ") or "group"


def _policy_for_group(agent_id: Any, episode: Any = None, *, group_of: Any, **kwargs: Any) -> str:
    return policy_id_for(group_of(agent_id))


def _shared_policy(agent_id: Any, episode: Any = None, **kwargs: Any) -> str:
    return SHARED_POLICY


def multi_agent_policies(env_id: str, env_config: Mapping[str, Any], mode: str = "per_group") -> tuple[set[str], Any]:
    """RLlib's ``policies`` and ``policy_mapping_fn`` for the multi-agent environment ``env_id``.

    ``per_group``: one policy per agent group (for Unity, per behavior: agent ``"<behavior>_<id>"`` -> policy
    ``policy_id_for(<behavior>)``); the groups are read from the environment once. ``shared``: one policy for every
    agent (all groups must have the same spaces).
    """
    from envs.errors import EnvConfigError, EnvStartError
    from envs.registry import agent_groups, group_function

    try:
        groups = agent_groups(env_id, env_config)
    except EnvConfigError as exc:
        raise UserError(str(exc)) from exc
    except EnvStartError as exc:
        from runtime.job.env_config import env_start_error

        raise env_start_error(env_id, exc) from exc
    if mode == "shared":
        distinct = {(repr(obs), repr(act)) for obs, act in groups.values()}
        if len(distinct) > 1:
            raise UserError(
                "rl.training.config.multi_agent_policies=shared needs every agent group to have the same spaces; "
                + "; ".join(f"{name}: {obs} -> {act}" for name, (obs, act) in groups.items())
            )
        return {SHARED_POLICY}, _shared_policy
    policies = {policy_id_for(group) for group in groups}
    if len(policies) != len(groups):
        raise UserError(
            f"The agent groups {sorted(groups)} do not map onto distinct RLlib policy ids ({sorted(policies)})."
        )
    return policies, functools.partial(_policy_for_group, group_of=group_function(env_id))


def policy_spaces(algo: Any) -> tuple[Any, Any]:
    """The trained policy's observation and action spaces (for multi-agent: gymnasium Dicts by policy id)."""
    import gymnasium as gym

    if algo.config.is_multi_agent:
        modules = {mid: algo.get_module(mid) for mid in sorted(algo.config.policies)}
        return (
            gym.spaces.Dict({mid: m.observation_space for mid, m in modules.items()}),
            gym.spaces.Dict({mid: m.action_space for mid, m in modules.items()}),
        )
    module = algo.get_module()
    return module.observation_space, module.action_space


def mean_std_filter_multi_agent(env: Any = None, spaces: Any = None, device: Any = None) -> Any:
    """:func:`mean_std_filter` for multi-agent environments (one running mean and std per agent)."""
    from ray.rllib.connectors.env_to_module.mean_std_filter import MeanStdFilter

    return MeanStdFilter(multi_agent=True)


def build_algorithm_config(
    spec: TrainingSpec,
    env_name: str,
    num_gpus: int = 0,
    env_config: Mapping[str, Any] | None = None,
    env_id: str | None = None,
) -> Any:
    """An RLlib AlgorithmConfig for ``spec`` on the registered environment ``env_name``.

    ``env_config`` replaces ``spec.env_config`` (the runtime passes it completed with the job's context, see
    :mod:`runtime.job.env_config`); ``env_id`` (the registry id) lets a multi-agent environment get its policies.
    """
    from envs.registry import env_info

    config_class = algorithm_config_class(spec.algorithm)
    config = config_class()
    defaults = default_config_dict(spec.algorithm)
    settings = {
        # An integral float (7.0) where RLlib wants an integer: the check let it through; RLlib needs an int.
        key: int(value) if isinstance(value, float) and value.is_integer()
        and isinstance(defaults.get(key, _TYPE_OF_NONE_DEFAULTS.get(key)), int) else value
        for key, value in spec.config.items()
    }
    model_config = dict(settings.pop("model_config", None) or {})
    log_std_init = model_config.pop("log_std_init", None)
    observation_filter = settings.pop("observation_filter", "NoFilter")
    policies_mode = settings.pop("multi_agent_policies", "per_group")
    env_config = dict(spec.env_config if env_config is None else env_config)
    multi_agent = env_id is not None and env_info(env_id).multi_agent
    if num_gpus and "num_gpus_per_learner" not in settings:
        settings["num_gpus_per_learner"] = 1
    try:
        config.update_from_dict(settings)
        config.environment(env=env_name, env_config=env_config)
        config.framework("torch")
        if multi_agent:
            policies, mapping = multi_agent_policies(env_id, env_config, policies_mode)
            config.multi_agent(policies=policies, policy_mapping_fn=mapping)
        if spec.seed is not None:
            config.debugging(seed=spec.seed)
        if model_config:
            merged = {**config.model_config, **model_config}
            config.rl_module(model_config=merged)
        if log_std_init is not None:
            config.callbacks(on_algorithm_init=functools.partial(initial_log_std, float(log_std_init)))
        if observation_filter == "MeanStdFilter":
            config.env_runners(
                env_to_module_connector=mean_std_filter_multi_agent if multi_agent else mean_std_filter
            )
        config.validate()
    except (ValueError, TypeError, KeyError) as exc:
        raise UserError(f"RLlib rejected the {spec.algorithm} configuration: {exc}") from exc
    return config


def initial_log_std(value: float, algorithm: Any, **_: Any) -> None:
    """RLlib's ``on_algorithm_init`` callback for ``model_config.log_std_init``: start every Gaussian policy's log
    standard deviation at ``value`` (RLlib starts it at 0, i.e. a standard deviation of 1 on actions that are clipped
    to [-1, 1]; RL Zoo starts PyBullet's robots at -2), then give the env runners the learners' weights.

    With ``free_log_std`` the log-std is a parameter of its own; otherwise it is the second half of the policy head's
    output, whose bias is set to ``value``. Raises UserError when no module of the algorithm has a Gaussian policy."""
    results = algorithm.learner_group.foreach_learner(functools.partial(_fill_learner_log_std, value))
    if not any(result.get() for result in results):
        raise UserError("'rl.training.config.model_config.log_std_init' sets the initial spread of a Gaussian policy; "
                        f"this {type(algorithm).__name__} job's policies have none (discrete actions, or a model "
                        "without a policy head). Remove the setting.")
    for group in (algorithm.env_runner_group, getattr(algorithm, "eval_env_runner_group", None)):
        if group is not None:
            group.sync_weights(from_worker_or_learner_group=algorithm.learner_group, inference_only=True)


def _fill_learner_log_std(value: float, learner: Any) -> bool:
    """Fill the log-std of each Gaussian policy in ``learner``'s modules; whether there was one."""
    return any([fill_log_std(module, value) for module in learner.module.values()])


def fill_log_std(module: Any, value: float) -> bool:
    """Set ``module``'s initial log standard deviation to ``value``; False when it has no Gaussian policy head."""
    import gymnasium as gym
    import torch

    head = getattr(module, "pi", None)
    if head is None or not isinstance(module.action_space, gym.spaces.Box):
        return False
    with torch.no_grad():
        if isinstance(getattr(head, "log_std", None), torch.nn.Parameter):
            head.log_std.fill_(value)
            return True
        layers = [layer for layer in head.modules() if isinstance(layer, torch.nn.Linear)]
        half = math.prod(module.action_space.shape)
        if not layers or layers[-1].bias is None or layers[-1].out_features != 2 * half:
            return False
        layers[-1].bias[half:].fill_(value)
    return True
