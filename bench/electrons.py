"""Electrons run on a local stack for the executor's benchmarks, two ways: through
``BraketExecutor.run`` as Covalent's dispatcher calls it, and as the bare boto3 sequence doing the
same job (S3 PutObject of the pickled task, CreateJob, GetJob until the job ends, S3 GetObject of
the result) that is their baseline. Each run's timing is set beside the job's life as the stack
recorded it.

The electrons' functions are pickled by value, as a script's ``__main__`` functions are: the jobs
run without this directory on their path.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import boto3
import cloudpickle
from harness import point_boto3_at

from covalent_braket_plugin import hybrid_jobs, s3_layout
from covalent_braket_plugin.braket import BraketExecutor
from covalent_braket_plugin.executor import transfer, watch
from covalent_braket_plugin.job.runner import RESULT_FILE
from covalent_braket_plugin.local.stack import LocalStack
from covalent_braket_plugin.settings import BraketExecutorSettings

REGION = "us-east-1"
HOST_IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-covalent-job-images:host-python"
"""A ready image URI: the process runner runs jobs with the host's Python and never pulls it."""
DEFAULT_INITIAL_POLL = BraketExecutorSettings.model_fields["initial_poll_freq"].default
DEFAULT_POLL = BraketExecutorSettings.model_fields["poll_freq"].default

cloudpickle.register_pickle_by_value(sys.modules[__name__])


def add_one(x: int) -> int:
    return x + 1


def sleep_for(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


class JobLedger:
    """Learns each job's ARN and counts its GetJob calls and the watcher's SearchJobs calls by
    wrapping ``hybrid_jobs.create_job``, ``hybrid_jobs.get_job`` and ``watch.search``, the module functions
    the executor calls (from worker threads). One search may page: each page is a SearchJobs call."""

    def __init__(self) -> None:
        self.arn_by_name: dict[str, str] = {}
        self.get_job_calls: Counter[str] = Counter()
        self.search_calls = 0
        self._lock = threading.Lock()
        create, get, search = hybrid_jobs.create_job, hybrid_jobs.get_job, watch.search

        def recorded_create(braket: Any, spec: hybrid_jobs.JobSpec) -> str:
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

        hybrid_jobs.create_job = recorded_create
        hybrid_jobs.get_job = counted_get
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
        point_boto3_at(stack)
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
        arn = self.ledger.arn_by_name[hybrid_jobs.job_name(dispatch_id, 0, 1)]
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
        name = hybrid_jobs.job_name(dispatch_id, 0, 1)
        location = s3_layout.ElectronLocation.for_electron(self.bucket, dispatch_id, 0, name)
        task = cloudpickle.dumps((function, list(args), {}))
        self.s3.put_object(Bucket=self.bucket, Key=location.call_key, Body=task)
        spec = hybrid_jobs.electron_job(
            settings,
            location,
            name=name,
            account_id=self.account_id,
            image_uri=HOST_IMAGE,
            source_uri=source_uri,
            source_sha256=transfer.runner_archive()[0],
            task_uri=location.uri(location.call_key),
            task_sha256=hashlib.sha256(task).hexdigest(),
        )
        arn = self.braket.create_job(**spec.create_job_request())["jobArn"]
        calls = 0
        for delay in hybrid_jobs.poll_delays(settings.initial_poll_freq, settings.poll_freq):
            job = self.braket.get_job(jobArn=arn)
            calls += 1
            if job["status"] in hybrid_jobs.TERMINAL_STATUSES:
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
