"""Environment registration and adapters; knows nothing of SageMaker."""
