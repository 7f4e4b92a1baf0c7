"""Pulse control of the superconducting QPUs: the ``pulse`` section of their capabilities and the
native gate calibrations document its ``nativeGateCalibrationsRef`` points to.

Rigetti's documents describe four ports per qubit (drive ``rf``, flux ``ff``, readout out ``ro_tx``
and in ``ro_rx``), a frame on each drive and readout port, and one frame per coupled pair for the
two-qubit gate, and link the calibrations of the native gates as a URL the SDK downloads without
signing (``AwsDevice.gate_calibrations``). Frequencies and pulse shapes here are plausible values of
such a device, not Rigetti's calibration data, which the stack does not have: programs that use them
run on the noise-free simulator like every other QPU task.
"""

from __future__ import annotations

import math
from typing import Any

DT = 1e-9
"""Time step of every port, in seconds."""
_DRIVE_HZ = 4.5e9
_READOUT_HZ = 7.1e9
_FUNCTIONS: dict[str, list[tuple[str, str]]] = {
    "newframe": [("port", "port"), ("frequency", "float"), ("phase", "float")],
    "play": [("frame", "frame"), ("waveform", "waveform")],
    "shift_phase": [("frame", "frame"), ("phase", "float")],
    "set_phase": [("frame", "frame"), ("phase", "float")],
    "shift_frequency": [("frame", "frame"), ("frequency", "float")],
    "set_frequency": [("frame", "frame"), ("frequency", "float")],
    "delay": [("frame", "frame"), ("duration", "duration")],
    "capture_v0": [("frame", "frame")],
}
_WAVEFORMS: dict[str, list[tuple[str, str]]] = {
    "constant": [("length", "float"), ("iq", "complex")],
    "gaussian": [("length", "float"), ("sigma", "float"), ("amplitude", "float")],
    "drag_gaussian": [("length", "float"), ("sigma", "float"), ("beta", "float"), ("amplitude", "float")],
    "erf_square": [("length", "float"), ("width", "float"), ("amplitude", "float")],
}


_RX_ANGLES = {"x90": math.pi / 2, "xm90": -math.pi / 2, "x180": math.pi}


def _function(name: str, arguments: list[tuple[str, str]], returns: str | None = None) -> dict[str, Any]:
    return {
        "functionName": name,
        "arguments": [{"name": arg, "type": kind} for arg, kind in arguments],
        "returnType": returns,
    }


def _edges(connectivity: dict[str, list[str]]) -> list[tuple[int, int]]:
    return sorted({(int(a), int(b)) for a, peers in connectivity.items() for b in peers if int(a) < int(b)})


def pulse_section(
    qubits: int, connectivity: dict[str, list[str]], calibrations_url: str | None
) -> dict[str, Any]:
    """The ``pulse`` member of a superconducting QPU's capabilities (``PulseDeviceActionProperties``)."""
    ports: dict[str, Any] = {}
    frames: dict[str, Any] = {}
    for q in range(qubits):
        for kind, direction in (("rf", "tx"), ("ff", "tx"), ("ro_tx", "tx"), ("ro_rx", "rx")):
            port = f"q{q}_{kind}"
            ports[port] = {
                "portId": port,
                "direction": direction,
                "portType": kind,
                "dt": DT,
                "qubitMappings": [q],
            }
        drive = _DRIVE_HZ + 1e6 * (q % 50)
        readout = _READOUT_HZ + 1e6 * (q % 50)
        for kind, frequency in (("rf", drive), ("ro_tx", readout), ("ro_rx", readout)):
            frame = f"q{q}_{kind}_frame"
            frames[frame] = {
                "frameId": frame,
                "portId": f"q{q}_{kind}",
                "frequency": frequency,
                "phase": 0.0,
                "qubitMappings": [q],
            }
    for a, b in _edges(connectivity):
        frame = f"q{a}_q{b}_iswap_frame"
        frames[frame] = {
            "frameId": frame,
            "portId": f"q{a}_ff",
            "frequency": 2.0e8,
            "phase": 0.0,
            "associatedGate": "iswap",
            "qubitMappings": [a, b],
        }
    section: dict[str, Any] = {
        "braketSchemaHeader": {
            "name": "braket.device_schema.pulse.pulse_device_action_properties",
            "version": "1",
        },
        "supportedQhpTemplateWaveforms": {
            name: _function(name, arguments, "waveform") for name, arguments in _WAVEFORMS.items()
        },
        "ports": ports,
        "supportedFunctions": {
            name: _function(name, arguments, "frame" if name == "newframe" else None)
            for name, arguments in _FUNCTIONS.items()
        },
        "frames": frames,
        "supportsLocalPulseElements": False,
        "supportsDynamicFrames": True,
        "supportsNonNativeGatesWithPulses": False,
        "validationParameters": {
            "MAX_SCALE": 1.0,
            "MAX_AMPLITUDE": 1.0,
            "PERMITTED_FREQUENCY_DIFFERENCE": 1.0,
        },
    }
    if calibrations_url:
        section["nativeGateCalibrationsRef"] = calibrations_url
    return section


def _argument(name: str, value: Any, kind: str) -> dict[str, Any]:
    return {"name": name, "value": value, "type": kind}


def _gate(
    name: str, qubits: list[int], arguments: list[str], calibrations: list[dict[str, Any]]
) -> dict[str, Any]:
    return {
        "name": name,
        "qubits": [str(q) for q in qubits],
        "arguments": arguments,
        "calibrations": calibrations,
    }


def _play(frame: str, waveform: str) -> dict[str, Any]:
    return {
        "name": "play",
        "arguments": [_argument("frame", frame, "frame"), _argument("waveform", waveform, "waveform")],
    }


def native_gate_calibrations(qubits: int, connectivity: dict[str, list[str]]) -> dict[str, Any]:
    """The ``NativeGateCalibrations`` document: ``rx`` by ±π/2 and π as DRAG pulses on the drive
    frame, ``rz`` as a phase shift of it (a free parameter ``theta``), ``iswap`` as a flat flux pulse
    on the pair's frame."""
    waveforms: dict[str, Any] = {}
    gates: dict[str, Any] = {}
    for q in range(qubits):
        rotations = []
        for label, angle in _RX_ANGLES.items():
            waveform = f"q{q}_{label}_drag"
            waveforms[waveform] = {
                "waveformId": waveform,
                "name": "drag_gaussian",
                "arguments": [
                    _argument("length", 4.0e-8, "float"),
                    _argument("sigma", 6.0e-9, "float"),
                    _argument("beta", 0.0, "float"),
                    _argument("amplitude", 0.25 * angle / (math.pi / 2), "float"),
                ],
            }
            rotations.append(_gate("rx", [q], [repr(angle)], [_play(f"q{q}_rf_frame", waveform)]))
        phase = {
            "name": "shift_phase",
            "arguments": [
                _argument("frame", f"q{q}_rf_frame", "frame"),
                _argument("phase", "-1.0*theta", "expr"),
            ],
        }
        gates[str(q)] = {"rx": rotations, "rz": [_gate("rz", [q], ["theta"], [phase])]}
    for a, b in _edges(connectivity):
        waveform = f"q{a}_q{b}_iswap_flat"
        waveforms[waveform] = {
            "waveformId": waveform,
            "name": "constant",
            "arguments": [_argument("length", 1.6e-7, "float"), _argument("iq", 0.3, "complex")],
        }
        gates[f"{a}_{b}"] = {
            "iswap": [_gate("iswap", [a, b], [], [_play(f"q{a}_q{b}_iswap_frame", waveform)])]
        }
    return {
        "braketSchemaHeader": {"name": "braket.device_schema.pulse.native_gate_calibrations", "version": "1"},
        "gates": gates,
        "waveforms": waveforms,
    }
