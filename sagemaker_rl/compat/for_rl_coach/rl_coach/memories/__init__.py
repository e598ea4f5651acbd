"""``rl_coach.memories``: the parameters of an agent's replay memory (``agent_params.memory``)."""
