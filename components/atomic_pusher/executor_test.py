"""AtomicPusher's executor on real SavedModels and TFX artifacts, on a local
serving directory and on TensorFlow's in-memory filesystem (ram://), which
stands in for object storage: any local-only call (open, os.*) on it fails."""

import os
import uuid

import pytest
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import standard_artifacts
from tfx.utils import proto_utils

from conftest import constant_model
from imdb_tfx.components.atomic_pusher import executor
from imdb_tfx.core import names, serving


@pytest.fixture(params=['local', 'ram'])
def root(request, tmp_path) -> str:
    """Where the models, artifacts and serving directory live."""
    return str(tmp_path) if request.param == 'local' else f'ram://{uuid.uuid4().hex}'


def _push(root: str, model_dir: str, blessed: bool, infra_blessed: bool = True):
    model = standard_artifacts.Model()
    model.uri = os.path.dirname(model_dir)  # Trainer layout: <uri>/Format-Serving
    blessing = standard_artifacts.ModelBlessing()
    blessing.uri = os.path.join(root, 'blessing')
    blessing.set_int_custom_property('blessed', int(blessed))
    infra_blessing = standard_artifacts.InfraBlessing()
    infra_blessing.uri = os.path.join(root, 'infra_blessing')
    infra_blessing.set_int_custom_property('blessed', int(infra_blessed))
    pushed = standard_artifacts.PushedModel()
    pushed.uri = os.path.join(root, f'pushed-{uuid.uuid4().hex}')
    destination = pusher_pb2.PushDestination(
        filesystem=pusher_pb2.PushDestination.Filesystem(base_directory=os.path.join(root, 'serving'))
    )
    inputs = {'model': [model], 'model_blessing': [blessing], 'infra_blessing': [infra_blessing]}
    executor.Executor().Do(
        inputs, {'pushed_model': [pushed]}, {'push_destination': proto_utils.proto_to_json(destination)}
    )
    return pushed


@pytest.fixture
def models(root):
    return [constant_model(os.path.join(root, f'model{i}', 'Format-Serving'), float(i)) for i in (1, 2)]


def test_blessed_model_is_published_whole(root, models):
    pushed = _push(root, models[0], blessed=True)
    serving_dir = os.path.join(root, 'serving')
    assert pushed.get_int_custom_property('pushed') == 1
    assert fileio.listdir(serving_dir) == serving.versions(serving_dir)  # no staging left behind
    assert pushed.get_string_custom_property('pushed_destination') == serving.newest(serving_dir)
    assert serving.same_model(models[0], serving.newest(serving_dir))


def test_unblessed_model_is_not_pushed(root, models):
    pushed = _push(root, models[0], blessed=False)
    assert pushed.get_int_custom_property('pushed') == 0
    assert serving.versions(os.path.join(root, 'serving')) == []


def test_model_failing_the_serving_canary_is_not_pushed(root, models):
    pushed = _push(root, models[0], blessed=True, infra_blessed=False)
    assert pushed.get_int_custom_property('pushed') == 0
    assert serving.versions(os.path.join(root, 'serving')) == []


def test_model_already_serving_is_not_pushed_twice(root, models):
    first = _push(root, models[0], blessed=True)
    again = _push(root, models[0], blessed=True)
    assert len(serving.versions(os.path.join(root, 'serving'))) == 1
    assert again.get_int_custom_property(names.ALREADY_SERVING) == 1
    assert again.get_string_custom_property('pushed_destination') == first.get_string_custom_property(
        'pushed_destination'
    )


def test_a_new_model_gets_a_higher_version_and_old_versions_stay(root, models):
    _push(root, models[0], blessed=True)
    _push(root, models[1], blessed=True)
    found = serving.versions(os.path.join(root, 'serving'))
    assert len(found) == 2 and int(found[1]) > int(found[0])
    assert serving.same_model(models[1], serving.newest(os.path.join(root, 'serving')))


def test_a_failed_copy_leaves_no_version(tmp_path):
    model_dir = constant_model(str(tmp_path / 'model'), 1.0)
    # A dangling link: the copy copies everything else, then fails.
    os.symlink(str(tmp_path / 'gone'), os.path.join(model_dir, 'variables', 'zz-broken'))
    with pytest.raises(OSError):
        serving.publish(model_dir, str(tmp_path / 'serving'))
    assert os.listdir(tmp_path / 'serving') == []
