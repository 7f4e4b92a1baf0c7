"""What an environment's packages cost, three ways, measured in one run on this machine's Docker engine.

    python bench/image_builds.py [--packages tabulate==0.9.0 ...] [--base IMAGE]

1. **Cold build**: the job image of environment A (``--packages``' first half) with no layer cached
   (``nocache``): what the first electron of a new client waits for.
2. **A new environment when the shared layers exist**: environment B (the second half) right after,
   the layers every environment of the client shares (covalent, cloudpickle, boto3, the Braket SDK)
   cached: what each later environment costs, once.
3. **``pip install`` at job start**: the same packages as B installed when a container of the shared
   image starts, as ``@hybrid_job``'s ``dependencies`` and Covalent's ``deps_pip`` do: what *every*
   job of that environment pays.

Builds go through the executor's own recipe and build context (``images/recipe.py`` and
``images/engine.py``), on the base image of ``ensure_base_image()`` unless ``--base`` names another;
nothing is pushed. pip reaches the
index as the build does (this machine's PIP_* settings and CA bundle).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence

import docker

from covalent_braket_plugin import images
from covalent_braket_plugin.executor import image_builds
from covalent_braket_plugin.local.base_image import ensure_base_image

DEFAULT_PACKAGES = ("tabulate==0.9.0", "python-dateutil==2.9.0.post0", "six==1.16.0", "pyparsing==3.1.2")
CA_IN_IMAGE = f"/tmp/covalent-braket-{images.CA_BUNDLE_NAME}"


def build(
    client: docker.DockerClient, base: str, packages: Sequence[str], nocache: bool
) -> tuple[str, float]:
    """Build the job image of ``packages`` on ``base``; return its local name and the seconds taken."""
    recipe = images.make_recipe(base, packages)
    tag = f"{image_builds.LOCAL_REPOSITORY}:bench-{recipe.tag}"
    started = time.perf_counter()
    stream = client.api.build(
        fileobj=images.build_context(recipe, images.pip_ca_bundle()), custom_context=True, tag=tag,
        buildargs=images.pip_build_args(), network_mode="host", rm=True, forcerm=True, nocache=nocache,
        decode=True, timeout=images.ENGINE_TIMEOUT_S,
    )
    for chunk in stream:
        if "error" in chunk:
            raise images.JobImageError(str(chunk["error"]))
    return tag, time.perf_counter() - started


def pip_at_start(client: docker.DockerClient, image: str, packages: Sequence[str]) -> float:
    """Seconds a container of ``image`` takes to pip-install ``packages`` when it starts."""
    command = ["python3", "-m", "pip", "install", "--no-input", "-q", *packages]
    environment = images.pip_build_args()
    if images.pip_ca_bundle():  # the bundle the build copied into the image, as the build uses it
        environment["PIP_CERT"] = CA_IN_IMAGE
    started = time.perf_counter()
    client.containers.run(image, command, environment=environment, network_mode="host", remove=True)
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--packages", nargs="+", default=list(DEFAULT_PACKAGES),
                        help="pip requirements: the first half is environment A, the second B")
    parser.add_argument("--base", help="base image (default: the local Debian base image)")
    args = parser.parse_args(argv)
    half = len(args.packages) // 2
    env_a, env_b = args.packages[:half], args.packages[half:]
    client = images.docker_client()
    base = args.base or ensure_base_image(client=client)

    _, cold = build(client, base, env_a, nocache=True)
    image_b, warm = build(client, base, env_b, nocache=False)
    shared, _ = build(client, base, [], nocache=False)  # the shared layers alone: cached by now
    at_start = pip_at_start(client, shared, env_b)
    client.images.remove(image_b, force=True)

    print(f"environment A: {' '.join(env_a)}; environment B: {' '.join(env_b)}")
    print(f"{'what':58} {'seconds':>8}")
    print(f"{'cold build of A (the first electron of a new client)':58} {cold:8.1f}")
    print(f"{'build of B with the shared layers cached (once)':58} {warm:8.1f}")
    print(f"{'pip install of B at job start (every job)':58} {at_start:8.1f}")


if __name__ == "__main__":
    main()
