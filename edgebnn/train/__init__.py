"""Training: one loop (runner.py) and one interface (base.Algorithm) that every learning rule
implements, each rule in its own module under train/algorithms/."""
from edgebnn.runs.config import TrainConfig
from edgebnn.train.base import Algorithm, StepResult, algorithm_names, get_algorithm
from edgebnn.train.runner import train

__all__ = ["Algorithm", "StepResult", "TrainConfig", "algorithm_names", "get_algorithm", "train"]
