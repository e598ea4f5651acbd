"""rlrt's compatibility module for ``gym_unity`` (ML-Agents' gym wrapper, removed from ML-Agents in release 20;
see docs/MIGRATING.md). Only :class:`gym_unity.envs.UnityToGymWrapper` is provided."""
