"""Training: settings, the one :class:`Trainer`, objectives, losses, negatives, stopping and
data-parallel helpers."""

from graphrec.training.config import TrainConfig
from graphrec.training.losses import BPRLoss, PairLoss, bpr_loss
from graphrec.training.negatives import TrainingPairs, UniformNegatives
from graphrec.training.stopping import EarlyStopping, EvalSchedule
from graphrec.training.trainer import FitResult, Objective, PairObjective, Trainer, adam

__all__ = ["BPRLoss", "EarlyStopping", "EvalSchedule", "FitResult", "Objective", "PairLoss",
           "PairObjective", "TrainConfig", "Trainer", "TrainingPairs", "UniformNegatives",
           "adam", "bpr_loss"]
