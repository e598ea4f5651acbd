"""``rl_coach.spaces``: state, action and reward spaces, as Coach's ``rl_coach/spaces.py`` defines them. A Batch RL
preset without an environment describes its dataset's spaces with them (``SpacesDefinition``).

``shape`` is a numpy array (an int ``n`` -> ``[n]``), and a number given for ``low`` / ``high`` becomes an array of
that shape, as in Coach."""

from __future__ import annotations

from typing import Any

import numpy as np


class Space:
    """Values of shape ``shape`` within [``low``, ``high``]."""

    def __init__(self, shape: Any, low: Any = -np.inf, high: Any = np.inf) -> None:
        if isinstance(shape, int) and shape < 0:
            raise ValueError("The shape of the space must be a non-negative number")
        self.shape = np.array([shape]) if isinstance(shape, int) else np.array(shape)
        self.num_dimensions = len(self.shape)
        self.num_elements = int(np.prod(self.shape))
        self.low = self._as_bound(low)
        self.high = self._as_bound(high)
        if self.low is not None and self.high is not None and not np.all(np.asarray(self.low) <= self.high):
            raise ValueError(
                "At least one of the axes-parallel lines defining the space has low values which are "
                "higher than the given high values"
            )

    def _as_bound(self, value: Any) -> Any:
        return np.ones(self.shape) * value if isinstance(value, (int, float)) else value


class RewardSpace(Space):
    def __init__(
        self, shape: Any, low: Any = -np.inf, high: Any = np.inf, reward_success_threshold: float | None = None
    ) -> None:
        super().__init__(shape, low, high)
        self.reward_success_threshold = reward_success_threshold


class ObservationSpace(Space):
    pass


class VectorObservationSpace(ObservationSpace):
    """A vector of ``shape`` elements (optionally named: ``measurements_names``)."""

    def __init__(
        self, shape: int, low: Any = -np.inf, high: Any = np.inf, measurements_names: list[str] | None = None
    ) -> None:
        measurements_names = [] if measurements_names is None else measurements_names
        if len(measurements_names) > shape:
            raise ValueError(f"measurement_names size {len(measurements_names)} is larger than shape {shape}.")
        self.measurements_names = measurements_names
        super().__init__(shape, low, high)


class TensorObservationSpace(ObservationSpace):
    pass


class PlanarMapsObservationSpace(ObservationSpace):
    """A stack of 2D maps (channels on ``channels_axis``)."""

    def __init__(self, shape: Any, low: Any, high: Any, channels_axis: int = -1) -> None:
        super().__init__(shape, low, high)
        if not 2 <= len(shape) <= 3:
            raise ValueError(
                "Planar maps observations must have 3 dimensions - a channels dimension and 2 maps "
                f"dimensions, not {len(shape)}"
            )
        self.channels_axis = channels_axis
        self.channels = 1 if len(shape) == 2 else shape[channels_axis]


class ImageObservationSpace(PlanarMapsObservationSpace):
    """An RGB or grayscale image (values 0 to ``high``)."""

    def __init__(self, shape: Any, high: Any, channels_axis: int = -1) -> None:
        super().__init__(shape, 0, high, channels_axis)
        if self.channels not in (1, 3):
            raise ValueError(f"Image observations must have 1 or 3 channels, not {self.channels}")
        self.has_colors = self.channels == 3


class StateSpace:
    """The observation spaces of a state by name (``{"observation": VectorObservationSpace(4)}``)."""

    def __init__(self, sub_spaces: dict[str, Space]) -> None:
        self.sub_spaces = sub_spaces

    def __getitem__(self, item: str) -> Space:
        return self.sub_spaces[item]

    def __setitem__(self, key: str, value: Space) -> None:
        self.sub_spaces[key] = value


class ActionSpace(Space):
    def __init__(
        self, shape: Any, low: Any = -np.inf, high: Any = np.inf, descriptions: Any = None, default_action: Any = None
    ) -> None:
        super().__init__(shape, low, high)
        self.descriptions = {} if descriptions is None else descriptions
        self.default_action = default_action


class BoxActionSpace(ActionSpace):
    """Continuous actions within [``low``, ``high``]."""

    def __init__(
        self, shape: Any, low: Any = -np.inf, high: Any = np.inf, descriptions: Any = None, default_action: Any = None
    ) -> None:
        super().__init__(shape, low, high, descriptions)
        self.max_abs_range = np.maximum(np.abs(self.low), np.abs(self.high))
        if default_action is not None:
            self.default_action = default_action
        elif np.any(np.isinf(self.low)) or np.any(np.isinf(self.high)):
            self.default_action = np.zeros(shape)
        else:
            self.default_action = self.low + (self.high - self.low) / 2


class DiscreteActionSpace(ActionSpace):
    """Actions 0 to ``num_actions - 1`` (Coach keeps the count as ``high + 1``)."""

    def __init__(
        self, num_actions: int, descriptions: Any = None, default_action: Any = None, filtered_action_space: Any = None
    ) -> None:
        super().__init__(1, low=0, high=num_actions - 1, descriptions=descriptions)
        self.default_action = 0 if default_action is None else default_action
        if filtered_action_space is not None:
            self.filtered_action_space = filtered_action_space

    @property
    def actions(self) -> list[int]:
        return list(range(0, int(self.high[0]) + 1))


class SpacesDefinition:
    """All the spaces of a problem at once (a Batch RL graph without an environment)."""

    def __init__(
        self, state: StateSpace, goal: ObservationSpace | None, action: ActionSpace, reward: RewardSpace
    ) -> None:
        self.state = state
        self.goal = goal
        self.action = action
        self.reward = reward
