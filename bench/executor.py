"""The executor's four promised figures, each beside its baseline and target, measured in one run.

    python bench/executor.py [--skip-build] [--overhead-electrons 8] [--long-electrons 5]
                             [--long-seconds 60 90] [--concurrent 100] [--build-electrons 10]

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
4. **``--concurrent`` electrons at once** on one event loop: wall time, and the event loop's worst
   stall, measured by a ticker coroutine that sleeps 10 ms and records how late it wakes, started
   before the electrons are. The baseline is one electron alone, ticker included. Target: stall
   < 100 ms.

Figures are printed as they come and again in a table at the end, MISSED beside any that misses
its target. The exit status is non-zero only when a section failed with an error.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import multiprocessing
import os
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
from covalent_braket_plugin.executor import job_spec, transfer, watch
from covalent_braket_plugin.executor.settings import BraketExecutorSettings
from covalent_braket_plugin.job.runner import RESULT_FILE
from covalent_braket_plugin.local.base_image import ensure_base_image
from covalent_braket_plugin.local.stack import CONFLICTING_VARIABLES, LocalStack

REGION = "us-east-1"
HOST_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-covalent-job-images:host-python"
"""A ready image URI: the process runner runs jobs with the host's Python and never pulls it."""
TICK_S = 0.01
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
    """The event loop's worst stall while some work ran, and what explains it.

    ``busy_s`` is the CPU time the loop's own thread used during that stall: near zero means the
    loop was not doing work but waiting for the CPU or the GIL. ``machine_s`` is the worst lateness
    of a ticker in a separate process over the same time, which shares no GIL with the client: what
    the machine's load alone does to a sleeping process.
    """

    wall_s: float
    worst_s: float
    busy_s: float
    machine_s: float


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
    """Run ``work()`` while a ticker coroutine, and a ticker process beside it, record how late they wake.

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

    tick = asyncio.create_task(ticker())
    start = time.perf_counter()
    await work()
    wall = time.perf_counter() - start
    running = False
    await tick
    stop.set()
    await asyncio.to_thread(control.join)
    return Stall(wall, worst, busy, machine.value)


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
            f"{stall.worst_s * 1000:.0f} ms (loop thread busy {stall.busy_s * 1000:.0f} ms of it;"
            f" a separate process was {stall.machine_s * 1000:.0f} ms late)"
        )

    print(f"(4) 1 electron {single.wall_s:.1f} s, stall {described(single)}")
    print(f"(4) {electrons} at once {burst.wall_s:.1f} s, stall {described(burst)}")
    return [
        Row(
            f"{electrons} concurrent electrons: wall time (default polling)",
            f"{burst.wall_s:.1f} s",
            f"1 electron alone: {single.wall_s:.1f} s",
            "",
            None,
            0.0,
        ),
        Row(
            f"{electrons} concurrent electrons: worst event-loop stall",
            f"{burst.worst_s * 1000:.0f} ms (loop busy {burst.busy_s * 1000:.0f} ms)",
            f"1 alone: {single.worst_s * 1000:.0f} ms; other process: {burst.machine_s * 1000:.0f} ms",
            "< 100 ms",
            burst.worst_s < 0.1,
            0.0,
        ),
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
    args = parser.parse_args()

    rows: list[Row] = []
    ok = True
    ledger = JobLedger()
    with LocalStack(port=0, runner="process") as stack:
        bench = Bench(stack, ledger, "amazon-braket-covalent-bench")
        print(f"local stack {stack.endpoint_url} (process runner)")
        ok &= section(
            rows,
            "(1) client overhead",
            lambda: client_overhead(bench, args.overhead_electrons, args.overhead_poll),
        )
        ok &= section(
            rows,
            "(3) completion to result",
            lambda: completion_delay(bench, args.long_electrons, *args.long_seconds, args.poll_freq),
        )
        ok &= section(rows, "(4) concurrency", lambda: concurrency(bench, args.concurrent))
    if args.skip_build:
        rows.append(Row("image builds and cold build time", "skipped (--skip-build)", "", "", None, 0.0))
    else:
        ok &= section(rows, "(2) image builds", lambda: image_builds(args.build_electrons, ledger))
    print_table(rows)
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
