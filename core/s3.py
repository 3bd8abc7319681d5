"""s3:// (AWS S3, MinIO or any S3 API) for TensorFlow's file layer and Beam.

TensorFlow reads s3:// through tensorflow-io's filesystem, which exists once
`tensorflow_io` is imported, and takes its endpoint and credentials from the
standard environment: S3_ENDPOINT, S3_USE_HTTPS, S3_VERIFY_SSL,
AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION. Beam's S3 filesystem
uses boto3, which reads the same credentials and its endpoint from
AWS_ENDPOINT_URL_S3; enable() derives that one from S3_ENDPOINT.

Trap: after an s3:// write, tensorflow-io 0.37 aborts the interpreter at exit
(`pure virtual method called`, status 134), so a process that enabled s3 must
end through exit(status), which skips the interpreter's teardown."""

import logging
import os
import sys
from typing import NoReturn, Optional

SCHEME = 's3://'

_enabled = False


def is_s3(path: Optional[str]) -> bool:
    return bool(path) and str(path).startswith(SCHEME)


def boto3_endpoint(endpoint: str, use_https: str = '1') -> str:
    """S3_ENDPOINT as boto3 wants it: with a scheme (tensorflow-io takes a
    bare host:port and S3_USE_HTTPS)."""
    if '://' in endpoint:
        return endpoint
    return f'{"http" if use_https == "0" else "https"}://{endpoint}'


def enable() -> None:
    """Registers s3:// for TensorFlow and points boto3 (Beam) at S3_ENDPOINT."""
    global _enabled
    if _enabled:
        return
    endpoint = os.environ.get('S3_ENDPOINT')
    if endpoint and 'AWS_ENDPOINT_URL_S3' not in os.environ:
        os.environ['AWS_ENDPOINT_URL_S3'] = boto3_endpoint(endpoint, os.environ.get('S3_USE_HTTPS', '1'))
    import tensorflow_io  # noqa: F401  (registers the s3:// filesystem)

    _enabled = True


def enable_for(*paths: Optional[str]) -> None:
    """enable() when any of the paths is on s3://."""
    if any(is_s3(p) for p in paths):
        enable()


def exit(status: int) -> NoReturn:  # noqa: A001  (the process's exit, as sys.exit)
    """Ends the process with `status`; after s3:// use, without the
    interpreter's teardown that tensorflow-io would abort."""
    if not _enabled:
        sys.exit(status)
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
