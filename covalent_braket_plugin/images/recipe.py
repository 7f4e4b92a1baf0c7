"""A job image's recipe: ``Dockerfile.template`` rendered, the build context, and the tag that names it.

An image holds an environment only (base image, Python, the training toolkit, covalent, cloudpickle,
boto3, the Braket SDK, the electron's pip packages, the script-mode program), never an electron, and
its tag is a hash of exactly that, so electrons that need the same environment share one image.
"""

from __future__ import annotations

import hashlib
import re
import shlex
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata, resources
from pathlib import PurePosixPath

from covalent_braket_plugin.images.problems import JobImageError

TEMPLATE_NAME = "Dockerfile.template"
# The script-mode program, shipped in the package; the image runs it as SAGEMAKER_PROGRAM.
SCRIPT_MODE_MODULE_FILE = "script_mode.py"
SCRIPT_MODE_PROGRAM = "braket_container.py"
CA_BUNDLE_NAME = "pip-ca.pem"
TAG_LENGTH = 24
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")
PYTHON_LABEL = "io.covalent-braket.python"
COVALENT_LABEL = "io.covalent-braket.covalent"
BRAKET_SDK_LABEL = "io.covalent-braket.braket-sdk"
"""Labels of every job image (see ``Dockerfile.template``): its Python minor, covalent and Braket SDK
versions."""
BRAKET_SDK_DISTRIBUTION = "amazon-braket-sdk"
TOOLKIT_LABEL = "io.covalent-braket.toolkit"
TOOLKIT_DISTRIBUTION = "sagemaker-training"
TOOLKIT_VERSION = "5.1.4"
"""The training toolkit a job image gets when its base has none: Amazon Braket starts every job
container as ``docker run IMAGE train``, and ``train`` is this package's command. A base that has
the toolkit (Braket's base image carries 5.1.1) keeps its own."""
TOOLKIT_WHEELS_DIR = "/tmp/covalent-braket-wheels"
"""Where the template's first stage leaves the toolkit's wheel for the job image to install."""
TOOLKIT_CHECK = 'command -v train >/dev/null && python3 -c "import sagemaker_training.cli.train"'
"""The shell check, last in the shared layer, that the image can be started as Braket starts it."""
NO_TOOLKIT_MARKER = "covalent-braket: no training toolkit:"
JOB_PIP_CONFIG = "/etc/covalent-braket/pip.conf"
"""pip's configuration in the job (``PIP_CONFIG_FILE``): the CA bundle the build needed, if any."""
@dataclass(frozen=True)
class ImageRecipe:
    """Everything that defines one job image: the rendered Dockerfile, the context files and the tag."""

    dockerfile: str
    context: Mapping[str, bytes]
    tag: str


def client_python_minor() -> str:
    """``major.minor`` of the Python running this client, e.g. ``"3.11"``."""
    return "{}.{}".format(*sys.version_info[:2])


@cache
def script_mode_source() -> bytes:
    """The script-mode program the image runs as SAGEMAKER_PROGRAM, read from the installed package."""
    return (resources.files("covalent_braket_plugin.job") / SCRIPT_MODE_MODULE_FILE).read_bytes()


@cache
def _template() -> str:
    return (resources.files("covalent_braket_plugin.job") / TEMPLATE_NAME).read_text()


def _pip_install_command(requirements: Iterable[str], wheels: str = "") -> str:
    """A shell command installing ``requirements`` (and the wheels in the directory ``wheels``, if
    any) into the image's python3.

    The CA bundle goes through PIP_CERT, not an option: pip hands its environment on to the pip it
    starts for building sdists, where options do not reach.
    """
    quoted = " ".join(shlex.quote(requirement) for requirement in requirements)
    if wheels:
        quoted = f"$(find {wheels} -name '*.whl') {quoted}"
    ca_path = f"/tmp/covalent-braket-{CA_BUNDLE_NAME}"
    return f"if [ -s {ca_path} ]; then export PIP_CERT={ca_path}; fi && python3 -m pip install {quoted}"


def _keep_ca_bundle_command() -> str:
    """A shell command writing pip's configuration for the job: the build's CA bundle as ``cert``
    when the build had one (behind a TLS-intercepting proxy, the job's pip needs it as the build's
    did), nothing otherwise. The bundle is not part of the tag, so the decision is the build's."""
    ca_path = f"/tmp/covalent-braket-{CA_BUNDLE_NAME}"
    return (
        f"mkdir -p {PurePosixPath(JOB_PIP_CONFIG).parent} && if [ -s {ca_path} ]; then "
        f"printf '[global]\\ncert = %s\\n' {ca_path} > {JOB_PIP_CONFIG}; fi"
    )


def render_dockerfile(
    base_image: str,
    pip_packages: Iterable[str] = (),
    python_minor: str | None = None,
    covalent_version: str | None = None,
    cloudpickle_version: str | None = None,
    braket_sdk_version: str | None = None,
) -> str:
    """The template filled in; versions default to the ones this client runs.

    covalent and cloudpickle are pinned to the client's versions because the electron is a cloudpickle
    of covalent objects: other versions may not load it. The Braket SDK is pinned to the client's
    too: a Braket job is always meant to reach Braket, and the circuits and results an electron
    exchanges with the client are SDK objects. pip leaves an SDK of that version in the base image
    alone and replaces any other. The electron's packages are sorted and deduplicated so that the
    same environment always renders the same file (and gets the same tag).
    """
    template = _template()
    packages = sorted({package.strip() for package in pip_packages if package.strip()})
    covalent_version = covalent_version or metadata.version("covalent")
    braket_sdk_version = braket_sdk_version or metadata.version(BRAKET_SDK_DISTRIBUTION)
    base = [
        f"covalent=={covalent_version}",
        f"cloudpickle=={cloudpickle_version or metadata.version('cloudpickle')}",
        "boto3",
        f"{BRAKET_SDK_DISTRIBUTION}=={braket_sdk_version}",
    ]
    values = {
        "base_image": base_image,
        "python_minor": python_minor or client_python_minor(),
        "covalent_version": covalent_version,
        "braket_sdk_version": braket_sdk_version,
        "toolkit_version": TOOLKIT_VERSION,
        "toolkit_requirement": f"{TOOLKIT_DISTRIBUTION}=={TOOLKIT_VERSION}",
        "no_toolkit_marker": NO_TOOLKIT_MARKER,
        "toolkit_check": TOOLKIT_CHECK,
        "job_pip_config": JOB_PIP_CONFIG,
        "keep_ca_bundle": _keep_ca_bundle_command(),
        "base_install": _pip_install_command(base, wheels=TOOLKIT_WHEELS_DIR),
        "electron_install": f"RUN {_pip_install_command(packages)}" if packages else "# (no packages)",
    }
    missing = sorted(set(_PLACEHOLDER.findall(template)) - set(values))
    if missing:
        raise JobImageError(f"{TEMPLATE_NAME} has placeholders with no value: {missing}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def image_tag(rendered: str, context: Mapping[str, bytes]) -> str:
    """A content hash (sha256 prefix) of the rendered Dockerfile and the build context files.

    The pip CA bundle is not part of it: it says how this machine reaches its package index, not
    what the image holds, and would give the same environment a different tag on every machine.
    """
    digest = hashlib.sha256()
    for name, data in [("Dockerfile", rendered.encode()), *sorted(context.items())]:
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()[:TAG_LENGTH]


def make_recipe(base_image: str, pip_packages: Iterable[str] = ()) -> ImageRecipe:
    """The recipe of the image for ``pip_packages`` on ``base_image`` with this client's versions."""
    dockerfile = render_dockerfile(base_image, pip_packages)
    context = {SCRIPT_MODE_PROGRAM: script_mode_source()}
    return ImageRecipe(dockerfile=dockerfile, context=context, tag=image_tag(dockerfile, context))
