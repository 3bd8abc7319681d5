"""The command line's check of the one dependency pip cannot get right:
tfx's tensorflow-hub pin (docs/install.md)."""

from importlib import metadata

import pytest

from imdb_tfx import cli
from imdb_tfx.core.errors import UserInputError


@pytest.mark.parametrize('found', ['0.15.0', None])
def test_an_old_or_missing_tensorflow_hub_stops_in_one_line_saying_what_to_run(monkeypatch, found):
    def version(name):
        if found is None:
            raise metadata.PackageNotFoundError(name)
        return found

    monkeypatch.setattr(metadata, 'version', version)
    with pytest.raises(UserInputError) as error:
        cli._check_tensorflow_hub()
    assert str(error.value).endswith('run: pip install --no-deps tensorflow-hub==0.16.1')
    assert '\n' not in str(error.value)


def test_the_installed_tensorflow_hub_passes():
    cli._check_tensorflow_hub()
    assert metadata.version('tensorflow-hub') == cli.TENSORFLOW_HUB
