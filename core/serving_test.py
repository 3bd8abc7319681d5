"""The serving directory on TensorFlow's in-memory filesystem (ram://), which
stands in for object storage: any local-only call (open, os.*) on it fails."""

import os
import signal
import subprocess
import sys
import time

import pytest
from tfx.dsl.io import fileio
from tfx.utils import io_utils

from conftest import constant_model
from imdb_tfx.core import atomic, serving


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


@pytest.fixture(scope='module')
def foreign_model(tmp_path_factory) -> str:
    """A SavedModel of someone else's: a `predict` signature only."""
    return constant_model(str(tmp_path_factory.mktemp('foreign') / 'model'), 0.5, signatures=('predict',))


def test_what_is_not_a_version_is_named(tmp_path, foreign_model):
    serving_dir = str(tmp_path / 'serving')
    complete = serving.publish(constant_model(str(tmp_path / 'a'), 0.5), serving_dir)
    os.makedirs(f'{serving_dir}/1800000000/variables')  # a half-copied version: no saved_model.pb
    os.makedirs(f'{serving_dir}/latest')
    with open(f'{serving_dir}/1800000001', 'w') as f:
        f.write('a file where a version folder should be')
    os.makedirs(f'{serving_dir}/.1800000002.building-0123abcd')
    assert serving.versions(serving_dir) == [os.path.basename(complete)]
    assert serving.ignored_entries(serving_dir) == {
        f'{serving_dir}/.1800000002.building-0123abcd': 'hidden: a push in progress or interrupted',
        f'{serving_dir}/1800000000': 'no saved_model.pb: an incomplete or foreign version',
        f'{serving_dir}/1800000001': 'a file where a version folder should be',
        f'{serving_dir}/latest': 'not a version number',
    }
    # The next version is above every number there, complete or not.
    assert os.path.basename(serving.publish(foreign_model, serving_dir)) == '1800000002'
    assert serving.model_problem(complete) is None
    assert serving.model_problem(f'{serving_dir}/1800000002') == (
        "not a model of this pipeline (no serving_default or serving_text signature; it has ['predict'])"
    )
    with open(f'{serving_dir}/1800000002/saved_model.pb', 'wb') as f:
        f.write(b'\xff' * 64)
    assert serving.model_problem(f'{serving_dir}/1800000002') == 'saved_model.pb is damaged (not a SavedModel)'


# Copies a big model into the serving directory, slowly enough to be killed
# in the middle: many files of random bytes.
_PUBLISH = """
import sys
from imdb_tfx.core import serving
serving.publish(sys.argv[1], sys.argv[2])
"""


def test_a_push_killed_midway_leaves_only_whole_versions(tmp_path):
    model = constant_model(str(tmp_path / 'model'), 0.5)
    for i in range(400):
        with open(f'{model}/variables/shard-{i:04d}', 'wb') as f:
            f.write(os.urandom(256 * 1024))
    serving_dir = str(tmp_path / 'serving')
    first = serving.publish(constant_model(str(tmp_path / 'first'), 0.25), serving_dir)

    push = subprocess.Popen([sys.executable, '-c', _PUBLISH, model, serving_dir])
    deadline = time.monotonic() + 120

    def copied(staging):
        return os.path.isdir(f'{staging}/variables') and len(os.listdir(f'{staging}/variables')) >= 10

    while not ((staging := atomic.leftovers(serving_dir)) and copied(staging[0])):
        assert push.poll() is None and time.monotonic() < deadline, 'the push ended before it could be killed'
        time.sleep(0.01)
    push.send_signal(signal.SIGKILL)
    push.wait()

    # A model server sees the whole first version and nothing else.
    assert serving.versions(serving_dir) == [os.path.basename(first)]
    assert [n for n in os.listdir(serving_dir) if n.isdigit()] == [os.path.basename(first)]
    (half,) = atomic.leftovers(serving_dir)
    assert serving.ignored_entries(serving_dir) == {half: 'hidden: a push in progress or interrupted'}
    # The next push lands whole, and removes the half once it is older than any push takes.
    old = time.time() - serving.STALE_STAGING_SECONDS - 1
    os.utime(half, (old, old))
    again = serving.publish(model, serving_dir)
    assert serving.versions(serving_dir) == [os.path.basename(first), os.path.basename(again)]
    assert atomic.leftovers(serving_dir) == []


_PUBLISH_ON_A_FULL_DISK = """
import resource, signal, sys
from imdb_tfx.core import serving
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))
try:
    serving.publish(sys.argv[1], sys.argv[2])
except serving.PushError as e:
    print(e)
    sys.exit(3)
"""


def test_a_push_that_cannot_be_written_fails_in_one_line_and_changes_nothing(tmp_path):
    model = constant_model(str(tmp_path / 'model'), 0.5)
    with open(f'{model}/variables/big', 'wb') as f:
        f.write(os.urandom(1024 * 1024))
    serving_dir = str(tmp_path / 'serving')
    first = serving.publish(constant_model(str(tmp_path / 'first'), 0.25), serving_dir)
    before = sorted(os.listdir(serving_dir))

    push = subprocess.run(
        [sys.executable, '-c', _PUBLISH_ON_A_FULL_DISK, model, serving_dir], capture_output=True, text=True
    )

    assert push.returncode == 3, push.stderr[-2000:]
    (line,) = push.stdout.splitlines()
    assert line.startswith(f'{serving_dir}: cannot push {model}: ')
    assert sorted(os.listdir(serving_dir)) == before and serving.versions(serving_dir) == [os.path.basename(first)]


def test_removing_a_stale_staging_folder_never_follows_a_link_out_of_it(tmp_path):
    outside = tmp_path / 'outside'
    outside.mkdir()
    (outside / 'keep.txt').write_text('not the serving directory')
    serving_dir = str(tmp_path / 'serving')
    inner = f'{serving_dir}/.1700000000.building-0123abcd'  # a killed push's folder, a link to a folder in it
    os.makedirs(inner)
    os.symlink(str(outside), f'{inner}/link')
    whole = f'{serving_dir}/.1700000001.building-0123abcd'  # the staging name itself a link
    os.symlink(str(outside), whole)
    old = time.time() - serving.STALE_STAGING_SECONDS - 1
    for path in (inner, whole):
        os.utime(path, (old, old), follow_symlinks=False)

    pushed = serving.publish(constant_model(str(tmp_path / 'model'), 0.5), serving_dir)

    assert (outside / 'keep.txt').read_text() == 'not the serving directory'
    assert atomic.leftovers(serving_dir) == []
    assert serving.versions(serving_dir) == [os.path.basename(pushed)]


def test_only_ascii_digits_name_a_version(tmp_path):
    serving_dir = str(tmp_path / 'serving')
    model = constant_model(str(tmp_path / 'model'), 0.5)
    real = serving.publish(model, serving_dir)
    # Digits to str.isdigit() (and to int(), but for '²'), not to TF Serving;
    # and a number above TF Serving's int64 versions.
    odd = ['²', '١٢٣', '9' * 20]
    for name in odd:
        io_utils.copy_dir(model, f'{serving_dir}/{name}')

    assert serving.versions(serving_dir) == [os.path.basename(real)]
    assert serving.newest(serving_dir) == real
    assert serving.ignored_entries(serving_dir) == {f'{serving_dir}/{name}': 'not a version number' for name in odd}
    # The next version is above the real one, and TF Serving can read it.
    again = serving.publish(constant_model(str(tmp_path / 'other'), 0.75), serving_dir)
    assert serving.versions(serving_dir) == [os.path.basename(real), os.path.basename(again)]
    assert serving.newest(serving_dir) == again


def test_a_version_that_is_a_link_is_not_followed(tmp_path):
    serving_dir = str(tmp_path / 'serving')
    real = serving.publish(constant_model(str(tmp_path / 'model'), 0.5), serving_dir)
    outside = constant_model(str(tmp_path / 'outside'), 0.9)
    linked = os.path.join(serving_dir, str(int(os.path.basename(real)) + 1))
    os.symlink(outside, linked)
    assert serving.versions(serving_dir) == [os.path.basename(real)]
    assert serving.newest(serving_dir) == real
    assert serving.ignored_entries(serving_dir) == {linked: 'a link: not followed out of the serving directory'}
    # Its number is taken all the same: the next push goes above it.
    again = serving.publish(constant_model(str(tmp_path / 'other'), 0.75), serving_dir)
    assert int(os.path.basename(again)) > int(os.path.basename(linked))
