"""The naming rules of what the settings name outside the plugin: S3 buckets and container images.

Both kinds of name end up where a bad one does harm long after it was given: a bucket name in every
S3 request (failing minutes later, after an image build), an image reference on the ``FROM`` line
of the job image's Dockerfile, where a line break would add instructions of its own. The rules are
the services' own, so that a name passing here is one S3 and Docker accept.
"""

from __future__ import annotations

import ipaddress
import re

# S3's rules for general purpose buckets (AWS's "Bucket naming rules" page).
_BUCKET_CHARACTERS = re.compile(r"[a-z0-9.-]{3,63}")
_BUCKET_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_BUCKET_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name_problem(name: str) -> str | None:
    """What makes ``name`` an invalid S3 bucket name, or None when S3 accepts it."""
    if not _BUCKET_CHARACTERS.fullmatch(name):
        return "a bucket name has 3 to 63 characters, each a lowercase letter, a digit, '.' or '-'"
    if not (name[0].isalnum() and name[-1].isalnum()):
        return "a bucket name begins and ends with a letter or a digit"
    if ".." in name:
        return "a bucket name has no two adjacent periods"
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        pass
    else:
        return "a bucket name is not formatted as an IP address"
    reserved = [affix for affix in _BUCKET_RESERVED_PREFIXES if name.startswith(affix)]
    reserved += [affix for affix in _BUCKET_RESERVED_SUFFIXES if name.endswith(affix)]
    if reserved:
        return f"S3 reserves names beginning or ending with {reserved[0]!r}"
    return None


# The reference grammar of Docker's distribution/reference package:
#   reference := name [":" tag] ["@" digest];  name := [domain "/"] path-component ["/" path-component]*
_ALNUM = r"[a-z0-9]+"
_PATH_COMPONENT = rf"{_ALNUM}(?:(?:[_.]|__|-+){_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*|\[[a-fA-F0-9:]+\])(?::[0-9]+)?"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
_TAG = r"\w[\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
_IMAGE_REFERENCE = re.compile(rf"(?P<name>{_NAME})(?::{_TAG})?(?:@{_DIGEST})?", re.ASCII)
_NAME_MAX_LENGTH = 255


def is_image_reference(reference: str) -> bool:
    """Whether ``reference`` is one image reference (``[registry[:port]/]path[:tag][@digest]``).

    Whitespace and line breaks never are, so a reference cannot carry Dockerfile lines of its own.
    """
    match = _IMAGE_REFERENCE.fullmatch(reference)
    return match is not None and len(match.group("name")) <= _NAME_MAX_LENGTH
