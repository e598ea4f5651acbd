"""ML-Agents behavior specs as gymnasium spaces, and actions back as ``ActionTuple``s.

- Observations: one observation spec -> its ``Box`` (a camera, rank 3 (H, W, C), in [0, 1]; vectors unbounded);
  several -> a ``Tuple`` of those, in the behavior's sensor order.
- Actions: one discrete branch -> ``Discrete``; several -> ``MultiDiscrete``; continuous -> ``Box(-1, 1)``;
  both (hybrid) -> ``Tuple((Box, Discrete | MultiDiscrete))``.
"""

from __future__ import annotations

from typing import Any, Sequence

import gymnasium as gym
import numpy as np


def observation_space(behavior_spec: Any) -> gym.Space:
    """The gymnasium observation space of an ML-Agents ``BehaviorSpec``."""
    boxes = []
    for spec in behavior_spec.observation_specs:
        shape = tuple(int(d) for d in spec.shape)
        if len(shape) == 3:
            boxes.append(gym.spaces.Box(0.0, 1.0, shape, np.float32))
        else:
            boxes.append(gym.spaces.Box(-np.inf, np.inf, shape, np.float32))
    if len(boxes) == 1:
        return boxes[0]
    return gym.spaces.Tuple(boxes)


def _discrete_space(branches: Sequence[int]) -> gym.Space:
    if len(branches) == 1:
        return gym.spaces.Discrete(int(branches[0]))
    return gym.spaces.MultiDiscrete([int(b) for b in branches])


def action_space(behavior_spec: Any) -> gym.Space:
    """The gymnasium action space of an ML-Agents ``BehaviorSpec``."""
    spec = behavior_spec.action_spec
    continuous = spec.continuous_size
    branches = tuple(spec.discrete_branches)
    if continuous and branches:
        return gym.spaces.Tuple((gym.spaces.Box(-1.0, 1.0, (continuous,), np.float32), _discrete_space(branches)))
    if continuous:
        return gym.spaces.Box(-1.0, 1.0, (continuous,), np.float32)
    if branches:
        return _discrete_space(branches)
    raise ValueError("the behavior has no actions (neither continuous nor discrete)")


def observation_at(obs_list: Sequence[np.ndarray], index: int) -> Any:
    """Agent ``index``'s observation from a DecisionSteps/TerminalSteps ``obs`` list, shaped as the space."""
    if len(obs_list) == 1:
        return np.asarray(obs_list[0][index], dtype=np.float32)
    return tuple(np.asarray(o[index], dtype=np.float32) for o in obs_list)


def action_tuple(behavior_spec: Any, actions: Sequence[Any]) -> Any:
    """An ``ActionTuple`` for ``len(actions)`` agents, each action an element of :func:`action_space`."""
    from mlagents_envs.base_env import ActionTuple  # heavy: ML-Agents (Unity games only)

    spec = behavior_spec.action_spec
    n = len(actions)
    continuous = spec.continuous_size
    branches = tuple(spec.discrete_branches)
    cont = np.zeros((n, continuous), dtype=np.float32)
    disc = np.zeros((n, len(branches)), dtype=np.int32)
    for i, action in enumerate(actions):
        if action is None:
            continue
        if continuous and branches:
            cont[i] = np.asarray(action[0], dtype=np.float32).reshape(continuous)
            disc[i] = np.asarray(action[1], dtype=np.int32).reshape(len(branches))
        elif continuous:
            cont[i] = np.asarray(action, dtype=np.float32).reshape(continuous)
        else:
            disc[i] = np.asarray(action, dtype=np.int32).reshape(len(branches))
    return ActionTuple(continuous=cont, discrete=disc)
