"""The pulse documents of Rigetti's QPU are valid for the Braket schemas the SDK parses them with."""

from __future__ import annotations

import json

from braket.device_schema.pulse.native_gate_calibrations_v1 import NativeGateCalibrations
from braket.device_schema.pulse.pulse_device_action_properties_v1 import PulseDeviceActionProperties

from covalent_braket_plugin.local.braket_api.devices import DEVICES, capabilities
from covalent_braket_plugin.local.braket_api.pulse import native_gate_calibrations, pulse_section

CEPHEUS = DEVICES["arn:aws:braket:us-west-1::device/qpu/rigetti/Cepheus-1-108Q"]


def test_pulse_section_names_ports_frames_and_calibrations() -> None:
    section = pulse_section(3, {"0": ["1"], "1": ["0", "2"], "2": ["1"]}, "http://127.0.0.1:1/b/k.json")
    parsed = PulseDeviceActionProperties.parse_raw_schema(json.dumps(section))
    assert set(parsed.ports) == {f"q{q}_{k}" for q in range(3) for k in ("rf", "ff", "ro_tx", "ro_rx")}
    assert {"q0_q1_iswap_frame", "q1_q2_iswap_frame"} <= set(parsed.frames)
    assert parsed.nativeGateCalibrationsRef == "http://127.0.0.1:1/b/k.json"


def test_only_current_rigetti_documents_have_pulse() -> None:
    assert "pulse" in capabilities(CEPHEUS)
    others = [d for d in DEVICES.values() if d is not CEPHEUS and d.is_qpu]
    assert all("pulse" not in capabilities(d) for d in others)


def test_calibrations_cover_every_qubit_and_pair() -> None:
    document = native_gate_calibrations(CEPHEUS.qubit_count, CEPHEUS.connectivity)
    NativeGateCalibrations.parse_raw_schema(json.dumps(document))
    assert len(document["gates"]) == 108 + 107
    assert [g["arguments"] for g in document["gates"]["7"]["rx"]] == [
        ["1.5707963267948966"],
        ["-1.5707963267948966"],
        ["3.141592653589793"],
    ]
