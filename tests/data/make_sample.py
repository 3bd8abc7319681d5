"""Builds tests/data/aclImdb_sample.tar.gz, a small aclImdb-layout archive for the tests.

It takes whole movies from the real train archive: movies are visited in the order of
sha256(movie_id) and a movie is kept (with ALL its reviews of that kind) while it fits
under the per-folder targets, so several movies have several reviews and a movie-grouped
split can be tested. Kept reviews are renumbered 0..n-1 per folder (in original id
order), keep their original rating in the file name, and the urls_*.txt files are
rewritten to match. Fixed mtime/owner and sorted member order make rebuilds
byte-identical.

Regenerate (standard library only):

    python tests/data/make_sample.py /work/shared/data/aclImdb_train.tar.gz \
        tests/data/aclImdb_sample.tar.gz
"""

import argparse
import collections
import gzip
import hashlib
import io
import re
import tarfile

TARGETS = {"pos": 500, "neg": 500, "unsup": 100}
_REVIEW = re.compile(r"aclImdb/train/(pos|neg|unsup)/(\d+)_(\d+)\.txt")
_URLS = re.compile(r"aclImdb/train/urls_(pos|neg|unsup)\.txt")
_MOVIE = re.compile(r"/title/(tt\d+)/")


def read_urls(archive):
    """Pass 1: {folder: [url, ...]}, line i being the URL of review id i."""
    urls = {}
    with tarfile.open(archive, "r|gz") as tar:
        for member in tar:
            match = _URLS.fullmatch(member.name)
            if match:
                lines = tar.extractfile(member).read().decode("utf-8").splitlines()
                urls[match.group(1)] = lines
    return urls


def _stable_key(movie_id):
    return hashlib.sha256(movie_id.encode()).hexdigest()


def select_ids(urls, folders):
    """Returns {folder: set of review ids} made of whole movies, within TARGETS."""
    reviews = collections.defaultdict(lambda: collections.defaultdict(list))
    for folder in folders:
        for review_id, url in enumerate(urls[folder]):
            reviews[_MOVIE.search(url).group(1)][folder].append(review_id)
    chosen = {folder: set() for folder in folders}
    for movie_id in sorted(reviews, key=_stable_key):
        per_folder = reviews[movie_id]
        if all(len(chosen[f]) + len(per_folder[f]) <= TARGETS[f] for f in folders):
            for folder in folders:
                chosen[folder].update(per_folder[folder])
        if all(len(chosen[f]) == TARGETS[f] for f in folders):
            break
    return chosen


def collect_reviews(archive, chosen):
    """Pass 2: {folder: {old_id: (rating, bytes)}} for the chosen reviews."""
    kept = collections.defaultdict(dict)
    with tarfile.open(archive, "r|gz") as tar:
        for member in tar:
            match = _REVIEW.fullmatch(member.name)
            if match and int(match.group(2)) in chosen[match.group(1)]:
                folder, review_id, rating = match.group(1), int(match.group(2)), match.group(3)
                kept[folder][review_id] = (rating, tar.extractfile(member).read())
    return kept


def sample_files(urls, kept):
    """{member name: bytes} of the sample, with renumbered reviews and urls files."""
    files = {}
    for folder, reviews in kept.items():
        new_urls = []
        for new_id, old_id in enumerate(sorted(reviews)):
            rating, text = reviews[old_id]
            files[f"aclImdb/train/{folder}/{new_id}_{rating}.txt"] = text
            new_urls.append(urls[folder][old_id] + "\n")
        files[f"aclImdb/train/urls_{folder}.txt"] = "".join(new_urls).encode()
    return files


def _member(name, size, is_dir=False):
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.uid, info.gid = size, 0, 0, 0
    info.uname = info.gname = ""
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = 0o755 if is_dir else 0o644
    return info


def write_archive(path, files):
    """Deterministic .tar.gz: sorted members, fixed metadata, gzip header without mtime/name."""
    dirs = {name[: i + 1] for name in files for i, char in enumerate(name) if char == "/"}
    with open(path, "wb") as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=9
    ) as gz, tarfile.open(fileobj=gz, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in sorted(dirs | set(files)):
            if name in dirs:
                tar.addfile(_member(name, 0, is_dir=True))
            else:
                tar.addfile(_member(name, len(files[name])), io.BytesIO(files[name]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("source", help="the real aclImdb train archive (.tar.gz)")
    parser.add_argument("output", help="where to write the sample .tar.gz")
    args = parser.parse_args()
    urls = read_urls(args.source)
    chosen = select_ids(urls, ["pos", "neg"])
    chosen.update(select_ids(urls, ["unsup"]))
    files = sample_files(urls, collect_reviews(args.source, chosen))
    write_archive(args.output, files)
    counts = {folder: len(ids) for folder, ids in chosen.items()}
    print(f"wrote {args.output}: {counts}")


if __name__ == "__main__":
    main()
