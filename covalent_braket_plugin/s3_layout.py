"""Where an electron's objects live in S3, under one root of the bucket.

``covalent-braket/<dispatch>/<node>/<job name>/`` holds one attempt of one electron: the pickled call
(``task.pkl``), the job's own output (``job/``) and what the runner sends back (``output/``). The
runner's archives lie under ``covalent-braket/runner/``, one per version. The executor writes this
layout; the job role's policy, the bucket's expiry rule and the listings of jobs read it.
"""

from __future__ import annotations

from dataclasses import dataclass

from covalent_braket_plugin.job import runner

KEY_ROOT = "covalent-braket"
INPUT_PREFIX = f"{KEY_ROOT}/input"
"""Where local input data is staged, one prefix per content digest, shared by the electrons using it."""
RUNNER_PREFIX = f"{KEY_ROOT}/runner/"
"""Where the runner's archives lie, one key per version, shared by every electron of that version."""


@dataclass(frozen=True)
class ElectronLocation:
    """Where one attempt of one electron keeps its objects."""

    bucket: str
    prefix: str

    @classmethod
    def for_electron(cls, bucket: str, dispatch_id: str, node_id: int, job_name: str) -> ElectronLocation:
        return cls(bucket, f"{KEY_ROOT}/{dispatch_id}/{node_id}/{job_name}/")

    @classmethod
    def from_output_uri(cls, uri: str) -> ElectronLocation:
        """The location whose ``output_prefix`` the URI names (a job's output URI hyperparameter)."""
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        if not uri.startswith("s3://") or not key.endswith("/output/"):
            raise ValueError(f"not the output URI of an electron's job: {uri!r}")
        return cls(bucket, key.removesuffix("output/"))

    @property
    def call_key(self) -> str:
        return f"{self.prefix}task.pkl"

    @property
    def output_prefix(self) -> str:
        """Where the runner writes the result, stdout, stderr and the error report."""
        return f"{self.prefix}output/"

    @property
    def result_key(self) -> str:
        return f"{self.output_prefix}{runner.RESULT_FILE}"

    @property
    def job_output_prefix(self) -> str:
        """The job's outputDataConfig: Braket's own artefacts (model.tar.gz) land here."""
        return f"{self.prefix}job/"

    def uri(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"
