"""GetDevice and SearchDevices over the device catalogue of ``devices.py``.

A device document is made once per device and kept: a pulse device's document links its native gate
calibrations, which are published to the stack's S3 the first time the device is asked for.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from covalent_braket_plugin.local.braket_api.devices import DEVICES, Device, get_device_document
from covalent_braket_plugin.local.braket_api.errors import not_found
from covalent_braket_plugin.local.braket_api.pulse import native_gate_calibrations
from covalent_braket_plugin.local.braket_api.record_search import Records, filters_of, search_page
from covalent_braket_plugin.local.braket_api.resource_model import ResourceModel
from covalent_braket_plugin.local.public_objects import PublicObjects

CALIBRATIONS_BUCKET = "amazon-braket-device-calibrations"
"""The stack's S3 bucket of pulse devices' native gate calibrations (linked from GetDevice)."""


class DeviceModel(ResourceModel):
    """The devices of the Braket API: read only, the catalogue is fixed."""

    def __init__(self, public: PublicObjects) -> None:
        self.public = public
        self._devices: dict[str, dict[str, Any]] = {}

    def get_device(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        """The device's document; a QPU lives in the region its ARN names, and GetDevice in another
        region does not find it, as on AWS (the SDK's ``AwsDevice`` then asks in the ARN's region)."""
        device = DEVICES.get(params["deviceArn"])
        arn_region = params["deviceArn"].split(":")[3] if device is not None else ""
        if device is None or (arn_region and arn_region != region):
            raise not_found(f"Braket device {params['deviceArn']} not found")
        with self._lock:
            if device.arn not in self._devices:
                url = self._publish_calibrations(device) if device.has_pulse else None
                self._devices[device.arn] = get_device_document(device, url)
            return dict(self._devices[device.arn])

    def _publish_calibrations(self, device: Device) -> str | None:
        """Put the device's native gate calibrations in the stack's S3, make that object public and
        return its URL.

        AWS links them as a URL the SDK downloads without credentials; here it is the object's
        path-style S3 URL on the stack's endpoint. Public takes two grants: the object's ACL lets
        anyone read it, as S3 (and moto) require of an unsigned read, and the gateway, which refuses
        every other unsigned request, lets unsigned reads of this object through.
        """
        if self.services is None:
            return None
        key = f"{device.provider}/{device.name}/native-gate-calibrations.json"
        document = native_gate_calibrations(device.qubit_count, device.connectivity)
        s3 = self.services.client("s3")
        try:
            if self.default_region == "us-east-1":
                s3.create_bucket(Bucket=CALIBRATIONS_BUCKET)
            else:
                s3.create_bucket(
                    Bucket=CALIBRATIONS_BUCKET,
                    CreateBucketConfiguration={"LocationConstraint": self.default_region},
                )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "BucketAlreadyOwnedByYou":
                raise
        s3.put_object(
            Bucket=CALIBRATIONS_BUCKET,
            Key=key,
            Body=json.dumps(document).encode(),
            ContentType="application/json",
            ACL="public-read",
        )
        self.public.publish(CALIBRATIONS_BUCKET, key)
        return f"{self.services.endpoint_url.rstrip('/')}/{CALIBRATIONS_BUCKET}/{key}"

    def search_devices(self, params: dict[str, Any], region: str) -> dict[str, Any]:
        fields = {
            "deviceArn": lambda d: d["deviceArn"],
            "deviceName": lambda d: d["deviceName"],
            "providerName": lambda d: d["providerName"],
            "deviceType": lambda d: d["deviceType"],
            "deviceStatus": lambda d: d["deviceStatus"],
        }
        filters = filters_of(params, fields)
        summaries = [d.summary() for d in DEVICES.values()]
        records = Records("Braket device")
        for s in summaries:
            records.add(s["deviceArn"], {**s, "createdAt": datetime.fromtimestamp(0, UTC)})
        items, token = search_page(records, filters, params, lambda r: {k: r[k] for k in summaries[0]})
        return {"devices": items, "nextToken": token}
