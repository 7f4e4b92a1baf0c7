"""What an OpenQASM program measures, read from the SDK's form directly and from anything else
through the simulator's interpreter."""

from __future__ import annotations

import pytest
from braket.circuits import Circuit

from covalent_braket_plugin.local.braket_api.programs import measures_every_qubit


@pytest.mark.parametrize(
    ("source", "every"),
    [
        (Circuit().h(0).cnot(0, 1).to_ir().source, True),
        (Circuit().h(0).cnot(0, 1).measure([0, 1]).to_ir().source, True),
        (Circuit().h(0).cnot(0, 1).h(2).measure([0, 1]).to_ir().source, False),
        ("OPENQASM 3; qubit[2] q; bit[2] c; h q[0]; c = measure q;", True),
        ("OPENQASM 3; qubit[2] q; bit[1] c; h q[0]; c[0] = measure q[0];", False),
        ("OPENQASM 3; const int n = 2; qubit[n] q; bit[n] c; h q[0]; c = measure q;", True),
        ("OPENQASM 3; bit[2] c; h $0; c[0] = measure $0; c[1] = measure $2;", False),
    ],
)
def test_measures_every_qubit(source: str, every: bool) -> None:
    assert measures_every_qubit(source) is every
