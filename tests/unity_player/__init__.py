"""A stand-in Unity ML-Agents player (``standin_player.py``) and a helper that 'builds' it as a Linux player file."""
