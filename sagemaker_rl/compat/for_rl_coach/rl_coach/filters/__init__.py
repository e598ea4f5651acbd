"""``rl_coach.filters``: input and output filters (parameters only; rlrt applies what they describe)."""
