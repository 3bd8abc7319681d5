"""Bounds on the input, checked before anything is read into memory (imdb_tfx/prepare_data.py).

The real data's reviews are a few KB (none near 1 MiB), its largest urls file holds
50,000 lines of ~50 bytes, the full archive has about 100,000 entries. A source beyond
them is not IMDB reviews, and could make a small archive expand into gigabytes of memory.
`imdb-tfx prepare-data --max-review-bytes/--max-entries` changes the first and the last.
"""

MAX_REVIEW_BYTES = 1 << 20  # one review file (or a TFRecord's text): 1 MiB
MAX_URLS_BYTES = 32 << 20  # one urls_*.txt: 32 MiB, over 500,000 lines
MAX_ENTRIES = 1_000_000  # archive members, or folder entries under aclImdb's train/ and test/
# Review file names are <id>_<rating>.txt; longer digit runs are no review ids.
MAX_ID_DIGITS = 18
