"""``rl_coach.environments``: the parameters of the environment a graph manager plays (``env_params``)."""
