"""`imdb-tfx gate --json`: an Outcome in the shape docs/release-gating.md
documents."""

import os
from typing import Optional

from imdb_tfx.core import intervals, names
from imdb_tfx.outcome.verdict import Outcome


def gate_json(outcome: Outcome) -> dict:
    return {
        'exit_code': outcome.exit_code,
        'verdict': outcome.verdict,
        'rejected_by': outcome.rejected_by,
        'run_id': outcome.run.run_id,
        'pushed': _pushed(outcome),
        'metrics': _metrics(outcome) if outcome.metrics else None,
        'thresholds': outcome.thresholds,
        'rules': outcome.rules(),
        'blessed': outcome.blessed,
        'data_gate': {'status': outcome.data_gate, 'findings': outcome.data_gate_findings()},
        'drift_gate': outcome.drift,
        'canary': {'passed': outcome.canary_passed, 'problems': outcome.canary_problems},
        'baseline_problem': outcome.baseline_problem,
        'components': {
            n.node_id: {'state': n.state, 'seconds': round(n.seconds, 1)} for n in outcome.run.nodes.values()
        },
    }


def _pushed(outcome: 'Outcome') -> Optional[dict]:
    if not outcome.pushed_path:
        return None
    return {
        'path': outcome.pushed_path,
        'version': os.path.basename(outcome.pushed_path.rstrip('/')),
        'already_serving': outcome.already_serving,
    }


def _metrics(outcome: 'Outcome') -> dict:
    c = outcome.comparison
    accuracy_difference = None
    if c is not None:
        accuracy_difference = {
            'value': c.difference,
            'lower': c.lower,
            'upper': c.upper,
            'p_value': c.p_value,
            'candidate_only_correct': c.candidate_only_correct,
            'serving_only_correct': c.serving_only_correct,
        }
    auc_difference = None
    if c is not None and 'auc' in outcome.baseline_metrics and 'auc' in outcome.metrics:
        # No paired interval for AUC: the paired rule judges accuracy.
        auc_difference = {
            'value': outcome.metrics['auc'] - outcome.baseline_metrics['auc'],
            'lower': None,
            'upper': None,
        }
    return {
        'binary_accuracy': _metric(outcome, 'binary_accuracy', accuracy_difference),
        'auc': _metric(outcome, 'auc', auc_difference),
        # Reported, not gated: how far P(positive) is from the observed frequencies.
        names.EXPECTED_CALIBRATION_ERROR: outcome.metrics.get(names.EXPECTED_CALIBRATION_ERROR),
        'example_count': outcome.example_count,
        'confidence': intervals.CONFIDENCE,
    }


def _metric(outcome: 'Outcome', name: str, difference: Optional[dict]) -> Optional[dict]:
    value = outcome.metrics.get(name)
    if value is None:
        return None
    low, high = outcome.interval(name) or (None, None)
    return {
        'value': value,
        'lower': low,
        'upper': high,
        'threshold': outcome.floors.get(name),
        'serving': outcome.baseline_metrics.get(name),
        'difference': difference,
    }
