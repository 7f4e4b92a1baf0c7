"""The shared job watcher: one SearchJobs for all watched jobs, GetJob only for what a summary lacks."""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from covalent_braket_plugin.executor import watch

REGION_ARN = "arn:aws:braket:us-east-1:123456789012:job/"


@pytest.fixture
def pool() -> Iterator[concurrent.futures.ThreadPoolExecutor]:
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as threads:
        yield threads


class FakeBraket:
    """Jobs whose status walks through a script, one step per search; calls are recorded."""

    def __init__(self, scripts: dict[str, list[str]], hidden: frozenset[str] = frozenset()) -> None:
        self.scripts = {arn: list(statuses) for arn, statuses in scripts.items()}
        self.hidden = hidden  # jobs SearchJobs does not list (an index that lags)
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.fail_search: Exception | None = None

    def _status(self, arn: str, step: bool) -> str:
        statuses = self.scripts[arn]
        return statuses.pop(0) if step and len(statuses) > 1 else statuses[0]

    def search_jobs(self, **request: Any) -> dict[str, Any]:
        self.calls.append(("search_jobs", request))
        if self.fail_search:
            raise self.fail_search
        [wanted] = request["filters"]
        arns = wanted["values"] if wanted["name"] == "jobArn" else sorted(self.scripts)
        jobs = [
            {
                "jobArn": arn,
                "jobName": arn[-6:],
                "status": self._status(arn, step=True),
                "createdAt": datetime(2026, 1, 1, tzinfo=UTC),
            }
            for arn in arns
            if arn not in self.hidden
        ]
        return {"jobs": jobs}

    def get_job(self, jobArn: str, additionalAttributeNames: list[str] | None = None) -> dict[str, Any]:
        self.calls.append(
            ("get_job", {"jobArn": jobArn, "additionalAttributeNames": additionalAttributeNames})
        )
        status = self._status(jobArn, step=jobArn in self.hidden)
        job = {"jobArn": jobArn, "jobName": jobArn[-6:], "status": status}
        if status == "FAILED":
            job["failureReason"] = "AlgorithmError: boom"
        if additionalAttributeNames and status == "QUEUED":
            job["queueInfo"] = {"queue": "JOBS_QUEUE", "position": "4"}
        return job

    def named(self, name: str) -> list[dict[str, Any]]:
        return [request for call, request in self.calls if call == name]


def _arn(i: int) -> str:
    return f"{REGION_ARN}{i:06d}"


async def _watch_all(fake: FakeBraket, pool: Any, arns: list[str], **kw: Any) -> list[Any]:
    watcher = watch.JobWatcher(fake, pool)
    futures = [watcher.watch(arn, created=0.0, initial=0.01, slowest=0.02, **kw) for arn in arns]
    return await asyncio.gather(*futures)


def test_one_search_follows_many_jobs_and_getjob_is_only_asked_for_a_failure(pool: Any) -> None:
    arns = [_arn(i) for i in range(5)]
    scripts = {arn: ["RUNNING", "RUNNING", "COMPLETED"] for arn in arns[:4]}
    scripts[arns[4]] = ["RUNNING", "FAILED"]
    fake = FakeBraket(scripts)

    records = asyncio.run(_watch_all(fake, pool, arns))

    assert [r["status"] for r in records] == ["COMPLETED"] * 4 + ["FAILED"]
    assert records[4]["failureReason"] == "AlgorithmError: boom"  # from GetJob
    assert len(fake.named("search_jobs")) == 3  # one per round, for all five jobs
    assert [r["jobArn"] for r in fake.named("get_job")] == [arns[4]]
    first = fake.named("search_jobs")[0]
    assert first["filters"] == [{"name": "jobArn", "operator": "EQUAL", "values": sorted(arns)}]


def test_more_jobs_than_a_filter_holds_are_searched_by_creation_time_page_by_page() -> None:
    arns = [_arn(i) for i in range(12)]

    class Paged:
        def __init__(self) -> None:
            self.requests: list[dict[str, Any]] = []

        def search_jobs(self, **request: Any) -> dict[str, Any]:
            self.requests.append(request)
            everyone = [_arn(i) for i in range(-3, 12)]  # three other jobs of the account as well
            start = int(request.get("nextToken", 0))
            page = everyone[start : start + 5]
            token = {"nextToken": str(start + 5)} if start + 5 < len(everyone) else {}
            return {"jobs": [{"jobArn": arn, "status": "RUNNING"} for arn in page], **token}

    braket = Paged()
    found = watch.search(braket, arns, 1_767_225_600.0)

    assert sorted(found) == sorted(arns)
    assert braket.requests[0]["filters"] == [
        {"name": "createdAt", "operator": "GTE", "values": ["2026-01-01T00:00:00Z"]}
    ]
    assert braket.requests[0]["maxResults"] == watch.SEARCH_PAGE_SIZE
    assert [r.get("nextToken") for r in braket.requests] == [None, "5", "10"]


def test_a_job_the_search_does_not_list_is_asked_about_on_its_own(pool: Any) -> None:
    arns = [_arn(1), _arn(2)]
    fake = FakeBraket(
        {arns[0]: ["RUNNING", "COMPLETED"], arns[1]: ["RUNNING", "COMPLETED"]}, hidden=frozenset({arns[1]})
    )

    records = asyncio.run(_watch_all(fake, pool, arns))

    assert [r["status"] for r in records] == ["COMPLETED", "COMPLETED"]
    assert {r["jobArn"] for r in fake.named("get_job")} == {arns[1]}


def test_the_listener_hears_each_status_and_queue_position_once(pool: Any) -> None:
    arn = _arn(7)
    fake = FakeBraket({arn: ["QUEUED", "QUEUED", "QUEUED", "RUNNING", "COMPLETED"]})
    heard: list[tuple[str, str | None]] = []

    def listener(record: dict[str, Any]) -> None:
        heard.append((record["status"], (record.get("queueInfo") or {}).get("position")))

    asyncio.run(_watch_all(fake, pool, [arn], listener=listener))

    assert heard == [("QUEUED", None), ("QUEUED", "4"), ("RUNNING", None), ("COMPLETED", None)]
    queue_asks = fake.named("get_job")
    # Asked while still QUEUED on a later turn, never on first sight.
    assert queue_asks and all(r["additionalAttributeNames"] == ["QueueInfo"] for r in queue_asks)


def test_a_job_ticks_at_each_of_its_turns_with_its_summary_until_it_ends(pool: Any) -> None:
    listed, hidden = _arn(1), _arn(2)
    fake = FakeBraket(
        {listed: ["QUEUED", "RUNNING", "RUNNING", "COMPLETED"], hidden: ["RUNNING"] * 3 + ["COMPLETED"]},
        hidden=frozenset({hidden}),
    )

    async def scenario() -> dict[str, list[str | None]]:
        watcher = watch.JobWatcher(fake, pool)
        heard: dict[str, list[str | None]] = {listed: [], hidden: []}

        async def listen(arn: str) -> None:
            async for summary in watcher.job_ticks(arn):
                heard[arn].append(None if summary is None else summary["status"])

        ends = [watcher.watch(arn, created=0.0, initial=0.01, slowest=0.01) for arn in (listed, hidden)]
        await asyncio.gather(listen(listed), listen(hidden), *ends)
        return heard

    heard = asyncio.run(scenario())
    # the search that saw the job end ends its ticks; a job the search does not list ticks without one
    assert heard[listed] == ["QUEUED", "RUNNING", "RUNNING"]
    assert heard[hidden] and set(heard[hidden]) == {None}


def test_a_wait_without_a_job_ticks_on_its_own_back_off_and_costs_no_call(pool: Any) -> None:
    fake = FakeBraket({})

    async def scenario() -> tuple[int, list[float]]:
        watcher = watch.JobWatcher(fake, pool)
        build = asyncio.ensure_future(asyncio.sleep(0.35))
        times = []
        async for _ in watcher.ticks(build, initial=0.02, slowest=0.16):
            times.append(time.monotonic())
        return len(watcher._waiting), [later - earlier for earlier, later in itertools.pairwise(times)]

    left, gaps = asyncio.run(scenario())
    assert fake.calls == [] and left == 0  # nothing asked of Braket; the wait let go once done
    assert len(gaps) >= 2 and gaps[0] < gaps[-1]  # backing off: 0.02, 0.04, 0.08, 0.16 s apart


def test_an_unrecoverable_answer_ends_every_wait_naming_the_job_left_running(pool: Any) -> None:
    arns = [_arn(1), _arn(2)]
    fake = FakeBraket({arn: ["RUNNING"] for arn in arns})

    async def scenario() -> None:
        watcher = watch.JobWatcher(fake, pool)
        first = watcher.watch(arns[0], created=0.0, initial=0.01, slowest=0.01)
        second = watcher.watch(arns[1], created=0.0, initial=0.01, slowest=0.01)
        await asyncio.sleep(0.05)
        second.cancel()
        await asyncio.sleep(0.05)
        named = fake.named("search_jobs")[-1]["filters"][0]["values"]
        assert named == [arns[0]]  # the cancelled wait is no longer watched
        fake.fail_search = _client_error("AccessDeniedException", "not authorized to SearchJobs")
        with pytest.raises(watch.WatchAbandoned) as raised:
            await first
        message = str(raised.value)
        assert arns[0] in message and "AccessDeniedException: not authorized" in message
        assert "left running" in message and f"covalent-braket jobs result {arns[0]}" in message

    asyncio.run(scenario())


def _client_error(code: str, message: str = "", operation: str = "SearchJobs") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@pytest.fixture
def quick_outages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Outage back-off and reports in hundredths of seconds instead of seconds and minutes."""
    monkeypatch.setattr(watch, "OUTAGE_FIRST_RETRY_S", 0.01)
    monkeypatch.setattr(watch, "OUTAGE_SLOWEST_RETRY_S", 0.02)
    monkeypatch.setattr(watch, "OUTAGE_REPORT_S", 0.05)


@pytest.mark.parametrize(
    "outage",
    [
        _client_error("InternalServiceException", "We encountered an internal error"),
        _client_error("ThrottlingException", "Rate exceeded"),
        EndpointConnectionError(endpoint_url="https://braket.us-east-1.amazonaws.com"),
    ],
    ids=["5xx", "throttling", "connection"],
)
@pytest.mark.usefixtures("quick_outages")
def test_an_outage_is_ridden_out_told_once_with_its_cause_then_as_it_lasts(
    pool: Any, outage: Exception
) -> None:
    arns = [_arn(1), _arn(2)]
    fake = FakeBraket({arn: ["RUNNING"] * 20 + ["COMPLETED"] for arn in arns})
    notices: dict[str, list[str]] = {arn: [] for arn in arns}

    async def scenario() -> tuple[list[dict[str, Any]], int]:
        watcher = watch.JobWatcher(fake, pool)
        futures = [
            watcher.watch(
                arn,
                created=0.0,
                initial=0.01,
                slowest=0.01,
                time_limit=60,
                on_unreachable=notices[arn].append,
            )
            for arn in arns
        ]
        await asyncio.sleep(0.05)
        searches_before = len(fake.named("search_jobs"))
        fake.fail_search = outage
        await asyncio.sleep(0.3)
        assert not any(f.done() for f in futures)  # the waits stay pending through the outage
        searches = len(fake.named("search_jobs")) - searches_before
        fake.fail_search = None
        return list(await asyncio.gather(*futures)), searches

    records, searches = asyncio.run(scenario())
    assert [r["status"] for r in records] == ["COMPLETED", "COMPLETED"]
    cause = watch.describe_error(outage)
    for arn in arns:
        told = notices[arn]
        assert told[0].startswith(f"Braket API unreachable ({cause}), still waiting for job {arn}")
        assert sum(cause in line for line in told) == 1  # the cause once per outage
        assert any(line.startswith("Braket API unreachable for ") for line in told[1:-1])
        assert told[-1].startswith("Braket API reachable again after ")
    # Backed off: far fewer searches than one per watch tick of 0.01 s over 0.3 s.
    assert searches < 30


@pytest.mark.usefixtures("quick_outages")
def test_a_started_job_is_given_up_on_after_its_deadline_a_queued_one_never(
    pool: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(watch, "DEADLINE_MARGIN_S", 0.1)
    running, queued = _arn(1), _arn(2)
    fake = FakeBraket({running: ["RUNNING"], queued: ["QUEUED"]})

    async def scenario() -> None:
        watcher = watch.JobWatcher(fake, pool)
        started = watcher.watch(running, created=0.0, initial=0.01, slowest=0.01, time_limit=0.1)
        waiting = watcher.watch(queued, created=0.0, initial=0.01, slowest=0.01, time_limit=0.1)
        await asyncio.sleep(0.05)
        fake.fail_search = _client_error("InternalServiceException")
        with pytest.raises(watch.WatchAbandoned) as raised:
            await asyncio.wait_for(started, 2.0)
        assert "time_limit has passed" in str(raised.value) and running in str(raised.value)
        await asyncio.sleep(0.3)
        # Its time_limit clock has not started: a QPU's queue may hold it for days.
        assert not waiting.done()
        waiting.cancel()

    asyncio.run(scenario())


def test_a_job_braket_does_not_know_ends_only_its_own_wait(pool: Any) -> None:
    gone, fine = _arn(1), _arn(2)
    fake = FakeBraket(
        {gone: ["RUNNING", "COMPLETED"], fine: ["RUNNING", "COMPLETED"]}, hidden=frozenset({gone})
    )
    original = fake.get_job

    def get_job(jobArn: str, additionalAttributeNames: list[str] | None = None) -> dict[str, Any]:
        if jobArn == gone:
            raise _client_error("ResourceNotFoundException", "Job not found", "GetJob")
        return original(jobArn, additionalAttributeNames)

    fake.get_job = get_job  # type: ignore[method-assign]

    async def scenario() -> tuple[Any, Any]:
        watcher = watch.JobWatcher(fake, pool)
        futures = [watcher.watch(arn, created=0.0, initial=0.01, slowest=0.01) for arn in (gone, fine)]
        return tuple(await asyncio.gather(*futures, return_exceptions=True))

    lost, record = asyncio.run(scenario())
    assert isinstance(lost, watch.WatchAbandoned) and "ResourceNotFoundException" in str(lost)
    assert record["status"] == "COMPLETED"


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (_client_error("InternalServiceException"), True),
        (_client_error("ThrottlingException"), True),
        (_client_error("ServiceUnavailable"), True),
        (_client_error("ExpiredTokenException"), True),
        (EndpointConnectionError(endpoint_url="https://x"), True),
        (ReadTimeoutError(endpoint_url="https://x"), True),
        (_client_error("AccessDeniedException"), False),
        (_client_error("ResourceNotFoundException"), False),
        (_client_error("ValidationException"), False),
        (KeyError("jobArn"), False),
    ],
)
def test_which_failures_are_an_outage(error: Exception, transient: bool) -> None:
    assert watch.transient(error) is transient


@pytest.mark.parametrize(("jobs", "interval"), [(1, 5.0), (2, 2.5), (5, 1.0), (100, 1.0)])
def test_the_search_interval_spends_the_call_budget_per_job_minute(jobs: int, interval: float) -> None:
    watcher = watch.JobWatcher(object(), concurrent.futures.ThreadPoolExecutor(max_workers=1))
    watcher._jobs = {str(i): object() for i in range(jobs)}  # type: ignore[misc]
    assert watcher.budget_interval() == interval
    assert 60 / watcher.budget_interval() <= watch.STATUS_CALLS_PER_JOB_MINUTE * jobs


@pytest.mark.parametrize(("slowest", "expected"), [(30.0, 101.0), (0.1, 100.2)])
def test_turns_that_come_close_together_share_a_search_unless_poll_freq_asks_for_more(
    slowest: float, expected: float
) -> None:
    watcher = watch.JobWatcher(object(), concurrent.futures.ThreadPoolExecutor(max_workers=1))
    watcher._last_search = 100.0
    for i, due in enumerate((100.2, 100.3)):
        turns = watch._Turns(iter(()), due)
        watcher._jobs[str(i)] = watch._Watched(str(i), None, 0.0, turns, slowest)  # type: ignore[arg-type]
    assert watcher._next_search() == pytest.approx(expected)
