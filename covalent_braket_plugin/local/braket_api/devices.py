"""The devices the local Braket API serves and their capabilities documents.

Capabilities are built from the Braket SDK's own schema classes (``braket.device_schema``) and, for
the managed simulators, from the local simulators' properties, and every document is parsed back with
``BraketSchemaBase.parse_raw_schema`` the way ``AwsDevice`` does, so the SDK accepts them unchanged.
Prices are not here: the backend uses the monitor's ``PriceTable`` (prices as data, overridable).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from braket.device_schema.ionq.ionq_device_parameters_v1 import IonqDeviceParameters
from braket.device_schema.iqm.iqm_device_parameters_v1 import IqmDeviceParameters
from braket.device_schema.oqc.oqc_device_parameters_v1 import OqcDeviceParameters
from braket.device_schema.rigetti.rigetti_device_parameters_v1 import RigettiDeviceParameters
from braket.device_schema.simulators.gate_model_simulator_device_parameters_v1 import (
    GateModelSimulatorDeviceParameters,
)
from braket.schema_common.schema_base import BraketSchemaBase

from covalent_braket_plugin.local.braket_api.pulse import pulse_section
from covalent_braket_plugin.local.braket_api.retired_paradigms import dwave_capabilities, xanadu_capabilities

OPENQASM = "braket.ir.openqasm.program"
PROGRAM_SET = "braket.ir.openqasm.program_set"
JAQCD = "braket.ir.jaqcd.program"
AHS = "braket.ir.ahs.program"


@dataclass(frozen=True)
class Device:
    """One Braket device: what GetDevice / SearchDevices report and which local simulator runs it."""

    arn: str
    name: str
    provider: str
    device_type: str  # "QPU" | "SIMULATOR"
    simulator: str  # LocalSimulator backend that executes its tasks: braket_sv | braket_dm | braket_ahs
    qubit_count: int
    native_gates: tuple[str, ...] = ()
    connectivity: dict[str, list[str]] = field(default_factory=dict)
    max_shots: int = 100_000
    status: str = "ONLINE"  # "ONLINE" | "RETIRED"

    @property
    def region(self) -> str | None:
        """The region named in the ARN (QPUs); None for the region-less managed simulators."""
        return self.arn.split(":")[3] or None

    @property
    def is_qpu(self) -> bool:
        return self.device_type == "QPU"

    @property
    def has_pulse(self) -> bool:
        """Rigetti's QPUs offer pulse control (a ``pulse`` section and native gate calibrations)."""
        return self.provider == "Rigetti" and not self.is_retired

    @property
    def is_retired(self) -> bool:
        """Retired devices still answer GetDevice and SearchDevices, as on AWS, but take no work."""
        return self.status == "RETIRED"

    def summary(self) -> dict[str, Any]:
        return {
            "deviceArn": self.arn,
            "deviceName": self.name,
            "providerName": self.provider,
            "deviceType": self.device_type,
            "deviceStatus": self.status,
        }


def _line(count: int) -> dict[str, list[str]]:
    """A nearest-neighbour chain, a stand-in for the real coupling maps of superconducting QPUs."""
    graph: dict[str, list[str]] = {str(i): [] for i in range(count)}
    for i in range(count - 1):
        graph[str(i)].append(str(i + 1))
        graph[str(i + 1)].append(str(i))
    return graph


def _ring(count: int) -> dict[str, list[str]]:
    """A closed chain (OQC's Lucy)."""
    graph = _line(count)
    graph["0"].append(str(count - 1))
    graph[str(count - 1)].append("0")
    return graph


_IONQ_GATES = ("gpi", "gpi2", "ms", "zz")
_IONQ_TRAPPED_GATES = ("gpi", "gpi2", "ms")  # Harmony and Aria
_IQM_GATES = ("cz", "prx")
_RIGETTI_GATES = ("rx", "rz", "iswap")
_ASPEN_GATES = ("rx", "rz", "cz", "cphaseshift", "xy")


DWAVE = "D-Wave Systems"
XANADU = "Xanadu"


def _retired(arn: str, name: str, provider: str, qubits: int, gates: tuple[str, ...] = ()) -> Device:
    """A device AWS has retired (the SDK's ``Devices`` names them with a leading underscore).

    Every retired device keeps a capabilities document of its provider's schema, the annealers
    (D-Wave) and the photonic Borealis (Xanadu) too, though the stack runs tasks of neither paradigm.
    """
    if provider == "Amazon Braket":
        return Device(arn, name, provider, "SIMULATOR", "braket_sv", qubits, status="RETIRED")
    # IonQ's traps are fully connected; annealers and photonic devices have no gate coupling map.
    has_coupling_map = provider not in ("IonQ", DWAVE, XANADU)
    connectivity = (_ring if provider == "OQC" else _line)(qubits) if has_coupling_map else {}
    return Device(arn, name, provider, "QPU", "braket_sv", qubits, gates, connectivity, status="RETIRED")


_RIGETTI = "arn:aws:braket:{}::device/qpu/rigetti/{}"
_DWAVE = "arn:aws:braket:{}::device/qpu/d-wave/{}"
RETIRED = (
    _retired("arn:aws:braket:::device/quantum-simulator/amazon/tn1", "TN1", "Amazon Braket", 50),
    _retired("arn:aws:braket:us-east-1::device/qpu/ionq/Harmony", "Harmony", "IonQ", 11, _IONQ_TRAPPED_GATES),
    _retired("arn:aws:braket:us-east-1::device/qpu/ionq/Aria-1", "Aria 1", "IonQ", 25, _IONQ_TRAPPED_GATES),
    _retired("arn:aws:braket:us-east-1::device/qpu/ionq/Aria-2", "Aria 2", "IonQ", 25, _IONQ_TRAPPED_GATES),
    _retired("arn:aws:braket:eu-west-2::device/qpu/oqc/Lucy", "Lucy", "OQC", 8, ("ecr", "i", "rz", "v", "x")),
    *(
        _retired(_RIGETTI.format("", name), name, "Rigetti", qubits, _ASPEN_GATES)
        for name, qubits in (("Aspen-8", 31), ("Aspen-9", 32), ("Aspen-10", 40), ("Aspen-11", 40))
    ),
    *(
        _retired(_RIGETTI.format("us-west-1", name), name, "Rigetti", qubits, _ASPEN_GATES)
        for name, qubits in (("Aspen-M-1", 80), ("Aspen-M-2", 80), ("Aspen-M-3", 79))
    ),
    *(
        _retired(_RIGETTI.format("us-west-1", name), name, "Rigetti", 84, _RIGETTI_GATES)
        for name in ("Ankaa-2", "Ankaa-3")
    ),
    *(
        _retired(_DWAVE.format(region, name), name, DWAVE, qubits)
        for region, name, qubits in (
            ("", "Advantage_system1", 5760),
            ("", "Advantage_system3", 5760),
            ("", "Advantage_system4", 5760),
            ("us-west-2", "Advantage_system6", 5760),
            ("", "DW_2000Q_6", 2048),
        )
    ),
    _retired("arn:aws:braket:us-east-1::device/qpu/xanadu/Borealis", "Borealis", XANADU, 216),
)
"""Retired devices, from the Braket SDK's ``braket.devices.Devices`` (``_``-prefixed members)."""

DEVICES: dict[str, Device] = {
    d.arn: d
    for d in (
        Device(
            "arn:aws:braket:::device/quantum-simulator/amazon/sv1",
            "SV1",
            "Amazon Braket",
            "SIMULATOR",
            "braket_sv",
            34,
        ),
        Device(
            "arn:aws:braket:::device/quantum-simulator/amazon/dm1",
            "dm1",
            "Amazon Braket",
            "SIMULATOR",
            "braket_dm",
            17,
        ),
        Device(
            "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-1",
            "Forte 1",
            "IonQ",
            "QPU",
            "braket_sv",
            36,
            _IONQ_GATES,
            max_shots=5_000,
        ),
        Device(
            "arn:aws:braket:us-east-1::device/qpu/ionq/Forte-Enterprise-1",
            "Forte Enterprise 1",
            "IonQ",
            "QPU",
            "braket_sv",
            36,
            _IONQ_GATES,
            max_shots=5_000,
        ),
        Device(
            "arn:aws:braket:us-west-1::device/qpu/rigetti/Cepheus-1-108Q",
            "Cepheus-1-108Q",
            "Rigetti",
            "QPU",
            "braket_sv",
            108,
            _RIGETTI_GATES,
            _line(108),
        ),
        Device(
            "arn:aws:braket:eu-north-1::device/qpu/iqm/Garnet",
            "Garnet",
            "IQM",
            "QPU",
            "braket_sv",
            20,
            _IQM_GATES,
            _line(20),
            max_shots=20_000,
        ),
        Device(
            "arn:aws:braket:eu-north-1::device/qpu/iqm/Emerald",
            "Emerald",
            "IQM",
            "QPU",
            "braket_sv",
            54,
            _IQM_GATES,
            _line(54),
            max_shots=20_000,
        ),
        Device(
            "arn:aws:braket:eu-north-1::device/qpu/aqt/Ibex-Q1",
            "Ibex-Q1",
            "AQT",
            "QPU",
            "braket_sv",
            12,
            ("prx", "rz", "xx"),
            max_shots=2_000,
        ),
        Device(
            "arn:aws:braket:us-east-1::device/qpu/quera/Aquila",
            "Aquila",
            "QuEra",
            "QPU",
            "braket_ahs",
            256,
            max_shots=1_000,
        ),
        *RETIRED,
    )
}


def _now_iso() -> str:
    return datetime.now(UTC).isoformat()


def _service(device: Device) -> dict[str, Any]:
    return {
        "braketSchemaHeader": {"name": "braket.device_schema.device_service_properties", "version": "1"},
        "executionWindows": [
            {"executionDay": "Everyday", "windowStartHour": "00:00:00", "windowEndHour": "23:59:59"}
        ],
        "shotsRange": [0 if not device.is_qpu else 1, device.max_shots],
        "deviceDocumentation": {"summary": f"{device.name} served by the local Braket stack"},
        "deviceLocation": device.region or "local",
        "updatedAt": _now_iso(),
        "getTaskPollIntervalMillis": 200,
    }


@cache
def _simulator_properties(backend: str) -> dict[str, Any]:
    from braket.devices import LocalSimulator

    return json.loads(LocalSimulator(backend).properties.json())


def _simulator_capabilities(device: Device) -> dict[str, Any]:
    caps = copy.deepcopy(_simulator_properties(device.simulator))
    caps["service"] = _service(device)
    caps["paradigm"]["qubitCount"] = device.qubit_count
    caps["deviceParameters"] = json.loads(GateModelSimulatorDeviceParameters.schema_json())
    # SV1 and DM1 measure every qubit (the local simulators would measure a subset).
    caps["action"][OPENQASM]["requiresAllQubitsMeasurement"] = True
    return caps


def _openqasm_action(device: Device) -> dict[str, Any]:
    base = _simulator_properties("braket_sv")["action"][OPENQASM]
    return {
        "version": ["1"],
        "actionType": OPENQASM,
        "supportedOperations": base["supportedOperations"],
        "supportedModifiers": base.get("supportedModifiers", []),
        "supportedPragmas": ["braket_verbatim"],
        "forbiddenPragmas": [],
        "supportedResultTypes": [
            {
                "name": name,
                "observables": ["x", "y", "z", "h", "i"],
                "minShots": 1,
                "maxShots": device.max_shots,
            }
            for name in ("Sample", "Expectation", "Variance", "Probability")
        ],
        "supportPhysicalQubits": False,
        "requiresAllQubitsMeasurement": device.provider == "IonQ",
        "requiresContiguousQubitIndices": False,
        "supportsPartialVerbatimBox": False,
        "disabledQubitRewiringSupported": False,
    }


_GATE_QPU = {
    "IonQ": ("braket.device_schema.ionq.ionq_device_capabilities", IonqDeviceParameters),
    "IQM": ("braket.device_schema.iqm.iqm_device_capabilities", IqmDeviceParameters),
    "Rigetti": ("braket.device_schema.rigetti.rigetti_device_capabilities", RigettiDeviceParameters),
    "AQT": ("braket.device_schema.aqt.aqt_device_capabilities", GateModelSimulatorDeviceParameters),
    "OQC": ("braket.device_schema.oqc.oqc_device_capabilities", OqcDeviceParameters),
}


def _aqt_provider(device: Device) -> dict[str, Any]:
    def fidelity(value: float) -> dict[str, float]:
        return {"value": value, "uncertainty": 0.001}

    return {
        "braketSchemaHeader": {"name": "braket.device_schema.aqt.aqt_provider_properties", "version": "1"},
        "properties": {
            "single_qubit_gate_fidelity": {str(q): fidelity(0.9995) for q in range(device.qubit_count)},
            "mean_two_qubit_gate_fidelity": fidelity(0.975),
            "spam_fidelity_lower_bound": 0.99,
            "t2_coherence_time_s": fidelity(0.1),
            "t1_s": fidelity(10.0),
            "readout_time_micros": 300.0,
            "single_qubit_gate_duration_micros": 20.0,
            "two_qubit_gate_duration_micros": 200.0,
            "updated_at": _now_iso(),
        },
    }


def _gate_qpu_capabilities(device: Device, calibrations_url: str | None) -> dict[str, Any]:
    schema_name, parameters = _GATE_QPU[device.provider]
    caps: dict[str, Any] = {
        "braketSchemaHeader": {"name": schema_name, "version": "2" if device.provider == "Rigetti" else "1"},
        "service": _service(device),
        "action": {OPENQASM: _openqasm_action(device)},
        "paradigm": {
            "braketSchemaHeader": {
                "name": "braket.device_schema.gate_model_qpu_paradigm_properties",
                "version": "1",
            },
            "qubitCount": device.qubit_count,
            "nativeGateSet": list(device.native_gates),
            "connectivity": {
                "fullyConnected": not device.connectivity,
                "connectivityGraph": device.connectivity,
            },
        },
        "deviceParameters": json.loads(parameters.schema_json()),
    }
    if device.has_pulse:
        caps["pulse"] = pulse_section(device.qubit_count, device.connectivity, calibrations_url)
    if device.provider == "AQT":
        caps["provider"] = _aqt_provider(device)
        caps["standardized"] = {
            "braketSchemaHeader": {
                "name": "braket.device_schema.standardized_gate_model_qpu_device_properties",
                "version": "3",
            },
        }
    return caps


_AQUILA_PARADIGM: dict[str, Any] = {
    "braketSchemaHeader": {
        "name": "braket.device_schema.quera.quera_ahs_paradigm_properties",
        "version": "1",
    },
    "qubitCount": 256,
    "lattice": {
        "area": {"width": 75.0e-6, "height": 76.0e-6},
        "geometry": {
            "spacingRadialMin": 4.0e-6,
            "spacingVerticalMin": 4.0e-6,
            "positionResolution": 1e-7,
            "numberSitesMax": 256,
        },
    },
    "rydberg": {
        "c6Coefficient": 5.42e-24,
        "rydbergGlobal": {
            "rabiFrequencyRange": [0.0, 15.8e6],
            "rabiFrequencyResolution": 400.0,
            "rabiFrequencySlewRateMax": 250.0e12,
            "detuningRange": [-125.0e6, 125.0e6],
            "detuningResolution": 0.2,
            "detuningSlewRateMax": 2.5e15,
            "phaseRange": [-99.0, 99.0],
            "phaseResolution": 5e-7,
            "timeResolution": 1e-9,
            "timeDeltaMin": 5e-8,
            "timeMin": 0.0,
            "timeMax": 4.0e-6,
        },
    },
    "performance": {
        "lattice": {
            "positionErrorAbs": 1e-7,
            "sitePositionError": 1e-7,
            "atomPositionError": 1e-7,
            "fillingErrorTypical": 0.008,
            "fillingErrorWorst": 0.05,
            "vacancyErrorTypical": 0.001,
            "vacancyErrorWorst": 0.005,
            "atomLossProbabilityTypical": 0.005,
            "atomLossProbabilityWorst": 0.01,
            "atomCaptureProbabilityTypical": 0.001,
            "atomCaptureProbabilityWorst": 0.002,
            "atomDetectionErrorFalsePositiveTypical": 0.001,
            "atomDetectionErrorFalsePositiveWorst": 0.005,
            "atomDetectionErrorFalseNegativeTypical": 0.008,
            "atomDetectionErrorFalseNegativeWorst": 0.03,
        },
        "rydberg": {
            "rydbergGlobal": {
                "rabiFrequencyErrorRel": 0.03,
                "rabiFrequencyGlobalErrorRel": 0.02,
                "rabiFrequencyInhomogeneityRel": 0.02,
                "groundDetectionError": 0.05,
                "rydbergDetectionError": 0.1,
                "groundPrepError": 0.01,
                "rydbergPrepErrorBest": 0.05,
                "rydbergPrepErrorWorst": 0.07,
                "T1Single": 75e-6,
                "T1Ensemble": 75e-6,
                "T2StarSingle": 5e-6,
                "T2StarEnsemble": 4e-6,
                "T2EchoSingle": 5e-6,
                "T2EchoEnsemble": 5e-6,
                "T2RabiSingle": 5e-6,
                "T2RabiEnsemble": 5e-6,
                "T2BlockadedRabiSingle": 4e-6,
                "T2BlockadedRabiEnsemble": 4e-6,
                "detuningError": 1e6,
                "detuningInhomogeneity": 1e6,
                "rabiAmplitudeRampCorrection": [
                    {"rampTime": 5e-8, "rabiCorrection": 0.92},
                    {"rampTime": 1e-7, "rabiCorrection": 1.0},
                ],
            }
        },
    },
}


def _ahs_capabilities(device: Device) -> dict[str, Any]:
    return {
        "braketSchemaHeader": {
            "name": "braket.device_schema.quera.quera_device_capabilities",
            "version": "1",
        },
        "service": _service(device),
        "action": {AHS: {"actionType": AHS, "version": ["1"]}},
        "paradigm": copy.deepcopy(_AQUILA_PARADIGM),
        "deviceParameters": {},
    }


def capabilities(device: Device, calibrations_url: str | None = None) -> dict[str, Any]:
    """The deviceCapabilities document of ``device`` (validated by the SDK's schema classes);
    ``calibrations_url`` is where a pulse device's native gate calibrations can be downloaded."""
    if not device.is_qpu:
        caps = _simulator_capabilities(device)
    elif device.simulator == "braket_ahs":
        caps = _ahs_capabilities(device)
    elif device.provider == DWAVE:
        caps = dwave_capabilities(device.name, device.qubit_count, _service(device))
    elif device.provider == XANADU:
        caps = xanadu_capabilities(device.qubit_count, _service(device))
    else:
        caps = _gate_qpu_capabilities(device, calibrations_url)
    BraketSchemaBase.parse_raw_schema(json.dumps(caps))
    return caps


@cache
def supported_actions(device_arn: str) -> frozenset[str]:
    """The action types (IR names) the device of ``device_arn`` accepts, from its capabilities."""
    return frozenset(capabilities(DEVICES[device_arn])["action"])


@cache
def requires_all_qubits_measured(device_arn: str) -> bool:
    """Whether the device's OpenQASM programs must measure every qubit they declare."""
    action = capabilities(DEVICES[device_arn])["action"].get(OPENQASM, {})
    return bool(action.get("requiresAllQubitsMeasurement"))


@cache
def program_set_limits(device_arn: str) -> dict[str, Any]:
    """The program set action of the device of ``device_arn`` (maximumExecutables, maximumTotalShots)."""
    return dict(capabilities(DEVICES[device_arn])["action"][PROGRAM_SET])


def get_device_document(device: Device, calibrations_url: str | None = None) -> dict[str, Any]:
    """The GetDevice response of ``device``."""
    return {
        **device.summary(),
        "deviceCapabilities": json.dumps(capabilities(device, calibrations_url)),
        "deviceQueueInfo": [
            {"queue": "QUANTUM_TASKS_QUEUE", "queueSize": "0", "queuePriority": "Normal"},
            {"queue": "QUANTUM_TASKS_QUEUE", "queueSize": "0", "queuePriority": "Priority"},
            {"queue": "JOBS_QUEUE", "queueSize": "0"},
        ],
    }
