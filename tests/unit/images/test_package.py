"""The images package names every public part of its modules, so callers import from one place."""

from __future__ import annotations

import importlib

import pytest

from covalent_braket_plugin import images

PARTS = ("problems", "recipe", "engine", "registry")


@pytest.mark.parametrize("part", PARTS)
def test_every_public_name_of_a_part_is_the_packages(part: str) -> None:
    module = importlib.import_module(f"{images.__name__}.{part}")
    public = {name for name, value in vars(module).items()
              if not name.startswith("_") and getattr(value, "__module__", module.__name__) == module.__name__
              and not isinstance(value, type(importlib))}
    public -= {"annotations"}
    missing = sorted(name for name in public if getattr(images, name, None) is not getattr(module, name))
    assert not missing, f"images/{part}.py names these, the package does not: {missing}"
    assert set(images.__all__) >= public
