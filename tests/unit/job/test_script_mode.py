"""Script mode without S3: unpacking the source, hyperparameters as arguments, how user code fails,
and the environment and failure reasons of the job container contract."""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from covalent_braket_plugin import hybrid_jobs
from covalent_braket_plugin.job import runner, script_mode
from covalent_braket_plugin.local.jobs import toolkit
from covalent_braket_plugin.local.jobs.contract import (
    FAILURE_REASON_LIMIT,
    JobLayout,
    JobPaths,
    failure_reason,
    job_environment,
    log_stream_name,
)
from covalent_braket_plugin.s3_layout import ElectronLocation
from covalent_braket_plugin.settings import BraketExecutorSettings

JOB = {
    "jobArn": "arn:aws:braket:eu-north-1:123456789012:job/0b1d7a2e-0000-4000-8000-000000000001",
    "jobName": "my-job",
    "algorithmSpecification": {
        "scriptModeConfig": {"entryPoint": "pkg.mod:main", "s3Uri": "s3://b/jobs/my-job/script/source.tar.gz"}
    },
    "outputDataConfig": {"s3Path": "s3://amazon-braket-out/jobs/my-job/data"},
    "checkpointConfig": {"s3Uri": "s3://amazon-braket-out/jobs/my-job/checkpoints"},
    "deviceConfig": {"device": "arn:aws:braket:::device/quantum-simulator/amazon/sv1"},
}


def write_code(root: Path, files: dict[str, str]) -> Path:
    code = script_mode.code_dir(root)
    for name, text in files.items():
        (code / name).parent.mkdir(parents=True, exist_ok=True)
        (code / name).write_text(text)
    return code


def run_child(root: Path, entry_point: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run the user-code half of script mode as the parent does: a child with cwd = code dir."""
    env = {**(os.environ if env is None else env), script_mode.BASE_DIR_VARIABLE: str(root)}
    return subprocess.run(
        [sys.executable, script_mode.__file__, script_mode.RUN_CHILD_FLAG, entry_point],
        cwd=script_mode.code_dir(root), env=env, capture_output=True, text=True, check=False,
    )


def test_gzip_source_is_unpacked_with_its_folders(tmp_path):
    archive = tmp_path / "source.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        data = b"x = 1\n"
        info = tarfile.TarInfo("pkg/mod.py")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    script_mode.unpack_source(archive, "GZIP", tmp_path / "code")
    assert (tmp_path / "code" / "pkg" / "mod.py").read_text() == "x = 1\n"


def test_uncompressed_source_is_one_file(tmp_path):
    source = tmp_path / "algorithm.py"
    source.write_text("print('hi')\n")
    script_mode.unpack_source(source, "NONE", tmp_path / "code")
    assert (tmp_path / "code" / "algorithm.py").read_text() == "print('hi')\n"


def test_a_broken_archive_and_an_unknown_compression_are_script_mode_errors(tmp_path):
    broken = tmp_path / "source.tar.gz"
    broken.write_bytes(b"not an archive")
    with pytest.raises(script_mode.ScriptModeError, match="Unable to unpack"):
        script_mode.unpack_source(broken, "GZIP", tmp_path / "code")
    with pytest.raises(script_mode.ScriptModeError, match="Unknown compression"):
        script_mode.unpack_source(broken, "BZIP2", tmp_path / "code")


def test_missing_script_settings_are_reported(monkeypatch):
    monkeypatch.delenv("AMZN_BRAKET_SCRIPT_S3_URI", raising=False)
    with pytest.raises(script_mode.ScriptModeError, match="No customer script"):
        script_mode.script_settings()
    monkeypatch.setenv("AMZN_BRAKET_SCRIPT_S3_URI", "s3://b/k")
    monkeypatch.delenv("AMZN_BRAKET_SCRIPT_ENTRY_POINT", raising=False)
    with pytest.raises(script_mode.ScriptModeError, match="No customer entry point"):
        script_mode.script_settings()
    monkeypatch.setenv("AMZN_BRAKET_SCRIPT_ENTRY_POINT", "m:f")
    monkeypatch.delenv("AMZN_BRAKET_SCRIPT_COMPRESSION_TYPE", raising=False)
    assert script_mode.script_settings() == ("s3://b/k", "m:f", "NONE")


def test_setup_failure_is_written_to_the_failure_file(tmp_path, monkeypatch):
    monkeypatch.delenv("AMZN_BRAKET_SCRIPT_S3_URI", raising=False)
    monkeypatch.setenv(script_mode.BASE_DIR_VARIABLE, str(tmp_path))
    assert script_mode.main([]) == 1
    assert "No customer script specified" in script_mode.failure_file(tmp_path).read_text()


def test_hyperparameters_bind_with_their_annotations(tmp_path, monkeypatch):
    hp_file = tmp_path / "hyperparameters.json"
    hp_file.write_text(json.dumps({"shots": "100", "name": "bell"}))
    monkeypatch.setenv("AMZN_BRAKET_HP_FILE", str(hp_file))

    def takes_them(shots: int, name):
        return shots, name

    def takes_none():
        return None

    assert script_mode.bind_hyperparameters(takes_them) == {"shots": 100, "name": "bell"}
    assert script_mode.bind_hyperparameters(takes_none) == {}


def test_exception_in_user_code_is_recorded_with_its_type(tmp_path):
    write_code(tmp_path, {"algo.py": "def main():\n    raise ValueError('bad')\n"})

    child = run_child(tmp_path, "algo:main")

    assert child.returncode == 1
    assert script_mode.failure_file(tmp_path).read_text() == "ValueError: bad"
    assert "Traceback" in child.stderr


def test_module_entry_point_keeps_its_exit_code(tmp_path):
    write_code(tmp_path, {"algo.py": "import sys\nprint('as main:', __name__)\nsys.exit(4)\n"})

    child = run_child(tmp_path, "algo")

    assert child.returncode == 4
    assert "as main: __main__" in child.stdout
    assert not script_mode.failure_file(tmp_path).exists()


def test_user_code_is_not_shadowed_by_the_plugin_package(tmp_path):
    """The plugin package holds a braket.py; user code importing the Braket SDK must get the SDK."""
    code = "import braket.circuits\ndef main():\n    print(braket.circuits.Circuit)\n"
    write_code(tmp_path, {"algo.py": code})

    child = run_child(tmp_path, "algo:main")

    assert child.returncode == 0, child.stderr
    assert "Circuit" in child.stdout


def test_negative_return_codes_become_shell_style_exit_statuses():
    assert script_mode.exit_status(-9) == 137
    assert script_mode.exit_status(2) == 2


def test_job_environment_follows_the_container_contract(tmp_path):
    layout = JobLayout.create(tmp_path, JOB)
    env = job_environment(JOB, "tok", JobPaths.on_host(layout), {"AWS_ENDPOINT_URL": "http://127.0.0.1:1"})

    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:1"
    assert env["AWS_DEFAULT_REGION"] == env["AWS_REGION"] == "eu-north-1"
    assert env["AMZN_BRAKET_JOB_NAME"] == "my-job"
    assert env["AMZN_BRAKET_JOB_TOKEN"] == "tok"
    assert env["AMZN_BRAKET_OUT_S3_BUCKET"] == "amazon-braket-out"
    assert env["AMZN_BRAKET_TASK_RESULTS_S3_URI"] == "s3://amazon-braket-out/jobs/my-job/tasks"
    assert env["AMZN_BRAKET_JOB_RESULTS_S3_PATH"] == "jobs/my-job/data/output"
    assert env["AMZN_BRAKET_INPUT_DIR"] == str(layout.input_data)
    assert env["AMZN_BRAKET_SCRIPT_ENTRY_POINT"] == "pkg.mod:main"
    assert env["AMZN_BRAKET_SCRIPT_COMPRESSION_TYPE"] == "NONE"
    container = JobPaths.in_container(JOB)
    assert container.results == "/opt/braket/model"
    assert container.hyperparameters_file == "/opt/braket/input/config/hyperparameters.json"
    assert container.checkpoints == "/opt/braket/checkpoints"
    assert log_stream_name(JOB) == "my-job/0b1d7a2e-0000-4000-8000-000000000001"


def test_failure_reasons_name_the_error_and_fit_the_model():
    assert failure_reason("ValueError: bad", 1) == "AlgorithmError: ValueError: bad, exit code: 1"
    assert "exited with code 137" in failure_reason("", 137)
    assert len(failure_reason("x" * 5000, 1)) == FAILURE_REASON_LIMIT


def test_a_source_whose_digest_differs_from_the_hyperparameters_is_refused(tmp_path):
    source = tmp_path / "source.tar.gz"
    source.write_bytes(b"the archive as uploaded at submission")
    fixed = hashlib.sha256(source.read_bytes()).hexdigest()

    script_mode.verify_source(source, {script_mode.SOURCE_SHA256_KEY: fixed})
    script_mode.verify_source(source, {})  # a job that fixes no digest (not the executor's) runs as is
    source.write_bytes(b"rewritten by someone who may write to the bucket")
    with pytest.raises(script_mode.ScriptModeError, match="changed after submission"):
        script_mode.verify_source(source, {script_mode.SOURCE_SHA256_KEY: fixed})



def test_the_toolkits_arguments_for_an_executor_job_reach_its_entry_point(tmp_path, monkeypatch):
    """The training toolkit passes every hyperparameter of the executor's CreateJob as ``--name value``;
    the program must run the job all the same, reading its settings from the hyperparameters file."""
    archive = tmp_path / "source.tar.gz"
    entry = b"import os, pathlib\ndef main():\n    pathlib.Path(os.environ['MARKER']).write_text('ran')\n"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("entry_mod.py")
        info.size = len(entry)
        tar.addfile(info, io.BytesIO(entry))
    location = ElectronLocation.for_electron("amazon-braket-b", "d", 0, "job")
    request = hybrid_jobs.electron_job(
        BraketExecutorSettings.from_options(), location, name="job", account_id="123456789012",
        image_uri="i", source_uri="s3://amazon-braket-b/source.tar.gz",
        source_sha256=hashlib.sha256(archive.read_bytes()).hexdigest(),
        task_uri="s3://amazon-braket-b/d/0/task.pkl", task_sha256="0123456789",
    ).create_job_request()
    root = tmp_path / "ml"
    (root / "input" / "config").mkdir(parents=True)
    hp_file = root / "input" / "config" / "hyperparameters.json"
    hp_file.write_text(json.dumps(request["hyperParameters"]))
    argv = toolkit.arguments(request["hyperParameters"])
    assert argv[argv.index(f"--{runner.TASK_URI_KEY}") + 1] == "s3://amazon-braket-b/d/0/task.pkl"
    assert argv[argv.index(f"--{runner.TASK_SHA256_KEY}") + 1] == "0123456789"  # JSON-decoded, re-encoded

    monkeypatch.setattr(script_mode, "download_source", lambda uri, dest: Path(shutil.copy(archive, dest)))
    monkeypatch.setenv(script_mode.BASE_DIR_VARIABLE, str(root))
    monkeypatch.setenv("AMZN_BRAKET_HP_FILE", str(hp_file))
    monkeypatch.setenv("AMZN_BRAKET_SCRIPT_S3_URI", "s3://amazon-braket-b/source.tar.gz")
    monkeypatch.setenv("AMZN_BRAKET_SCRIPT_ENTRY_POINT", "entry_mod:main")
    monkeypatch.setenv("AMZN_BRAKET_SCRIPT_COMPRESSION_TYPE", "GZIP")
    monkeypatch.setenv("MARKER", str(tmp_path / "marker"))
    (script_mode.code_dir(root).parent / "original").mkdir(parents=True)

    assert script_mode.main(argv) == 0, script_mode.failure_file(root).read_text()
    assert (tmp_path / "marker").read_text() == "ran"
