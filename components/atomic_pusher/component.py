"""AtomicPusher: TFX's Pusher (same inputs, outputs and blessing checks) with
an executor that publishes whole versions and never pushes a model twice."""

from tfx.components import Pusher
from tfx.dsl.components.base import executor_spec

from imdb_tfx.components.atomic_pusher import executor


class AtomicPusher(Pusher):
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)
