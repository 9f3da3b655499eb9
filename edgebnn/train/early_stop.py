"""Early stopping on the validation loss, as the comparative study did (Crulis et al.):
stop when the loss has not improved by more than `min_delta` = 0.001 over `patience` = 5
epochs. The validation split is carved from the training set (config.val_fraction), never the
test set. A dataclass of plain numbers, so a checkpoint stores and restores it."""
from __future__ import annotations

import math
from dataclasses import dataclass

PATIENCE, MIN_DELTA = 5, 0.001


@dataclass
class EarlyStopping:
    patience: int = PATIENCE
    min_delta: float = MIN_DELTA
    best: float = math.inf
    waited: int = 0

    def update(self, val_loss: float) -> bool:
        """Records one epoch's validation loss; True when training should stop."""
        if val_loss < self.best - self.min_delta:
            self.best, self.waited = val_loss, 0
        else:
            self.waited += 1
        return self.waited >= self.patience
