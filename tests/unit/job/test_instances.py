"""Jobs of several instances: every instance runs the electron; the first one's result is the
electron's, the others write under rank-<k>/ (the runner as script mode runs it, S3 on moto)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import pytest

from covalent_braket_plugin import hybrid_jobs
from covalent_braket_plugin.job import runner
from covalent_braket_plugin.s3_layout import ElectronLocation
from covalent_braket_plugin.settings import BraketExecutorSettings

from .test_runner import BUCKET, OWNER, read, s3, s3_endpoint  # noqa: F401 - fixtures

HOSTS = ["algo-1", "algo-2"]


def test_rank_comes_from_sagemakers_resource_config(tmp_path: Path) -> None:
    hp_file = tmp_path / "hyperparameters.json"
    assert runner.instance_rank(str(hp_file)) == 0  # one instance: no resource config needed
    config = {"current_host": "algo-2", "hosts": HOSTS[::-1]}
    (tmp_path / "resourceconfig.json").write_text(json.dumps(config))
    assert runner.instance_rank(str(hp_file)) == 1
    assert runner.rank_output_uri("s3://b/p/output/", 0) == "s3://b/p/output/"
    assert runner.rank_output_uri("s3://b/p/output/", 1) == "s3://b/p/output/rank-1/"


def test_every_instance_runs_the_electron_and_the_first_gives_the_result(
    tmp_path: Path, s3: Any, s3_endpoint: str  # noqa: F811 - the fixtures of test_runner
) -> None:
    def electron() -> str:
        import json
        import os
        from pathlib import Path

        hp_file = Path(os.environ["AMZN_BRAKET_HP_FILE"])
        config = json.loads((hp_file.parent / "resourceconfig.json").read_text())
        print(f"ran on {config['current_host']}")
        return config["current_host"]

    task = cloudpickle.dumps((electron, (), {}))
    s3.put_object(Bucket=BUCKET, Key="jobs/two/task.pkl", Body=task)
    for host in HOSTS:  # as SageMaker starts the job's program on each of its instances
        root = tmp_path / host
        (root / "input" / "config").mkdir(parents=True)
        (root / "code").mkdir()
        shutil.copy(runner.source_path(), root / "code" / f"{runner.RUNNER_MODULE}.py")
        hp_file = root / "input" / "config" / "hyperparameters.json"
        hp_file.write_text(json.dumps({
            runner.TASK_URI_KEY: f"s3://{BUCKET}/jobs/two/task.pkl",
            runner.TASK_SHA256_KEY: hashlib.sha256(task).hexdigest(),
            runner.OUTPUT_URI_KEY: f"s3://{BUCKET}/jobs/two/output/",
            runner.BUCKET_OWNER_KEY: OWNER,
        }))
        (root / "input" / "config" / "resourceconfig.json").write_text(
            json.dumps({"current_host": host, "hosts": HOSTS})
        )
        env = {"PATH": os.environ["PATH"], "AWS_ENDPOINT_URL": s3_endpoint, "AWS_ACCESS_KEY_ID": "testing",
               "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
               "AMZN_BRAKET_HP_FILE": str(hp_file), "AMZN_BRAKET_JOB_RESULTS_DIR": str(root / "model")}
        done = subprocess.run([sys.executable, "-c", f"import {runner.RUNNER_MODULE} as r; r.main()"],
                              cwd=root / "code", env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr

    assert cloudpickle.loads(read(s3, f"jobs/two/output/{runner.RESULT_FILE}")) == "algo-1"
    assert read(s3, f"jobs/two/output/{runner.STDOUT_FILE}") == b"ran on algo-1\n"
    assert read(s3, f"jobs/two/output/rank-1/{runner.STDOUT_FILE}") == b"ran on algo-2\n"


def test_the_request_asks_for_the_instances_and_the_distribution() -> None:
    settings = BraketExecutorSettings.from_options(
        instance_count=2, distribution="data_parallel", classical_device="ml.p4d.24xlarge"
    )
    location = ElectronLocation.for_electron("amazon-braket-b", "d", 0, "job")
    request = hybrid_jobs.electron_job(
        settings, location, name="job", account_id=OWNER, image_uri="i", source_uri="s", source_sha256="x",
        task_uri="t", task_sha256="y",
    ).create_job_request()
    assert request["instanceConfig"]["instanceCount"] == 2
    assert request["hyperParameters"]["sagemaker_distributed_dataparallel_enabled"] == "true"
    assert request["hyperParameters"]["sagemaker_instance_type"] == "ml.p4d.24xlarge"
    single = hybrid_jobs.electron_job(
        BraketExecutorSettings.from_options(), location, name="job", account_id=OWNER, image_uri="i",
        source_uri="s", source_sha256="x", task_uri="t", task_sha256="y",
    ).create_job_request()
    assert single["instanceConfig"]["instanceCount"] == 1
    assert "sagemaker_distributed_dataparallel_enabled" not in single["hyperParameters"]


@pytest.mark.parametrize(
    ("options", "message"),
    [({"instance_count": 0}, "instance_count: 0 instances cannot run a job"),
     ({"distribution": "model_parallel"}, "distribution: 'model_parallel' is not a distribution"),
     ({"distribution": "data_parallel"}, "'data_parallel' does not run on classical_device 'ml.m5.large'")],
)
def test_bad_instance_settings_name_the_setting_and_the_fix(options: dict[str, Any], message: str) -> None:
    from covalent_braket_plugin.errors import ExecutorConfigError

    with pytest.raises(ExecutorConfigError, match=message):
        BraketExecutorSettings.from_options(**options)
