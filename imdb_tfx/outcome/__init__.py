"""The verdict of a run, read from ML Metadata and the artifacts: the data
gate, eval metrics with their 95% intervals against their floors, the paired
comparison with the serving model, the serving canary, the blessing and the
push. Shared by `run`'s summary, `gate` (and its JSON) and the report.

evaluation.py and thresholds.py read what the Evaluator wrote and was
configured with, gates.py the data and drift gates' artifacts, artifacts.py
assembles a run's Outcome; verdict.py judges it (details.py words each metric
rule); summary.py and gate_json.py render it."""

from imdb_tfx.outcome.artifacts import of_run
from imdb_tfx.outcome.evaluation import Comparison
from imdb_tfx.outcome.gate_json import gate_json
from imdb_tfx.outcome.summary import summary
from imdb_tfx.outcome.verdict import (
    EXIT_FAILED,
    EXIT_PUSHED,
    EXIT_REJECTED,
    RULE_CANARY,
    RULE_DATA_GATE,
    RULE_DRIFT_GATE,
    RULE_FLOOR,
    RULE_NO_REGRESSION,
    Outcome,
)

__all__ = [
    'EXIT_FAILED',
    'EXIT_PUSHED',
    'EXIT_REJECTED',
    'RULE_CANARY',
    'RULE_DATA_GATE',
    'RULE_DRIFT_GATE',
    'RULE_FLOOR',
    'RULE_NO_REGRESSION',
    'Comparison',
    'Outcome',
    'gate_json',
    'of_run',
    'summary',
]
