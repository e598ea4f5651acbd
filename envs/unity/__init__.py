"""Unity ML-Agents games as environments, over ``mlagents_envs``' low-level API (no SageMaker knowledge here).

- :mod:`envs.unity.config`: the ``env_config`` keys a Unity environment takes, checked.
- :mod:`envs.unity.game`: finding the player: a file or folder (e.g. in the ``train`` channel), a local registry
  manifest, an already-cached registry binary; a clear error otherwise.
- :mod:`envs.unity.session`: launching the player (own worker id / port per env runner, retry on a busy port, no
  graphics, log file), and turning a dead or silent player into :class:`envs.unity.session.UnityPlayerError`.
- :mod:`envs.unity.spaces`: ML-Agents behavior specs <-> gymnasium spaces and actions.
- :mod:`envs.unity.gym_env`: :class:`UnityGymEnv`, a single-agent gymnasium environment.
- :mod:`envs.unity.multi_agent`: :class:`UnityMultiAgentEnv`, a multi-agent environment in RLlib's conventions,
  without RLlib (agent ids ``<behavior>_<agent_id>``).
"""
