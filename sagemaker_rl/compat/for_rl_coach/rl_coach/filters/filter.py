"""``rl_coach.filters.filter``: the filter containers of Coach's ``rl_coach/filters/filter.py`` (an agent's
``input_filter``, ``output_filter`` and ``pre_network_filter``): named observation, reward and action filters."""

from __future__ import annotations

from collections import OrderedDict
from copy import deepcopy
from typing import Any


def _move_to_front(filters: dict[str, Any], name: str) -> None:
    """Make ``name`` the first of ``filters``: a plain dict keeps insertion order as an ``OrderedDict`` does, and a
    script may hand either (``move_to_end`` is the ``OrderedDict``'s only)."""
    for key in [k for k in filters if k != name]:
        filters[key] = filters.pop(key)


class Filter:
    def __init__(self, name: str | None = None) -> None:
        self.name = name

    def reset(self) -> None:
        """Stateless here: nothing to reset."""


class InputFilter(Filter):
    """Filters on what the environment gives the agent: ``observation_filters`` (observation name -> filter name ->
    filter) and ``reward_filters`` (filter name -> filter), applied in order."""

    def __init__(
        self,
        observation_filters: dict[str, dict[str, Any]] | None = None,
        reward_filters: dict[str, Any] | None = None,
        is_a_reference_filter: bool = False,
        name: str | None = None,
    ) -> None:
        super().__init__(name)
        self._observation_filters = {} if observation_filters is None else observation_filters
        self._reward_filters = OrderedDict() if reward_filters is None else reward_filters
        self.i_am_a_reference_filter = is_a_reference_filter

    def __call__(self) -> InputFilter:
        """A copy that may be changed (Coach's way of using a shared reference filter such as Atari's)."""
        duplicate = deepcopy(self)
        duplicate.i_am_a_reference_filter = False
        return duplicate

    @property
    def observation_filters(self) -> dict[str, dict[str, Any]]:
        return self._observation_filters

    @observation_filters.setter
    def observation_filters(self, val: dict[str, dict[str, Any]]) -> None:
        self._observation_filters = val

    @property
    def reward_filters(self) -> dict[str, Any]:
        return self._reward_filters

    @reward_filters.setter
    def reward_filters(self, val: dict[str, Any]) -> None:
        self._reward_filters = val

    def add_observation_filter(
        self, observation_name: str, filter_name: str, filter: Any, add_as_the_first_filter: bool = False
    ) -> None:
        """Add ``filter`` as ``filter_name`` on the observation ``observation_name`` (last, or first)."""
        filters = self._observation_filters.setdefault(observation_name, OrderedDict())
        filters[filter_name] = filter
        if add_as_the_first_filter:
            _move_to_front(filters, filter_name)

    def add_reward_filter(self, filter_name: str, filter: Any, add_as_the_first_filter: bool = False) -> None:
        """Add ``filter`` as ``filter_name`` on the reward (last, or first)."""
        self._reward_filters[filter_name] = filter
        if add_as_the_first_filter:
            _move_to_front(self._reward_filters, filter_name)

    def remove_observation_filter(self, observation_name: str, filter_name: str) -> None:
        del self._observation_filters[observation_name][filter_name]

    def remove_reward_filter(self, filter_name: str) -> None:
        del self._reward_filters[filter_name]


class OutputFilter(Filter):
    """Filters on the agent's action before it reaches the environment: ``action_filters`` (name -> filter)."""

    def __init__(
        self, action_filters: dict[str, Any] | None = None, is_a_reference_filter: bool = False, name: str | None = None
    ) -> None:
        super().__init__(name)
        self._action_filters = OrderedDict() if action_filters is None else action_filters
        self.i_am_a_reference_filter = is_a_reference_filter

    def __call__(self) -> OutputFilter:
        duplicate = deepcopy(self)
        duplicate.i_am_a_reference_filter = False
        return duplicate

    @property
    def action_filters(self) -> dict[str, Any]:
        return self._action_filters

    @action_filters.setter
    def action_filters(self, val: dict[str, Any]) -> None:
        self._action_filters = val

    def add_action_filter(self, filter_name: str, filter: Any, add_as_the_first_filter: bool = False) -> None:
        self._action_filters[filter_name] = filter
        if add_as_the_first_filter:
            _move_to_front(self._action_filters, filter_name)

    def remove_action_filter(self, filter_name: str) -> None:
        del self._action_filters[filter_name]


class NoInputFilter(InputFilter):
    """An empty input filter."""

    def __init__(self) -> None:
        super().__init__(is_a_reference_filter=False, name="no_input_filter")


class NoOutputFilter(OutputFilter):
    """An empty output filter."""

    def __init__(self) -> None:
        super().__init__(is_a_reference_filter=False)
