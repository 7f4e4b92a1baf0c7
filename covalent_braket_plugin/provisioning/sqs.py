"""SQS queues that keep what failed: encrypted at rest, messages kept as long as SQS allows.

A queue here is a place where AWS puts records nobody else will keep (a Lambda function's events
whose retries ran out), to be read by a person, so it is never consumed by the plugin: it is peeked
with a visibility timeout of 0, which leaves every message in the queue for the next look.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from covalent_braket_plugin.provisioning.engine import Provisioner, unless_missing
from covalent_braket_plugin.provisioning.resources import ResourceResult

RETENTION_S = 1_209_600
"""14 days, the longest SQS keeps a message."""
_PEEK_CALLS = 5
"""ReceiveMessage returns at most 10 messages, sampled from the queue's servers; a few calls widen
the sample the newest are picked from."""


@dataclass(frozen=True)
class Queue:
    name: str
    tags: tuple[tuple[str, str], ...] = ()

    def attributes(self) -> dict[str, str]:
        """The attributes compared with GetQueueAttributes' answer and set on create or update."""
        return {"MessageRetentionPeriod": str(RETENTION_S), "SqsManagedSseEnabled": "true"}


@dataclass(frozen=True)
class Message:
    """One message as peeked: when it was sent and its body (JSON decoded when it is JSON)."""

    sent_ms: int
    body: Any


def queue_url(run: Provisioner, name: str) -> str | None:
    """The URL of the queue ``name``, None when there is no such queue."""
    answer = unless_missing(lambda: run.client("sqs").get_queue_url(QueueName=name))
    return None if answer is None else str(answer["QueueUrl"])


def ensure_queue(run: Provisioner, queue: Queue) -> tuple[str, ResourceResult]:
    """Create the queue or bring its attributes to ``queue``'s; returns its ARN and the result."""
    sqs, wanted = run.client("sqs"), queue.attributes()
    url = queue_url(run, queue.name)
    if url is None:
        arn = run.arn("sqs", queue.name)
        if not run.dry_run:
            url = sqs.create_queue(QueueName=queue.name, Attributes=wanted, tags=dict(queue.tags))["QueueUrl"]
            answer = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
            arn = answer["Attributes"]["QueueArn"]
        detail = f"messages kept {RETENTION_S // 86400} days, SSE"
        return arn, ResourceResult("sqs queue", queue.name, run.did("created"), detail)
    current = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    differing = {key: value for key, value in wanted.items() if current.get(key) != value}
    if differing and not run.dry_run:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=differing)
    action = run.did("updated" if differing else "unchanged")
    return current["QueueArn"], ResourceResult("sqs queue", queue.name, action, ", ".join(differing))


def describe_queue(run: Provisioner, name: str) -> tuple[ResourceResult, int]:
    """What exists of the queue, and how many messages it holds (about: SQS counts approximately)."""
    url = queue_url(run, name)
    if url is None:
        return ResourceResult("sqs queue", name, "missing"), 0
    attributes = run.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    count = sum(int(attributes.get(key, 0)) for key in attributes)
    return ResourceResult("sqs queue", name, "present", f"{count} message(s)"), count


def peek(run: Provisioner, name: str, newest: int) -> list[Message]:
    """The ``newest`` messages of the queue, newest first, left in the queue (visibility timeout 0).

    SQS hands out a sample of its messages per call and keeps no order, so with many messages
    these are the newest of the few dozen sampled, not necessarily of all.
    """
    url = queue_url(run, name)
    if url is None:
        return []
    sqs = run.client("sqs")
    seen: dict[str, Message] = {}
    for _ in range(_PEEK_CALLS):
        received = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=0,
            MessageSystemAttributeNames=["SentTimestamp"],
        ).get("Messages", [])
        for message in received:
            seen[message["MessageId"]] = Message(
                int(message.get("Attributes", {}).get("SentTimestamp", 0)), _decoded(message["Body"])
            )
        if not received:
            break
    return sorted(seen.values(), key=lambda message: message.sent_ms, reverse=True)[:newest]


def _decoded(body: str) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body


def remove_queue(run: Provisioner, name: str) -> ResourceResult:
    """Delete the queue (and what it holds)."""
    url = queue_url(run, name)
    if url is not None and not run.dry_run:
        run.client("sqs").delete_queue(QueueUrl=url)
    return ResourceResult("sqs queue", name, run.did("deleted") if url else "missing")
