"""Per-op profile of the pushed model's serving_text signature, the text module
in particular: `python -m benchmarks.profile_text_module --model DIR`.

Calls serving_text on real reviews (the prepared train data) at batch 1,000
and batch 1 under tf.profiler.experimental, after warm-up, and reads the
trace back from its temporary logdir: every TensorFlow op is an event named
`op_name:OpType` on the thread that ran it (XSpace, TensorFlow's own profiler
proto). An op's self time is its event minus the op events nested in it, so
nothing counts twice. Ops are grouped into the module's stages by the name
scope of their node (SCOPES), the two regex passes by their pattern, read from
the SavedModel's graph. Times are summed over threads, so with the module's
parallel slices they add up to more than the wall time of a call. Throughput
of the whole signature is timed separately, without the profiler.

Writes benchmarks/text_module_profile.md (the table, the command, the date,
the machine) and prints the same.
"""

import argparse
import collections
import dataclasses
import glob
import os
import re
import sys
import tempfile

os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')

import tensorflow as tf  # noqa: E402
from tensorflow.core.protobuf import saved_model_pb2  # noqa: E402
from tensorflow.tsl.profiler.protobuf import xplane_pb2  # noqa: E402

from benchmarks import measure, report, serving  # noqa: E402
from imdb_tfx.core import names  # noqa: E402

DATA = 'home/data/*/train/*.tfrecord.gz'
OUTPUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'text_module_profile.md')
# A batch-1 call is far shorter than a large batch's: profile more of them.
SINGLE_CALLS_PER_REPEAT = 20
THROUGHPUT_SECONDS = 3.0
THROUGHPUT_CALLS = 20
OP_EVENT = re.compile(r'([^\s:]+):(\w+)')
CALL_OPS = ('PartitionedCall', 'StatefulPartitionedCall')
# Stage of an op, by the first name scope of its node inside the innermost
# function (numbered copies of the slices, `_1`, stripped): the names
# TextEmbedding.__call__/_embed and the Keras model give their ops.
SCOPES = {
    # Today's module (its name scopes).
    'tokenize': 'tokenize: lower-case, regex replace, split',
    'word_ids': 'word ids: hash, integer table, UTF-8 second look, OOV buckets',
    'bigram_ids': 'bigram ids from the word hashes',
    'gather_and_sum': 'gather + combine (fused)',
    'linear_score': 'linear score: distinct words, pairs and triples, gather + sum',
    # The reference module (benchmarks/reference_text_module.py) names no
    # scopes, so its ops go by their own names; then the slicing and the head.
    'StringLower': 'lower-case',
    'StaticRegexReplace': 'regex replace',
    'StringSplit': 'split on whitespace (+ row partition)',
    'None_Lookup': 'vocabulary lookup (+ OOV hash buckets)',
    'StringNGrams': 'bigram strings',
    'StringToHashBucketFast': 'bigram hashing (+ offset)',
    'add': 'bigram hashing (+ offset)',
    'RaggedConcat': 'word + bigram ids, ragged concat',
    'RaggedValueRowIds': 'segment ids (ragged row ids)',
    'RaggedNRows': 'segment ids (ragged row ids)',
    'SparseSegmentMeanWithNumSegments': 'gather + combine (fused)',
    'SparseSegmentSqrtNWithNumSegments': 'gather + combine (fused)',
    'Size': 'batch into slices, scale, concat',
    'mul': 'batch into slices, scale, concat',
    'floordiv': 'batch into slices, scale, concat',
    'strided_slice': 'batch into slices, scale, concat',
    'concat': 'batch into slices, scale, concat',
    'sequential': 'Dense head',
    'model': 'Dense head',
    'hidden': 'Dense head',
    'logits': 'Dense head',
    'plus_linear_score': 'Dense head',
    'tf.__operators__.getitem': 'Dense head',
    'tf.__operators__.getitem_1': 'Dense head',
    'Sigmoid': 'Dense head',
}
OTHER = 'other (function calls, identities)'
LOWERED_COND = re.compile(r'^cond/(?:then|else)/_\d+/')
OPS_SHOWN = 3


def stage(op_name: str, patterns: dict) -> str:
    parts = op_name.split('/')
    calls = [i for i, part in enumerate(parts[:-1]) if part in CALL_OPS]
    node = '/'.join(parts[calls[-1] + 1 :] if calls else parts)
    # The module's tf.cond (large or small batch), lowered at run time: the
    # branch's ops run as `cond/else/_N/cond/<scope>/...`.
    node = LOWERED_COND.sub('', node)
    scopes = node.split('/')
    if len(scopes) > 1 and scopes[0] == 'cond':
        scopes = scopes[1:]
    label = SCOPES.get(re.sub(r'_\d+$', '', scopes[0]), OTHER)
    return f'{label} `{patterns[node]}`' if node in patterns else label


def read_texts(pattern: str, limit: int) -> list:
    files = sorted(glob.glob(pattern))
    if not files:
        sys.exit(f'{pattern}: no prepared data (run imdb-tfx prepare-data or imdb-tfx run first)')
    return serving.read_texts(files, limit)


def regex_patterns(model_dir: str) -> dict:
    """Node name -> pattern of every StaticRegexReplace in the SavedModel's functions."""
    saved = saved_model_pb2.SavedModel()
    with open(os.path.join(model_dir, 'saved_model.pb'), 'rb') as f:
        saved.ParseFromString(f.read())
    return {
        node.name: node.attr['pattern'].s.decode()
        for function in saved.meta_graphs[0].graph_def.library.function
        for node in function.node_def
        if node.op == 'StaticRegexReplace'
    }


def op_self_times(xspace: xplane_pb2.XSpace) -> collections.Counter:
    """(op name, op type) -> self time in seconds, summed over the host's threads."""
    times = collections.Counter()
    for plane in xspace.planes:
        for line in plane.lines:
            ops = sorted(
                (
                    (e.offset_ps, e.offset_ps + e.duration_ps, m.groups())
                    for e in line.events
                    for m in [OP_EVENT.fullmatch(plane.event_metadata[e.metadata_id].name)]
                    if m
                ),
                key=lambda op: (op[0], -op[1]),
            )
            stack = []  # enclosing ops: (end, key)
            for start, end, key in ops:
                while stack and stack[-1][0] <= start:
                    stack.pop()
                if stack:
                    times[stack[-1][1]] -= (end - start) * 1e-12
                times[key] += (end - start) * 1e-12
                stack.append((end, key))
    return times


def profile(function, inputs: list, calls: int, patterns: dict) -> collections.Counter:
    """(stage, op type) -> self seconds per call, over `calls` calls after warm-up."""
    for i in range(serving.WARMUP_CALLS):
        function(text=inputs[i % len(inputs)])[names.OUTPUT_KEY].numpy()
    with tempfile.TemporaryDirectory() as logdir:
        tf.profiler.experimental.start(logdir)
        for i in range(calls):
            function(text=inputs[i % len(inputs)])[names.OUTPUT_KEY].numpy()
        tf.profiler.experimental.stop()
        xspace = xplane_pb2.XSpace()
        [path] = glob.glob(os.path.join(logdir, 'plugins', 'profile', '*', '*.xplane.pb'))
        with open(path, 'rb') as f:
            xspace.ParseFromString(f.read())
    rows = collections.Counter()
    for (name, op_type), seconds in op_self_times(xspace).items():
        rows[stage(name, patterns), op_type] += seconds / calls
    return rows


def throughput(function, inputs: list, batch: int) -> float:
    latencies = serving.time_calls(
        lambda i: function(text=inputs[i % len(inputs)])[names.OUTPUT_KEY].numpy(),
        THROUGHPUT_SECONDS,
        THROUGHPUT_CALLS,
    )
    return batch * len(latencies) / sum(latencies)


def stage_times(times: collections.Counter) -> collections.Counter:
    stages = collections.Counter()
    for (name, _), seconds in times.items():
        stages[name] += seconds
    return stages


def markdown(batch: int, big: collections.Counter, single: collections.Counter) -> str:
    """One row per stage, with its costliest op types."""

    def ops(name):
        times = [f'{op} {1000 * seconds:.1f}' for (s, op), seconds in big.most_common() if s == name]
        more = f' (+{len(times) - OPS_SHOWN} more)' if len(times) > OPS_SHOWN else ''
        return ', '.join(times[:OPS_SHOWN]) + more

    big_stages, single_stages = stage_times(big), stage_times(single)
    total = sum(big.values())
    rows = [
        [
            name,
            ops(name),
            f'{1000 * big_stages[name]:.2f}',
            report.percent(big_stages[name] / total),
            f'{1000 * single_stages[name]:.3f}',
        ]
        for name in sorted(set(big_stages) | set(single_stages), key=lambda n: -big_stages[n])
    ]
    rows.append(['**all ops**', '', f'**{1000 * total:.2f}**', '100%', f'**{1000 * sum(single.values()):.3f}**'])
    return report.markdown_table(
        [
            'stage',
            f'costliest ops (ms per batch of {batch:,})',
            f'ms per batch of {batch:,}',
            'share',
            'ms per review at batch 1',
        ],
        rows,
    )


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--model', required=True, help='the pushed SavedModel (home/serving/<version>)')
    parser.add_argument('--batch', type=int, default=1000)
    parser.add_argument(
        '--repeats',
        type=int,
        default=10,
        help=f'profiled calls at --batch ({SINGLE_CALLS_PER_REPEAT}x as many at batch 1)',
    )
    parser.add_argument('--data', default=DATA, help='prepared gzip TFRecords with a bytes `text` feature')
    parser.add_argument('--output', default=OUTPUT)
    parser.add_argument('--title', default="today's text module", help='what the profile is of, for its heading')
    return parser.parse_args(argv)


@dataclasses.dataclass(frozen=True)
class Measurements:
    big: collections.Counter  # (stage, op type) -> self seconds per call at --batch
    single: collections.Counter  # the same at batch 1
    rates: dict  # batch -> reviews/s of the whole signature, without the profiler


def measure_model(args) -> Measurements:
    """Profiles serving_text at --batch and at batch 1, then times it unprofiled."""
    texts = read_texts(args.data, args.batch * serving.DISTINCT_BATCHES)
    function = tf.saved_model.load(args.model).signatures[names.TEXT_SIGNATURE]
    patterns = regex_patterns(args.model)
    big_inputs = [tf.constant(texts[i : i + args.batch]) for i in range(0, len(texts), args.batch)]
    single_inputs = [tf.constant([t]) for t in texts[: args.batch]]
    big = profile(function, big_inputs, args.repeats, patterns)
    single = profile(function, single_inputs, args.repeats * SINGLE_CALLS_PER_REPEAT, patterns)
    rates = {
        batch: throughput(function, inputs, batch) for batch, inputs in ((args.batch, big_inputs), (1, single_inputs))
    }
    return Measurements(big=big, single=single, rates=rates)


def profile_page(args, command: str, machine: dict, measured: Measurements) -> str:
    """The profile as markdown: how it was taken, the table, what it shows."""
    big, single, rates = measured.big, measured.single, measured.rates
    return '\n'.join(
        [
            f'# serving_text per op: {args.title}',
            '',
            f'`{command}`, {machine["date"]}, {machine["cores"]} cores ({machine["cpu_model"]}), '
            f'load average at start {machine["load_average_at_start"][0]}, '
            f'TensorFlow {machine["versions"]["tensorflow"]}.',
            '',
            f'Model: `{os.path.abspath(args.model)}`. Real reviews from `{args.data}`; '
            f'{args.repeats} profiled calls at batch {args.batch:,}, '
            f'{args.repeats * SINGLE_CALLS_PER_REPEAT} at batch 1, after {serving.WARMUP_CALLS} warm-up calls.',
            '',
            f'Whole signature, timed without the profiler: **{rates[args.batch]:,.0f} reviews/s at batch '
            f'{args.batch:,}**, **{rates[1]:,.0f} reviews/s at batch 1** (target at batch 1,000 in '
            f'benchmarks/README.md: {report.SERVING_TARGET:,}).',
            '',
            markdown(args.batch, big, single),
            '',
            'Self time of each op (its trace event minus the op events nested in it), per call, summed '
            'over threads: the module embeds a large batch in slices in parallel, so at batch '
            f'{args.batch:,} the ops add up to {1000 * sum(big.values()):.1f} ms against '
            f'{1000 * args.batch / rates[args.batch]:.1f} ms of wall time per call. At batch 1 they add up to '
            f'{1000 * sum(single.values()):.3f} ms of {1000 / rates[1]:.3f} ms: the rest is the cost of a '
            'call (dispatch, executor scheduling, function call frames), outside any op.',
            '',
            f'Costliest at batch {args.batch:,}: '
            + ', '.join(
                f'{name} {report.percent(seconds / sum(big.values()))}'
                for name, seconds in stage_times(big).most_common(3)
            )
            + '.',
            '',
        ]
    )


def main(argv=None) -> None:
    args = parse_args(argv)
    machine = measure.machine()  # before the work, for the load average at start
    measured = measure_model(args)
    command = 'python -m benchmarks.profile_text_module ' + ' '.join(argv or sys.argv[1:])
    text = profile_page(args, command, machine, measured)
    print(text)
    with open(args.output, 'w', encoding='utf-8') as f:
        f.write(text)


if __name__ == '__main__':
    main()
