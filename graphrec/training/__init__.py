"""Training: settings, the one :class:`Trainer`, objectives, losses, negatives, stopping and
data-parallel helpers."""

from graphrec.data.pairs import TrainingPairs
from graphrec.training.bridges import BridgeSimulation
from graphrec.training.cold_items import ColdItemSimulation
from graphrec.training.config import TrainConfig
from graphrec.training.losses import (
    LOSSES,
    BPRLoss,
    PairLoss,
    SoftmaxLoss,
    bpr_loss,
    make_loss,
)
from graphrec.training.negatives import UniformNegatives
from graphrec.training.stopping import EarlyStopping, EvalSchedule
from graphrec.training.trainer import FitResult, Objective, PairObjective, Trainer, adam

__all__ = ["LOSSES", "BPRLoss", "BridgeSimulation", "ColdItemSimulation",
           "EarlyStopping", "EvalSchedule",
           "FitResult", "Objective", "PairLoss", "PairObjective", "SoftmaxLoss", "TrainConfig",
           "Trainer", "TrainingPairs", "UniformNegatives", "adam", "bpr_loss", "make_loss"]
