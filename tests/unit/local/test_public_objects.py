"""Which unsigned requests read a published object: a plain GET or HEAD of exactly its path."""

from __future__ import annotations

import pytest

from covalent_braket_plugin.local.public_objects import PublicObjects

PUBLISHED = "/calibrations/Rigetti/Cepheus/native.json"


@pytest.fixture
def public() -> PublicObjects:
    objects = PublicObjects()
    objects.publish("calibrations", "Rigetti/Cepheus/native.json")
    return objects


@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_plain_read_of_a_published_object_is_readable(public: PublicObjects, method: str) -> None:
    assert public.readable({"REQUEST_METHOD": method, "PATH_INFO": PUBLISHED})


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("GET", "/calibrations/Rigetti/Cepheus/other.json", ""),  # another object of the bucket
        ("GET", "/calibrations/Rigetti/Cepheus", ""),  # a prefix of it
        ("GET", "/calibrations/", ""),  # the bucket's listing
        ("PUT", PUBLISHED, ""),
        ("DELETE", PUBLISHED, ""),
        ("GET", PUBLISHED, "acl"),  # another operation on it
    ],
)
def test_nothing_else_is_readable(public: PublicObjects, method: str, path: str, query: str) -> None:
    assert not public.readable({"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query})
