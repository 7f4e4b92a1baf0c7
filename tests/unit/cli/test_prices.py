"""``covalent-braket prices``: the table the estimates use, as a table or JSON, with overrides."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from covalent_braket_plugin.billing.prices import PRICES_ENV
from covalent_braket_plugin.cli import main
from covalent_braket_plugin.cli import prices as cli

IBEX = "arn:aws:braket:eu-north-1::device/qpu/aqt/Ibex-Q1"
Capsys = pytest.CaptureFixture[str]


@pytest.fixture(autouse=True)
def packaged_prices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(PRICES_ENV, raising=False)


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="covalent-braket")
    cli.register(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_the_table_lists_devices_instances_and_what_is_not_confirmed(capsys: Capsys) -> None:
    assert main(["prices"]) == 0  # registered with the command line
    text = capsys.readouterr().out
    lines = text.splitlines()
    forte = next(line for line in lines if line.startswith("IonQ Forte-1 "))
    assert forte.split()[2:6] == ["current", "0.30", "0.08", "yes"]
    tn1 = next(line for line in lines if line.startswith("TN1 "))
    assert "retired" in tn1 and "0.275" in tn1 and "3 s" in tn1
    ibex = next(line for line in lines if line.startswith("AQT IBEX-Q1 "))
    assert "unpriced" in ibex
    assert any(line.startswith("ml.m5.large ") and "us-east-1" in line for line in lines)
    assert "Not confirmed at the source:" in text and "IQM Emerald: Not confirmed" in text
    # the current devices come before the retired ones
    assert lines.index(forte) < lines.index(tn1)


def test_json_carries_every_field_and_an_override_replaces_an_entry(tmp_path: Path, capsys: Capsys) -> None:
    override = tmp_path / "prices.json"
    override.write_text(json.dumps({"devices": {IBEX: {"per_task": "0.30", "per_shot": "0.02",
                                                       "source": "https://example.com/contract"}}}))
    args = parse("prices", "--json", "--prices", str(override))
    assert args.handler(args) == 0
    document = json.loads(capsys.readouterr().out)
    ibex = next(entry for entry in document["devices"] if entry["device_arn"] == IBEX)
    assert ibex["per_shot"] == "0.02" and ibex["source"] == "https://example.com/contract"
    assert ibex["status"] == "current" and ibex["confirmed"] is False
    m5 = next(entry for entry in document["instances"] if entry["instance_type"] == "ml.m5.large")
    assert m5["per_hour"] is None and m5["region"] == "us-east-1" and m5["read"]


def test_a_bad_override_file_exits_2_naming_the_flag(tmp_path: Path, capsys: Capsys) -> None:
    bad = tmp_path / "prices.json"
    bad.write_text(json.dumps({"Forte-1": 0.08}))
    args = parse("prices", "--prices", str(bad))
    assert args.handler(args) == 2
    assert "--prices" in capsys.readouterr().err
