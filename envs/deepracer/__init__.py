"""A DeepRacer-compatible track environment (see docs/DEEPRACER.md); ``envs.deepracer.env.DeepRacerEnv``."""
