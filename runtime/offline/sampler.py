"""Mini-batches from a fixed dataset without d3rlpy's per-transition Python loop.

d3rlpy's ``ReplayBuffer.sample_transition_batch`` picks each of the batch's transitions in Python (its transition
picker builds a ``Transition`` object per sample, then they are stacked): on CartPole-sized networks that is about a
third of a gradient step. Offline data never changes, so :class:`TransitionTable` runs d3rlpy's own transition
picker once over every transition, keeps the stacked arrays, and samples indices with numpy: the same transitions,
the same uniform distribution over them (``np.random``, which ``d3rlpy.seed`` seeds), one fancy-indexing per field.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class TransitionTable:
    """Every transition of a d3rlpy replay buffer as arrays; :meth:`sample` returns a ``TransitionMiniBatch``."""

    def __init__(self, dataset: Any) -> None:
        from d3rlpy.dataset import TransitionMiniBatch  # heavy: d3rlpy (offline jobs only)

        picker = dataset.transition_picker
        buffer = dataset.buffer
        everything = TransitionMiniBatch.from_transitions([picker(*buffer[i]) for i in range(dataset.transition_count)])
        self._cls = TransitionMiniBatch
        self.observations = np.ascontiguousarray(everything.observations)
        self.actions = np.ascontiguousarray(everything.actions)
        self.rewards = np.ascontiguousarray(everything.rewards)
        self.next_observations = np.ascontiguousarray(everything.next_observations)
        self.next_actions = np.ascontiguousarray(everything.next_actions)
        self.terminals = np.ascontiguousarray(everything.terminals)
        self.intervals = np.ascontiguousarray(everything.intervals)
        self.size = int(dataset.transition_count)

    def sample(self, batch_size: int) -> Any:
        """A uniformly sampled mini-batch (with replacement, as d3rlpy samples)."""
        idx = np.random.randint(self.size, size=batch_size)
        return self._cls(
            observations=self.observations[idx],
            actions=self.actions[idx],
            rewards=self.rewards[idx],
            next_observations=self.next_observations[idx],
            next_actions=self.next_actions[idx],
            terminals=self.terminals[idx],
            intervals=self.intervals[idx],
            transitions=[],
        )
