"""README.md is a front door that stays true: short, its generated blocks
(the pipeline's DAG, the results table) what the code and the results files
say now, and every link it and the docs pages hold resolves."""

import os
import re

import pytest

from benchmarks import readme_blocks

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PAGES = [
    'README.md',
    *(os.path.join('docs', name) for name in sorted(os.listdir(os.path.join(REPO, 'docs'))) if name.endswith('.md')),
]
LINK = re.compile(r'\]\((?!https?://|#|mailto:)([^)\s#]+)(#[^)]*)?\)')


def _read(page: str) -> str:
    with open(os.path.join(REPO, page), encoding='utf-8') as f:
        return f.read()


def test_readme_is_at_most_300_lines():
    assert len(_read('README.md').splitlines()) <= 300


def test_readme_has_both_generated_blocks_and_they_are_current():
    text = _read('README.md')
    assert {m.group('name') for m in readme_blocks.BLOCK.finditer(text)} == set(readme_blocks.RENDERERS)
    assert readme_blocks.refreshed(text) == text, 'run: python -m benchmarks.readme_blocks'


@pytest.mark.parametrize('page', PAGES)
def test_every_relative_link_resolves(page):
    folder = os.path.dirname(os.path.join(REPO, page))
    missing = [target for target, _ in LINK.findall(_read(page)) if not os.path.exists(os.path.join(folder, target))]
    assert missing == []


@pytest.mark.parametrize('page', PAGES)
def test_no_page_is_a_dated_diary(page):
    assert re.findall(r'\b20\d\d-\d\d-\d\d\b', _read(page)) == []
