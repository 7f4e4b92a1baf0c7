"""Braket API errors as AWS sends them: the error code names a shape of botocore's service model,
and that shape gives the HTTP status, so botocore raises ``ClientError`` with the same code and
status it would get from the real service."""

from __future__ import annotations

from typing import Any


class BraketError(Exception):
    """An error answer of the Braket API; ``code`` is the name of an error shape of the model."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra


def validation(message: str) -> BraketError:
    return BraketError("ValidationException", message)


def not_found(message: str) -> BraketError:
    return BraketError("ResourceNotFoundException", message)


def conflict(message: str) -> BraketError:
    return BraketError("ConflictException", message)


def quota_exceeded(message: str) -> BraketError:
    return BraketError("ServiceQuotaExceededException", message)


def internal(message: str = "An internal error occurred; try again.") -> BraketError:
    return BraketError("InternalServiceException", message)


def retired(device_arn: str) -> BraketError:
    """DeviceRetiredException (HTTP 410), the model's answer for work sent to a retired device."""
    return BraketError("DeviceRetiredException", f"The specified device has been retired: {device_arn}")
