"""`imdb-tfx rollback` and `imdb-tfx predict` on a serving directory."""

import os

from conftest import constant_model, imdb_tfx
from imdb_tfx.core import serving
from imdb_tfx.core.home import Home


def test_rollback_serves_the_previous_version_again(tmp_path):
    home = Home.at(str(tmp_path / 'home'))
    first = serving.publish(constant_model(str(tmp_path / 'a'), 0.25), home.serving_dir)
    second = serving.publish(constant_model(str(tmp_path / 'b'), 0.75), home.serving_dir)
    assert imdb_tfx('predict', '--home', home.root, 'a review').stdout.startswith('0.7500\t')

    result = imdb_tfx('rollback', '--home', home.root)

    assert result.returncode == 0, result.stderr
    versions = serving.versions(home.serving_dir)
    assert len(versions) == 3 and int(versions[2]) > int(versions[1])  # nothing deleted
    assert serving.same_model(first, serving.newest(home.serving_dir))
    assert os.path.basename(first) in result.stdout
    predicted = imdb_tfx('predict', '--home', home.root, 'a review', 'another')
    assert predicted.stdout.splitlines() == ['0.2500\ta review', '0.2500\tanother']
    assert os.path.exists(second)


def test_rollback_to_a_missing_version_says_which_exist(tmp_path):
    home = Home.at(str(tmp_path / 'home'))
    only = serving.publish(constant_model(str(tmp_path / 'a'), 0.5), home.serving_dir)
    result = imdb_tfx('rollback', '--home', home.root, '--to', '12')
    assert result.returncode == 2
    assert 'no version 12' in result.stderr and os.path.basename(only) in result.stderr
    assert imdb_tfx('rollback', '--home', home.root).returncode == 2  # one version: nowhere to go


def test_predict_without_a_pushed_model_is_a_clear_error(tmp_path):
    result = imdb_tfx('predict', '--home', str(tmp_path), 'text')
    assert result.returncode == 2 and 'no pushed model yet' in result.stderr
