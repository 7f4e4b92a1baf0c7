"""The rules of what the settings name outside the plugin: S3 buckets, container images, input
channels and local modules.

Both kinds of name end up where a bad one does harm long after it was given: a bucket name in every
S3 request (failing minutes later, after an image build), an image reference on the ``FROM`` line
of the job image's Dockerfile, where a line break would add instructions of its own. The rules are
the services' own, so that a name passing here is one S3 and Docker accept.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path

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


CHANNEL_NAME = re.compile(r"^[A-Za-z0-9.\-_]{1,64}$")
"""CreateJob's rule for a channel name (botocore's InputFileConfig.channelName)."""
MAX_CHANNELS = 20
"""CreateJob takes at most 20 input channels."""
_S3_URI = re.compile(r"^s3://(?P<bucket>[a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/(?P<key>\S{1,1000})$")


def check_input_data(channels: Mapping[str, str]) -> dict[str, str]:
    """The channels with local paths made absolute; a ``ValueError`` naming the first bad one.

    Local paths are resolved where the executor is made, which is where Covalent runs it in the
    usual setup (client and server on one machine); they must exist then.
    """
    if len(channels) > MAX_CHANNELS:
        raise ValueError(f"{len(channels)} channels given; a Braket job takes at most {MAX_CHANNELS}")
    checked: dict[str, str] = {}
    for name, source in channels.items():
        if not CHANNEL_NAME.match(name):
            raise ValueError(
                f"channel {name!r}: name channels with 1-64 letters, digits, '.', '-' or '_', e.g. 'data'"
            )
        source = str(source).strip()
        if source.startswith("s3://"):
            if not _S3_URI.match(source):
                raise ValueError(f"channel {name!r}: {source!r} is not an S3 URI; give 's3://bucket/prefix'")
            checked[name] = source
            continue
        path = Path(os.path.expanduser(source)).absolute()
        if not (path.is_file() or path.is_dir()):
            raise ValueError(
                f"channel {name!r}: {source!r} is neither an S3 URI nor an existing local file or folder; "
                "give 's3://bucket/prefix' or the path of a file or folder on this machine"
            )
        checked[name] = str(path)
    return checked


_MODULE_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def check_module(name: str) -> str:
    """``name`` when it names a module with source files here (``include_modules``); a ``ValueError``
    with the fix if not."""
    module_source(name)
    return name


def module_source(name: str) -> Path:
    """The source file of module ``name`` (``__init__.py`` for a package), found without importing it."""
    if not _MODULE_NAME.match(name):
        raise ValueError(f"{name!r} is not a module name; give dotted names such as 'my_package.kernels'")
    try:
        spec = importlib.util.find_spec(name)
    except (ImportError, ValueError) as error:
        raise ValueError(
            f"module {name!r} cannot be found here ({error}); install it or put it on sys.path"
        ) from None
    if spec is None:
        raise ValueError(f"module {name!r} cannot be found here; install it or put it on sys.path")
    if not spec.origin or not spec.origin.endswith(".py"):
        raise ValueError(
            f"module {name!r} has no Python source file here (found: {spec.origin}); "
            "include_modules ships .py files: name a module or package written in Python"
        )
    return Path(spec.origin)
