"""Test hook, never installed: conftest.py puts this folder on PYTHONPATH, so every
process the tests start loads it. It lets word_vectors accept the small fake GloVe
wheels the tests build (their sha256 digests in ACCEPT_ENV, comma-separated) besides
the pinned one, by extending word_vectors.ACCEPTED_SHA256 right after the module runs.
The package itself reads no environment variable to accept another digest."""

import importlib.abc
import importlib.util
import os
import sys

WORD_VECTORS = 'imdb_tfx.components.embedding_builder.word_vectors'
ACCEPT_ENV = 'IMDB_TFX_TEST_ACCEPT_SHA256'


def accepted_fakes() -> set:
    return {digest.strip().lower() for digest in os.environ.get(ACCEPT_ENV, '').split(',') if digest.strip()}


class _AcceptFakes(importlib.abc.Loader):
    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        module.ACCEPTED_SHA256 = module.ACCEPTED_SHA256 | accepted_fakes()


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != WORD_VECTORS:
            return None
        sys.meta_path.remove(self)  # the real finders locate the module
        spec = importlib.util.find_spec(name)
        spec.loader = _AcceptFakes(spec.loader)
        return spec


sys.meta_path.insert(0, _Finder())
