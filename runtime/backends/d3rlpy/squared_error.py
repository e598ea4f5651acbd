"""A Q-function whose TD loss is the squared error, for d3rlpy's discrete Q-learning algorithms (with continuous
actions it is d3rlpy's "mean" unchanged).

d3rlpy's ``MeanQFunctionFactory`` ("mean") always fits its Q-values with the Huber loss. Coach's DQN family fits
them with the squared error unless ``replace_mse_with_huber_loss`` is set, and the Batch RL seed's DDQN-BCQ preset
sets it to False. The choice is not cosmetic: on the seed's 11k random-policy CartPole transitions (gamma 0.99,
lr 1e-4, a target copy every 50 steps), the Huber fit lets every Q-value climb past the 100 that bounds the true
values and keeps climbing (~3,500 after 50 epochs) while the greedy policy balances 8-11 steps; the squared error's
Q-values stay below 100 and the policy balances the 200 steps CartPole-v0 allows from epoch ~20 on (reproduced
with a hand-written DDQN as well as with d3rlpy, bench/results/offline.md).

:class:`SquaredErrorQFunctionFactory` (type name :data:`TYPE`, so ``rl.training.config.q_func_factory:
mean_squared_error``) is d3rlpy's documented extension point for Q-functions: the same network as "mean", only
the forwarder's ``compute_error`` differs. :func:`register` adds it to d3rlpy's registry so that a config or a model
file naming it can be read back; :func:`runtime.backends.d3rlpy.library.import_d3rlpy` calls it.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import Any

TYPE = "mean_squared_error"
"""The factory's d3rlpy type name (what ``q_func_factory`` and a saved model's config say)."""


@functools.cache
def factory_class() -> type[Any]:
    """The factory class, built on first use (it subclasses d3rlpy's, which imports torch)."""
    from d3rlpy.models import MeanQFunctionFactory  # heavy: d3rlpy
    from d3rlpy.models.torch import DiscreteMeanQFunction, DiscreteMeanQFunctionForwarder  # heavy: d3rlpy

    class SquaredErrorForwarder(DiscreteMeanQFunctionForwarder):
        """d3rlpy's discrete mean-Q forwarder with the squared TD error in place of the Huber loss."""

        def compute_error(
            self,
            observations: Any,
            actions: Any,
            rewards: Any,
            target: Any,
            terminals: Any,
            gamma: Any = 0.99,
            reduction: str = "mean",
        ) -> Any:
            q_values = self.compute_expected_q(observations)
            value = q_values.gather(1, actions.view(-1, 1).long())
            y = rewards + gamma * target * (1 - terminals)
            loss = (value - y) ** 2
            if reduction == "none":
                return loss
            if reduction not in ("mean", "sum"):
                raise ValueError(f"reduction {reduction!r}: 'mean', 'sum' or 'none'")
            return loss.mean() if reduction == "mean" else loss.sum()

    @dataclasses.dataclass()
    class SquaredErrorQFunctionFactory(MeanQFunctionFactory):
        """d3rlpy's "mean" Q-function fitted with the squared TD error (discrete actions)."""

        def create_discrete(self, encoder: Any, hidden_size: int, action_size: int) -> tuple[Any, Any]:
            q_func = DiscreteMeanQFunction(encoder, hidden_size, action_size)
            return q_func, SquaredErrorForwarder(q_func, action_size)

        @staticmethod
        def get_type() -> str:
            return TYPE

    return SquaredErrorQFunctionFactory


@functools.cache
def register() -> None:
    """Add :data:`TYPE` to d3rlpy's Q-function registry, once per process (d3rlpy refuses a second registration)."""
    from d3rlpy.models.q_functions import register_q_func_factory  # heavy: d3rlpy

    register_q_func_factory(factory_class())


def fqe_q_function(discrete: bool) -> Any:
    """The Q-function Fitted Q Evaluation fits: the squared error's for discrete actions (d3rlpy's continuous "mean"
    already uses it), None for d3rlpy's default otherwise. FQE estimates ``E[r + gamma Q(s', pi(s'))]``, an
    expectation, which is what the squared error's minimiser is; the Huber loss's is a robust location between the
    median and the mean of the targets instead. With a stochastic transition whose bootstrapped targets differ by
    more than the Huber threshold (1), d3rlpy's discrete FQE is biased by it: on a two-state MDP whose true value
    is 3.375 (targets 0 or 4.5 with probabilities 1/4 and 3/4) it converges to 4.17, the Huber location."""
    return factory_class()() if discrete else None
