"""``BraketExecutor``: run each Covalent electron as one Amazon Braket Hybrid Job.

The story of one electron (``BraketExecutor.run``), in Covalent's own verbs: **upload** it (pickle
the task, make sure the job image exists, put the task and the runner in S3), **submit** its job,
**watch** the job until it ends, **collect** the result (or the remote traceback) and **clean up**.
A cancel request from Covalent is honoured at every step. What electrons share (threads, AWS
sessions, watchers, known images) is the process's :mod:`~covalent_braket_plugin.executor.runtime`.

Covalent finds this class through ``covalent_braket_plugin.braket``, the plugin's entry point.
"""

from __future__ import annotations

import asyncio
import io
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

if "covalent" not in sys.modules:
    # Covalent loads its plugins when it is first imported, and the plugin's entry point imports this
    # module: imported first, this module would be half executed when the entry point asks for it.
    raise ImportError(
        "import covalent or covalent_braket_plugin.braket (the plugin's entry point) before "
        f"{__name__}; BraketExecutor is covalent_braket_plugin.braket.BraketExecutor"
    )

from covalent._shared_files import logger
from covalent._shared_files.config import get_config
from covalent._shared_files.exceptions import TaskCancelledError, TaskRuntimeError
from covalent.executor.base import AsyncBaseExecutor

from covalent_braket_plugin import hybrid_jobs, job_stop
from covalent_braket_plugin.aws import AwsSession, region_of_arn
from covalent_braket_plugin.billing import budget
from covalent_braket_plugin.billing.bill import ElectronCost, bill_ended_job
from covalent_braket_plugin.billing.prices import PriceTable
from covalent_braket_plugin.errors import BucketNotFoundError
from covalent_braket_plugin.executor import runtime, transfer
from covalent_braket_plugin.executor.checkpoints import prepare as prepare_checkpoints
from covalent_braket_plugin.executor.image_builds import ImageBuilder
from covalent_braket_plugin.executor.include_modules import with_modules
from covalent_braket_plugin.executor.input_data import stage_channels
from covalent_braket_plugin.executor.job_tasks import report as tasks_report
from covalent_braket_plugin.executor.metrics import report as metrics_report
from covalent_braket_plugin.executor.progress import BYTES_UNIT
from covalent_braket_plugin.s3_layout import ElectronLocation
from covalent_braket_plugin.settings import BraketExecutorSettings, given, validated_retries

app_log = logger.app_log

LARGE_UPLOAD_BYTES = 8 * 2**20
"""Tasks from this size on are uploaded with progress reports (and boto3's multipart transfer)."""


@dataclass(frozen=True)
class _ElectronCall:
    """One attempt of one electron: its job name and where its objects live in S3."""

    dispatch_id: str
    node_id: int
    name: str
    location: ElectronLocation

    @classmethod
    def attempt(cls, settings: BraketExecutorSettings, task_metadata: dict) -> _ElectronCall:
        """The next attempt of the electron ``task_metadata`` names, in this process."""
        dispatch_id, node_id = task_metadata["dispatch_id"], task_metadata["node_id"]
        attempt = runtime.current().next_attempt(dispatch_id, node_id)
        name = hybrid_jobs.job_name(dispatch_id, node_id, attempt)
        location = ElectronLocation.for_electron(settings.s3_bucket_name, dispatch_id, node_id, name)
        return cls(dispatch_id, node_id, name, location)


@dataclass(frozen=True)
class _Uploaded:
    """What the job is made of, in place: its image, the pickled task and the runner's archive."""

    image_uri: str
    task_uri: str
    task_sha256: str
    source_uri: str
    source_sha256: str
    input_data: dict[str, str]
    checkpoint_uri: str


@dataclass(frozen=True)
class _Job:
    """A created job: its ARN and the client's clock just before CreateJob."""

    arn: str
    created: float


class BraketExecutor(AsyncBaseExecutor):
    """Covalent executor that runs each electron as an Amazon Braket Hybrid Job.

    Every setting (see the configuration reference, docs/configuration.md) may be given here as a
    keyword argument; the rest come from ``[executors.braket]`` in covalent.conf, then from the
    defaults. They are validated here, so a bad value fails when the workflow is built, before
    anything reaches AWS. The validated values are kept as plain attributes because Covalent sends
    the executor to its dispatcher as ``__dict__`` (``to_dict``/``from_dict``), which must stay JSON.
    """

    def __init__(self, log_stdout: str = "", log_stderr: str = "", retries: int = 0, **options: Any) -> None:
        settings = BraketExecutorSettings.from_options(**{**_configured_options(), **given(options)})
        super().__init__(
            log_stdout=log_stdout,
            log_stderr=log_stderr,
            cache_dir=settings.cache_dir,
            time_limit=settings.time_limit,
            retries=validated_retries(retries),
        )
        self.__dict__.update(settings.model_dump(mode="json"))

    def settings(self) -> BraketExecutorSettings:
        """The validated settings, rebuilt from the attributes (which ``from_dict`` may have replaced)."""
        names = BraketExecutorSettings.model_fields
        return BraketExecutorSettings.from_options(**{k: v for k, v in self.__dict__.items() if k in names})

    async def run(self, function: Callable, args: list, kwargs: dict, task_metadata: dict) -> Any:
        """Run ``function(*args, **kwargs)`` as a Braket job and return its result.

        Upload, submit, watch, collect, and clean up. Only a cancel request or a closing server
        cancels the job; a wait given up on (:class:`~.watch.WatchAbandoned`) leaves the job running
        and its objects in S3, as does a result that could not be loaded.
        """
        settings = self.settings()
        task = _ElectronCall.attempt(settings, task_metadata)
        self._ensure_streams()
        await self._checkpoint(task)

        rt = runtime.current()
        prices = await rt.blocking(PriceTable.load)  # reads and parses files: off the event loop
        budget.check_before_create(settings, prices, rt.spend.total(task.dispatch_id))
        aws = await rt.blocking(rt.session, settings)
        keep = False
        try:
            call = (with_modules(function, settings.include_modules), args, kwargs)
            uploaded = await self._upload(aws, settings, task, call)
            job = await self._submit(aws, settings, task, uploaded)
            follower = budget.Follower(
                aws.client("braket"), settings, prices, rt.spend, task.dispatch_id, job.arn, rt.blocking
            )
            try:
                await self._set_job_handle(job.arn)
                record = await self._watch(aws, settings, task, job)
            except asyncio.CancelledError:
                # The server is closing: nobody will collect this job's result any more; stop paying for it.
                await _stop_or_say_so(rt, aws.client("braket"), job.arn, "the Covalent server is closing")
                raise
            except BaseException:
                keep = True  # the job runs on: it needs its task, and its result is still to come
                raise
            finally:
                follower.stop()
            return await self._settle(aws, settings, task, record, prices, follower.reason)
        except transfer.ResultNotLoaded:
            keep = True  # the result the user paid for stays in S3 until it is fetched
            raise
        except BucketNotFoundError:
            keep = True  # there is no bucket to clean up
            raise
        finally:
            if settings.cleanup and not keep:
                await self._clean_up(aws, task.location)

    async def cancel(self, task_metadata: dict, job_handle: Any) -> bool:
        """Cancel the job (``job_handle`` is its ARN); True once Braket cancels or has cancelled it.

        Covalent calls this on a fresh executor built from the electron's attributes, so everything
        it needs comes from the settings and the ARN, whose region it uses.
        """
        if not job_handle:
            return False
        settings = self.settings()
        rt = runtime.current()

        def cancel() -> str:
            braket = rt.session(settings).client("braket", region_of_arn(job_handle))
            return job_stop.stop_job(braket, job_handle).status

        status = await rt.blocking(cancel)
        app_log.debug(f"Cancel of Braket job {job_handle}: {status}")
        return status in hybrid_jobs.CANCEL_ACCEPTED

    # --- the story of one electron ------------------------------------------------------------------
    async def _upload(
        self,
        aws: AwsSession,
        settings: BraketExecutorSettings,
        task: _ElectronCall,
        call: tuple[Callable, list, dict],
    ) -> _Uploaded:
        """Pickle the call, make sure the job image exists, then put the task and the runner in S3.

        The image comes before the upload: an environment that cannot be built (a Python version
        that differs from the client's, a bad pip package) fails with nothing left in S3. A bucket
        that does not exist fails the first upload with :class:`BucketNotFoundError`.
        """
        rt = runtime.current()
        with transfer.bucket_required(settings.s3_bucket_name, aws.region):
            async with transfer.scratch_dir(settings.cache_dir, rt.blocking) as scratch:
                pickled = await rt.blocking(transfer.pickle_call, call, scratch / "task.pkl")
                image_uri = await self._image(aws, settings, task)
                await self._checkpoint(task)
                task_uri = await self._put_task(aws, task, pickled)
            source_uri = await rt.blocking(
                transfer.upload_runner_source,
                aws.client("s3"),
                settings.s3_bucket_name,
                aws.account_id,
            )
            await self._checkpoint(task)
            return _Uploaded(
                image_uri,
                task_uri,
                pickled.sha256,
                source_uri,
                transfer.runner_archive()[0],
                await rt.blocking(
                    stage_channels, aws.client("s3"), settings.s3_bucket_name, aws.account_id,
                    settings.input_data,
                ),
                await rt.blocking(
                    prepare_checkpoints, aws.client("s3"), task.location, task.name, aws.account_id,
                    settings.checkpoints,
                ),
            )

    async def _image(self, aws: AwsSession, settings: BraketExecutorSettings, task: _ElectronCall) -> str:
        """The job image's URI (``ecr_image_uri``, or the image of the environment, built if missing).

        The build is shared with every electron of the same environment in this process, so a
        cancel request stops this electron's wait, not the build.
        """
        if settings.ecr_image_uri:
            return settings.ecr_image_uri
        rt = runtime.current()
        builder = ImageBuilder(aws, settings, rt.images, progress=rt.progress)
        build = asyncio.ensure_future(builder.ensure_image())
        if await self._done_unless_cancel_requested(build, settings):
            return build.result()
        build.add_done_callback(_retrieve_outcome)
        raise TaskCancelledError(f"{task.name} was cancelled while its job image was being built")

    async def _put_task(self, aws: AwsSession, task: _ElectronCall, pickled: transfer.PickledCall) -> str:
        """Put the pickled task in S3; a large one reports its progress in the log as it goes."""
        rt = runtime.current()
        s3 = aws.client("s3")
        if pickled.size < LARGE_UPLOAD_BYTES:
            return await rt.blocking(transfer.upload_call, s3, task.location, pickled, aws.account_id)
        upload = rt.progress.task(f"{task.name}: uploading the task", total=pickled.size, unit=BYTES_UNIT)
        with upload as shown:
            return await rt.blocking(
                transfer.upload_call, s3, task.location, pickled, aws.account_id, shown.advance
            )

    async def _submit(
        self, aws: AwsSession, settings: BraketExecutorSettings, task: _ElectronCall, uploaded: _Uploaded
    ) -> _Job:
        """Create the electron's job."""
        spec = hybrid_jobs.electron_job(
            settings,
            task.location,
            name=task.name,
            account_id=aws.account_id,
            image_uri=uploaded.image_uri,
            source_uri=uploaded.source_uri,
            source_sha256=uploaded.source_sha256,
            task_uri=uploaded.task_uri,
            task_sha256=uploaded.task_sha256,
            input_data=uploaded.input_data,
            checkpoint_uri=uploaded.checkpoint_uri,
            tags={
                **settings.tags,
                hybrid_jobs.TAG_DISPATCH_ID: str(task.dispatch_id),
                hybrid_jobs.TAG_NODE_ID: str(task.node_id),
            },
        )
        created = time.time()
        arn = await runtime.current().blocking(hybrid_jobs.create_job, aws.client("braket"), spec)
        app_log.debug(f"Braket job {arn} created for {task.dispatch_id}:{task.node_id}")
        return _Job(arn, created)

    async def _watch(
        self, aws: AwsSession, settings: BraketExecutorSettings, task: _ElectronCall, job: _Job
    ) -> dict[str, Any]:
        """Wait until the job ends and return its final record; its status changes go to the log.

        The process's shared watcher follows the job together with every other job this process
        waits for. A cancel request seen meanwhile becomes one CancelJob, and the wait goes on
        until Braket reports the job ended, whose final status then decides what ``run`` reports.
        """
        rt = runtime.current()
        braket = aws.client("braket")
        with rt.progress.task(f"Braket job {task.name}") as shown:

            def report(record: dict[str, Any]) -> None:
                shown.update(status=_describe(record))

            watch = rt.watcher(braket).watch(
                job.arn,
                created=job.created,
                initial=settings.initial_poll_freq,
                slowest=settings.poll_freq,
                listener=report,
                time_limit=settings.time_limit,
                on_unreachable=lambda notice: shown.update(status=notice),
            )
            try:
                if not await self._done_unless_cancel_requested(watch, settings):
                    stopped = await rt.blocking(job_stop.stop_job, braket, job.arn)
                    app_log.debug(f"Cancel requested for Braket job {job.arn}: {stopped.status}")
                return await watch
            finally:
                watch.cancel()  # stops watching a job nobody waits for; no-op once it ended

    async def _settle(
        self,
        aws: AwsSession,
        settings: BraketExecutorSettings,
        task: _ElectronCall,
        job: dict[str, Any],
        prices: PriceTable,
        stopped_by_budget: str | None,
    ) -> Any:
        """Collect the ended job's outcome and follow it with the electron's cost line.

        A cancelled job first loses its tasks still waiting (:mod:`~covalent_braket_plugin.job_stop`):
        one created while it was being stopped would run, and be billed, after it. A job its budget
        stopped fails the electron with the budget's reason.
        """
        rt = runtime.current()
        if job["status"] == "CANCELLED":
            try:
                await rt.blocking(job_stop.cancel_waiting_tasks, aws.client("braket"), job["jobArn"])
            except Exception as error:  # the electron's outcome matters more; the bill shows what is left
                app_log.warning(
                    f"Could not look for the waiting quantum tasks of cancelled Braket job {job['jobArn']}: "
                    f"{error}; `covalent-braket jobs cancel {job['jobArn']}` cancels them"
                )
        try:
            bill: ElectronCost | None = await rt.blocking(bill_ended_job, aws, job, prices)
            rt.spend.record(task.dispatch_id, job["jobArn"], bill.known)
        except Exception as error:  # the electron's outcome matters more than its bill
            app_log.warning(f"Could not work out the cost of Braket job {job['jobArn']}: {error}")
            bill = None
        try:
            return await self._collect(aws, settings, task, job)
        except TaskCancelledError:
            if stopped_by_budget:
                raise TaskRuntimeError(stopped_by_budget) from None
            raise
        finally:
            if bill is not None:
                print(bill.line(), file=self.task_stdout)

    async def _collect(
        self, aws: AwsSession, settings: BraketExecutorSettings, task: _ElectronCall, job: dict[str, Any]
    ) -> Any:
        """Turn the ended job into the electron's result, TaskCancelledError or TaskRuntimeError.

        A completed job's result comes through a temporary file; when it cannot be fetched or
        unpickled here, :class:`~.transfer.ResultNotLoaded` says where it was kept.
        """
        rt = runtime.current()
        status = job["status"]
        async with transfer.scratch_dir(settings.cache_dir, rt.blocking) as scratch:
            result_file = scratch / "result.pkl" if status == "COMPLETED" else None
            try:
                outputs = await transfer.download_outputs(
                    aws.client("s3"), task.location, aws.account_id, rt.blocking, result_file=result_file
                )
                print(outputs.stdout, end="", file=self.task_stdout)
                print(outputs.stderr, end="", file=self.task_stderr)
                print(await rt.blocking(_job_reports, aws, settings, job), end="", file=self.task_stdout)
                if outputs.result is not None:
                    return await rt.blocking(transfer.load_result, outputs.result)
            except Exception as error:
                if result_file is None:
                    raise
                kept = task.location.uri(task.location.result_key)
                raise transfer.ResultNotLoaded(job["jobArn"], kept, error) from error
        if status == "CANCELLED":
            raise TaskCancelledError(f"Braket job {job['jobArn']} was cancelled")

        detail = await self._failure_detail(aws, settings, job, outputs)
        reason = job.get("failureReason") or "no failure reason given"
        ending = f"Braket job {job['jobArn']} ended {status}: {reason}\n"
        report = f"{detail.rstrip()}\n\n{ending}"
        # The runner's stderr (printed above) usually holds the traceback already: add it only if not.
        print(ending if detail.strip() in outputs.stderr else report, end="", file=self.task_stderr)
        raise TaskRuntimeError(report)

    async def _failure_detail(
        self,
        aws: AwsSession,
        settings: BraketExecutorSettings,
        job: dict[str, Any],
        outputs: transfer.ElectronOutputs,
    ) -> str:
        """The remote traceback when the runner wrote one, else the job's CloudWatch log."""
        if outputs.error is not None:
            return (
                outputs.error.get("traceback")
                or f"{outputs.error.get('type')}: {outputs.error.get('message')}"
            )
        log = await runtime.current().blocking(
            hybrid_jobs.read_logs, aws.client("logs"), settings.log_group_name, job["jobName"]
        )
        if outputs.returned:  # the electron returned; what came after it failed
            lead = "The electron returned, but its job did not complete. Job log:\n"
        else:
            lead = "The job ended before the electron reported a result or an error. Job log:\n"
        return lead + (log or "(the job wrote no log)")

    async def _clean_up(self, aws: AwsSession, location: ElectronLocation) -> None:
        try:
            await runtime.current().blocking(
                transfer.delete_electron_objects, aws.client("s3"), location, aws.account_id
            )
        except Exception as error:  # the electron's outcome matters more than leftover objects
            app_log.warning(f"Could not remove s3://{location.bucket}/{location.prefix}: {error}")

    # --- Covalent's side: output streams and cancel requests -----------------------------------------
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
        """Tell Covalent the job's handle (its ARN), which ``cancel`` receives."""
        if self._dispatcher_attached():
            await self.set_job_handle(job_arn)

    async def _checkpoint(self, task: _ElectronCall) -> None:
        """Stop here if Covalent asked to cancel the electron (every checkpoint comes before its job)."""
        if await self._cancel_requested():
            raise TaskCancelledError(f"{task.name} was cancelled before its job was created")

    async def _done_unless_cancel_requested(
        self, awaited: asyncio.Future, settings: BraketExecutorSettings
    ) -> bool:
        """Wait for ``awaited``: True once it is done, False as soon as a cancel is requested.

        A cancel request is looked for between waits, ``initial_poll_freq`` apart at first, backing
        off to ``poll_freq``. On a request ``awaited`` is left running: what it stands for (a shared
        build, a job's end) is the caller's to let go or to stop.
        """
        delays = hybrid_jobs.poll_delays(settings.initial_poll_freq, settings.poll_freq)
        while True:
            done, _ = await asyncio.wait({awaited}, timeout=next(delays))
            if done:
                return True
            if await self._cancel_requested():
                return False


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


def _job_reports(aws: AwsSession, settings: BraketExecutorSettings, job: dict[str, Any]) -> str:
    """The lines the electron's output ends with: its job's metrics and quantum tasks, summarised.

    What cannot be read is logged, never the electron's failure.
    """
    reports = {
        "metrics": lambda: metrics_report(aws.client("logs"), settings.log_group_name, job["jobName"]),
        "quantum tasks": lambda: tasks_report(aws.client("braket"), job["jobArn"]),
    }
    lines = []
    for subject, read in reports.items():
        try:
            lines.append(read())
        except Exception as error:  # a summary is a courtesy: the electron's outcome stands without it
            app_log.warning(f"Could not read the {subject} of Braket job {job['jobArn']}: {error}")
    return "".join(lines)


async def _stop_or_say_so(rt: runtime.Runtime, braket: Any, job_arn: str, why: str) -> bool:
    """Stop the job and its bill (:mod:`~covalent_braket_plugin.job_stop`); True once Braket took the
    cancel. A failure is logged with what to do, never hidden: the job may still be running, and billed.
    """
    try:
        stopped = await rt.blocking(job_stop.stop_job, braket, job_arn)
    except Exception as error:
        app_log.error(
            f"Could not stop Braket job {job_arn} ({why}): {error}. It may still be running, and billed: "
            f"cancel it with `covalent-braket jobs cancel {job_arn}`"
        )
        return False
    app_log.debug(f"Braket job {job_arn} stopped ({why}): {stopped.status}")
    return True


def _retrieve_outcome(task: asyncio.Future) -> None:
    """Collect the outcome of a build nobody waits for any more, so asyncio does not warn about it."""
    if not task.cancelled():
        task.exception()
