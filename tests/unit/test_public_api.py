"""Every public way in keeps working: Covalent's plugin entry point, the documented imports, the pytest
plugin and every ``covalent-braket`` command and flag.

Covered elsewhere and not repeated here: that Covalent knows the plugin whichever of covalent and the
entry point is imported first, and under the short name ``braket`` in its executor map
(tests/unit/executor/test_executor.py: ``test_covalent_knows_the_plugin_whichever_is_imported_first``,
``test_covalent_finds_the_plugin_by_its_short_name``).
"""

from __future__ import annotations

import argparse
import importlib
from importlib.metadata import entry_points

import pytest

import covalent_braket_plugin
from covalent_braket_plugin.cli import build_parser
from tests.conftest import FreshPython

pytest_plugins = ["pytester"]


def _entry_point(group: str, name: str) -> str:
    (found,) = entry_points(group=group, name=name)
    return found.value


def test_covalent_executor_braket_is_the_entry_point_s_class() -> None:
    from covalent.executor import BraketExecutor

    from covalent_braket_plugin import braket

    assert _entry_point("covalent.executor.executor_plugins", "braket") == "covalent_braket_plugin.braket"
    assert BraketExecutor is braket.BraketExecutor
    # Covalent takes the plugin class by EXECUTOR_PLUGIN_NAME among the entry point's own classes.
    assert getattr(braket, braket.EXECUTOR_PLUGIN_NAME) is BraketExecutor
    assert BraketExecutor.__module__ == "covalent_braket_plugin.braket"


def test_the_entry_point_exports_what_it_lists() -> None:
    from covalent_braket_plugin import braket

    assert sorted(braket.__all__) == [
        "BraketExecutor",
        "EXECUTOR_PLUGIN_NAME",
        "TAG_DISPATCH_ID",
        "TAG_NODE_ID",
    ]
    for name in braket.__all__:
        assert getattr(braket, name) is not None, name


def test_amazon_braketlib_from_the_package_top() -> None:
    from covalent_braket_plugin import AmazonBraketlib
    from covalent_braket_plugin.tasks.braketlib import AmazonBraketlib as defined

    assert AmazonBraketlib is defined
    assert "AmazonBraketlib" in covalent_braket_plugin.__all__


def test_the_package_top_imports_amazon_braketlib_only_when_asked(fresh_python: FreshPython) -> None:
    """``import covalent_braket_plugin`` (done by every executor import) stays light."""
    fresh_python(
        "import sys, covalent_braket_plugin\n"
        "assert 'covalent_braket_plugin.tasks' not in sys.modules, 'tasks imported eagerly'\n"
        "covalent_braket_plugin.AmazonBraketlib\n"
        "assert 'covalent_braket_plugin.tasks.braketlib' in sys.modules\n"
    )


# Imports the documentation shows (docs/braketlib.md, docs/local-stack.md, docs/guard.md).
DOCUMENTED_IMPORTS = [
    ("covalent_braket_plugin.tasks", "AmazonBraketlib"),
    ("covalent_braket_plugin.tasks", "day_bounds"),
    ("covalent_braket_plugin.tasks", "iter_tasks"),
    ("covalent_braket_plugin.tasks", "cancel_tasks"),
    ("covalent_braket_plugin.tasks", "summarize"),
    ("covalent_braket_plugin.tasks", "PriceTable"),
    ("covalent_braket_plugin.local", "LocalStack"),
    ("covalent_braket_plugin.guard.lambda_function", "lambda_handler"),
]


@pytest.mark.parametrize(
    ("module", "name"), DOCUMENTED_IMPORTS, ids=[f"{m}:{n}" for m, n in DOCUMENTED_IMPORTS]
)
def test_documented_imports(module: str, name: str) -> None:
    assert callable(getattr(importlib.import_module(module), name))


def test_the_pytest_plugin_entry_point_and_its_fixtures(pytester: pytest.Pytester) -> None:
    assert _entry_point("pytest11", "braket_local_stack") == "covalent_braket_plugin.testing.pytest_plugin"
    # A project without a conftest sees the fixtures and the option, through the entry point alone.
    pytester.runpytest_subprocess("--help").stdout.fnmatch_lines(["*--braket-local-runner*"])
    fixtures = pytester.runpytest_subprocess("--fixtures")
    fixtures.stdout.fnmatch_lines(["braket_local_stack [[]session scope[]]*", "braket_local_env*"])


# Every command and each of its option strings (positionals by name), as `covalent-braket` had them
# before the modules moved (commit c773c5b), plus what was added since, marked where it stands. A
# change here is a change of the command line users and scripts rely on: commands and flags may be
# added, never renamed or removed.
HELP = ("-h", "--help")
ACCOUNT = [("--region",), ("--profile",)]  # every command that talks to AWS
TASKS_OF_A_DAY = [HELP, ("--date",), ("--tz",), *ACCOUNT, ("--prices",), ("--json",), ("--device",)]
GUARD = [HELP, ("--name",), *ACCOUNT, ("--json",)]
# What setup makes and iam-policy describes, and the covalent.conf that names them.
ACCOUNT_RESOURCES = [
    HELP,
    *ACCOUNT,
    ("--bucket",),
    ("--repository",),
    ("--role-name",),
    ("--conf",),
    ("--no-conf",),
]
COMMAND_LINE = {
    "": [HELP],
    "local": [HELP],
    "local up": [
        HELP,
        ("--port",),
        ("--host",),
        ("--allow-remote",),  # added with the stack's credentials: a non-loopback --host needs it
        ("--runner",),
        ("--registry-binary",),
        ("--no-braket-images",),  # added with Braket's own job images on the stack
        ("--throttle-rate",),
        ("--error-rate",),
        ("--latency-ms",),
        ("--hold-jobs",),
        ("--hold-qpu-tasks",),
    ],
    "local env": [HELP],
    "local status": [HELP, ("--json",)],
    "local faults": [
        HELP,
        ("--throttle-rate",),
        ("--error-rate",),
        ("--latency-ms",),
        ("--hold-jobs",),
        ("--hold-qpu-tasks",),
        ("--reset",),
    ],
    "local down": [HELP],
    "tasks": [HELP],
    "tasks summary": [*TASKS_OF_A_DAY, ("--status",)],
    "tasks cancel": [*TASKS_OF_A_DAY, ("--dry-run",)],
    "guard": [HELP],
    "guard deploy": [
        *GUARD,
        ("--dry-run",),  # added by the reshaping
        ("--max-shots",),
        ("--max-cost-usd",),
        ("--tz",),
        ("--devices",),
        ("--slack-webhook-url",),
        ("--slack-secret-arn",),
        ("--ledger", "--no-ledger"),
        ("--native-limit",),
        # added with the guard's whole bill and its failure queue
        ("--device-limits",),
        ("--account-max-shots",),
        ("--account-max-cost-usd",),
        ("--cancel-scope",),
        ("--price-overrides",),
        ("--retry-attempts",),
        ("--max-event-age",),
    ],
    "guard status": GUARD,
    "guard remove": [*GUARD, ("--dry-run",)],  # added by the reshaping
    "prices": [HELP, ("--prices",), ("--json",)],  # added with the price list's provenance
    # added for workflow costs
    "cost": [HELP, ("dispatch_id",), ("--since",), ("--prices",), *ACCOUNT, ("--json",)],
    "doctor": [HELP, *ACCOUNT, ("--conf",), ("--json",)],
    "setup": [
        *ACCOUNT_RESOURCES, ("--keep-images",), ("--untagged-days",), ("--dry-run",), ("--json",),
        ("--expire-days",),  # added with the expiry rule of the bucket
    ],
    "iam-policy": [*ACCOUNT_RESOURCES, ("--account",), ("--which",)],
    "jobs": [HELP],
    "jobs list": [HELP, *ACCOUNT, ("--json",), ("--status",), ("--dispatch-id",), ("--since",)],
    "jobs logs": [HELP, *ACCOUNT, ("job",), ("--follow", "-f")],
    "jobs cancel": [HELP, *ACCOUNT, ("--json",), ("job",)],
    "jobs result": [HELP, *ACCOUNT, ("job",), ("--output", "-o")],  # added to fetch a kept result
    "jobs metrics": [HELP, *ACCOUNT, ("--json",), ("job",)],  # added: what log_metric logged
    "jobs tasks": [HELP, *ACCOUNT, ("--json",), ("job",)],  # added: the job's quantum tasks
    "images": [HELP],
    "images list": [HELP, *ACCOUNT, ("--json",)],
    "images prune": [HELP, *ACCOUNT, ("--json",), ("--older-than",), ("--dry-run",)],
}


def command_line(parser: argparse.ArgumentParser, command: str = "") -> dict[str, list[tuple[str, ...]]]:
    """Each command (subcommands by their path) -> its option strings, positionals by name."""
    tree: dict[str, list[tuple[str, ...]]] = {command: []}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, subparser in action.choices.items():
                tree |= command_line(subparser, f"{command} {name}".strip())
        else:
            tree[command].append(tuple(action.option_strings) or (action.dest,))
    return tree


@pytest.mark.parametrize("command", list(COMMAND_LINE), ids=lambda command: command or "covalent-braket")
def test_every_command_keeps_its_flags(command: str) -> None:
    tree = command_line(build_parser())
    assert sorted(tree.get(command, [])) == sorted(COMMAND_LINE[command])


def test_there_is_no_command_the_list_misses() -> None:
    assert sorted(command_line(build_parser())) == sorted(COMMAND_LINE)


def test_the_console_script_is_the_cli_s_main(fresh_python: FreshPython) -> None:
    assert _entry_point("console_scripts", "covalent-braket") == "covalent_braket_plugin.cli:main"
    shown = fresh_python("from covalent_braket_plugin.cli import main; main(['--help'])")
    assert shown.stdout.startswith("usage: covalent-braket")
