"""``rl_coach.architectures``: network layers and the parameters of a network's embedders, middleware and heads."""
