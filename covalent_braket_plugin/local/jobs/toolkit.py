"""What SageMaker's training toolkit does between Braket starting a job's container and its program.

Amazon Braket starts a job's container SageMaker-style, ``docker run IMAGE train``. ``train`` is the
console script of the sagemaker-training package; it reads ``/opt/ml/input/config/``
(``hyperparameters.json``, ``resourceconfig.json``, ``inputdataconfig.json``), exports the ``SM_*``
variables, waits until every host's name resolves, and runs ``python3 -- $SAGEMAKER_PROGRAM`` in
``/opt/ml/code`` with every hyperparameter as a ``--name value`` argument. When the program exits
with a code other than 0 it writes ``output/failure`` (unless the program wrote one) and exits 1.

A container on the docker runner runs the real toolkit, so the image proves it can be started by
Braket. The process runner has no image: it stands in for the toolkit with this module, giving the
program the same arguments, variables, log lines, failure file and exit code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

TRAIN_COMMAND = "train"
"""The command Braket gives a job's container (the toolkit's console script)."""
BASE_DIR_VARIABLE = "SAGEMAKER_BASE_DIR"
"""The toolkit's variable for a base dir other than /opt/ml; the process runner sets it."""
NAME = "sagemaker-training-toolkit"
FAILURE_EXIT_CODE = 1
"""What the toolkit exits with when the program failed, whatever the program's own code."""
SAGEMAKER_PREFIX = "sagemaker_"
"""Hyperparameters of this prefix are the toolkit's own settings, not the program's arguments."""


def hyperparameters(raw: Mapping[str, str]) -> dict[str, Any]:
    """The program's hyperparameters as the toolkit reads them: each value JSON-decoded where it can
    be (``"3"`` becomes 3, ``"abc"`` stays a string), the toolkit's own ``sagemaker_*`` left out."""
    decoded: dict[str, Any] = {}
    for name, value in raw.items():
        if name.startswith(SAGEMAKER_PREFIX):
            continue
        try:
            decoded[name] = json.loads(value)
        except (TypeError, ValueError):
            decoded[name] = value
    return decoded


def _text(value: Any) -> str:
    """A value as the toolkit writes it into an argument."""
    if isinstance(value, str):
        return value
    if hasattr(value, "items"):
        return ",".join(f"{key}={item}" for key, item in sorted(value.items()))
    return str(value)


def _variable_text(value: Any) -> str:
    """A value as the toolkit writes it into an ``SM_*`` variable: strings as they are, else JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def arguments(raw: Mapping[str, str]) -> list[str]:
    """``--name value`` for every hyperparameter, sorted by name (``-n`` for a one-letter name)."""
    decoded = hyperparameters(raw)
    args: list[str] = []
    for name in sorted(decoded):
        args += [f"--{name}" if len(name) > 1 else f"-{name}", _text(decoded[name])]
    return args


def input_data_config(job: Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """``inputdataconfig.json``: each input channel of the job, as SageMaker describes it."""
    return {
        channel["channelName"]: {
            "TrainingInputMode": "File",
            "S3DistributionType": "FullyReplicated",
            "RecordWrapperType": "None",
        }
        for channel in job.get("inputDataConfig") or []
    }


def command(program: str, raw_hyperparameters: Mapping[str, str], python: str) -> list[str]:
    """The toolkit's command for a Python program: ``python -- program --name value ...``."""
    return [python, "--", program, *arguments(raw_hyperparameters)]


def environment(
    job: Mapping[str, Any], resource_config: Mapping[str, Any], raw_hyperparameters: Mapping[str, str],
    base_dir: Path, program: str,
) -> dict[str, str]:
    """The ``SM_*`` variables the toolkit gives the program, for a job whose /opt/ml is ``base_dir`` and
    whose ``hyperparameters.json`` holds ``raw_hyperparameters``."""
    decoded = hyperparameters(raw_hyperparameters)
    channels = input_data_config(job)
    input_dir = base_dir / "input"
    output_dir = base_dir / "output"
    values: dict[str, Any] = {
        "hosts": resource_config["hosts"],
        "current_host": resource_config["current_host"],
        "current_instance_type": resource_config.get("current_instance_type", "local"),
        "current_instance_group": resource_config.get("current_group_name", "homogeneousCluster"),
        "network_interface_name": resource_config.get("network_interface_name", "eth0"),
        "resource_config": dict(resource_config),
        "input_data_config": channels,
        "channels": sorted(channels),
        "hps": decoded,
        "user_args": arguments(raw_hyperparameters),
        "user_entry_point": program,
        "module_name": program.removesuffix(".py"),
        "module_dir": str(base_dir / "code"),
        "model_dir": str(base_dir / "model"),
        "input_dir": str(input_dir),
        "input_config_dir": str(input_dir / "config"),
        "output_dir": str(output_dir),
        "output_data_dir": str(output_dir / "data"),
        "output_intermediate_dir": str(output_dir / "intermediate"),
        "num_cpus": os.cpu_count() or 1,
        "num_gpus": 0,
        "log_level": 20,
    }
    for name in channels:
        values[f"channel_{name}"] = str(input_dir / "data" / name)
    for name, value in decoded.items():
        values[f"hp_{name}"] = value
    return {f"SM_{name.upper()}": _variable_text(value) for name, value in values.items()}


def failure_message(exit_code: int, program_command: list[str]) -> str:
    """What the toolkit writes to ``output/failure`` when the program exited with ``exit_code``."""
    shown = " ".join(program_command)
    return f'ExecuteUserScriptError:\nExitCode {exit_code}\nErrorMessage ""\nCommand "{shown}"'


def _line(level: str, message: str) -> str:
    """A line in the toolkit's logging format (``2025-09-24 23:13:40,962 ... INFO     ...``)."""
    moment = datetime.now()
    return f"{moment:%Y-%m-%d %H:%M:%S},{moment.microsecond // 1000:03d} {NAME} {level:<8} {message}"


def start_lines(env: Mapping[str, str], program_command: list[str]) -> list[str]:
    """What the toolkit logs before it starts the program."""
    training_env = {
        "channel_input_dirs": {
            name: env[f"SM_CHANNEL_{name.upper()}"] for name in json.loads(env.get("SM_CHANNELS", "[]"))
        },
        "current_host": env.get("SM_CURRENT_HOST", ""),
        "hosts": json.loads(env.get("SM_HOSTS", "[]")),
        "hyperparameters": json.loads(env.get("SM_HPS", "{}")),
        "input_config_dir": env.get("SM_INPUT_CONFIG_DIR", ""),
        "input_data_config": json.loads(env.get("SM_INPUT_DATA_CONFIG", "{}")),
        "input_dir": env.get("SM_INPUT_DIR", ""),
        "job_name": env.get("AMZN_BRAKET_JOB_NAME", ""),
        "model_dir": env.get("SM_MODEL_DIR", ""),
        "module_name": env.get("SM_MODULE_NAME", ""),
        "user_entry_point": env.get("SM_USER_ENTRY_POINT", ""),
    }
    return [
        _line("INFO", "Invoking user script"),
        "Training Env:",
        *json.dumps(training_env, indent=4, sort_keys=True).splitlines(),
        "Invoking script with the following command:",
        " ".join(program_command),
    ]


def end_lines(exit_code: int) -> list[str]:
    """What the toolkit logs when the program exited with ``exit_code``."""
    if exit_code == 0:
        return [_line("INFO", "Reporting training SUCCESS")]
    return [
        _line("ERROR", "Reporting training FAILURE"),
        _line("ERROR", "ExecuteUserScriptError:"),
        f"ExitCode {exit_code}",
        _line("ERROR", f"Encountered exit_code {FAILURE_EXIT_CODE}"),
    ]
