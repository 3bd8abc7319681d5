"""The layout of a pipeline home: every output of local runs lives under it."""

import dataclasses
import os

DEFAULT_HOME = 'home'


@dataclasses.dataclass(frozen=True)
class Home:
    root: str

    @classmethod
    def at(cls, path: str) -> 'Home':
        return cls(os.path.abspath(path))

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.root, 'tfx')

    @property
    def metadata_path(self) -> str:
        return os.path.join(self.root, 'metadata.sqlite')

    @property
    def serving_dir(self) -> str:
        return os.path.join(self.root, 'serving')

    @property
    def data_cache(self) -> str:
        """Prepared TFRecords of raw sources, one folder per source checksum."""
        return os.path.join(self.root, 'data')

    @property
    def embeddings_dir(self) -> str:
        return os.path.join(self.root, 'embeddings')

    @property
    def reports_dir(self) -> str:
        """`imdb-tfx report`'s HTML files, one per run."""
        return os.path.join(self.root, 'reports')

    @property
    def downloads_dir(self) -> str:
        return os.path.join(self.root, 'downloads')
