"""Capabilities documents of the retired devices that are neither gate-model nor analog Hamiltonian
simulators: D-Wave's quantum annealers and Xanadu's photonic Borealis.

AWS retired them but still answers GetDevice for them (status RETIRED) with a document of their
provider's schema (``braket.device_schema.dwave``, ``braket.device_schema.xanadu``), which
``AwsDevice`` parses like any other; so the stack serves such a document too, though it runs no
annealing or photonic task. Calibration figures here (field ranges, thermalization times, modes,
gate parameter bounds) are plausible values of such devices, not their providers' data, and the
annealers' couplers are a chain, a stand-in for their Pegasus and Chimera graphs.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from braket.device_schema.dwave.dwave_2000Q_device_parameters_v1 import Dwave2000QDeviceParameters
from braket.device_schema.dwave.dwave_advantage_device_parameters_v1 import DwaveAdvantageDeviceParameters
from braket.device_schema.xanadu.xanadu_device_parameters_v1 import XanaduDeviceParameters
from braket.schema_common.schema_base import BraketSchemaBase

ANNEALING = "braket.ir.annealing.problem"
BLACKBIRD = "braket.ir.blackbird.program"


@dataclass(frozen=True)
class _Annealer:
    """What tells D-Wave's two generations apart in their documents."""

    parameters: type[BraketSchemaBase]
    topology: dict[str, Any]
    annealing_us: tuple[float, float]
    h_range: tuple[float, float]
    coupling_range: tuple[float, float]


_ANNEALERS = {
    "Advantage": _Annealer(
        DwaveAdvantageDeviceParameters,
        {"type": "pegasus", "shape": [16]},
        annealing_us=(0.5, 2000.0),
        h_range=(-4.0, 4.0),
        coupling_range=(-18.0, 15.0),
    ),
    "DW": _Annealer(
        Dwave2000QDeviceParameters,
        {"type": "chimera", "shape": [16, 16, 4]},
        annealing_us=(1.0, 2000.0),
        h_range=(-2.0, 2.0),
        coupling_range=(-9.0, 6.0),
    ),
}
"""By the first word of the device's name: ``Advantage_system4``, ``DW_2000Q_6``."""


def _header(schema: str) -> dict[str, str]:
    return {"name": f"braket.device_schema.{schema}", "version": "1"}


def dwave_capabilities(name: str, qubits: int, service: dict[str, Any]) -> dict[str, Any]:
    """The document of the D-Wave annealer ``name`` with ``qubits`` qubits (``DwaveDeviceCapabilities``)."""
    annealer = _ANNEALERS[name.split("_")[0]]
    return {
        "braketSchemaHeader": _header("dwave.dwave_device_capabilities"),
        "service": service,
        "action": {ANNEALING: {"actionType": ANNEALING, "version": ["1"]}},
        "deviceParameters": json.loads(annealer.parameters.schema_json()),
        "provider": {
            "braketSchemaHeader": _header("dwave.dwave_provider_properties"),
            "annealingOffsetStep": -1.5e-4,
            "annealingOffsetStepPhi0": 1.4e-5,
            "annealingOffsetRanges": [[-0.6, 0.6]] * qubits,
            "annealingDurationRange": list(annealer.annealing_us),
            "couplers": [[q, q + 1] for q in range(qubits - 1)],
            "defaultAnnealingDuration": 20,
            "defaultProgrammingThermalizationDuration": 1000,
            "defaultReadoutThermalizationDuration": 0,
            "extendedJRange": [-2.0, 1.0],
            "hGainScheduleRange": [-4.0, 4.0],
            "hRange": list(annealer.h_range),
            "jRange": [-1.0, 1.0],
            "maximumAnnealingSchedulePoints": 12,
            "maximumHGainSchedulePoints": 20,
            "perQubitCouplingRange": list(annealer.coupling_range),
            "programmingThermalizationDurationRange": [0, 10000],
            "qubits": list(range(qubits)),
            "qubitCount": qubits,
            "quotaConversionRate": 1.0,
            "readoutThermalizationDurationRange": [0, 10000],
            "taskRunDurationRange": [0, 1_000_000],
            "topology": annealer.topology,
        },
    }


def xanadu_capabilities(modes: int, service: dict[str, Any]) -> dict[str, Any]:
    """The document of Xanadu's Borealis, a time-domain photonic device of ``modes`` temporal modes
    (``XanaduDeviceCapabilities``)."""
    phase = [[-math.pi / 2, math.pi / 2]]
    return {
        "braketSchemaHeader": _header("xanadu.xanadu_device_capabilities"),
        "service": service,
        "action": {
            BLACKBIRD: {
                "actionType": BLACKBIRD,
                "version": ["1"],
                "supportedOperations": ["Sgate", "Rgate", "BSgate", "MeasureFock"],
                "supportedResultTypes": [],
            }
        },
        "paradigm": {
            "braketSchemaHeader": _header("continuous_variable_qpu_paradigm_properties"),
            "modes": {"spatial": 1, "concurrent": 44, "temporal_max": modes},
            "layout": (
                "name template_borealis\nversion 1.0\ntarget borealis (shots=1)\n"
                f"type tdm (temporal_modes={modes})\n"
            ),
            "compiler": ["borealis"],
            "supportedLanguages": ["blackbird:1.0"],
            "compilerDefault": "borealis",
            "nativeGateSet": ["s", "r0", "r1", "r2", "bs0", "bs1", "bs2", "m"],
            "gateParameters": {
                "s": [[0.0, 1.0]],
                **{f"r{loop}": phase for loop in range(3)},
                **{f"bs{loop}": [[0.0, math.pi / 2]] for loop in range(3)},
            },
            "target": "borealis",
        },
        "deviceParameters": json.loads(XanaduDeviceParameters.schema_json()),
    }
