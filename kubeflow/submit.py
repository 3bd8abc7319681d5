"""Starts a run of a compiled package on Kubeflow Pipelines with kfp's client,
and follows it to its end on request."""

import time
from typing import Any, Mapping, Optional

import kfp

# The states a KFP 2 run ends in. kfp 2.5's wait_for_run_completion does not
# know CANCELED and would wait for a cancelled run until its timeout.
FINAL_STATES = ('SUCCEEDED', 'FAILED', 'SKIPPED', 'CANCELED')


class RunFailedError(Exception):
    """The run ended in another state than SUCCEEDED."""


def submit(
    package_path: str,
    host: str,
    experiment: Optional[str] = None,
    arguments: Optional[Mapping[str, Any]] = None,
    run_name: Optional[str] = None,
    wait: bool = False,
    timeout_seconds: float = 24 * 3600,
    poll_seconds: float = 10,
) -> str:
    """Sends the package and the run-time arguments to the KFP API at host,
    in experiment (created when missing; None: KFP's "Default"); returns the
    run id. With wait, returns when the run succeeded, raises RunFailedError
    when it ended otherwise and TimeoutError after timeout_seconds."""
    client = kfp.Client(host=host)
    # The tasks' caching options are left as compiled: overriding them here
    # would switch caching back on for the ALWAYS_RUN nodes.
    run = client.create_run_from_pipeline_package(
        package_path, arguments=dict(arguments or {}), run_name=run_name, experiment_name=experiment
    )
    if not wait:
        return run.run_id
    deadline = time.monotonic() + timeout_seconds
    while True:
        state = str(client.get_run(run.run_id).state or '').upper()
        if state in FINAL_STATES:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f'run {run.run_id} still {state or "pending"} after {timeout_seconds:.0f} s')
        time.sleep(poll_seconds)
    if state != 'SUCCEEDED':
        raise RunFailedError(f'run {run.run_id} ended {state}')
    return run.run_id
