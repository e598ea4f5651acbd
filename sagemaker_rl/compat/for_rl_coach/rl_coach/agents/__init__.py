"""``rl_coach.agents``: agent parameters (algorithm, exploration, memory, networks), one module per agent as in
Coach's ``rl_coach/agents/``."""
