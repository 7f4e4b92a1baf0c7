"""``BraketExecutor``: run each Covalent electron as one Amazon Braket Hybrid Job.

The story of one electron (``BraketExecutor.run``): validate the settings, pickle the task, put it in
S3, make sure the job image exists, create the job, wait for it, collect the result (or the remote
traceback) and clean up. A cancel request from Covalent is honoured at every step.

Covalent finds this class through ``covalent_braket_plugin.braket``, the plugin's entry point.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import itertools
import os
import sys
import threading
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from functools import partial
from typing import Any

if "covalent" not in sys.modules:
    # Covalent loads its plugins when it is first imported, and the plugin's entry point imports this
    # module: imported first, this module would be half executed when the entry point asks for it.
    raise ImportError(
        "import covalent or covalent_braket_plugin.braket (the plugin's entry point) before "
        f"{__name__}; BraketExecutor is covalent_braket_plugin.braket.BraketExecutor"
    )

import cloudpickle
from covalent._shared_files import logger
from covalent._shared_files.config import get_config
from covalent._shared_files.exceptions import TaskCancelledError, TaskRuntimeError
from covalent.executor.base import AsyncBaseExecutor

from covalent_braket_plugin.aws import make_session, resolve_region
from covalent_braket_plugin.executor import job_spec as jobs
from covalent_braket_plugin.executor import transfer
from covalent_braket_plugin.executor import watch as job_watch
from covalent_braket_plugin.executor.images import ImageBuilder
from covalent_braket_plugin.executor.progress import BYTES_UNIT, Progress
from covalent_braket_plugin.executor.settings import BraketExecutorSettings

TAG_DISPATCH_ID = jobs.TAG_DISPATCH_ID
TAG_NODE_ID = jobs.TAG_NODE_ID

app_log = logger.app_log

BLOCKING_THREADS = 8
"""Worker threads for the executor's blocking work (boto3 calls, pickling), shared by all electrons.

Bounded and the executor's own, not the event loop's default pool that anything else in the Covalent
server may fill: a call spends most of its time waiting for AWS with the interpreter free, so eight
keep up with a burst of electrons, and a hundred electrons never mean a hundred threads running
botocore's Python code against the dispatcher's event loop.
"""
LARGE_UPLOAD_BYTES = 8 * 2**20
"""Tasks from this size on are uploaded with progress reports (and boto3's multipart transfer)."""

_pool = concurrent.futures.ThreadPoolExecutor(
    max_workers=BLOCKING_THREADS, thread_name_prefix="braket-executor"
)


async def _blocking(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` on the executor's worker threads, so the event loop stays free."""
    return await asyncio.get_running_loop().run_in_executor(_pool, fn, *args)


_attempts: dict[tuple[str, int], itertools.count] = {}
_attempts_lock = threading.Lock()


def _next_attempt(dispatch_id: str, node_id: int) -> int:
    """1 for the first run of an electron in this process, 2 for the next, ...

    The attempt is part of the job name and so of CreateJob's idempotency token: a second run of the
    same electron must make a new job, while a retried CreateJob of the same run must not.
    """
    with _attempts_lock:
        return next(_attempts.setdefault((dispatch_id, node_id), itertools.count(1)))


@dataclass(frozen=True)
class _Task:
    """One attempt of one electron: its job name and where its objects live in S3."""

    dispatch_id: str
    node_id: int
    name: str
    location: transfer.TaskLocation


@dataclass(frozen=True)
class _Aws:
    """The clients electrons need, shared by every electron with the same AWS identity and region.

    Building a session and its clients parses large service models, holding the interpreter for
    hundreds of milliseconds; done once per identity instead of once per electron, it no longer
    slows the dispatcher's event loop down with every electron. boto3 clients are thread-safe.
    """

    session: Any
    braket: Any
    s3: Any
    logs: Any
    account_id: str

    @classmethod
    def connect(cls, settings: BraketExecutorSettings) -> _Aws:
        """The shared clients for ``settings`` (made on first use; call from a worker thread)."""
        key = (
            settings.credentials,
            settings.profile,
            resolve_region(settings),
            # boto3 reads endpoints and credentials from these too
            tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_"))),
        )
        with _connections_lock:
            if key not in _connections:
                session = make_session(settings)
                _connections[key] = cls(
                    session=session,
                    braket=session.client("braket", config=jobs.CLIENT_CONFIG),
                    s3=session.client("s3", config=jobs.CLIENT_CONFIG),
                    logs=session.client("logs", config=jobs.CLIENT_CONFIG),
                    account_id=session.client("sts", config=jobs.CLIENT_CONFIG).get_caller_identity()[
                        "Account"
                    ],
                )
            return _connections[key]


_connections: dict[tuple[Any, ...], _Aws] = {}
_progress = Progress.for_stream()
"""Where the executor reports its long steps: the Covalent server's stderr (its log), one line per
event, like the image builds; through covalent's logger they would vanish at its default level."""
_connections_lock = threading.Lock()


class BraketExecutor(AsyncBaseExecutor):
    """Covalent executor that runs each electron as an Amazon Braket Hybrid Job.

    Every setting (see the configuration reference, docs/configuration.md) may be given here as a
    keyword argument; the rest come from ``[executors.braket]`` in covalent.conf, then from the
    defaults. They are validated here, so a bad value fails when the workflow is built, before
    anything reaches AWS. The validated values are kept as plain attributes because Covalent sends
    the executor to its dispatcher as ``__dict__`` (``to_dict``/``from_dict``), which must stay JSON.
    """

    def __init__(self, log_stdout: str = "", log_stderr: str = "", retries: int = 0, **options: Any) -> None:
        settings = BraketExecutorSettings.from_options(
            **{**_configured_options(), **{k: v for k, v in options.items() if v is not None}}
        )
        super().__init__(
            log_stdout=log_stdout,
            log_stderr=log_stderr,
            cache_dir=settings.cache_dir,
            time_limit=settings.time_limit,
            retries=retries,
        )
        self.__dict__.update(settings.model_dump(mode="json"))

    def settings(self) -> BraketExecutorSettings:
        """The validated settings, rebuilt from the attributes (which ``from_dict`` may have replaced)."""
        names = BraketExecutorSettings.model_fields
        return BraketExecutorSettings.from_options(**{k: v for k, v in self.__dict__.items() if k in names})

    async def run(self, function: Callable, args: list, kwargs: dict, task_metadata: dict) -> Any:
        """Run ``function(*args, **kwargs)`` as a Braket job and return its result."""
        settings = self.settings()
        dispatch_id, node_id = task_metadata["dispatch_id"], task_metadata["node_id"]
        name = jobs.job_name(dispatch_id, node_id, _next_attempt(dispatch_id, node_id))
        task = _Task(
            dispatch_id,
            node_id,
            name,
            transfer.TaskLocation.for_task(settings.s3_bucket_name, dispatch_id, node_id, name),
        )
        self._ensure_streams()
        await self._stop_if_cancel_requested(task)

        aws = await _blocking(_Aws.connect, settings)
        try:
            job = await self._submit_and_wait(aws, settings, task, function, args, kwargs)
            return await self._collect(aws, settings, task, job)
        finally:
            if settings.cleanup:
                await self._clean_up(aws, task.location)

    async def cancel(self, task_metadata: dict, job_handle: Any) -> bool:
        """Cancel the job (``job_handle`` is its ARN); True once Braket cancels or has cancelled it.

        Covalent calls this on a fresh executor built from the electron's attributes, so everything
        it needs comes from the settings and the ARN, whose region it uses.
        """
        if not job_handle:
            return False
        settings = self.settings()

        def cancel() -> str:
            session = make_session(settings)
            braket = session.client(
                "braket", region_name=jobs.region_of(job_handle), config=jobs.CLIENT_CONFIG
            )
            return jobs.cancel_job(braket, job_handle)

        status = await _blocking(cancel)
        app_log.debug(f"Cancel of Braket job {job_handle}: {status}")
        return status in jobs.CANCEL_ACCEPTED

    async def _submit_and_wait(
        self,
        aws: _Aws,
        settings: BraketExecutorSettings,
        task: _Task,
        function: Callable,
        args: list,
        kwargs: dict,
    ) -> dict[str, Any]:
        """Pickle the task, get the image, upload, create the job and wait until it ends; return GetJob.

        The image comes before the upload: an environment that cannot be built (a Python version
        that differs from the client's, a bad pip package) fails with nothing left in S3.
        """
        location = task.location
        payload = await _blocking(cloudpickle.dumps, (function, args, kwargs))
        image_uri = await self._image(aws, settings, task)
        await self._stop_if_cancel_requested(task)
        task_uri = await self._upload(aws, task, payload)
        source_uri = await _blocking(
            transfer.upload_runner_source, aws.s3, settings.s3_bucket_name, aws.account_id
        )
        await self._stop_if_cancel_requested(task)

        spec = jobs.electron_job(
            settings,
            location,
            name=task.name,
            account_id=aws.account_id,
            image_uri=image_uri,
            source_uri=source_uri,
            task_uri=task_uri,
            tags={**settings.tags, TAG_DISPATCH_ID: str(task.dispatch_id), TAG_NODE_ID: str(task.node_id)},
        )
        created = time.time()
        job_arn = await _blocking(jobs.create_job, aws.braket, spec)
        app_log.debug(f"Braket job {job_arn} created for {task.dispatch_id}:{task.node_id}")
        try:
            await self._set_job_handle(job_arn)
            return await self._wait(aws, job_arn, created, settings, task)
        except BaseException:
            # Nobody will collect this job's result any more; stop paying for it.
            with suppress(Exception):
                await _blocking(jobs.cancel_job, aws.braket, job_arn)
            raise

    async def _upload(self, aws: _Aws, task: _Task, payload: bytes) -> str:
        """Put the pickled task in S3; a large one reports its progress in the log as it goes."""
        if len(payload) < LARGE_UPLOAD_BYTES:
            return await _blocking(transfer.upload_task, aws.s3, task.location, payload, aws.account_id)
        with _progress.task(f"{task.name}: uploading the task", total=len(payload), unit=BYTES_UNIT) as shown:
            return await _blocking(
                transfer.upload_task, aws.s3, task.location, payload, aws.account_id, shown.advance
            )

    async def _image(self, aws: _Aws, settings: BraketExecutorSettings, task: _Task) -> str:
        """The job image's URI (``ecr_image_uri``, or the image of the environment, built if missing).

        The build is shared with every electron of the same environment in this process, so a
        cancel request stops this electron's wait, not the build.
        """
        if settings.ecr_image_uri:
            return settings.ecr_image_uri
        # The builder keeps its own display (lines on the server's stderr): builds are rare and long,
        # and belong in the server's output even where its log level hides the executor's notes.
        build = asyncio.ensure_future(ImageBuilder(aws.session, settings).ensure_image())
        for delay in jobs.poll_delays(settings.initial_poll_freq, settings.poll_freq):
            done, _ = await asyncio.wait({build}, timeout=delay)
            if done:
                return build.result()
            if await self._cancel_requested():
                build.add_done_callback(_retrieve_outcome)
                raise TaskCancelledError(f"{task.name} was cancelled while its job image was being built")
        raise AssertionError("poll_delays never ends")

    async def _wait(
        self, aws: _Aws, job_arn: str, created: float, settings: BraketExecutorSettings, task: _Task
    ) -> dict[str, Any]:
        """Wait until the job ends and return its final record; its status changes go to the log.

        The process's shared watcher (``job_watch``) follows the job together with every other job
        this process waits for. Meanwhile a cancel request is looked for from ``initial_poll_freq``
        apart, backing off to ``poll_freq``; one seen becomes one CancelJob, and the wait goes on
        until Braket reports the job ended, whose final status then decides what ``run`` reports.
        """
        with _progress.task(f"Braket job {task.name}") as shown:

            def report(record: dict[str, Any]) -> None:
                shown.update(status=_describe(record))

            watch = job_watch.watcher(aws.braket, _pool).watch(
                job_arn,
                created=created,
                initial=settings.initial_poll_freq,
                slowest=settings.poll_freq,
                listener=report,
            )
            try:
                cancel_sent = False
                for delay in jobs.poll_delays(settings.initial_poll_freq, settings.poll_freq):
                    if not cancel_sent and await self._cancel_requested():
                        status = await _blocking(jobs.cancel_job, aws.braket, job_arn)
                        app_log.debug(f"Cancel requested for Braket job {job_arn}: {status}")
                        cancel_sent = True
                    done, _ = await asyncio.wait({watch}, timeout=delay)
                    if done:
                        return watch.result()
                raise AssertionError("poll_delays never ends")
            finally:
                watch.cancel()  # stops watching a job nobody waits for; no-op once it ended

    async def _collect(
        self, aws: _Aws, settings: BraketExecutorSettings, task: _Task, job: dict[str, Any]
    ) -> Any:
        """Turn the ended job into the electron's result, TaskCancelledError or TaskRuntimeError."""
        status = job["status"]
        outputs = await _blocking(
            partial(transfer.download_outputs, completed=status == "COMPLETED"),
            aws.s3,
            task.location,
            aws.account_id,
        )
        print(outputs.stdout, end="", file=self.task_stdout)
        print(outputs.stderr, end="", file=self.task_stderr)
        if status == "CANCELLED":
            raise TaskCancelledError(f"Braket job {job['jobArn']} was cancelled")
        if status == "COMPLETED" and outputs.result is not None:
            return await _blocking(cloudpickle.loads, outputs.result)

        detail = await self._failure_detail(aws, settings, job, outputs)
        reason = job.get("failureReason") or "no failure reason given"
        ending = f"Braket job {job['jobArn']} ended {status}: {reason}\n"
        report = f"{detail.rstrip()}\n\n{ending}"
        # The runner's stderr (printed above) usually holds the traceback already: add it only if not.
        print(ending if detail.strip() in outputs.stderr else report, end="", file=self.task_stderr)
        raise TaskRuntimeError(report)

    async def _failure_detail(
        self, aws: _Aws, settings: BraketExecutorSettings, job: dict[str, Any], outputs: transfer.TaskOutputs
    ) -> str:
        """The remote traceback when the runner wrote one, else the job's CloudWatch log."""
        if outputs.error is not None:
            return (
                outputs.error.get("traceback")
                or f"{outputs.error.get('type')}: {outputs.error.get('message')}"
            )
        log = await _blocking(jobs.read_logs, aws.logs, settings.log_group_name, job["jobName"])
        if outputs.result is not None:  # the electron returned; what came after it failed
            lead = "The electron returned, but its job did not complete. Job log:\n"
        else:
            lead = "The job ended before the electron reported a result or an error. Job log:\n"
        return lead + (log or "(the job wrote no log)")

    async def _clean_up(self, aws: _Aws, location: transfer.TaskLocation) -> None:
        try:
            await _blocking(transfer.delete_task_objects, aws.s3, location, aws.account_id)
        except Exception as error:  # the electron's outcome matters more than leftover objects
            app_log.warning(f"Could not remove s3://{location.bucket}/{location.prefix}: {error}")

    def _ensure_streams(self) -> None:
        """Covalent's ``execute`` gives the executor fresh output buffers; a direct ``run`` needs its own."""
        if self.task_stdout is None:
            self._task_stdout = io.StringIO()
        if self.task_stderr is None:
            self._task_stderr = io.StringIO()

    def _dispatcher_attached(self) -> bool:
        """Whether a Covalent dispatcher listens (it calls ``_init_runtime`` before ``run``).

        Without one (a script or benchmark calling ``run`` directly) nobody can ask for a cancel
        and nobody stores the job handle.
        """
        return "_send_queue" in self.__dict__

    async def _cancel_requested(self) -> bool:
        return self._dispatcher_attached() and bool(await self.get_cancel_requested())

    async def _set_job_handle(self, job_arn: str) -> None:
        if self._dispatcher_attached():
            await self.set_job_handle(job_arn)

    async def _stop_if_cancel_requested(self, task: _Task) -> None:
        if await self._cancel_requested():
            raise TaskCancelledError(f"{task.name} was cancelled before its job was created")


def _configured_options() -> dict[str, Any]:
    """The ``[executors.braket]`` section of covalent.conf, or nothing when it has none."""
    try:
        return dict(get_config("executors.braket"))
    except KeyError:
        return {}


def _describe(record: dict[str, Any]) -> str:
    """A job's status for the log, with its place in the queue while it waits."""
    status = record["status"]
    queue = record.get("queueInfo") or {}
    if status == "QUEUED" and queue.get("position") not in (None, "None"):
        return f"QUEUED, position {queue['position']} in {queue.get('queue', 'the queue')}"
    return status


def _retrieve_outcome(task: asyncio.Future) -> None:
    """Collect the outcome of a build nobody waits for any more, so asyncio does not warn about it."""
    if not task.cancelled():
        task.exception()
