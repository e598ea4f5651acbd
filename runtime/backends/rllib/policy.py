"""RLlib (new API stack) -> :mod:`runtime.export.policy`: the trained RLModule plus its connectors' fixed state.

What RLlib does around the module at inference, and what is baked into the serving policy:

- env-to-module: ``MeanStdFilter`` (``observation_filter: MeanStdFilter`` in a preset) with its running mean/std;
- module: ``forward_inference`` -> ``action_dist_inputs``; the inference distribution's deterministic action (for
  SAC's squashed Gaussian ``tanh(mean)``, the mode of the squashed distribution: RLlib's own ``to_deterministic``
  returns the unsquashed mean, which its action connector then clips rather than squashes);
- module-to-env: ``NormalizeAndClipActions`` (``normalize_actions`` unsquashes [-1, 1] to the bounds,
  ``clip_actions`` clips); the serving policy always clips a bounded action to its bounds.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

import numpy as np
from gymnasium import spaces

from envs.action_masks import ACTION_MASK, MASKED_OBSERVATIONS
from runtime.backends.rllib.images import scaled_filter
from runtime.errors import UserError
from runtime.export.policy import (
    CATEGORICAL,
    DETERMINISTIC,
    GAUSSIAN,
    HYBRID,
    MULTI_CATEGORICAL,
    SQUASHED_GAUSSIAN,
    ActionHead,
    ObservationFilter,
    build_serving_policy,
)

RECURRENT_NOT_SERVED = (
    "rlrt cannot export a recurrent policy (model_config use_lstm, or a module with a memory state): its exports "
    "(TorchScript, ONNX, the endpoint, ML-Agents' file) take observations and no state. The RLlib checkpoint holds "
    "the trained policy (Algorithm.from_checkpoint restores it); train without use_lstm for a model that serves."
)
"""Why a stateful RLModule has no serving policy (RLModule.is_stateful())."""
MODULE_PATH = ("learner_group", "learner", "rl_module", "default_policy")
ENV_TO_MODULE_PATH = ("env_runner", "env_to_module_connector")
MODULE_TO_ENV_PATH = ("env_runner", "module_to_env_connector")


def _acts_on_q_values(module: Any) -> bool:
    """Whether ``module`` acts greedily on Q-values (DQN's family: its inference gives actions, no distribution
    inputs), unlike a policy with a critic's Q-values beside it (SAC)."""
    import torch  # heavy: torch (~1.5 s)

    if not callable(getattr(module, "compute_q_values", None)) or not hasattr(module, "af"):
        return False
    shape = tuple(getattr(module.observation_space, "shape", ()) or ())
    with torch.no_grad():
        probe = module.forward_inference({"obs": torch.zeros((1, *shape), dtype=torch.float32)})
    return "action_dist_inputs" not in probe


def _q_values(module: Any, observations: Any) -> Any:
    """A DQN module's Q-values as its ``compute_q_values`` computes them, in operations ONNX has: the dueling
    streams' centring with ``mean`` (RLlib's ``nanmean`` only matters for advantages masked to -inf, which a
    plain action space has none of); a distributional module (``num_atoms`` > 1) through its own method."""
    if int(getattr(module, "num_atoms", 1) or 1) > 1:
        return module.compute_q_values({"obs": observations})["qf_preds"]
    encoded = module.encoder({"obs": observations})["encoder_out"]
    advantages = module.af(encoded)
    if not getattr(module, "uses_dueling", False):
        return advantages
    return advantages - advantages.mean(dim=-1, keepdim=True) + module.vf(encoded)


def _masked_sizes(module: Any) -> tuple[int, int] | None:
    """RLlib's action-masking module (observations ``{"action_mask": [n], "observations": [m]}``): ``(n, m)``."""
    space = getattr(module, "observation_space_with_mask", None)
    if not isinstance(space, spaces.Dict) or set(space.spaces) != {ACTION_MASK, MASKED_OBSERVATIONS}:
        return None
    mask_shape, observation_shape = space[ACTION_MASK].shape, space[MASKED_OBSERVATIONS].shape
    if mask_shape is None or observation_shape is None:
        return None
    return int(np.prod(mask_shape)), int(np.prod(observation_shape))


def _body(module: Any) -> Any:
    import torch  # heavy: torch (~1.5 s)

    masked = _masked_sizes(module)
    value_based = not masked and _acts_on_q_values(module)
    shape = () if masked else tuple(int(n) for n in module.observation_space.shape)

    class RLModuleBody(torch.nn.Module):
        """flat observations -> the RLModule's action-distribution inputs (inference forward pass); a value-based
        module's Q-values (its greedy action is their argmax; the served probabilities are their softmax). Image
        observations arrive flat (``[batch, H*W*C]``) and are reshaped to the module's ``[batch, H, W, C]``."""

        def __init__(self) -> None:
            super().__init__()
            self.module = module
            self.masked = bool(masked)  # read by the estimates beside the actions (rllib.estimates)
            self.value_based = value_based

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            inputs: torch.Tensor
            if masked:  # a flat row is the action mask, then the observations (a Dict flattened, keys sorted)
                mask = (x[:, : masked[0]] > 0.5).to(x.dtype)  # 1 allows an action, 0 masks it
                rest = x[:, masked[0] :]
                obs = {ACTION_MASK: mask, MASKED_OBSERVATIONS: rest}
                inputs = self.module.forward_inference({"obs": obs})["action_dist_inputs"]
                return inputs
            if len(shape) != 1:
                x = x.reshape((-1, *shape))
            if value_based:  # DQN's family acts greedily on its Q-values: they are the categorical head's logits
                inputs = _q_values(self.module, x)
            else:
                inputs = self.module.forward_inference({"obs": x})["action_dist_inputs"]
            return inputs

    return RLModuleBody()


def action_head(module: Any, action_space: Any, normalize_actions: bool) -> ActionHead:
    """The serving head for ``module``'s inference distribution over ``action_space``."""
    from ray.rllib.core.distribution.torch.torch_distribution import (  # heavy: Ray and RLlib (~4 s)
        TorchCategorical,
        TorchDeterministic,
        TorchDiagGaussian,
        TorchMultiCategorical,
        TorchMultiDistribution,
        TorchSquashedGaussian,
    )

    declared = module.get_inference_action_dist_cls()
    dist_cls = getattr(declared, "func", declared)  # functools.partial wrappers
    if isinstance(action_space, spaces.Discrete) and issubclass(dist_cls, TorchCategorical):
        return ActionHead(CATEGORICAL, int(action_space.n), start=int(action_space.start))
    parts = _discrete_parts(action_space)
    if parts is not None and issubclass(dist_cls, (TorchMultiCategorical, TorchMultiDistribution)):
        return ActionHead(MULTI_CATEGORICAL, sum(parts[0]), parts=parts[0], starts=parts[1])
    hybrid = _hybrid_parts(action_space)
    if hybrid is not None and issubclass(dist_cls, TorchMultiDistribution):
        return _hybrid_head(declared, action_space, normalize_actions, *hybrid)
    if isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
        kind = {
            TorchDiagGaussian: GAUSSIAN,
            TorchDeterministic: DETERMINISTIC,
            TorchSquashedGaussian: SQUASHED_GAUSSIAN,
        }.get(dist_cls)
        if kind == SQUASHED_GAUSSIAN and _partial_bounds(declared) != (-1.0, 1.0):
            raise UserError(
                f"Cannot export a squashed Gaussian over {_partial_bounds(declared)}: only RLlib's default [-1, 1]."
            )
        if kind is not None:
            return ActionHead(
                kind,
                int(action_space.shape[0]),
                low=action_space.low.astype(float).tolist(),
                high=action_space.high.astype(float).tolist(),
                normalized=bool(normalize_actions),
            )
    raise UserError(
        f"Cannot export a serving policy for action space {action_space} with distribution {dist_cls.__name__}: "
        "supported are Discrete (categorical), MultiDiscrete or a Tuple of Discrete (one categorical each), 1-D "
        "Box (diagonal Gaussian, squashed Gaussian or deterministic) and Tuple(1-D Box, Discrete or MultiDiscrete) "
        "(a Gaussian and categoricals: ML-Agents' hybrid actions) policies."
    )


def _hybrid_parts(action_space: Any) -> tuple[list[int], list[int]] | None:
    """The discrete parts' sizes and first values of ``Tuple((1-D Box, Discrete or MultiDiscrete))``, the hybrid
    actions of ML-Agents' games; None for any other space (a one-part MultiDiscrete, which an env takes as an array
    where the served row gives a number, included)."""
    if not (isinstance(action_space, spaces.Tuple) and len(action_space.spaces) == 2):
        return None
    box, discrete = action_space.spaces
    if not (isinstance(box, spaces.Box) and len(box.shape) == 1):
        return None
    if isinstance(discrete, spaces.Discrete):
        return [int(discrete.n)], [int(discrete.start)]
    parts = _discrete_parts(discrete)
    return parts if parts is not None and len(parts[0]) > 1 else None


def _hybrid_head(
    dist_cls: Any, action_space: Any, normalize_actions: bool, parts: list[int], starts: list[int]
) -> ActionHead:
    """The hybrid head, after checking on random inputs that RLlib's own deterministic action of ``dist_cls`` is what
    the head reads from them: the Gaussian's mean (the first ``size`` of ``2 * size`` inputs), then each part's
    arg-max."""
    import torch  # heavy: torch (~1.5 s)

    box = action_space.spaces[0]
    size = int(box.shape[0])
    logits = torch.randn((8, 2 * size + sum(parts)), generator=torch.Generator().manual_seed(0))
    try:
        continuous, discrete = dist_cls.from_logits(logits).to_deterministic().sample()
    except Exception as exc:  # a distribution over other inputs than a Gaussian's and the parts' logits
        raise UserError(
            f"Cannot export a serving policy for action space {action_space}: its distribution does not "
            f"take a Gaussian's and categoricals' inputs ({type(exc).__name__}: {exc})."
        ) from exc
    split = torch.split(logits[:, 2 * size :], parts, dim=1)
    greedy = torch.stack([part.argmax(dim=1) for part in split], dim=1)  # indices: the head adds the starts
    if not (torch.equal(continuous, logits[:, :size]) and torch.equal(discrete.reshape(greedy.shape), greedy)):
        raise UserError(
            f"Cannot export a serving policy for action space {action_space}: its distribution's "
            "deterministic action is not a Gaussian's mean and each part's most likely action."
        )
    return ActionHead(
        HYBRID,
        size,
        low=box.low.astype(float).tolist(),
        high=box.high.astype(float).tolist(),
        normalized=bool(normalize_actions),
        parts=parts,
        starts=starts,
    )


def _discrete_parts(action_space: Any) -> tuple[list[int], list[int]] | None:
    """Each part's size and first value of a 1-D ``MultiDiscrete`` or a ``Tuple`` of ``Discrete``; None otherwise."""
    if isinstance(action_space, spaces.MultiDiscrete) and action_space.nvec.ndim == 1:
        return (
            [int(n) for n in action_space.nvec],
            [int(v) for v in np.broadcast_to(action_space.start, action_space.nvec.shape)],
        )
    if isinstance(action_space, spaces.Tuple) and action_space.spaces:
        parts = [part for part in action_space.spaces if isinstance(part, spaces.Discrete)]
        if len(parts) == len(action_space.spaces):
            return [int(part.n) for part in parts], [int(part.start) for part in parts]
    return None


def _partial_bounds(dist_cls: Any) -> tuple[float, float]:
    """The (low, high) a squashed distribution class is bound to (RLlib's defaults unless a partial sets them)."""
    keywords = getattr(dist_cls, "keywords", None) or {}
    return float(keywords.get("low", -1.0)), float(keywords.get("high", 1.0))


def filter_from_state(env_to_module_state: Mapping[str, Any] | None) -> ObservationFilter | None:
    """The MeanStdFilter's fixed statistics from an env-to-module pipeline state, or None if there is no filter."""
    from ray.rllib.utils.filter import RunningStat  # heavy: Ray and RLlib (~4 s)
    from ray.rllib.utils.numpy import SMALL_NUMBER  # heavy: Ray and RLlib (~4 s)

    state = (env_to_module_state or {}).get("MeanStdFilter")
    if not state:
        return None
    agent_state = state.get(None, next(iter(state.values())))
    stats = [RunningStat.from_state(s) for s in agent_state["running_stats"]]
    if len(stats) != 1:
        raise UserError("Cannot export a MeanStdFilter over a nested observation space (only flat Box observations).")
    stat = stats[0]
    return ObservationFilter(
        mean=np.asarray(stat.mean, dtype=np.float64),
        std=np.asarray(stat.std, dtype=np.float64),
        eps=float(SMALL_NUMBER),
        clip=agent_state.get("clip_by_value"),
        demean=bool(agent_state.get("de_mean_to_zero", True)),
        destd=bool(agent_state.get("de_std_to_one", True)),
    )


def _traceable_free_log_std_head(head: Any) -> Any:
    """RLlib's free-log-std head (``model_config.free_log_std``) as a module computing what it computes, with the
    log-std broadcast over the batch instead of ``repeat([len(mean), 1])``, which a trace (TorchScript, ONNX) freezes
    to the example's batch. It reads the head's attributes (``net``, ``log_std``, its clipping settings)."""
    import torch  # heavy: torch (~1.5 s)

    class TraceableFreeLogStdHead(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.head = head

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            mean = self.head.net(inputs)
            log_std = self.head.log_std
            if self.head.clip_log_std:
                clip = self.head.log_std_clip_param_const
                log_std = torch.clamp(log_std, -clip, clip)
            return torch.cat([mean, torch.zeros_like(mean) + log_std], dim=1)

    return TraceableFreeLogStdHead()


def _traceable(module: Any) -> Any:
    """``module`` (a copy: it is changed in place) with the parts RLlib computes in a way a trace cannot follow
    replaced by equivalent submodules (``torch.nn.Module.set_submodule``; RLlib calls a head as ``self.pi(x)``)."""
    from ray.rllib.core.models.torch.heads import TorchFreeLogStdMLPHead  # heavy: Ray and RLlib (~4 s)

    heads = [name for name, part in module.named_modules() if isinstance(part, TorchFreeLogStdMLPHead)]
    for name in heads:
        module.set_submodule(name, _traceable_free_log_std_head(module.get_submodule(name)))
    return module


def serving_policy_from_parts(
    module: Any, env_to_module_state: Mapping[str, Any] | None, normalize_actions: bool
) -> tuple[Any, ActionHead, ObservationFilter | None]:
    """Build the torch serving policy from an RLModule (copied to CPU) and its connectors' state."""
    if module.is_stateful():
        raise UserError(RECURRENT_NOT_SERVED)
    module = _traceable(copy.deepcopy(module).cpu().eval())
    observation_space = module.observation_space
    masked = _masked_sizes(module)
    if not masked and not isinstance(observation_space, spaces.Box):
        raise UserError(
            f"Cannot export a serving policy for observation space {observation_space}: the module's "
            "observations must be a Box (vectors or images; RLlib flattens Dict and Tuple spaces) or an "
            "action mask with observations."
        )
    head = action_head(module, module.action_space, normalize_actions)
    dim = sum(masked) if masked else int(np.prod(observation_space.shape))
    obs_filter = scaled_filter(env_to_module_state, filter_from_state(env_to_module_state), dim)
    policy = build_serving_policy(_body(module), dim, head, obs_filter)
    return policy, head, obs_filter


def serving_policy_from_algorithm(algo: Any) -> tuple[Any, ActionHead, ObservationFilter | None]:
    """The serving policy of a live Algorithm (its learner's module and its env runners' synced filter)."""
    state = algo.get_state(components=["env_runner"]).get("env_runner", {})
    return serving_policy_from_parts(
        algo.get_module(), state.get("env_to_module_connector"), bool(algo.config.normalize_actions)
    )


MODULES_PATH = MODULE_PATH[:-1]
DEFAULT_MODULE = MODULE_PATH[-1]


def module_ids(checkpoint: Path) -> list[str]:
    """The RLModule ids an RLlib (new API stack) checkpoint holds (``default_policy`` for a single-agent one)."""
    modules = checkpoint.joinpath(*MODULES_PATH)
    if not modules.is_dir():
        raise UserError(f"{checkpoint} is not an RLlib (new API stack) checkpoint: {modules} is missing.")
    ids = sorted(p.name for p in modules.iterdir() if p.is_dir())
    if not ids:
        raise UserError(f"{checkpoint} holds no RLModule (nothing in {modules}).")
    return ids


def module_from_checkpoint(module_dir: Path) -> Any:
    """The RLModule saved in ``module_dir`` (a checkpoint's ``learner_group/learner/rl_module/<id>``: see
    :data:`MODULE_PATH`), for a family's own evaluation (DeepRacer's)."""
    from ray.rllib.core.rl_module.rl_module import RLModule  # heavy: Ray and RLlib (~4 s)

    return RLModule.from_checkpoint(str(module_dir))


def serving_policy_from_checkpoint(
    checkpoint: Path, module_id: str = DEFAULT_MODULE
) -> tuple[Any, ActionHead, ObservationFilter | None]:
    """The serving policy of an RLlib algorithm checkpoint folder (``model/checkpoint``): its module ``module_id``
    (a multi-agent checkpoint's policy id) with the connectors' state."""
    from ray.rllib.connectors.env_to_module import EnvToModulePipeline  # heavy: Ray and RLlib (~4 s)
    from ray.rllib.connectors.module_to_env import ModuleToEnvPipeline  # heavy: Ray and RLlib (~4 s)

    module_dir = checkpoint.joinpath(*MODULES_PATH, module_id)
    if not module_dir.is_dir():
        raise UserError(
            f"{checkpoint} has no RLModule {module_id!r} ({module_dir} is missing; it holds "
            f"{', '.join(module_ids(checkpoint))})."
        )
    module = module_from_checkpoint(module_dir)
    env_to_module_state: dict[str, Any] = {}
    normalize_actions = True
    e2m = checkpoint.joinpath(*ENV_TO_MODULE_PATH)
    if e2m.is_dir():
        env_to_module_state = EnvToModulePipeline.from_checkpoint(str(e2m)).get_state()
        if module_id != DEFAULT_MODULE and (env_to_module_state.get("MeanStdFilter") or {}):
            raise UserError(
                "Cannot export a multi-agent policy trained with observation_filter MeanStdFilter: "
                "RLlib keeps its statistics per agent, not per policy. Train without it to serve."
            )
    m2e = checkpoint.joinpath(*MODULE_TO_ENV_PATH)
    if m2e.is_dir():
        pipeline = ModuleToEnvPipeline.from_checkpoint(str(m2e))
        for connector in pipeline.connectors:
            if type(connector).__name__ == "NormalizeAndClipActions":
                normalize_actions = bool(getattr(connector, "normalize_actions", True))
    return serving_policy_from_parts(module, env_to_module_state, normalize_actions)
