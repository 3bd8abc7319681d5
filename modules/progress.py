"""The Trainer's progress as log records. Each phase of training (the first
model, a self-training round, the refit) reports its epochs as they end
and the time left at most (early stopping may end it sooner). A local run
draws them on the console (imdb_tfx/progress.py); anywhere else (Kubeflow's
pods) they are plain log lines."""

import dataclasses
import logging
import time
from typing import Optional

import tf_keras

log = logging.getLogger(__name__)
# The log record's attribute that carries the Phase.
RECORD_ATTRIBUTE = 'trainer_phase'


@dataclasses.dataclass(frozen=True)
class Phase:
    """Phase `index` of `count`, at `epoch` of at most `epochs`, `seconds` in."""

    name: str
    index: int
    count: int
    epoch: int
    epochs: int
    seconds: float
    finished: bool = False
    best_epoch: Optional[int] = None

    @property
    def seconds_left(self) -> float:
        return (self.epochs - self.epoch) * self.seconds / max(self.epoch, 1)


def report(phase: Phase) -> None:
    if phase.finished:
        message = f'{phase.epoch} epochs in {phase.seconds:.0f} s'
    else:
        message = f'epoch {phase.epoch}/{phase.epochs}'
    log.info('Trainer %d/%d %s: %s', phase.index, phase.count, phase.name, message, extra={RECORD_ATTRIBUTE: phase})


class EpochProgress(tf_keras.callbacks.Callback):
    """Reports phase `index` of `count` of the Trainer, named `name`, as
    model.fit runs it; with the fit's early_stopping, its best epoch."""

    def __init__(
        self, name: str, index: int, count: int, early_stopping: Optional[tf_keras.callbacks.EarlyStopping] = None
    ):
        super().__init__()
        self.name, self.index, self.count = name, index, count
        self.early_stopping = early_stopping
        self._started = time.time()
        self._epoch = 0

    def _phase(self, **fields) -> Phase:
        return Phase(
            name=self.name,
            index=self.index,
            count=self.count,
            epoch=self._epoch,
            epochs=self.params['epochs'],
            seconds=time.time() - self._started,
            **fields,
        )

    def on_train_begin(self, logs=None):
        self._started, self._epoch = time.time(), 0
        report(self._phase())

    def on_epoch_end(self, epoch, logs=None):
        self._epoch = epoch + 1
        report(self._phase())

    def on_train_end(self, logs=None):
        stopping = self.early_stopping
        best_epoch = stopping.best_epoch + 1 if stopping is not None and stopping.best_weights is not None else None
        report(self._phase(finished=True, best_epoch=best_epoch))
