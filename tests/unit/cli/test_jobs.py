"""``covalent-braket jobs``: parsing of its options, its settings, and what it imports."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from covalent_braket_plugin import cli
from covalent_braket_plugin.cli.common import load_settings, parse_duration, parse_since

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


# --- parsing ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30d", timedelta(days=30)),
        ("12h", timedelta(hours=12)),
        ("1d12h", timedelta(days=1, hours=12)),
        ("2w", timedelta(weeks=2)),
        ("90m", timedelta(minutes=90)),
        ("45s", timedelta(seconds=45)),
        (" 7D ", timedelta(days=7)),
        ("0s", timedelta(0)),
    ],
)
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "30", "d", "30x", "1.5d", "-3d", "3 d", "30days"])
def test_bad_durations_name_the_flag_and_the_form(text: str) -> None:
    with pytest.raises(ValueError, match=r"--older-than: .* is not a duration; .*30d, 12h or 1d12h"):
        parse_duration(text, "--older-than")


def test_since_is_a_duration_back_or_a_date() -> None:
    assert parse_since("7d", NOW) == NOW - timedelta(days=7)
    assert parse_since("2026-11-01", NOW) == datetime(2026, 11, 1, tzinfo=UTC)
    assert parse_since("2026-11-01T08:30:00Z", NOW) == datetime(2026, 11, 1, 8, 30, tzinfo=UTC)
    offset = parse_since("2026-11-01T08:30:00+02:00", NOW)
    assert offset == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    with pytest.raises(ValueError, match="--since: 'yesterday' is neither a duration"):
        parse_since("yesterday", NOW)


def test_bad_options_are_usage_errors_before_any_aws_call(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (
        ["jobs", "list", "--since", "soon"],
        ["jobs", "list", "--status", "DONE"],
        ["images", "prune", "--older-than", "old"],
        ["images", "prune"],
    ):
        with pytest.raises(SystemExit) as exited:
            cli.main(argv)
        assert exited.value.code == 2
    errors = capsys.readouterr().err
    assert "argument --since: 'soon' is neither a duration" in errors
    assert "argument --status: invalid choice: 'DONE'" in errors
    assert "argument --older-than: 'old' is not a duration" in errors
    assert "the following arguments are required: --older-than" in errors


def test_status_is_case_insensitive() -> None:
    args = cli.build_parser().parse_args(["jobs", "list", "--status", "running", "Queued"])
    assert args.status == ["RUNNING", "QUEUED"]


def test_settings_come_from_covalent_conf_and_flags_win(tmp_path: Path) -> None:
    conf = tmp_path / "covalent.conf"
    conf.write_text('[executors.braket]\nregion = "eu-west-2"\necr_repo_name = "amazon-braket-mine"\n')
    settings = load_settings(conf_path=conf)
    assert settings.region == "eu-west-2" and settings.ecr_repo_name == "amazon-braket-mine"
    assert load_settings(region="us-west-1", conf_path=conf).region == "us-west-1"
    assert (
        load_settings(conf_path=tmp_path / "missing.conf").ecr_repo_name
        == "amazon-braket-covalent-job-images"
    )
    conf.write_text('[executors.braket]\nregion = ""\necr_repo_name = ""\n')  # as covalent writes defaults
    assert load_settings(conf_path=conf).ecr_repo_name == "amazon-braket-covalent-job-images"
    assert load_settings(region="us-west-1", conf_path=conf).region == "us-west-1"
    conf.write_text('[executors.braket]\nregion = "mars-1"\n')
    with pytest.raises(ValueError, match="region: 'mars-1' is not an AWS region name"):
        load_settings(conf_path=conf)


def test_the_commands_do_not_import_covalent() -> None:
    # Importing covalent writes covalent.conf and starts its logging; listing jobs must do neither.
    code = "import sys, covalent_braket_plugin.cli.jobs; print('covalent' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
