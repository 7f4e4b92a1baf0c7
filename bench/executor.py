"""The executor's four promised figures, each beside its baseline and target, measured in one run.

    python bench/executor.py [--skip-build] [--overhead-electrons 8] [--long-electrons 5]
                             [--long-seconds 60 90] [--concurrent 100] [--build-electrons 10]
                             [--outage-jobs 4] [--outages 90 300] [--quick]
                             [--result-mib 200 1024] [--sections 1 2 3 4 5 6]

Everything runs against local Braket stacks (``LocalStack(port=0)``) as a user's client reaches
them, over HTTP. Electrons are run with ``BraketExecutor.run`` as Covalent's dispatcher calls it.

1. **Client overhead per electron** (warm image), process runner, trivial electron. The baseline is
   the bare minimum boto3 sequence doing the same job on the same stack: S3 PutObject of the
   pickled task, CreateJob with the same request, GetJob until the job ends, S3 GetObject of the
   result. The job's own run time is taken out on both sides the same way: overhead = wall time
   of the electron minus the job's life as the stack records it (``endedAt - createdAt`` of GetJob),
   which leaves the client's work before CreateJob and after the job ended. Both sides poll on the
   same fixed short schedule (``--overhead-poll``, default 0.1 s, through ``job_spec.poll_delays``), so
   the time from ``endedAt`` to the GetJob that sees it is the same small cost on both. Runs
   alternate between the two sides so that drift of the stack hits both. Target: ratio <= 1.3.
2. **Image builds** for ``--build-electrons`` electrons of one environment, run at once on a stack
   with the docker runner (jobs run as containers of the built image), and the **cold build time**.
   The job image is built ``FROM`` the local base image of ``ensure_base_image()``. Builds and
   pushes are counted where they happen, at the Docker engine API (``APIClient.build`` and
   ``APIClient.push``, wrapped for this section), and the stack's registry is asked which tags it
   holds. The wrapper also passes ``nocache``, so the build is cold even when the engine kept layers
   from an earlier run. Minutes on the vfs storage driver; ``--skip-build`` leaves it out.
   Target: 1 build.
3. **From job completion to the result in hand**, p50 over electrons that sleep
   ``--long-seconds`` (spread between the two values, several at once), and **GetJob calls per
   job-minute** (calls over the jobs' ``endedAt - createdAt``), with **all status calls per
   job-minute** beside it (the shared watcher's SearchJobs pages plus GetJob). The delay is the wall
   clock when the result was in hand minus the job's ``endedAt`` (the stack runs on this machine,
   same clock). The executor runs with its default back-off (``initial_poll_freq`` to ``poll_freq``);
   the baseline, run at the same time on the same stack, is per-job polling as the executor did it
   before its shared watcher: the bare boto3 sequence polling GetJob on that same back-off, one
   loop per job. Targets: p50 <= 1.5 s, <= 12 GetJob per job-minute.
4. **``--concurrent`` electrons at once** on one event loop: wall time, and whether the executor
   blocks the loop. The loop runs in asyncio's debug mode, whose slow-callback accounting
   (``loop.slow_callback_duration``, 1 ms here) reports every callback that held the loop longer:
   the **longest callback** is the figure (target < 20 ms). Beside it, a ticker coroutine that
   sleeps 10 ms records how late it wakes, and a ticker in a separate idle process records the same
   over the same time: the machine's own lateness, which no executor change can remove (target:
   the loop's ticker within 20 ms of it). The baseline is one electron alone, measured the same way.
5. **An outage of the Braket API** while ``--outage-jobs`` jobs run: once all are RUNNING, the stack
   answers every Braket request with InternalServiceException for each of ``--outages`` seconds
   (90 s and 5 min; ``--quick``: 20 s and 60 s), then the faults end. Targets: every result comes
   back, 0 CancelJob calls, 0 objects lost (every task.pkl still in S3 when the outage ends). The
   figure printed beside them: the status requests (SearchJobs and GetJob, each HTTP attempt of
   botocore's retries counted) the executor spent during the outage, with its default retries.
6. **Peak client memory for a result** of each of ``--result-mib`` sizes (200 MiB and 1 GiB): a
   fresh process runs one electron returning that many bytes (after a warm-up electron), and its
   peak RSS (``ru_maxrss``) over the electron is set beside the result's size (target <= 1.2 N).
   The baseline, in another fresh process on the same object: the whole-in-memory path
   (GetObject's body read into bytes, then ``cloudpickle.loads``).

Figures are printed as they come and again in a table at the end, MISSED beside any that misses
its target. The exit status is non-zero only when a section failed with an error.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import multiprocessing
import os
import resource
import statistics
import threading
import time
import traceback
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import boto3
import cloudpickle
import docker
import docker.api.client
import docker.errors

from covalent_braket_plugin.braket import BraketExecutor
from covalent_braket_plugin.executor import job_spec, runtime, transfer, watch
from covalent_braket_plugin.executor.settings import BraketExecutorSettings
from covalent_braket_plugin.job.runner import RESULT_FILE
from covalent_braket_plugin.local.base_image import ensure_base_image
from covalent_braket_plugin.local.stack import CONFLICTING_VARIABLES, LocalStack

REGION = "us-east-1"
HOST_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-covalent-job-images:host-python"
"""A ready image URI: the process runner runs jobs with the host's Python and never pulls it."""
TICK_S = 0.01
SLOW_CALLBACK_S = 0.001
"""Callbacks longer than this are reported by asyncio's debug mode: the (4) figure is the longest."""
MIB = 2**20
DEFAULT_INITIAL_POLL = BraketExecutorSettings.model_fields["initial_poll_freq"].default
DEFAULT_POLL = BraketExecutorSettings.model_fields["poll_freq"].default


def add_one(x: int) -> int:
    return x + 1


def sleep_for(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


@dataclass
class Row:
    """One figure of the final table."""

    figure: str
    measured: str
    baseline: str
    target: str
    met: bool | None  # None: the figure has no target
    took_s: float

    @property
    def verdict(self) -> str:
        return "" if self.met is None else ("met" if self.met else "MISSED")


class JobLedger:
    """Learns each job's ARN and counts its GetJob calls and the watcher's SearchJobs calls by
    wrapping ``job_spec.create_job``, ``job_spec.get_job`` and ``watch.search``, the module functions
    the executor calls (from worker threads). One search may page: each page is a SearchJobs call."""

    def __init__(self) -> None:
        self.arn_by_name: dict[str, str] = {}
        self.get_job_calls: Counter[str] = Counter()
        self.search_calls = 0
        self._lock = threading.Lock()
        create, get, search = job_spec.create_job, job_spec.get_job, watch.search

        def recorded_create(braket: Any, spec: job_spec.JobSpec) -> str:
            arn = create(braket, spec)
            with self._lock:
                self.arn_by_name[spec.name] = arn
            return arn

        def counted_get(braket: Any, job_arn: str, *args: Any) -> dict[str, Any]:
            with self._lock:
                self.get_job_calls[job_arn] += 1
            return get(braket, job_arn, *args)

        def counted_search(braket: Any, *args: Any) -> dict[str, dict[str, Any]]:
            pages = 0

            def search_jobs(**request: Any) -> dict[str, Any]:
                nonlocal pages
                pages += 1
                return braket.search_jobs(**request)

            try:
                return search(SimpleNamespace(search_jobs=search_jobs), *args)
            finally:
                with self._lock:
                    self.search_calls += pages

        job_spec.create_job = recorded_create
        job_spec.get_job = counted_get
        watch.search = counted_search


@dataclass(frozen=True)
class Electron:
    """One electron's timing: wall clock when its client started and when the result was in hand,
    and the job's life as the stack recorded it."""

    started: float
    finished: float
    created_at: float
    ended_at: float
    get_job_calls: int

    @property
    def overhead(self) -> float:
        return (self.finished - self.started) - (self.ended_at - self.created_at)

    @property
    def before_job(self) -> float:
        return self.created_at - self.started

    @property
    def after_job(self) -> float:
        return self.finished - self.ended_at

    @property
    def job_minutes(self) -> float:
        return (self.ended_at - self.created_at) / 60


class Bench:
    """The clients and the job ledger shared by the sections run against one stack."""

    def __init__(self, stack: LocalStack, ledger: JobLedger, bucket: str) -> None:
        os.environ.update(stack.environment())
        for name in CONFLICTING_VARIABLES:
            os.environ.pop(name, None)
        self.stack = stack
        self.ledger = ledger
        self.bucket = bucket
        self.s3 = boto3.client("s3")
        self.braket = boto3.client("braket")
        self.account_id = boto3.client("sts").get_caller_identity()["Account"]
        self.s3.create_bucket(Bucket=bucket)
        boto3.client("iam").create_role(
            RoleName="AmazonBraketJobsExecutionRole",
            Path="/service-role/",
            AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
        )

    def executor(self, initial: float, slowest: float, **options: Any) -> BraketExecutor:
        options.setdefault("ecr_image_uri", HOST_IMAGE)
        return BraketExecutor(
            s3_bucket_name=self.bucket, region=REGION, initial_poll_freq=initial, poll_freq=slowest, **options
        )

    async def run(self, executor: BraketExecutor, function: Callable, args: list, expected: Any) -> Electron:
        """One electron through ``executor.run``; its job record read afterwards (GetJob not counted)."""
        dispatch_id = str(uuid.uuid4())
        metadata = {"dispatch_id": dispatch_id, "node_id": 0, "results_dir": "/tmp"}
        started = time.time()
        result = await executor.run(function, args, {}, metadata)
        finished = time.time()
        if result != expected:
            raise RuntimeError(f"the electron returned {result!r}, not {expected!r}")
        arn = self.ledger.arn_by_name[job_spec.job_name(dispatch_id, 0, 1)]
        # Off the loop: a blocking call here would stall the event loop whose stalls (4) measures.
        job = await asyncio.to_thread(self.braket.get_job, jobArn=arn)
        return self._electron(started, finished, job, self.ledger.get_job_calls[arn])

    def bare(
        self,
        settings: BraketExecutorSettings,
        source_uri: str,
        function: Callable = add_one,
        args: tuple = (1,),
        expected: Any = 2,
    ) -> Electron:
        """The same job as the executor's, with nothing but the four boto3 steps and pickling; it
        polls GetJob on the settings' back-off, as the executor did before its shared watcher."""
        started = time.time()
        dispatch_id = str(uuid.uuid4())
        name = job_spec.job_name(dispatch_id, 0, 1)
        location = transfer.TaskLocation.for_task(self.bucket, dispatch_id, 0, name)
        task = cloudpickle.dumps((function, list(args), {}))
        self.s3.put_object(Bucket=self.bucket, Key=location.task_key, Body=task)
        spec = job_spec.electron_job(
            settings,
            location,
            name=name,
            account_id=self.account_id,
            image_uri=HOST_IMAGE,
            source_uri=source_uri,
            source_sha256=transfer.runner_archive()[0],
            task_uri=location.uri(location.task_key),
            task_sha256=hashlib.sha256(task).hexdigest(),
        )
        arn = self.braket.create_job(**spec.create_job_request())["jobArn"]
        calls = 0
        for delay in job_spec.poll_delays(settings.initial_poll_freq, settings.poll_freq):
            job = self.braket.get_job(jobArn=arn)
            calls += 1
            if job["status"] in job_spec.TERMINAL_STATUSES:
                break
            time.sleep(delay)
        body = self.s3.get_object(Bucket=self.bucket, Key=location.output_prefix + RESULT_FILE)["Body"].read()
        if cloudpickle.loads(body) != expected:
            raise RuntimeError("the bare job returned a wrong result")
        return self._electron(started, time.time(), job, calls)

    @staticmethod
    def _electron(started: float, finished: float, job: dict[str, Any], calls: int) -> Electron:
        if job["status"] != "COMPLETED":
            raise RuntimeError(f"job {job['jobArn']} ended {job['status']}: {job.get('failureReason')}")
        return Electron(started, finished, job["createdAt"].timestamp(), job["endedAt"].timestamp(), calls)


def median(values: list[float]) -> float:
    return statistics.median(values)


# --- (1) client overhead --------------------------------------------------------------------------


def client_overhead(bench: Bench, electrons: int, poll: float) -> list[Row]:
    executor = bench.executor(poll, poll)
    settings = executor.settings()
    source_uri = transfer.upload_runner_source(bench.s3, bench.bucket, bench.account_id)
    loop = asyncio.new_event_loop()
    try:
        # Warm-up, not counted: imports, the shared clients, the runner archive's upload.
        loop.run_until_complete(bench.run(executor, add_one, [1], 2))
        bench.bare(settings, source_uri)
        ours: list[Electron] = []
        bare: list[Electron] = []
        for _ in range(electrons):
            bare.append(bench.bare(settings, source_uri))
            ours.append(loop.run_until_complete(bench.run(executor, add_one, [1], 2)))
    finally:
        loop.close()

    def split(side: list[Electron]) -> str:
        overhead, before = median([e.overhead for e in side]), median([e.before_job for e in side])
        after, job = median([e.after_job for e in side]), median([e.ended_at - e.created_at for e in side])
        return f"{overhead:.3f} s (before the job {before:.3f} s + after it {after:.3f} s; job {job:.2f} s)"

    ratio = median([e.overhead for e in ours]) / median([e.overhead for e in bare])
    print(f"(1) executor   median overhead {split(ours)}")
    print(f"(1) bare boto3 median overhead {split(bare)}")
    return [
        Row(
            f"client overhead per electron, warm image (median of {electrons}, polls every {poll} s)",
            f"{median([e.overhead for e in ours]):.3f} s, ratio {ratio:.2f}",
            f"bare boto3 {median([e.overhead for e in bare]):.3f} s",
            "ratio <= 1.3",
            ratio <= 1.3,
            0.0,
        )
    ]


# --- (2) image builds ---------------------------------------------------------------------------------


@dataclass
class EngineCalls:
    build_s: list[float]
    push_s: list[float]


@contextmanager
def counted_engine() -> Iterator[EngineCalls]:
    """Count and time every ``docker build`` and ``docker push`` this process asks the engine for.

    Both return streams the caller reads to the end, so each is timed until its stream is done.
    Builds get ``nocache``: the figure is a cold build whatever layers the engine kept.
    """
    calls = EngineCalls([], [])
    api = docker.api.client.APIClient
    build, push = api.build, api.push

    def timed(stream: Iterator[Any], into: list[float], start: float) -> Iterator[Any]:
        try:
            yield from stream
        finally:
            into.append(time.perf_counter() - start)

    def counted_build(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        start = time.perf_counter()
        return timed(build(self, *args, **{**kwargs, "nocache": True}), calls.build_s, start)

    def counted_push(self: Any, *args: Any, **kwargs: Any) -> Iterator[Any]:
        start = time.perf_counter()
        return timed(push(self, *args, **kwargs), calls.push_s, start)

    api.build, api.push = counted_build, counted_push
    try:
        yield calls
    finally:
        api.build, api.push = build, push


def forget_registry_names(registry: str) -> None:
    """Untag the engine's names of images in a stack registry that is about to go away."""
    engine = docker.from_env()
    for image in engine.images.list():
        for name in image.tags:
            if name.startswith(f"{registry}/"):
                with suppress(docker.errors.DockerException):
                    engine.images.remove(name)


def image_builds(electrons: int, ledger: JobLedger) -> list[Row]:
    base = ensure_base_image()
    with LocalStack(port=0, runner="docker") as stack:
        bench = Bench(stack, ledger, "amazon-braket-covalent-bench-build")
        executor = bench.executor(0.5, 5.0, ecr_image_uri="", base_image=base)
        settings = executor.settings()

        async def all_at_once() -> None:
            await asyncio.gather(*(bench.run(executor, add_one, [1], 2) for _ in range(electrons)))

        start = time.perf_counter()
        try:
            with counted_engine() as calls:
                asyncio.run(all_at_once())
            wall = time.perf_counter() - start
            ecr = boto3.client("ecr")
            tags = [i["imageTag"] for i in ecr.list_images(repositoryName=settings.ecr_repo_name)["imageIds"]]
        finally:
            forget_registry_names(str(stack.registry_address))
    builds, pushes = len(calls.build_s), len(calls.push_s)
    build_s, push_s = sum(calls.build_s), sum(calls.push_s)
    print(
        f"(2) {electrons} electrons: {builds} docker build(s), {pushes} push(es), {len(tags)} tag(s) in the"
        f" registry; build {build_s:.0f} s + push {push_s:.0f} s; all {electrons} in {wall:.0f} s"
    )
    return [
        Row(
            f"image builds for {electrons} electrons in one environment",
            f"{builds} build(s), {pushes} push(es), {len(tags)} registry tag(s)",
            f"0.3 plugin: {electrons} (one per electron)",
            "1 build",
            builds == 1,
            0.0,
        ),
        Row(
            f"cold job image build + push (FROM {base}, no layer cache)",
            f"build {build_s:.0f} s + push {push_s:.0f} s",
            f"0.3 plugin: a build per electron, {electrons} x",
            "",
            None,
            0.0,
        ),
    ]


# --- (3) completion to result ---------------------------------------------------------------------------


def completion_delay(bench: Bench, electrons: int, shortest: float, longest: float, poll: float) -> list[Row]:
    step = (longest - shortest) / max(electrons - 1, 1)
    durations = [shortest + i * step for i in range(electrons)]
    initial = min(DEFAULT_INITIAL_POLL, poll)
    executor = bench.executor(initial, poll)
    settings = executor.settings()
    source_uri = transfer.upload_runner_source(bench.s3, bench.bucket, bench.account_id)
    searches_before = bench.ledger.search_calls

    async def both() -> tuple[list[Electron], list[Electron]]:
        ours = asyncio.gather(*(bench.run(executor, sleep_for, [s], s) for s in durations))
        baseline = asyncio.gather(
            *(asyncio.to_thread(bench.bare, settings, source_uri, sleep_for, (s,), s) for s in durations)
        )
        return tuple(await asyncio.gather(ours, baseline))  # type: ignore[return-value]

    ours, baseline = asyncio.run(both())
    searches = bench.ledger.search_calls - searches_before

    def p50(side: list[Electron]) -> float:
        return median([e.after_job for e in side])

    def job_minutes(side: list[Electron]) -> float:
        return sum(e.job_minutes for e in side)

    def get_jobs(side: list[Electron]) -> float:
        return sum(e.get_job_calls for e in side) / job_minutes(side)

    status_calls = (searches + sum(e.get_job_calls for e in ours)) / job_minutes(ours)
    for side, label in ((ours, "executor"), (baseline, "per-job")):
        delays = ", ".join(f"{e.after_job:.1f}" for e in side)
        print(f"(3) {label:<8} delays {delays} s; {get_jobs(side):.1f} GetJob per job-minute")
    print(f"(3) executor {searches} SearchJobs calls: {status_calls:.1f} status calls per job-minute")
    setup = f"{electrons} x sleep {shortest:.0f}-{longest:.0f} s, each side"
    old = f"per-job GetJob back-off {initial} -> {poll} s"
    return [
        Row(
            f"job endedAt -> result in hand, p50 ({setup})",
            f"{p50(ours):.2f} s",
            f"{old}: {p50(baseline):.2f} s",
            "<= 1.5 s",
            p50(ours) <= 1.5,
            0.0,
        ),
        Row(
            "GetJob calls per job-minute (same jobs)",
            f"{get_jobs(ours):.1f}",
            f"{old}: {get_jobs(baseline):.1f}",
            "<= 12",
            get_jobs(ours) <= 12,
            0.0,
        ),
        Row(
            "all status calls (SearchJobs + GetJob) per job-minute",
            f"{status_calls:.1f}",
            f"{old}: {get_jobs(baseline):.1f}",
            "",
            None,
            0.0,
        ),
    ]


# --- (4) concurrency ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stall:
    """How much the event loop was held while some work ran, and what the machine did meanwhile.

    ``longest_callback_s`` is the longest single callback asyncio's debug mode saw (``where`` names
    it): time the executor itself held the loop. ``worst_s`` is a ticker coroutine's worst lateness,
    ``busy_s`` the CPU time the loop's thread used during that worst tick (near zero: the loop was
    waiting for the CPU or the GIL, not working). ``machine_s`` is the worst lateness of a ticker in
    a separate idle process over the same time, which shares no GIL with the client.
    """

    wall_s: float
    longest_callback_s: float
    where: str
    worst_s: float
    busy_s: float
    machine_s: float


class SlowCallbacks(logging.Handler):
    """Keeps the longest of the callbacks asyncio's debug mode reports as slow."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.longest, self.where = 0.0, ""

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "Executing %s took %.3f seconds" and record.args:
            handle, took = record.args  # type: ignore[misc]
            if took > self.longest:
                self.longest, self.where = took, str(handle)[:120]


def process_ticker(ready: Any, stop: Any, worst: Any) -> None:
    """Ticker of a separate process: ``worst`` receives its greatest lateness, in seconds."""
    ready.set()
    late = 0.0
    while not stop.is_set():
        before = time.perf_counter()
        time.sleep(TICK_S)
        late = max(late, time.perf_counter() - before - TICK_S)
    worst.value = late


async def with_ticker(work: Callable[[], Awaitable[Any]]) -> Stall:
    """Run ``work()`` in debug mode while a ticker coroutine, and a ticker process beside it, record
    how late they wake; asyncio's slow-callback reports give the longest callback.

    ``work`` is called once both tickers run, so that everything it does is measured.
    """
    context = multiprocessing.get_context("spawn")
    ready, stop, machine = context.Event(), context.Event(), context.Value("d", 0.0)
    control = context.Process(target=process_ticker, args=(ready, stop, machine), daemon=True)
    control.start()
    await asyncio.to_thread(ready.wait)
    worst, busy = 0.0, 0.0
    running = True

    async def ticker() -> None:
        nonlocal worst, busy
        while running:
            before, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(TICK_S)
            late = time.perf_counter() - before - TICK_S
            if late > worst:
                worst, busy = late, time.thread_time() - cpu

    loop = asyncio.get_running_loop()
    slow = SlowCallbacks()
    asyncio_log = logging.getLogger("asyncio")
    asyncio_log.addHandler(slow)
    propagate, asyncio_log.propagate = asyncio_log.propagate, False
    loop.set_debug(True)
    loop.slow_callback_duration = SLOW_CALLBACK_S
    tick = asyncio.create_task(ticker())
    start = time.perf_counter()
    try:
        await work()
        wall = time.perf_counter() - start
    finally:
        running = False
        await tick
        loop.set_debug(False)
        asyncio_log.removeHandler(slow)
        asyncio_log.propagate = propagate
        stop.set()
        await asyncio.to_thread(control.join)
    return Stall(wall, slow.longest, slow.where, worst, busy, machine.value)


def concurrency(bench: Bench, electrons: int) -> list[Row]:
    executor = bench.executor(DEFAULT_INITIAL_POLL, DEFAULT_POLL)

    async def many(count: int) -> Stall:
        return await with_ticker(
            lambda: asyncio.gather(*(bench.run(executor, add_one, [1], 2) for _ in range(count)))
        )

    single = asyncio.run(many(1))
    burst = asyncio.run(many(electrons))

    def described(stall: Stall) -> str:
        return (
            f"longest callback {stall.longest_callback_s * 1000:.1f} ms ({stall.where}); ticker "
            f"{stall.worst_s * 1000:.0f} ms late (loop thread busy {stall.busy_s * 1000:.0f} ms of it), "
            f"a separate idle process {stall.machine_s * 1000:.0f} ms"
        )

    print(f"(4) 1 electron {single.wall_s:.1f} s: {described(single)}")
    print(f"(4) {electrons} at once {burst.wall_s:.1f} s: {described(burst)}")
    beyond = burst.worst_s - burst.machine_s
    return [
        Row(
            f"{electrons} concurrent electrons: wall time (default polling, debug mode)",
            f"{burst.wall_s:.1f} s",
            f"1 electron alone: {single.wall_s:.1f} s",
            "",
            None,
            0.0,
        ),
        Row(
            f"{electrons} concurrent electrons: longest callback on the loop",
            f"{burst.longest_callback_s * 1000:.1f} ms",
            f"1 alone: {single.longest_callback_s * 1000:.1f} ms",
            "< 20 ms",
            burst.longest_callback_s < 0.02,
            0.0,
        ),
        Row(
            f"{electrons} concurrent electrons: ticker lateness beside an idle process's",
            f"{burst.worst_s * 1000:.0f} ms vs {burst.machine_s * 1000:.0f} ms ({beyond * 1000:+.0f} ms)",
            f"1 alone: {single.worst_s * 1000:.0f} ms vs {single.machine_s * 1000:.0f} ms",
            "within 20 ms",
            beyond <= 0.02,
            0.0,
        ),
    ]


# --- (5) an outage of the Braket API ----------------------------------------------------------------


class BraketRequests:
    """Counts the HTTP requests (each attempt of botocore's retries) of a Braket client, by operation."""

    def __init__(self) -> None:
        self.sent: Counter[str] = Counter()
        self._lock = threading.Lock()

    def attach(self, braket: Any) -> None:
        braket.meta.events.register("before-send.braket", self._count)

    def _count(self, event_name: str, **_: Any) -> None:
        with self._lock:
            self.sent[event_name.rsplit(".", 1)[-1]] += 1

    def status_requests(self) -> int:
        with self._lock:
            return self.sent["SearchJobs"] + self.sent["GetJob"]


def outage(bench: Bench, jobs: int, outage_s: float) -> list[Row]:
    job_s = outage_s + 30.0
    executor = bench.executor(DEFAULT_INITIAL_POLL, DEFAULT_POLL, time_limit=int(job_s) + 120)
    settings = executor.settings()
    dispatch_ids = [str(uuid.uuid4()) for _ in range(jobs)]
    names = [job_spec.job_name(d, 0, 1) for d in dispatch_ids]
    requests = BraketRequests()
    requests.attach(runtime.current().session(settings).client("braket"))

    def all_running() -> None:
        while True:
            pages = bench.braket.get_paginator("search_jobs").paginate(filters=[])
            statuses = {
                j["jobName"]: j["status"] for page in pages for j in page["jobs"] if j["jobName"] in names
            }
            if len(statuses) == jobs and set(statuses.values()) == {"RUNNING"}:
                return
            time.sleep(0.5)

    def task_objects() -> int:
        found = 0
        for d in dispatch_ids:
            listing = bench.s3.list_objects_v2(Bucket=bench.bucket, Prefix=f"{transfer.KEY_ROOT}/{d}/")
            found += sum(item["Key"].endswith("/task.pkl") for item in listing.get("Contents", []))
        return found

    async def scenario() -> tuple[list[Any], int, int]:
        electrons = asyncio.gather(
            *(
                executor.run(sleep_for, [job_s], {}, {"dispatch_id": d, "node_id": 0, "results_dir": "/tmp"})
                for d in dispatch_ids
            ),
            return_exceptions=True,
        )
        await asyncio.to_thread(all_running)
        before = requests.status_requests()
        bench.stack.set_faults(error_rate=1.0)
        try:
            await asyncio.sleep(outage_s)
        finally:
            bench.stack.reset_faults()
        spent = requests.status_requests() - before
        kept = await asyncio.to_thread(task_objects)
        return await electrons, spent, kept

    cancels_before = requests.sent["CancelJob"]
    results, spent, kept = asyncio.run(scenario())
    back = sum(result == job_s for result in results)
    cancelled = requests.sent["CancelJob"] - cancels_before
    lost = jobs - kept
    failures = [repr(r)[:200] for r in results if r != job_s]
    print(
        f"(5) {outage_s:.0f} s outage, {jobs} jobs: {back} results back, {cancelled} CancelJob, "
        f"{lost} task objects lost, {spent} status requests during the outage "
        f"({spent / (outage_s / 60):.0f} a minute){'; ' + '; '.join(failures) if failures else ''}"
    )
    return [
        Row(
            f"{outage_s:.0f} s Braket outage, {jobs} jobs RUNNING: results back / CancelJob / lost",
            f"{back}/{jobs} / {cancelled} / {lost}",
            f"{spent} status requests during it",
            f"{jobs}/{jobs} / 0 / 0",
            back == jobs and cancelled == 0 and lost == 0,
            0.0,
        )
    ]


# --- (6) peak client memory for a result -----------------------------------------------------------------


def peak_rss() -> int:
    """The process's peak resident set so far, in bytes (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def streamed_result_peak(bucket: str, size: int, answer: Any) -> None:
    """In a fresh process: one electron returning ``size`` bytes; its peak RSS over the electron."""
    executor = BraketExecutor(
        s3_bucket_name=bucket,
        region=REGION,
        ecr_image_uri=HOST_IMAGE,
        initial_poll_freq=0.5,
        poll_freq=2.0,
        cleanup=False,
    )

    def metadata() -> dict[str, Any]:
        return {"dispatch_id": str(uuid.uuid4()), "node_id": 0, "results_dir": "/tmp"}

    # Made here, so pickled by value: this module is __mp_main__ in a spawned process, which no job has.
    def one() -> int:
        return 1

    def many_bytes(size: int) -> bytes:
        return b"r" * size

    async def length(electron: dict[str, Any]) -> int:
        # Not the result itself: asyncio.run's SIGINT handling formats the repr of its main task,
        # result included, in full (reprlib truncates a bytes repr only after making it), which
        # would add N to the figure. A Covalent server's electrons are never a loop's main task.
        return len(await executor.run(many_bytes, [size], {}, electron))

    asyncio.run(executor.run(one, [], {}, metadata()))  # warm-up: imports, clients, runner archive
    electron = metadata()
    before = peak_rss()
    returned = asyncio.run(length(electron))
    grown = peak_rss() - before
    if returned != size:
        raise RuntimeError(f"the electron returned {returned} bytes, not {size}")
    name = job_spec.job_name(electron["dispatch_id"], 0, 1)
    location = transfer.TaskLocation.for_task(bucket, electron["dispatch_id"], 0, name)
    answer.send((grown, location.result_key))


def whole_in_memory_peak(bucket: str, key: str, size: int, answer: Any) -> None:
    """In a fresh process: the whole-in-memory path on the same object, and its peak RSS over it."""
    s3 = boto3.client("s3")
    s3.head_object(Bucket=bucket, Key=key)  # warm-up: the client's first request
    before = peak_rss()
    body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    result = cloudpickle.loads(body)
    grown = peak_rss() - before
    if len(result) != size:
        raise RuntimeError(f"the object held {len(result)} bytes, not {size}")
    answer.send(grown)


def in_fresh_process(target: Callable[..., None], *args: Any) -> Any:
    context = multiprocessing.get_context("spawn")
    receive, send = context.Pipe(duplex=False)
    child = context.Process(target=target, args=(*args, send))
    child.start()
    send.close()
    try:
        return receive.recv()
    except EOFError:
        raise RuntimeError(
            f"{target.__name__} failed in its process (exit status {child.exitcode})"
        ) from None
    finally:
        child.join()


def result_memory(bench: Bench, mib: int) -> list[Row]:
    size = mib * MIB
    streamed, key = in_fresh_process(streamed_result_peak, bench.bucket, size)
    whole = in_fresh_process(whole_in_memory_peak, bench.bucket, key, size)
    bench.s3.delete_object(Bucket=bench.bucket, Key=key)
    print(
        f"(6) {mib} MiB result: peak RSS +{streamed / MIB:.0f} MiB ({streamed / size:.2f} N) through a "
        f"temporary file; +{whole / MIB:.0f} MiB ({whole / size:.2f} N) whole in memory"
    )
    return [
        Row(
            f"peak client RSS for a {mib} MiB result (N)",
            f"+{streamed / MIB:.0f} MiB = {streamed / size:.2f} N",
            f"whole in memory: +{whole / MIB:.0f} MiB = {whole / size:.2f} N",
            "<= 1.2 N",
            streamed <= 1.2 * size,
            0.0,
        )
    ]


# --- the run ----------------------------------------------------------------------------------------


def section(rows: list[Row], label: str, measure: Callable[[], list[Row]]) -> bool:
    """Run one section; its rows carry the seconds it took. False (and an ERROR row) if it failed."""
    print(f"--- {label}", flush=True)
    start = time.perf_counter()
    try:
        measured = measure()
    except Exception as error:
        traceback.print_exc()
        rows.append(Row(label, f"ERROR: {type(error).__name__}: {error}"[:80], "", "", None, 0.0))
        return False
    measured[0].took_s = time.perf_counter() - start
    rows.extend(measured)
    return True


def print_table(rows: list[Row]) -> None:
    headers = ("figure", "measured", "baseline", "target", "", "took")
    cells = [
        (r.figure, r.measured, r.baseline, r.target, r.verdict, f"{r.took_s:.0f} s" if r.took_s else "")
        for r in rows
    ]
    widths = [max(len(str(c[i])) for c in [headers, *cells]) for i in range(len(headers))]
    print()
    for line in [headers, tuple("-" * w for w in widths), *cells]:
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--overhead-electrons", type=int, default=8, help="(1) electrons on each side")
    parser.add_argument("--overhead-poll", type=float, default=0.1, help="(1) both sides poll this often")
    parser.add_argument("--long-electrons", type=int, default=5, help="(3) sleeping electrons on each side")
    parser.add_argument("--long-seconds", type=float, nargs=2, default=(60.0, 90.0), metavar=("MIN", "MAX"))
    parser.add_argument("--poll-freq", type=float, default=DEFAULT_POLL, help="(3) poll_freq of both sides")
    parser.add_argument("--concurrent", type=int, default=100, help="(4) electrons at once")
    parser.add_argument("--build-electrons", type=int, default=10, help="(2) electrons of one environment")
    parser.add_argument("--skip-build", action="store_true", help="leave (2), minutes of docker build, out")
    parser.add_argument("--outage-jobs", type=int, default=4, help="(5) jobs running through each outage")
    parser.add_argument(
        "--outages",
        type=float,
        nargs="+",
        default=(90.0, 300.0),
        metavar="S",
        help="(5) seconds of each outage",
    )
    parser.add_argument("--quick", action="store_true", help="(5) outages of 20 s and 60 s instead")
    parser.add_argument(
        "--result-mib",
        type=int,
        nargs="+",
        default=(200, 1024),
        metavar="MIB",
        help="(6) sizes of the results",
    )
    parser.add_argument(
        "--sections",
        type=int,
        nargs="+",
        default=(1, 2, 3, 4, 5, 6),
        choices=range(1, 7),
        metavar="N",
        help="the sections to run (default: all)",
    )
    args = parser.parse_args()
    wanted = set(args.sections)
    outages = (20.0, 60.0) if args.quick else args.outages

    rows: list[Row] = []
    ok = True
    ledger = JobLedger()
    with LocalStack(port=0, runner="process") as stack:
        bench = Bench(stack, ledger, "amazon-braket-covalent-bench")
        print(f"local stack {stack.endpoint_url} (process runner)")
        if 1 in wanted:
            ok &= section(
                rows,
                "(1) client overhead",
                lambda: client_overhead(bench, args.overhead_electrons, args.overhead_poll),
            )
        if 3 in wanted:
            ok &= section(
                rows,
                "(3) completion to result",
                lambda: completion_delay(bench, args.long_electrons, *args.long_seconds, args.poll_freq),
            )
        if 4 in wanted:
            ok &= section(rows, "(4) concurrency", lambda: concurrency(bench, args.concurrent))
        for seconds in outages if 5 in wanted else ():
            ok &= section(
                rows, f"(5) {seconds:.0f} s outage", lambda s=seconds: outage(bench, args.outage_jobs, s)
            )
        for mib in args.result_mib if 6 in wanted else ():
            ok &= section(rows, f"(6) {mib} MiB result", lambda m=mib: result_memory(bench, m))
    if 2 in wanted and args.skip_build:
        rows.append(Row("image builds and cold build time", "skipped (--skip-build)", "", "", None, 0.0))
    elif 2 in wanted:
        ok &= section(rows, "(2) image builds", lambda: image_builds(args.build_electrons, ledger))
    print_table(rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
