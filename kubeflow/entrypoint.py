"""The command every task of the compiled pipeline runs in the image:

    python -m imdb_tfx.kubeflow.entrypoint --executor_class_path ... --json_serialized_invocation_args ...

TFX's own entrypoint (kubeflow_v2_run_executor, same arguments), with s3://
registered first and, for an ExampleGen reading spans, {SPAN} resolved by
TFX's driver (span_driver.py), ended with the executor's own status: after an s3:// write
tensorflow-io aborts the interpreter at exit (status 134), which KFP would
take for a failed task (see core/s3.py)."""

import sys
import traceback

from absl import app
from tfx.orchestration.kubeflow.v2.container import kubeflow_v2_run_executor

from imdb_tfx.core import s3
from imdb_tfx.kubeflow import span_driver


def main() -> None:
    s3.enable()
    try:
        app.run(
            kubeflow_v2_run_executor.main,
            argv=span_driver.resolve_spans(sys.argv),
            flags_parser=kubeflow_v2_run_executor._parse_flags,  # noqa: SLF001  (TFX's own parser)
        )
        status = 0
    except SystemExit as e:
        status = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:  # noqa: BLE001  (any failure is the task's: report it, exit 1)
        traceback.print_exc()
        status = 1
    s3.exit(status)


if __name__ == '__main__':
    main()
