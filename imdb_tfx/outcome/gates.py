"""The data gate's and the drift gate's judgements, read back from the
artifacts they judged: what stopped a run before training, and why."""

import json
import os
from typing import List, Optional

from imdb_tfx.core import names
from imdb_tfx.run_info import PipelineRun


def data_gate_status(run: PipelineRun) -> str:
    """passed (now or in the run it was cached from), failed, or not run."""
    node = run.nodes.get(names.DATA_GATE)
    if node is None or node.state not in ('COMPLETE', 'CACHED', 'FAILED'):
        return 'not run'
    return 'failed' if node.state == 'FAILED' else 'passed'


def data_gate_findings(run: PipelineRun) -> List[str]:
    """Why the data gate failed, from the artifacts it judged."""
    if data_gate_status(run) != 'failed':
        return []
    from imdb_tfx.components.data_gate import checks

    inputs = run.nodes[names.DATA_GATE].inputs
    judged = (inputs[key][0].uri for key in ('statistics', 'anomalies', 'schema'))
    return [str(f) for f in checks.findings(*judged)]


def drift_gate(run: PipelineRun) -> Optional[dict]:
    """The drift gate of a run on spans (None otherwise): its status, the
    span, the accepted span it was compared with, and every measure with
    its threshold (recomputed from its inputs when it stopped the run)."""
    node = run.nodes.get(names.DRIFT_GATE)
    if node is None:
        return None
    from imdb_tfx.components.drift_gate import component as drift_gate_component  # deferred: TensorFlow

    if node.state in ('COMPLETE', 'CACHED'):
        accepted = run.output(names.DRIFT_GATE, 'accepted')
        with open(os.path.join(accepted.uri, drift_gate_component.REPORT_FILE), encoding='utf-8') as f:
            report = json.load(f)
        return {'status': 'passed', **{k: report[k] for k in ('span', 'reference_span', 'measures')}}
    if node.state != 'FAILED' or 'examples' not in node.inputs:
        return {'status': 'not run', 'span': None, 'reference_span': None, 'measures': []}
    examples = node.inputs['examples'][0]
    reference = (node.inputs.get('reference') or [None])[0]
    compared, measures = drift_gate_component.findings(
        examples.uri,
        examples.properties.get(names.SPAN_PROPERTY),
        reference.uri if reference else None,
        reference.properties.get(names.SPAN_PROPERTY) if reference else None,
        node.inputs['baseline'][0].uri,
        json.loads(node.properties['thresholds']),
    )
    return {
        'status': 'failed',
        'span': examples.properties.get(names.SPAN_PROPERTY),
        'reference_span': compared[0] if compared else None,
        'measures': [dict(vars(m), drifted=m.drifted) for m in measures],
    }


def drift_findings(drift: Optional[dict]) -> List[str]:
    """The measures over their thresholds, each named with its distance."""
    return [_measure_line(m) for m in (drift or {}).get('measures', []) if m['drifted']]


def drift_detail(drift: dict) -> str:
    """One line: what the drift gate compared, and what it found."""
    if drift['status'] == 'not run':
        return 'not run'
    if drift['reference_span'] is None:
        return f'span {drift["span"]}: the first accepted span, nothing to compare with'
    if drift['status'] == 'failed':
        return f'span {drift["span"]} drifted from span {drift["reference_span"]}: ' + '; '.join(drift_findings(drift))
    return f'span {drift["span"]} vs span {drift["reference_span"]}: ' + ', '.join(
        f'{m["name"]} {m["distance"]:.4f} <= {m["threshold"]:g}' for m in drift['measures']
    )


def _measure_line(measure: dict) -> str:
    values = ''
    if measure['newest'] is not None:
        values = f' ({measure["reference"]:.4g} -> {measure["newest"]:.4g})'
    return f'{measure["name"]}{values}: distance {measure["distance"]:.4f} over the threshold {measure["threshold"]:g}'
