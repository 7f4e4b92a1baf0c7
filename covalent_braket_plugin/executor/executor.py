"""``BraketExecutor``: run each Covalent electron as one Amazon Braket Hybrid Job.

The story of one electron (``BraketExecutor.run``) is one attempt (:class:`_Attempt`) told in
Covalent's own verbs: **upload** it (pickle the task, make sure the job image exists, put the task
and the runner in S3), **submit** its job, **watch** the job until it ends, **settle** its bill,
**collect** the result (or the remote traceback) and **clean up**. The attempt is made once, in
``run``, with what every step needs (the settings, the electron's call, its AWS session, the
process's runtime), so no step looks any of it up again. A cancel request from Covalent is honoured
at every step. What electrons share (threads, AWS sessions, watchers, known images) is the process's
:mod:`~covalent_braket_plugin.executor.runtime`.

Covalent finds this class through ``covalent_braket_plugin.braket``, the plugin's entry point.
"""

from __future__ import annotations

import asyncio
import io
import sys
import time
from collections.abc import Callable
from contextlib import aclosing
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

        One attempt of the electron, step by step. Only a cancel request, a budget passed or a
        closing server stops the job; a wait given up on (:class:`~.watch.WatchAbandoned`) leaves the
        job running and its objects in S3, as does a result that could not be loaded.
        """
        self._ensure_streams()
        attempt = await _Attempt.begin(self, (function, args, kwargs), task_metadata)
        try:
            await attempt.upload()
            await attempt.submit()
            record = await attempt.watch()
            await attempt.settle(record)
            return await attempt.collect(record)
        finally:
            await attempt.clean_up()

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

    # --- Covalent's side: output streams, cancel requests, the job handle ----------------------------
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


@dataclass
class _Attempt:
    """One attempt of one electron, and everything its steps share.

    Made once by :meth:`begin`: the settings, the electron's call, the process's runtime, the price
    table, the AWS session, the job's name (the attempt's number is part of it) and where its
    objects live in S3. The steps fill in the rest as they go: the job once created with its budget,
    why the budget stopped it, its bill, and whether its objects must stay in S3 (``keep``).
    """

    executor: BraketExecutor
    """Covalent's side of the electron: its output streams, its cancel requests, its job handle."""
    settings: BraketExecutorSettings
    rt: runtime.Runtime
    call: tuple[Callable, list, dict]
    dispatch_id: str
    node_id: int
    name: str
    location: ElectronLocation
    prices: PriceTable
    aws: AwsSession
    uploaded: _Uploaded | None = None
    job: _Job | None = None
    job_budget: budget.JobBudget | None = None
    stopped_by_budget: str | None = None
    bill: ElectronCost | None = None
    keep: bool = False

    @classmethod
    async def begin(
        cls, executor: BraketExecutor, call: tuple[Callable, list, dict], task_metadata: dict
    ) -> _Attempt:
        """The next attempt of the electron ``task_metadata`` names, in this process, once nothing
        stands in its way: no cancel request, no budget its job's instance time alone could pass
        (checked before anything is uploaded), and an AWS session."""
        settings = executor.settings()
        rt = runtime.current()
        dispatch_id, node_id = task_metadata["dispatch_id"], task_metadata["node_id"]
        name = hybrid_jobs.job_name(dispatch_id, node_id, rt.next_attempt(dispatch_id, node_id))
        location = ElectronLocation.for_electron(settings.s3_bucket_name, dispatch_id, node_id, name)
        await _checkpoint(executor, name)
        prices = await rt.blocking(PriceTable.load)  # reads and parses files: off the event loop
        budget.check_before_create(settings, prices, rt.spend.total(dispatch_id))
        aws = await rt.blocking(rt.session, settings)
        function, args, kwargs = call
        return cls(
            executor, settings, rt, (with_modules(function, settings.include_modules), args, kwargs),
            dispatch_id, node_id, name, location, prices, aws,
        )

    @property
    def braket(self) -> Any:
        return self.aws.client("braket")

    # --- the steps, in order ------------------------------------------------------------------------
    async def upload(self) -> None:
        """Pickle the call, make sure the job image exists, then put the task and the runner in S3.

        The image comes before the upload: an environment that cannot be built (a Python version
        that differs from the client's, a bad pip package) fails with nothing left in S3. A bucket
        that does not exist fails the first upload with :class:`BucketNotFoundError`, and there is
        nothing to clean up then.
        """
        settings, aws, rt = self.settings, self.aws, self.rt
        try:
            with transfer.bucket_required(settings.s3_bucket_name, aws.region):
                async with transfer.scratch_dir(settings.cache_dir, rt.blocking) as scratch:
                    pickled = await rt.blocking(transfer.pickle_call, self.call, scratch / "task.pkl")
                    image_uri = await self._image()
                    await _checkpoint(self.executor, self.name)
                    task_uri = await self._put_task(pickled)
                s3 = aws.client("s3")
                source_uri = await rt.blocking(
                    transfer.upload_runner_source, s3, settings.s3_bucket_name, aws.account_id
                )
                await _checkpoint(self.executor, self.name)
                self.uploaded = _Uploaded(
                    image_uri,
                    task_uri,
                    pickled.sha256,
                    source_uri,
                    transfer.runner_archive()[0],
                    await rt.blocking(
                        stage_channels, s3, settings.s3_bucket_name, aws.account_id, settings.input_data
                    ),
                    await rt.blocking(
                        prepare_checkpoints, s3, self.location, self.name, aws.account_id,
                        settings.checkpoints,
                    ),
                )
        except BucketNotFoundError:
            self.keep = True  # there is no bucket to clean up
            raise

    async def submit(self) -> None:
        """Create the electron's job: its image, task and runner as uploaded, tagged with its electron;
        with a budget set, the job's budget is followed from now on."""
        uploaded = self.uploaded
        spec = hybrid_jobs.electron_job(
            self.settings,
            self.location,
            name=self.name,
            account_id=self.aws.account_id,
            image_uri=uploaded.image_uri,
            source_uri=uploaded.source_uri,
            source_sha256=uploaded.source_sha256,
            task_uri=uploaded.task_uri,
            task_sha256=uploaded.task_sha256,
            input_data=uploaded.input_data,
            checkpoint_uri=uploaded.checkpoint_uri,
            tags={
                **self.settings.tags,
                hybrid_jobs.TAG_DISPATCH_ID: str(self.dispatch_id),
                hybrid_jobs.TAG_NODE_ID: str(self.node_id),
            },
        )
        created = time.time()
        arn = await self.rt.blocking(hybrid_jobs.create_job, self.braket, spec)
        app_log.debug(f"Braket job {arn} created for {self.dispatch_id}:{self.node_id}")
        self.job = _Job(arn, created)
        if budget.is_set(self.settings):
            self.job_budget = budget.JobBudget(
                self.braket, self.settings, self.prices, self.rt.spend, self.dispatch_id, arn
            )

    async def watch(self) -> dict[str, Any]:
        """Tell Covalent the job's handle, then wait until the job ends and return its final record.

        The process's shared watcher follows the job together with every other job this process
        waits for, and is the attempt's clock: at each of the job's ticks a cancel request from
        Covalent, or a budget the job has passed, stops the job, and the wait goes on until Braket
        reports the job ended, whose final status then decides what ``run`` reports. A closing server
        (the wait is cancelled) stops the job too: nobody will collect its result any more. Any other
        end of the wait leaves the job running and its objects in S3: it needs its task, and its
        result is still to come.
        """
        try:
            await self.executor._set_job_handle(self.job.arn)
            return await self._until_the_job_ends()
        except asyncio.CancelledError:
            await self._stop("the Covalent server is closing")
            raise
        except BaseException:
            self.keep = True
            raise

    async def settle(self, record: dict[str, Any]) -> None:
        """The ended job's bill: measured from AWS's records, kept with the job as its tag, and counted
        for the dispatch's budget.

        A cancelled job first loses its tasks still waiting (:mod:`~covalent_braket_plugin.job_stop`):
        one created while it was being stopped would run, and be billed, after it. Neither failing
        fails the electron, whose outcome matters more than its bill; both are logged.
        """
        arn = record["jobArn"]
        if record["status"] == "CANCELLED":
            try:
                await self.rt.blocking(job_stop.cancel_waiting_tasks, self.braket, arn)
            except Exception as error:
                app_log.warning(
                    f"Could not look for the waiting quantum tasks of cancelled Braket job {arn}: "
                    f"{error}; `covalent-braket jobs cancel {arn}` cancels them"
                )
        try:
            self.bill = await self.rt.blocking(bill_ended_job, self.aws, record, self.prices)
            self.rt.spend.record(self.dispatch_id, arn, self.bill.known)
        except Exception as error:
            app_log.warning(f"Could not work out the cost of Braket job {arn}: {error}")

    async def collect(self, record: dict[str, Any]) -> Any:
        """The electron's result, or TaskCancelledError or TaskRuntimeError; the output ends with the
        electron's cost line.

        A job its budget stopped fails the electron with the budget's reason rather than as
        cancelled. A completed job's result that cannot be fetched or unpickled here stays in S3
        (:class:`~.transfer.ResultNotLoaded` says where) until it is fetched: the user paid for it.
        """
        try:
            return await self._outcome(record)
        except TaskCancelledError:
            if self.stopped_by_budget:
                raise TaskRuntimeError(self.stopped_by_budget) from None
            raise
        except transfer.ResultNotLoaded:
            self.keep = True
            raise
        finally:
            if self.bill is not None:
                print(self.bill.line(), file=self.executor.task_stdout)

    async def clean_up(self) -> None:
        """Delete the electron's objects in S3, unless ``cleanup`` is off or something still needs
        them (``keep``); a failure is logged, the electron's outcome matters more."""
        if not self.settings.cleanup or self.keep:
            return
        location = self.location
        try:
            await self.rt.blocking(
                transfer.delete_electron_objects, self.aws.client("s3"), location, self.aws.account_id
            )
        except Exception as error:
            app_log.warning(f"Could not remove s3://{location.bucket}/{location.prefix}: {error}")

    # --- what the steps are made of -----------------------------------------------------------------
    async def _image(self) -> str:
        """The job image's URI (``ecr_image_uri``, or the image of the environment, built if missing).

        The build is shared with every electron of the same environment in this process, so a
        cancel request stops this electron's wait, not the build. There is no job to watch yet: the
        request is looked for at the turns of the watcher's clock (``initial_poll_freq`` backing off
        to ``poll_freq``), which cost no call.
        """
        settings = self.settings
        if settings.ecr_image_uri:
            return settings.ecr_image_uri
        builder = ImageBuilder(self.aws, settings, self.rt.images, progress=self.rt.progress)
        build = asyncio.ensure_future(builder.ensure_image())
        ticks = self.rt.watcher(self.braket).ticks(
            build, initial=settings.initial_poll_freq, slowest=settings.poll_freq
        )
        async with aclosing(ticks):
            async for _ in ticks:
                if await self.executor._cancel_requested():
                    build.add_done_callback(_retrieve_outcome)
                    raise TaskCancelledError(f"{self.name} was cancelled while its job image was being built")
        return build.result()

    async def _put_task(self, pickled: transfer.PickledCall) -> str:
        """Put the pickled task in S3; a large one reports its progress in the log as it goes."""
        rt, s3, account = self.rt, self.aws.client("s3"), self.aws.account_id
        if pickled.size < LARGE_UPLOAD_BYTES:
            return await rt.blocking(transfer.upload_call, s3, self.location, pickled, account)
        upload = rt.progress.task(f"{self.name}: uploading the task", total=pickled.size, unit=BYTES_UNIT)
        with upload as shown:
            return await rt.blocking(transfer.upload_call, s3, self.location, pickled, account, shown.advance)

    async def _until_the_job_ends(self) -> dict[str, Any]:
        """The job's final record, its status changes reported in the log as the watcher sees them.

        A stop that failed is tried again at the next tick, while its reason holds.
        """
        settings, job = self.settings, self.job
        watcher = self.rt.watcher(self.braket)
        with self.rt.progress.task(f"Braket job {self.name}") as shown:

            def report(record: dict[str, Any]) -> None:
                shown.update(status=_describe(record))

            watch = watcher.watch(
                job.arn,
                created=job.created,
                initial=settings.initial_poll_freq,
                slowest=settings.poll_freq,
                listener=report,
                time_limit=settings.time_limit,
                on_unreachable=lambda notice: shown.update(status=notice),
            )
            try:
                async for summary in watcher.job_ticks(job.arn):
                    why = await self._reason_to_stop(summary)
                    if why is not None and await self._stop(why):
                        break
                return await watch
            finally:
                watch.cancel()  # stops watching a job nobody waits for; no-op once it ended

    async def _reason_to_stop(self, summary: dict[str, Any] | None) -> str | None:
        """At a tick of the job (its summary from the watcher's search): why the job must stop, if it
        must. Covalent asked to cancel the electron, or its budget is passed."""
        if await self.executor._cancel_requested():
            return "Covalent asked to cancel the electron"
        if self.job_budget is None:
            return None
        try:
            reason = await self.rt.blocking(self.job_budget.check, summary)
        except Exception as error:  # botocore retried already; the next tick asks again
            app_log.warning(f"Could not follow the cost of Braket job {self.job.arn}: {error}")
            return None
        if reason is not None:
            self.stopped_by_budget = reason
        return reason

    async def _stop(self, why: str) -> bool:
        """Stop the job and its bill (:mod:`~covalent_braket_plugin.job_stop`); True once Braket took
        the cancel. A failure is logged with what to do, never hidden: the job may still be running,
        and billed."""
        arn = self.job.arn
        try:
            stopped = await self.rt.blocking(job_stop.stop_job, self.braket, arn)
        except Exception as error:
            app_log.error(
                f"Could not stop Braket job {arn} ({why}): {error}. It may still be running, and "
                f"billed: cancel it with `covalent-braket jobs cancel {arn}`"
            )
            return False
        app_log.debug(f"Braket job {arn} stopped ({why}): {stopped.status}")
        return True

    async def _outcome(self, record: dict[str, Any]) -> Any:
        """Turn the ended job into the electron's result, TaskCancelledError or TaskRuntimeError.

        A completed job's result comes through a temporary file; when it cannot be fetched or
        unpickled here, :class:`~.transfer.ResultNotLoaded` says where it was kept.
        """
        settings, aws, rt, executor = self.settings, self.aws, self.rt, self.executor
        status = record["status"]
        async with transfer.scratch_dir(settings.cache_dir, rt.blocking) as scratch:
            result_file = scratch / "result.pkl" if status == "COMPLETED" else None
            try:
                outputs = await transfer.download_outputs(
                    aws.client("s3"), self.location, aws.account_id, rt.blocking, result_file=result_file
                )
                print(outputs.stdout, end="", file=executor.task_stdout)
                print(outputs.stderr, end="", file=executor.task_stderr)
                reports = await rt.blocking(_job_reports, aws, settings, record)
                print(reports, end="", file=executor.task_stdout)
                if outputs.result is not None:
                    return await rt.blocking(transfer.load_result, outputs.result)
            except Exception as error:
                if result_file is None:
                    raise
                kept = self.location.uri(self.location.result_key)
                raise transfer.ResultNotLoaded(record["jobArn"], kept, error) from error
        if status == "CANCELLED":
            raise TaskCancelledError(f"Braket job {record['jobArn']} was cancelled")

        detail = await self._failure_detail(record, outputs)
        reason = record.get("failureReason") or "no failure reason given"
        ending = f"Braket job {record['jobArn']} ended {status}: {reason}\n"
        report = f"{detail.rstrip()}\n\n{ending}"
        # The runner's stderr (printed above) usually holds the traceback already: add it only if not.
        print(ending if detail.strip() in outputs.stderr else report, end="", file=executor.task_stderr)
        raise TaskRuntimeError(report)

    async def _failure_detail(self, record: dict[str, Any], outputs: transfer.ElectronOutputs) -> str:
        """The remote traceback when the runner wrote one, else the job's CloudWatch log."""
        if outputs.error is not None:
            return (
                outputs.error.get("traceback")
                or f"{outputs.error.get('type')}: {outputs.error.get('message')}"
            )
        log = await self.rt.blocking(
            hybrid_jobs.read_logs, self.aws.client("logs"), self.settings.log_group_name, record["jobName"]
        )
        if outputs.returned:  # the electron returned; what came after it failed
            lead = "The electron returned, but its job did not complete. Job log:\n"
        else:
            lead = "The job ended before the electron reported a result or an error. Job log:\n"
        return lead + (log or "(the job wrote no log)")


async def _checkpoint(executor: BraketExecutor, name: str) -> None:
    """Stop here if Covalent asked to cancel the electron (every checkpoint comes before its job)."""
    if await executor._cancel_requested():
        raise TaskCancelledError(f"{name} was cancelled before its job was created")


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


def _retrieve_outcome(task: asyncio.Future) -> None:
    """Collect the outcome of a build nobody waits for any more, so asyncio does not warn about it."""
    if not task.cancelled():
        task.exception()
