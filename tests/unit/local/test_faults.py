"""Fault settings: validation, drawing, command-line flags and the admin API that changes them."""

from __future__ import annotations

import argparse
from collections import Counter

import pytest
from werkzeug.test import Client

from covalent_braket_plugin.local.admin import AdminApp
from covalent_braket_plugin.local.faults import (
    Faults,
    FaultSettings,
    add_fault_arguments,
    fault_changes,
    fault_flags,
)


def test_everything_is_off_by_default() -> None:
    faults = Faults(seed=1)
    assert faults.settings == FaultSettings()
    assert {faults.draw() for _ in range(200)} == {None}


def test_rates_of_one_always_fault() -> None:
    assert {Faults(FaultSettings(throttle_rate=1.0)).draw() for _ in range(50)} == {"throttle"}
    assert {Faults(FaultSettings(error_rate=1.0)).draw() for _ in range(50)} == {"error"}


def test_draw_splits_requests_between_throttle_error_and_success() -> None:
    faults = Faults(FaultSettings(throttle_rate=0.25, error_rate=0.25), seed=7)
    counts = Counter(faults.draw() for _ in range(4000))
    assert set(counts) == {"throttle", "error", None}
    assert 800 < counts["throttle"] < 1200
    assert 800 < counts["error"] < 1200


@pytest.mark.parametrize(
    "changes",
    [{"throttle_rate": 1.5}, {"error_rate": -0.1}, {"latency_ms": -1}, {"hold_jobs_s": -2}, {"nonsense": 1}],
)
def test_bad_updates_raise_and_change_nothing(changes: dict[str, float]) -> None:
    faults = Faults(FaultSettings(latency_ms=5))
    with pytest.raises(ValueError):
        faults.update(**changes)
    assert faults.settings == FaultSettings(latency_ms=5)


def test_settings_is_a_copy() -> None:
    faults = Faults()
    faults.settings.throttle_rate = 1.0
    assert faults.settings.throttle_rate == 0.0


def test_flags_round_trip_through_the_command_line() -> None:
    parser = argparse.ArgumentParser()
    add_fault_arguments(parser)
    changes = {"throttle_rate": 0.5, "latency_ms": 20, "hold_jobs_s": 3.0, "hold_qpu_tasks_s": 1.5}
    parsed = fault_changes(parser.parse_args(fault_flags(changes)))
    assert parsed == changes
    assert isinstance(parsed["latency_ms"], int)
    assert fault_changes(parser.parse_args([])) == {}


def test_fault_flags_refuses_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown fault setting"):
        fault_flags({"throttle": 1})


@pytest.fixture
def admin() -> Client:
    return Client(AdminApp(Faults()))


def test_admin_changes_reads_and_resets_faults(admin: Client) -> None:
    assert admin.put("/_local/faults", json={"throttle_rate": 1, "latency_ms": 10}).json["throttle_rate"] == 1
    assert admin.get("/_local/faults").json == {**vars(FaultSettings()), "throttle_rate": 1, "latency_ms": 10}
    assert admin.delete("/_local/faults").json == vars(FaultSettings())


@pytest.mark.parametrize("body", [{"throttle_rate": 2}, {"bogus": 1}, [1, 2]])
def test_admin_refuses_bad_fault_settings_with_400(admin: Client, body: object) -> None:
    response = admin.put("/_local/faults", json=body)
    assert response.status_code == 400
    assert response.json["message"]


def test_admin_status_reports_stack_faults_and_emulator() -> None:
    class Backend:
        def status(self) -> dict[str, list[dict[str, str]]]:
            return {"jobs": [{"jobName": "j"}], "quantum_tasks": []}

    app = AdminApp(Faults(FaultSettings(hold_jobs_s=2)), backend=Backend())
    app.stack_info = {"endpoint_url": "http://127.0.0.1:1", "registry": "127.0.0.1:2", "runner": "process"}
    status = Client(app).get("/_local/status").json
    assert status["registry"] == "127.0.0.1:2"
    assert status["faults"]["hold_jobs_s"] == 2
    assert status["jobs"] == [{"jobName": "j"}]


def test_admin_health_and_unknown_resources(admin: Client) -> None:
    assert admin.get("/_local/health").json == {"status": "ok"}
    assert admin.get("/_local/nothing").status_code == 404
    assert admin.post("/_local/faults").status_code == 405
