"""Building a recipe in the engine: the one fault of the classic builder that a second build mends."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from covalent_braket_plugin import images

LOST_LAYER = ("failed to export image: failed to create image: failed to get layer "
              "sha256:3da75fa18a6f94271f7d1d07462745105c21fd997b74699b5b80569647dee837: layer does not exist")


class Engine:
    """The low-level build API, answering each build with the next of ``answers`` (lists of chunks)."""

    def __init__(self, *answers: list[dict[str, Any]]) -> None:
        self.answers = list(answers)
        self.builds = 0
        self.api = self

    def build(self, **_: Any) -> Iterator[dict[str, Any]]:
        self.builds += 1
        return iter(self.answers.pop(0))


STEP = {"stream": "Step 12/13 : COPY --from=toolkit /tmp/covalent-braket-wheels /tmp/wheels\n"}


def test_a_lost_layer_is_built_again_once() -> None:
    engine = Engine([STEP, {"error": LOST_LAYER}], [STEP, {"stream": "Successfully built 1234\n"}])
    lines: list[str] = []
    images.build_image(engine, images.make_recipe("base"), "job:1", {}, lines.append)  # type: ignore[arg-type]
    assert engine.builds == 2
    assert any("building it again" in line for line in lines)
    assert lines[-1] == "Successfully built 1234"


def test_a_layer_lost_twice_and_any_other_failure_are_the_builds() -> None:
    twice = Engine([STEP, {"error": LOST_LAYER}], [STEP, {"error": LOST_LAYER}])
    with pytest.raises(images.ImageBuildError, match="layer does not exist"):
        images.build_image(twice, images.make_recipe("base"), "job:1", {},  # type: ignore[arg-type]
                           lambda line: None)
    assert twice.builds == 2
    other = Engine([STEP, {"error": "COPY failed: no source files were specified"}])
    with pytest.raises(images.ImageBuildError, match="no source files"):
        images.build_image(other, images.make_recipe("base"), "job:1", {},  # type: ignore[arg-type]
                           lambda line: None)
    assert other.builds == 1
