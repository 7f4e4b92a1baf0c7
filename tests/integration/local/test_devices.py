"""Devices as the unmodified Braket SDK sees them on AWS: every device the SDK's ``Devices`` names
answers GetDevice and SearchDevices, retired ones (D-Wave's and Xanadu's included) with status RETIRED,
and those refuse work; Rigetti's QPU offers pulse control."""

from __future__ import annotations

import math
import warnings
from enum import EnumMeta
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError
from braket.aws import AwsDevice, AwsQuantumJob
from braket.circuits import Circuit, FreeParameter, Gate, QubitSet
from braket.device_schema.dwave import DwaveDeviceCapabilities
from braket.device_schema.xanadu import XanaduDeviceCapabilities
from braket.devices import Devices

from covalent_braket_plugin.local.stack import LocalStack

SV1 = "arn:aws:braket:::device/quantum-simulator/amazon/sv1"
# Every device of every provider class of the SDK's enum; a set, as Devices.IonQ is Devices._IonQ.
EVERY = {
    device for provider in vars(Devices).values() if isinstance(provider, EnumMeta) for device in provider
}
# The SDK names retired devices with a leading underscore.
RETIRED = {device for device in EVERY if device.name.startswith("_")}


@pytest.mark.parametrize("arn", sorted(EVERY), ids=lambda arn: arn.rsplit("/", 1)[-1])
def test_every_device_the_sdk_names_answers_get_device(braket_local_env: LocalStack, arn: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # AwsDevice only warns when it cannot parse the capabilities
        device = AwsDevice(arn)
    retired = arn in RETIRED
    assert device.status == ("RETIRED" if retired else "ONLINE")
    assert not (retired and device.is_available)
    assert device.properties.service.shotsRange[1] > 0


def test_every_device_the_sdk_names_is_listed(braket_local_env: LocalStack) -> None:
    # What the SDK's own test of its enum searches: devices of every status, in every region.
    listed = AwsDevice.get_devices(statuses=["RETIRED", "ONLINE", "OFFLINE"])
    assert {device.arn for device in listed} == EVERY


def test_annealers_and_photonic_devices_parse_in_their_schemas(braket_local_env: LocalStack) -> None:
    annealer = AwsDevice(Devices._DWave._Advantage6)
    assert isinstance(annealer.properties, DwaveDeviceCapabilities)
    assert annealer.topology_graph.number_of_nodes() == annealer.properties.provider.qubitCount
    borealis = AwsDevice(Devices._Xanadu._Borealis)
    assert isinstance(borealis.properties, XanaduDeviceCapabilities)
    assert borealis.properties.paradigm.compilerDefault == "borealis"


def test_search_lists_retired_devices_only_when_asked(braket_local_env: LocalStack) -> None:
    assert {d.arn for d in AwsDevice.get_devices(statuses=["RETIRED"])} == RETIRED
    online = {d.arn for d in AwsDevice.get_devices()}
    assert SV1 in online and not online & RETIRED
    braket = boto3.client("braket")
    found = braket.search_devices(filters=[{"name": "deviceStatus", "values": ["RETIRED"]}])["devices"]
    assert {d["deviceArn"] for d in found} == RETIRED


@pytest.mark.parametrize("arn", [Devices.Amazon._TN1, Devices.IonQ._Aria1, Devices.Rigetti._Ankaa3])
def test_tasks_on_a_retired_device_are_refused(braket_local_env: LocalStack, arn: str) -> None:
    with pytest.raises(ClientError) as caught:
        AwsDevice(arn).run(Circuit().h(0), shots=10)
    error = caught.value.response
    assert error["Error"]["Code"] == "DeviceRetiredException"
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 410
    assert error["Error"]["Message"].startswith("The specified device has been retired")


def test_jobs_and_spending_limits_on_a_retired_device_are_refused(
    braket_local_env: LocalStack, tmp_path: Path
) -> None:
    script = tmp_path / "algorithm.py"
    script.write_text("def main():\n    pass\n")
    role = braket_local_env.create_jobs_role()
    with pytest.raises(ClientError, match="DeviceRetiredException"):
        AwsQuantumJob.create(Devices.IonQ._Aria2, str(script), entry_point="algorithm:main", role_arn=role)
    with pytest.raises(ClientError, match="DeviceRetiredException"):
        boto3.client("braket", region_name="us-west-1").create_spending_limit(
            deviceArn=Devices.Rigetti._AspenM3, spendingLimit="10"
        )


def test_rigetti_cepheus_offers_pulse_control(braket_local_env: LocalStack) -> None:
    device = AwsDevice(Devices.Rigetti.Cepheus1108Q)
    ports, frames = device.ports, device.frames
    assert len(ports) == 4 * 108 and {"q0_rf", "q0_ff", "q0_ro_tx", "q0_ro_rx"} <= set(ports)
    assert frames["q0_rf_frame"].port == ports["q0_rf"]
    assert frames["q0_q1_iswap_frame"].properties["qubitMappings"] == [0, 1]
    # The SDK downloads them with plain urllib, unsigned, from the URL the device's document links.
    calibrations = device.gate_calibrations.pulse_sequences
    assert "play(q0_rf_frame" in calibrations[(Gate.Rx(math.pi / 2), QubitSet(0))].to_ir()
    assert (Gate.ISwap(), QubitSet([0, 1])) in calibrations
    assert (Gate.Rz(FreeParameter("theta")), QubitSet(5)) in calibrations
