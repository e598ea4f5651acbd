"""``rl_coach.exploration_policies``: the parameters of an agent's exploration (``agent_params.exploration``)."""
