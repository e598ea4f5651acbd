"""Action masks in one form: the SageMaker RL examples' convention (a Dict observation with an ``action_mask``
entry beside the observation) made the ``{"action_mask": ..., "observations": ...}`` pair a masking policy reads."""

from __future__ import annotations

from typing import Any

import gymnasium
import numpy as np

from envs.errors import EnvConfigError

ACTION_MASK = "action_mask"
MASKED_OBSERVATIONS = "observations"


def _float_box(space: gymnasium.spaces.Space) -> gymnasium.spaces.Box:
    """``space`` flattened into a float32 Box (a Box keeps its bounds)."""
    if isinstance(space, gymnasium.spaces.Box):
        return gymnasium.spaces.Box(
            space.low.reshape(-1).astype(np.float32), space.high.reshape(-1).astype(np.float32), dtype=np.float32
        )
    flat = gymnasium.spaces.flatten_space(space)
    if not isinstance(flat, gymnasium.spaces.Box):  # a Sequence or Graph space inside: no fixed size
        raise EnvConfigError(
            f"The observations beside the action mask, {space}, do not flatten into a fixed-size "
            "vector (a Sequence or Graph space); a masking policy reads a vector."
        )
    return gymnasium.spaces.Box(flat.low.astype(np.float32), flat.high.astype(np.float32), dtype=np.float32)


class ActionMaskObservations(gymnasium.ObservationWrapper):
    """The SageMaker RL examples' action-masking convention made uniform: a Dict observation with an
    ``action_mask`` entry (one 0/1 per discrete action; for ``MultiDiscrete`` or a ``Tuple`` of ``Discrete`` actions,
    one per choice of each part, concatenated or as a ``Tuple`` of masks, one per part) and the observation in one or
    more other entries (e.g. ``real_obs``) becomes ``{"action_mask": float32 [n], "observations": float32 [m]}``, the
    mask concatenated in the parts' order (the order of RLlib's logits) and the other entries flattened (gymnasium's
    ``flatten``, keys in sorted order), which is what a masking policy reads."""

    def __init__(self, env: gymnasium.Env) -> None:
        super().__init__(env)
        space, actions = env.observation_space, env.action_space
        size = mask_size(actions)
        assert isinstance(space, gymnasium.spaces.Dict) and size is not None, (
            "ActionMaskObservations wraps what has_action_mask accepts"
        )
        self._rest = gymnasium.spaces.Dict({k: v for k, v in space.spaces.items() if k != ACTION_MASK})
        self._single = next(iter(self._rest.spaces)) if len(self._rest.spaces) == 1 else None
        self.observation_space = gymnasium.spaces.Dict(
            {
                ACTION_MASK: gymnasium.spaces.Box(0.0, 1.0, (size,), np.float32),
                MASKED_OBSERVATIONS: _float_box(self._rest.spaces[self._single] if self._single else self._rest),
            }
        )

    def observation(self, observation: Any) -> dict[str, Any]:
        if self._single is not None:
            rest = np.asarray(observation[self._single], dtype=np.float32).reshape(-1)
        else:
            rest = np.asarray(
                gymnasium.spaces.flatten(self._rest, {k: observation[k] for k in self._rest.spaces}), dtype=np.float32
            )
        return {ACTION_MASK: _flat_mask(observation[ACTION_MASK]), MASKED_OBSERVATIONS: rest}


def mask_size(action_space: Any) -> int | None:
    """The length of an action mask for ``action_space``: ``n`` for ``Discrete``, the sum of the parts' for
    ``MultiDiscrete`` and a ``Tuple`` of ``Discrete``; None for actions a mask cannot cover."""
    if isinstance(action_space, gymnasium.spaces.Discrete):
        return int(action_space.n)
    if isinstance(action_space, gymnasium.spaces.MultiDiscrete) and action_space.nvec.ndim == 1:
        return int(action_space.nvec.sum())
    if isinstance(action_space, gymnasium.spaces.Tuple):
        parts = [part for part in action_space.spaces if isinstance(part, gymnasium.spaces.Discrete)]
        if parts and len(parts) == len(action_space.spaces):
            return sum(int(part.n) for part in parts)
    return None


def _flat_mask(mask: Any) -> np.ndarray:
    """A mask (an array, or a tuple of arrays: one per action part) as one float32 vector."""
    if isinstance(mask, (tuple, list)) and any(np.ndim(part) for part in mask):
        return np.concatenate([_flat_mask(part) for part in mask]) if mask else np.zeros(0, np.float32)
    return np.asarray(mask, dtype=np.float32).reshape(-1)


def _mask_entries(space: gymnasium.spaces.Space) -> int | None:
    """How many 0/1 entries a mask space holds (a Box, MultiBinary, or a Tuple of them); None for another space."""
    if isinstance(space, (gymnasium.spaces.Box, gymnasium.spaces.MultiBinary)):
        return int(np.prod(space.shape))
    if isinstance(space, gymnasium.spaces.Tuple):
        sizes = [_mask_entries(part) for part in space.spaces]
        return None if any(n is None for n in sizes) else sum(n for n in sizes if n is not None)
    return None


def has_action_mask(observation_space: Any, action_space: Any) -> bool:
    """Whether observations carry an ``action_mask`` for discrete actions (the SageMaker RL examples' convention;
    for ``MultiDiscrete`` or ``Tuple`` actions, a mask of the parts' total size: concatenated or a ``Tuple``)."""
    if not (
        isinstance(observation_space, gymnasium.spaces.Dict)
        and ACTION_MASK in observation_space.spaces
        and len(observation_space.spaces) > 1
    ):
        return False
    size = mask_size(action_space)
    if isinstance(action_space, gymnasium.spaces.Discrete):  # the examples' own: any mask, as before
        return True
    return size is not None and _mask_entries(observation_space.spaces[ACTION_MASK]) == size


def with_action_mask(env: gymnasium.Env) -> gymnasium.Env:
    """``env`` with its action mask in the uniform form (:class:`ActionMaskObservations`); others unchanged."""
    space = env.observation_space
    if not isinstance(space, gymnasium.spaces.Dict) or not has_action_mask(space, env.action_space):
        return env
    if set(space.spaces) == {ACTION_MASK, MASKED_OBSERVATIONS} and all(
        isinstance(s, gymnasium.spaces.Box) and len(s.shape) == 1 and s.dtype == "float32"
        for s in space.spaces.values()
    ):
        return env
    return ActionMaskObservations(env)
