"""The serving directory on TensorFlow's in-memory filesystem (ram://), which
stands in for object storage: any local-only call (open, os.*) on it fails."""

import os

import pytest
from tfx.dsl.io import fileio
from tfx.utils import io_utils

from conftest import constant_model
from core import serving


def test_publish_to_object_storage_leaves_whole_versions_only(ram_dir):
    serving_dir = f'{ram_dir}/serving'
    first = serving.publish(constant_model(f'{ram_dir}/a', 0.25), serving_dir)
    second = serving.publish(constant_model(f'{ram_dir}/b', 0.75), serving_dir)

    found = serving.versions(serving_dir)
    assert [os.path.join(serving_dir, v) for v in found] == [first, second]
    assert int(found[1]) > int(found[0])
    assert sorted(fileio.listdir(serving_dir)) == found  # the staging folders are gone
    assert serving.newest(serving_dir) == second
    assert serving.same_model(f'{ram_dir}/b', second) and not serving.same_model(f'{ram_dir}/a', second)
    assert serving.predict(second, ['a review']) == [0.75]


def test_a_version_without_saved_model_pb_is_not_listed(ram_dir):
    serving_dir = f'{ram_dir}/serving'
    published = serving.publish(constant_model(f'{ram_dir}/a', 0.5), serving_dir)
    # A push still copying to object storage: everything but saved_model.pb.
    io_utils.copy_dir(published, f'{serving_dir}/9999999999', deny_regex_patterns=[r'/saved_model\.pb$'])
    fileio.makedirs(f'{serving_dir}/latest')

    assert serving.versions(serving_dir) == [os.path.basename(published)]
    assert serving.newest(serving_dir) == published


def test_nothing_published_is_no_version(ram_dir):
    assert serving.versions(f'{ram_dir}/serving') == []
    assert serving.newest(f'{ram_dir}/serving') is None


def test_a_failed_publish_leaves_no_version(tmp_path, ram_dir):
    model_dir = constant_model(str(tmp_path / 'model'), 0.5)
    # A dangling link: the copy reads everything else, then fails.
    os.symlink(str(tmp_path / 'gone'), os.path.join(model_dir, 'variables', 'zz-broken'))
    serving_dir = f'{ram_dir}/serving'
    with pytest.raises(OSError):
        serving.publish(model_dir, serving_dir)
    assert fileio.listdir(serving_dir) == []


def test_publishing_a_folder_without_a_model_fails(ram_dir):
    with pytest.raises(FileNotFoundError):
        serving.publish(f'{ram_dir}/missing', f'{ram_dir}/serving')
    assert serving.versions(f'{ram_dir}/serving') == []


def test_a_model_on_object_storage_is_staged_to_local_files(tmp_path, ram_dir):
    model_dir = constant_model(f'{ram_dir}/model', 0.5)
    local = serving.stage_locally(model_dir, str(tmp_path))
    assert local.startswith(str(tmp_path)) and os.path.isfile(os.path.join(local, 'saved_model.pb'))
    assert serving.same_model(model_dir, local)


def test_a_local_model_is_used_in_place(tmp_path):
    model_dir = constant_model(str(tmp_path / 'model'), 0.5)
    assert serving.stage_locally(model_dir, str(tmp_path / 'scratch')) == model_dir
    assert not os.path.exists(tmp_path / 'scratch')
