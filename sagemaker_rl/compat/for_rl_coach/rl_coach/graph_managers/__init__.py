"""``rl_coach.graph_managers``: the ``graph_manager`` a preset builds (its agent, environment and schedule)."""
