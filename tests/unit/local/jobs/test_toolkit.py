"""The training toolkit as the process runner plays it: arguments, variables, lines and failures."""

from __future__ import annotations

import json
import re
from pathlib import Path

from covalent_braket_plugin.local.jobs import instances, toolkit

TIMESTAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
JOB = {
    "jobName": "my-job",
    "jobArn": "arn:aws:braket:us-east-1:123456789012:job/u",
    "instanceConfig": {"instanceType": "ml.m5.large", "instanceCount": 2},
    "inputDataConfig": [{"channelName": "data", "dataSource": {"s3DataSource": {"s3Uri": "s3://b/k"}}}],
    "hyperParameters": {"shots": "10", "name": "bell", "angles": "[0.5, 1]", "x": "1.5",
                        "sagemaker_instance_type": "ml.p4d.24xlarge"},
}


def test_hyperparameters_become_sorted_arguments_with_json_values_decoded_and_encoded_again() -> None:
    assert toolkit.arguments(JOB["hyperParameters"]) == [
        "--angles", "[0.5, 1]", "--name", "bell", "--shots", "10", "-x", "1.5",
    ]
    assert toolkit.command("braket_container.py", {"shots": "10"}, "/usr/bin/python3") == [
        "/usr/bin/python3", "--", "braket_container.py", "--shots", "10",
    ]


def test_the_toolkits_own_hyperparameters_are_no_arguments_of_the_program() -> None:
    assert "sagemaker_instance_type" not in toolkit.hyperparameters(JOB["hyperParameters"])
    assert "--sagemaker_instance_type" not in toolkit.arguments(JOB["hyperParameters"])


def test_environment_names_hosts_channels_and_hyperparameters_as_the_toolkit_does() -> None:
    config = instances.resource_config(JOB, "algo-2")
    env = toolkit.environment(JOB, config, JOB["hyperParameters"], Path("/work/job"), "braket_container.py")
    assert env["SM_HOSTS"] == '["algo-1","algo-2"]'
    assert env["SM_CURRENT_HOST"] == "algo-2"
    assert env["SM_CHANNELS"] == '["data"]'
    assert env["SM_CHANNEL_DATA"] == "/work/job/input/data/data"
    assert env["SM_HP_SHOTS"] == "10"
    assert env["SM_HP_NAME"] == "bell"
    assert json.loads(env["SM_HPS"])["angles"] == [0.5, 1]
    assert env["SM_MODEL_DIR"] == "/work/job/model"
    assert env["SM_USER_ENTRY_POINT"] == "braket_container.py"
    assert env["SM_MODULE_NAME"] == "braket_container"
    assert json.loads(env["SM_USER_ARGS"]) == toolkit.arguments(JOB["hyperParameters"])
    assert json.loads(env["SM_RESOURCE_CONFIG"]) == config


def test_input_data_config_describes_each_channel() -> None:
    assert toolkit.input_data_config(JOB) == {
        "data": {"TrainingInputMode": "File", "S3DistributionType": "FullyReplicated",
                 "RecordWrapperType": "None"}
    }
    assert toolkit.input_data_config({}) == {}


def test_start_lines_name_the_program_and_the_training_environment() -> None:
    config = instances.resource_config(JOB, "algo-1")
    env = {**toolkit.environment(JOB, config, JOB["hyperParameters"], Path("/opt/ml"),
                                   "braket_container.py"),
           "AMZN_BRAKET_JOB_NAME": "my-job"}
    command = ["/usr/local/bin/python3.12", "--", "braket_container.py", "--shots", "10"]
    lines = toolkit.start_lines(env, command)
    assert lines[-2:] == [
        "Invoking script with the following command:",
        "/usr/local/bin/python3.12 -- braket_container.py --shots 10",
    ]
    training_env = json.loads("\n".join(lines[2:-2]))
    assert training_env["user_entry_point"] == "braket_container.py"
    assert training_env["channel_input_dirs"] == {"data": "/opt/ml/input/data/data"}
    assert training_env["hyperparameters"]["shots"] == 10
    assert training_env["job_name"] == "my-job"
    assert re.fullmatch(rf"{TIMESTAMP} sagemaker-training-toolkit INFO     Invoking user script", lines[0])


def test_end_lines_report_success_or_failure() -> None:
    (success,) = toolkit.end_lines(0)
    assert re.fullmatch(rf"{TIMESTAMP} sagemaker-training-toolkit INFO     Reporting training SUCCESS",
                        success)
    failure = toolkit.end_lines(2)
    assert failure[0].endswith("sagemaker-training-toolkit ERROR    Reporting training FAILURE")
    assert "ExitCode 2" in failure
    assert failure[-1].endswith("Encountered exit_code 1")


def test_failure_message_is_the_toolkits() -> None:
    assert toolkit.failure_message(3, ["python3", "--", "braket_container.py"]) == (
        'ExecuteUserScriptError:\nExitCode 3\nErrorMessage ""\nCommand "python3 -- braket_container.py"'
    )
