"""The console summary at the end of `imdb-tfx run` and of `imdb-tfx gate`."""

from typing import List

from imdb_tfx.core import names
from imdb_tfx.outcome.details import decimal
from imdb_tfx.outcome.verdict import Outcome


def summary(outcome: Outcome, components: bool = True) -> str:
    """The components' states and times (unless the console showed them as
    they ended), the gates, the evaluation, the canary, and the verdict last."""
    lines = [f'Run {outcome.run.run_id}']
    width = max((len(node_id) for node_id in outcome.run.nodes), default=0)
    for node in outcome.run.nodes.values() if components else ():
        lines.append(f'  {node.node_id:<{width}}  {node.state:<9} {node.seconds:7.1f} s')
    if outcome.reused:
        lines.append(f'Reused from earlier runs (ML Metadata cache): {", ".join(outcome.reused)}')
    lines.append(f'Data gate: {outcome.data_gate}')
    if outcome.drift is not None and outcome.drift['status'] != 'failed':
        lines.append(f'Drift gate: {outcome.drift["status"]}: {outcome.drift_detail()}')
    if outcome.baseline_problem:
        lines.append(f'Serving directory: {outcome.baseline_problem}; not used as the baseline')
    if outcome.metrics:
        lines += _evaluation_lines(outcome)
    if outcome.canary_passed is not None:
        lines.append(
            'Serving canary: '
            + ('passed' if outcome.canary_passed else 'FAILED: ' + '; '.join(outcome.canary_problems))
        )
    lines.append(outcome.verdict)
    return '\n'.join(lines)


def _evaluation_lines(outcome: Outcome) -> List[str]:
    """The candidate's metrics with their intervals, the serving model's
    accuracy on the same reviews, and the rules those metrics decide."""
    m = outcome.metrics
    accuracy, auc = outcome.interval('binary_accuracy'), outcome.interval('auc')
    line = f'Eval: accuracy {decimal(m.get("binary_accuracy"))} [{decimal(accuracy[0])}, {decimal(accuracy[1])}]'
    if 'auc' in m:
        line += f', AUC {decimal(m["auc"])}' + (f' [{decimal(auc[0])}, {decimal(auc[1])}]' if auc else '')
    lines = [f'{line} on {outcome.example_count} reviews (95% intervals)']
    if names.EXPECTED_CALIBRATION_ERROR in m:
        calibration_error = decimal(m[names.EXPECTED_CALIBRATION_ERROR])
        lines.append(f'Calibration: expected calibration error {calibration_error} (20 bins)')
    serving = outcome.baseline_metrics
    serving_accuracy = f'accuracy {decimal(serving.get("binary_accuracy"))} on the same reviews'
    lines.append('Serving model: ' + (serving_accuracy if serving else 'none (first push)'))
    for rule in outcome.metric_rules():
        state = {True: 'passed', False: 'FAILED', None: 'not judged'}[rule['passed']]
        lines.append(f'Gate {rule["rule"]}: {state}: {rule["detail"]}')
    return lines
