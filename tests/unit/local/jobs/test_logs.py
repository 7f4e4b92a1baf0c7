"""The training toolkit's lines around a job's program, as Braket's job containers log them."""

from __future__ import annotations

import json
import re

from covalent_braket_plugin.local.jobs.logs import toolkit_end_lines, toolkit_start_lines

ENV = {
    "AMZN_BRAKET_INPUT_DIR": "/opt/ml/input/data",
    "AMZN_BRAKET_HP_FILE": "/opt/ml/input/config/hyperparameters.json",
    "AMZN_BRAKET_JOB_NAME": "my-job",
    "AMZN_BRAKET_JOB_RESULTS_DIR": "/opt/ml/model",
}
TIMESTAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"


def test_start_lines_name_the_program_and_the_training_environment() -> None:
    job = {"inputDataConfig": [{"channelName": "data"}], "hyperParameters": {"shots": "10"}}
    lines = toolkit_start_lines(job, ENV, ["/usr/local/bin/python3.12", "braket_container.py"])
    assert lines[-2:] == [
        "Invoking script with the following command:",
        "/usr/local/bin/python3.12 braket_container.py",
    ]
    training_env = json.loads("\n".join(lines[2:-2]))
    assert training_env["user_entry_point"] == "braket_container.py"
    assert training_env["channel_input_dirs"] == {"data": "/opt/ml/input/data/data"}
    assert training_env["hyperparameters"] == {"shots": "10"}
    assert re.fullmatch(
        rf"{TIMESTAMP} sagemaker-training-toolkit INFO     Invoking user training script\.", lines[0]
    )


def test_end_lines_report_success_or_failure() -> None:
    (success,) = toolkit_end_lines(0)
    assert re.fullmatch(
        rf"{TIMESTAMP} sagemaker-training-toolkit INFO     Reporting training SUCCESS", success
    )
    failure = toolkit_end_lines(2)
    assert failure[0].endswith("sagemaker-training-toolkit ERROR    Reporting training FAILURE")
    assert failure[-1] == "ExitCode 2"
