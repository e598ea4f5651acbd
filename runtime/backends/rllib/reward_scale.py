"""``rl.training.config.reward_scale``: rlrt's own setting that multiplies the rewards the learner trains on (Coach's
``RewardRescaleFilter``), while the env runners, and so every reported episode return and the pass bar, keep the
environment's own rewards.

It is one RLlib learner connector piece (public ``ConnectorV2`` API), placed before RLlib's defaults: it writes the
scaled rewards as the train batch's ``rewards`` column, which RLlib's ``AddColumnsFromEpisodesToTrainBatch`` then
leaves as it is; advantages (PPO's GAE) and TD targets (DQN) are computed from that column. The episodes themselves are
not changed (a local env runner still holds them for its episode metrics).
"""

from __future__ import annotations

import math
from typing import Any

REWARD_SCALE = "reward_scale"


def reward_scale_problem(name: str, value: Any) -> str | None:
    """Why ``value`` is not a reward scale (a finite number other than 0), or None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value == 0:
        return f"'{name}' must be a finite number other than 0 (the factor the rewards are trained on), got {value!r}"
    return None


def scaled_rewards(factor: float, input_observation_space: Any = None, input_action_space: Any = None) -> Any:
    """The learner connector piece that puts ``factor`` x each episode's rewards in the train batch (RLlib's
    ``learner_connector`` builder, given the spaces)."""
    from ray.rllib.connectors.connector_v2 import ConnectorV2  # heavy: Ray and RLlib (~4 s)
    from ray.rllib.core.columns import Columns  # heavy: Ray and RLlib (~4 s)

    class ScaledRewards(ConnectorV2):
        def __call__(
            self,
            *,
            rl_module: Any,
            batch: dict[str, Any],
            episodes: list[Any],
            explore: Any = None,
            shared_data: Any = None,
            **kwargs: Any,
        ) -> Any:
            if Columns.REWARDS in batch:
                return batch
            for episode in self.single_agent_episode_iterator(episodes, agents_that_stepped_only=False):
                rewards = episode.get_rewards(slice(0, len(episode)))
                self.add_n_batch_items(
                    batch,
                    Columns.REWARDS,
                    items_to_add=[float(r) * factor for r in rewards],
                    num_items=len(episode),
                    single_agent_episode=episode,
                )
            return batch

    return ScaledRewards(input_observation_space, input_action_space)
