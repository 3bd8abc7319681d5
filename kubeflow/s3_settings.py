"""How the compiled pipeline's tasks reach s3:// storage; kept apart from
runner.py so that the CLI can read its defaults without importing TFX."""

import dataclasses
from typing import Dict, Optional

from imdb_tfx.core.errors import UserInputError


@dataclasses.dataclass(frozen=True)
class S3Settings:
    """How tasks reach s3:// storage (AWS S3, or MinIO through its S3 API).
    The credentials come from a Kubernetes secret as environment variables:
    the package names the secret, never a key. The defaults are open-source
    KFP's own MinIO secret, `mlpipeline-minio-artifact`."""

    endpoint: Optional[str] = None  # e.g. http://minio-service.kubeflow:9000; None: AWS
    region: str = 'us-east-1'
    secret: str = 'mlpipeline-minio-artifact'
    access_key_key: str = 'accesskey'
    secret_key_key: str = 'secretkey'

    @classmethod
    def parse_secret(cls, value: str) -> Dict[str, str]:
        """NAME or NAME:ACCESS_KEY_KEY:SECRET_KEY_KEY, as secret fields."""
        parts = value.split(':')
        if len(parts) not in (1, 3) or not all(parts):
            raise UserInputError(f'--s3-secret {value}: give NAME or NAME:ACCESS_KEY_KEY:SECRET_KEY_KEY')
        return dict(zip(('secret', 'access_key_key', 'secret_key_key'), parts))

    def environment(self) -> Dict[str, str]:
        """The tasks' non-secret environment (tensorflow-io's and boto3's names)."""
        env = {'AWS_REGION': self.region}
        if self.endpoint:
            secure = not self.endpoint.startswith('http://')
            env.update(S3_ENDPOINT=self.endpoint, S3_USE_HTTPS=str(int(secure)), S3_VERIFY_SSL=str(int(secure)))
        return env

    def secret_as_env(self) -> dict:
        """The kfp-kubernetes `secretAsEnv` entry that sets the credentials."""
        return {
            'secretName': self.secret,
            'keyToEnv': [
                {'secretKey': self.access_key_key, 'envVar': 'AWS_ACCESS_KEY_ID'},
                {'secretKey': self.secret_key_key, 'envVar': 'AWS_SECRET_ACCESS_KEY'},
            ],
        }
