"""`imdb-tfx kfp-local PACKAGE.yaml`: runs a compiled package on this machine,
the way Kubeflow Pipelines 2 runs it, to debug it before it goes to a cluster.

Task by task in dependency order, each through its container's command and
arguments exactly as the package gives them (this environment's Python in
place of the image's), with the ExecutorInput that KFP's driver builds:
parameters from the run's arguments, else the package's defaults, else the
task's constants; upstream artifacts as the launcher recorded them; output
URIs under the package's pipeline root
(`<root>/<pipeline name>/<run id>/<task>/<output>`). Each task's environment is
this process's, plus the container's `env`, plus `--env` overrides; a
Kubernetes secret the package maps to variables (`secretAsEnv`) must be
stood in for by those variables here, and a path the image bakes in or a
volume mounts by a local folder (`--mount IMAGE_PATH=LOCAL_PATH`, applied to
the parameters' values).

Caching follows the package: a task with caching on whose component,
parameters and input artifacts match an earlier successful execution is
reused (KFP's cache, kept in the work directory)."""

import dataclasses
import hashlib
import itertools
import json
import os
import re
import subprocess
import sys
import time
import uuid
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from imdb_tfx.core.errors import UserInputError

EXECUTOR_INPUT_PLACEHOLDER = '{{$}}'
LOG_TAIL_LINES = 40


@dataclasses.dataclass(frozen=True)
class Package:
    spec: pipeline_spec_pb2.PipelineSpec
    kubernetes: Dict[str, dict]  # executor label -> kfp-kubernetes config (pvcMount, secretAsEnv)

    @property
    def executors(self) -> Dict[str, dict]:
        return json_format.MessageToDict(self.spec.deployment_spec)['executors']

    def container(self, task: str) -> dict:
        component = self.spec.components[self.spec.root.dag.tasks[task].component_ref.name]
        return self.executors[component.executor_label]['container']

    def secrets(self, task: str) -> List[dict]:
        component = self.spec.components[self.spec.root.dag.tasks[task].component_ref.name]
        return self.kubernetes.get(component.executor_label, {}).get('secretAsEnv', [])


@dataclasses.dataclass(frozen=True)
class TaskResult:
    task: str
    state: str  # SUCCEEDED, CACHED or FAILED
    seconds: float
    log: Optional[str]  # the task's log file; None when cached


def load_package(path: str) -> Package:
    """The PipelineSpec (and platform spec) of a compiled .yaml package."""
    try:
        with open(path, encoding='utf-8') as f:
            documents = [d for d in yaml.safe_load_all(f) if d]
        spec = json_format.ParseDict(documents[0], pipeline_spec_pb2.PipelineSpec())
        platform = (
            json_format.ParseDict(documents[1], pipeline_spec_pb2.PlatformSpec())
            if len(documents) > 1
            else pipeline_spec_pb2.PlatformSpec()
        )
    except (OSError, yaml.YAMLError, json_format.ParseError, IndexError, AttributeError) as e:
        raise UserInputError(f'{path}: not a compiled pipeline package ({e})') from e
    if not spec.root.dag.tasks or not spec.default_pipeline_root:
        raise UserInputError(f'{path}: not a compiled pipeline package (no tasks or no pipeline root)')
    kubernetes = {}
    if 'kubernetes' in platform.platforms:
        kubernetes = json_format.MessageToDict(platform.platforms['kubernetes'].deployment_spec).get('executors', {})
    return Package(spec, kubernetes)


def task_order(spec: pipeline_spec_pb2.PipelineSpec) -> List[str]:
    """Tasks in dependency order (ties by name, so runs are repeatable)."""
    tasks = spec.root.dag.tasks
    order, done = [], set()
    while len(order) < len(tasks):
        ready = sorted(name for name, task in tasks.items() if name not in done and set(task.dependent_tasks) <= done)
        if not ready:
            raise UserInputError(f'the tasks {sorted(set(tasks) - done)} depend on each other in a cycle')
        order.append(ready[0])
        done.add(ready[0])
    return order


_PARAMETER_TYPES = pipeline_spec_pb2.ParameterType.ParameterTypeEnum


def parse_arguments(spec: pipeline_spec_pb2.PipelineSpec, given: Mapping[str, str]) -> Dict[str, object]:
    """NAME=VALUE strings as typed values of the package's run-time parameters."""
    definitions = spec.root.input_definitions.parameters
    typed = {}
    for name, value in given.items():
        if name not in definitions:
            raise UserInputError(
                f'--param {name}: the package has no such parameter (it has: {", ".join(sorted(definitions))})'
            )
        kind = definitions[name].parameter_type
        try:
            if kind == _PARAMETER_TYPES.NUMBER_DOUBLE:
                typed[name] = float(value)
            elif kind == _PARAMETER_TYPES.NUMBER_INTEGER:
                typed[name] = int(value)
            elif kind == _PARAMETER_TYPES.BOOLEAN:
                typed[name] = {'true': True, 'false': False}[value.lower()]
            else:
                typed[name] = value
        except (ValueError, KeyError) as e:
            raise UserInputError(f'--param {name}={value}: not a {_PARAMETER_TYPES.Name(kind)}') from e
    return typed


def _mounted(value, mounts: Mapping[str, str]):
    """A parameter value with each mounted path (as a whole path component,
    also inside a JSON string) replaced by its local folder."""
    if not isinstance(value, str):
        return value
    for image_path, local_path in mounts.items():
        value = re.sub(re.escape(image_path.rstrip('/')) + r'(?=/|"|$)', local_path.rstrip('/'), value)
    return value


def executor_input(
    spec: pipeline_spec_pb2.PipelineSpec,
    task_name: str,
    run_root: str,
    produced: Dict[str, dict],
    arguments: Mapping[str, object],
    output_file: str,
    mounts: Mapping[str, str] = None,
) -> pipeline_spec_pb2.ExecutorInput:
    """The ExecutorInput KFP 2's driver hands the launcher for this task."""
    task = spec.root.dag.tasks[task_name]
    component = spec.components[task.component_ref.name]
    pipeline_parameters = spec.root.input_definitions.parameters
    parameters = {}
    for name, value in task.inputs.parameters.items():
        if value.component_input_parameter:
            source = value.component_input_parameter
            parameters[name] = (
                arguments[source]
                if source in arguments
                else json_format.MessageToDict(pipeline_parameters[source].default_value)
            )
        else:
            parameters[name] = json_format.MessageToDict(value.runtime_value.constant)
        parameters[name] = _mounted(parameters[name], mounts or {})
    artifacts = {}
    for name, value in task.inputs.artifacts.items():
        source = value.task_output_artifact
        upstream = produced[source.producer_task][source.output_artifact_key]
        artifacts[name] = {
            'artifacts': [
                {
                    **upstream,
                    'type': json_format.MessageToDict(component.input_definitions.artifacts[name].artifact_type),
                }
            ]
        }
    outputs = {
        name: {
            'artifacts': [
                {'type': json_format.MessageToDict(definition.artifact_type), 'uri': f'{run_root}/{task_name}/{name}'}
            ]
        }
        for name, definition in component.output_definitions.artifacts.items()
    }
    return json_format.ParseDict(
        {
            'inputs': {'parameterValues': parameters, 'artifacts': artifacts},
            'outputs': {'artifacts': outputs, 'outputFile': output_file},
        },
        pipeline_spec_pb2.ExecutorInput(),
    )


def _cache_key(package: Package, task_name: str, message: pipeline_spec_pb2.ExecutorInput) -> str:
    """What KFP's cache key covers: the component, its container, the inputs."""
    inputs = json_format.MessageToDict(message.inputs)
    for listed in inputs.get('artifacts', {}).values():
        for artifact in listed['artifacts']:
            artifact.pop('name', None)  # an id of this run; the uri names the content
    component = package.spec.components[package.spec.root.dag.tasks[task_name].component_ref.name]
    content = {
        'component': json_format.MessageToDict(component),
        'container': package.container(task_name),
        'inputs': inputs,
    }
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def _environment(package: Package, task_name: str, overrides: Mapping[str, str]) -> Dict[str, str]:
    env = dict(os.environ)
    env.update({e['name']: e['value'] for e in package.container(task_name).get('env', [])})
    env.update(overrides)
    for secret in package.secrets(task_name):
        missing = [m['envVar'] for m in secret.get('keyToEnv', []) if not env.get(m['envVar'])]
        if missing:
            raise UserInputError(
                f'task {task_name} takes {", ".join(missing)} from the Kubernetes secret '
                f'{secret["secretName"]}: set them in the environment (or --env NAME=VALUE) to stand in for it'
            )
    return env


def _command(container: dict, message: pipeline_spec_pb2.ExecutorInput) -> List[str]:
    command = list(container['command'])
    if command[0] in ('python', 'python3'):
        command[0] = sys.executable  # this environment stands in for the image
    args = []
    for arg in container.get('args', []):
        if '{{$' in arg and arg != EXECUTOR_INPUT_PLACEHOLDER:
            raise UserInputError(f'argument {arg!r}: only the {EXECUTOR_INPUT_PLACEHOLDER} placeholder is supported')
        args.append(json_format.MessageToJson(message) if arg == EXECUTOR_INPUT_PLACEHOLDER else arg)
    return command + args


def _produced(message: pipeline_spec_pb2.ExecutorInput, ids) -> Dict[str, dict]:
    """The task's output artifacts as the launcher records them (name = an
    ML Metadata id), from the executor's output file."""
    with open(message.outputs.output_file, encoding='utf-8') as f:
        written = json.load(f).get('artifacts', {})
    produced = {}
    for key, declared in json_format.MessageToDict(message.outputs)['artifacts'].items():
        artifact = (written.get(key) or declared)['artifacts'][0]
        produced[key] = {'name': str(next(ids)), 'uri': artifact['uri'], 'metadata': artifact.get('metadata', {})}
    return produced


def _tail(path: str, lines: int = LOG_TAIL_LINES) -> str:
    with open(path, encoding='utf-8', errors='replace') as f:
        return ''.join(f.readlines()[-lines:])


def run_package(
    package_path: str,
    arguments: Mapping[str, str],
    work_dir: str,
    env: Optional[Mapping[str, str]] = None,
    mounts: Optional[Mapping[str, str]] = None,
    use_cache: bool = True,
    echo: Callable[[str], None] = print,
) -> Tuple[str, List[TaskResult]]:
    """Runs every task; stops at the first that fails. Returns the run id
    and each task's result (the failed one last)."""
    package = load_package(package_path)
    work_dir = os.path.abspath(work_dir)  # tasks run in their own folders
    typed = parse_arguments(package.spec, arguments)
    order = task_order(package.spec)
    run_id = f'kfp-local-{time.strftime("%Y%m%d-%H%M%S")}-{uuid.uuid4().hex[:6]}'
    run_root = '/'.join([package.spec.default_pipeline_root.rstrip('/'), package.spec.pipeline_info.name, run_id])
    cache_dir = os.path.join(work_dir, 'cache')
    os.makedirs(cache_dir, exist_ok=True)
    ids = itertools.count(1)  # ML Metadata ids, as the launcher records artifacts
    produced, results = {}, []
    echo(f'Run {run_id}: {len(order)} tasks, artifacts under {run_root}')
    for name in order:
        task_dir = os.path.join(work_dir, 'runs', run_id, name)
        os.makedirs(task_dir)
        message = executor_input(
            package.spec, name, run_root, produced, typed, os.path.join(task_dir, 'output_metadata.json'), mounts
        )
        cache_file = os.path.join(cache_dir, _cache_key(package, name, message) + '.json')
        cached = use_cache and package.spec.root.dag.tasks[name].caching_options.enable_cache
        if cached and os.path.exists(cache_file):
            with open(cache_file, encoding='utf-8') as f:
                produced[name] = {key: {**a, 'name': str(next(ids))} for key, a in json.load(f).items()}
            results.append(TaskResult(name, 'CACHED', 0.0, None))
            echo(f'  {name:<20} CACHED')
            continue
        log_path = os.path.join(task_dir, 'log.txt')
        command = _command(package.container(name), message)
        started = time.monotonic()
        with open(log_path, 'w', encoding='utf-8') as log:
            status = subprocess.run(
                command, cwd=task_dir, env=_environment(package, name, env or {}), stdout=log, stderr=subprocess.STDOUT
            ).returncode
        seconds = time.monotonic() - started
        if status != 0 or not os.path.exists(message.outputs.output_file):
            results.append(TaskResult(name, 'FAILED', seconds, log_path))
            echo(f'  {name:<20} FAILED    {seconds:7.1f} s  (exit status {status}; log {log_path})')
            echo(_tail(log_path))
            return run_id, results
        produced[name] = _produced(message, ids)
        if cached:
            with open(cache_file, 'w', encoding='utf-8') as f:
                json.dump({key: {k: v for k, v in a.items() if k != 'name'} for key, a in produced[name].items()}, f)
        results.append(TaskResult(name, 'SUCCEEDED', seconds, log_path))
        echo(f'  {name:<20} SUCCEEDED {seconds:7.1f} s')
    return run_id, results
