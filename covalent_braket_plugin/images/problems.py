"""What can go wrong with job images: no engine, a failed build, an image this client cannot use."""

from __future__ import annotations

from collections.abc import Iterable


class ImageError(RuntimeError):
    """An image could not be built, pushed, inspected or read."""


class MissingPrerequisiteError(ImageError):
    """This machine lacks what building or inspecting images needs (an engine, debootstrap, root)."""


class JobImageError(ImageError):
    """The job image could not be rendered, looked up, built or pushed."""


class BuildSecretError(JobImageError):
    """A pip setting handed to the build carries credentials, which the image's history would keep."""


class PythonVersionMismatchError(JobImageError):
    """The base image's python3 differs from the client's: pickled electrons would not load in it."""


class ImageBuildError(JobImageError):
    """The engine could not build an image; ``tail`` holds the build's last lines."""

    def __init__(self, tag: str, tail: Iterable[str]) -> None:
        self.tail = list(tail)
        super().__init__(f"building job image {tag} failed:\n" + "\n".join(self.tail))
