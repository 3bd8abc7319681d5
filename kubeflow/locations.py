"""Where a Kubeflow run's artifacts can live, checked before anything is
imported or compiled: one line naming the location and the reason."""

from typing import Optional

from imdb_tfx.core.errors import UserInputError

# Where artifacts can live: what TensorFlow, Beam and KFP's launcher all read.
# A local folder only works with `imdb-tfx kfp-local` (tasks on this machine).
STORAGE_SCHEMES = ('gs://', 's3://')


def check(
    pipeline_root: str, data_root: str, serving_dir: str, hub_handle: Optional[str], schema_file: Optional[str]
) -> None:
    """Locations as the pods see them; one line naming the location and the
    reason when one cannot work. Nothing is accessed: compiling is offline."""
    for what, path in (
        ('pipeline root', pipeline_root),
        ('data', data_root),
        ('serving directory', serving_dir),
        ('hub handle', hub_handle),
        ('schema file', schema_file),
    ):
        if not path:
            continue
        if path.startswith('minio://'):
            raise UserInputError(
                f'{what} {path}: TensorFlow has no minio:// filesystem; give '
                "s3://BUCKET/PATH and --s3-endpoint (MinIO's S3 API)"
            )
        scheme_ok = path.startswith(STORAGE_SCHEMES) or (
            what == 'hub handle' and path.startswith(('https://', 'http://'))
        )
        if '://' in path and not scheme_ok:
            raise UserInputError(
                f'{what} {path}: unsupported scheme; give gs://, s3:// or an absolute path as the pods see it'
            )
        if '://' not in path and not path.startswith('/'):
            raise UserInputError(f'{what} {path}: give a URL or an absolute path as the pods see it')
