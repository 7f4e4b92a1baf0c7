"""The stack's state dir and the access key it accepts: only its owner may read either.

The state dir holds the registry's secret, the jobs' work dirs and the stack's credentials, so it is
made 0700 and the credentials file 0600. The server creates the key on its first start and keeps it
across restarts (an exported ``covalent-braket local env`` stays valid, as an AWS access key does);
clients of the stack (``LocalStack``, ``local env``, the pytest fixtures) read it from here.
"""

from __future__ import annotations

import json
import os
import secrets
import string
from dataclasses import asdict, dataclass
from pathlib import Path

CREDENTIALS_FILE = "credentials.json"
_KEY_ID_ALPHABET = string.ascii_uppercase + "234567"
"""What AWS access key ids are made of (after their AKIA prefix)."""


@dataclass(frozen=True)
class StackCredentials:
    """The access key id and secret access key the stack accepts (and its jobs are given)."""

    aws_access_key_id: str
    aws_secret_access_key: str

    @classmethod
    def generate(cls) -> StackCredentials:
        key_id = "AKIA" + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(16))
        return cls(key_id, secrets.token_urlsafe(30))

    @classmethod
    def load(cls, state_dir: Path) -> StackCredentials:
        """The stack's key from ``state_dir``; OSError or ValueError when it has none (yet)."""
        document = json.loads((state_dir / CREDENTIALS_FILE).read_text())
        return cls(str(document["aws_access_key_id"]), str(document["aws_secret_access_key"]))

    @classmethod
    def load_or_create(cls, state_dir: Path) -> StackCredentials:
        """The key kept in ``state_dir``, made (0600) on the stack's first start."""
        try:
            credentials = cls.load(state_dir)
            (state_dir / CREDENTIALS_FILE).chmod(0o600)
            return credentials
        except (OSError, ValueError, KeyError):
            credentials = cls.generate()
            path = state_dir / CREDENTIALS_FILE
            tmp = path.with_suffix(".tmp")
            tmp.unlink(missing_ok=True)
            descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as file:
                json.dump(asdict(credentials), file)
            tmp.replace(path)
            return credentials


def private_dir(path: Path) -> Path:
    """Make ``path`` (and missing parents) and restrict it to its owner, even if it existed."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)
    return path
