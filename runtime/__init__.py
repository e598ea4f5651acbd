"""rlrt: the runtime of an RL training container (SageMaker RL compatible)."""
