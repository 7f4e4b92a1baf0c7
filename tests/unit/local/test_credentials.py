"""The stack's state dir and key: private to their owner, kept across restarts."""

from __future__ import annotations

import stat
from pathlib import Path

from covalent_braket_plugin.local.credentials import CREDENTIALS_FILE, StackCredentials, private_dir


def test_the_key_is_made_once_owner_only_and_kept(tmp_path: Path) -> None:
    first = StackCredentials.load_or_create(tmp_path)
    assert first.aws_access_key_id.startswith("AKIA") and len(first.aws_access_key_id) == 20
    assert stat.S_IMODE((tmp_path / CREDENTIALS_FILE).stat().st_mode) == 0o600
    assert StackCredentials.load_or_create(tmp_path) == first == StackCredentials.load(tmp_path)
    assert StackCredentials.generate() != first


def test_a_loosened_key_file_is_tightened_again(tmp_path: Path) -> None:
    StackCredentials.load_or_create(tmp_path)
    (tmp_path / CREDENTIALS_FILE).chmod(0o644)
    StackCredentials.load_or_create(tmp_path)
    assert stat.S_IMODE((tmp_path / CREDENTIALS_FILE).stat().st_mode) == 0o600


def test_private_dir_restricts_an_existing_dir(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    state.chmod(0o755)
    private_dir(state)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
