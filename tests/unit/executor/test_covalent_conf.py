"""covalent.conf: found where covalent looks, and only [executors.braket]'s given keys ever change."""

from __future__ import annotations

from pathlib import Path

import pytest
import toml

from covalent_braket_plugin import covalent_conf

ORIGINAL = """\
[sdk]
log_level = "warning"
executor_dir = "/home/u/.config/covalent/executor_plugins"

[dispatcher]
address = "localhost"
port = 48008

[executors.local]
workdir = "/tmp/w"

[executors.braket]
poll_freq = 10
pip_packages = [ "numpy",]
region = "eu-west-2"
old_key = "from 0.3"
"""


@pytest.fixture
def conf_file(tmp_path: Path) -> Path:
    path = tmp_path / "covalent" / "covalent.conf"
    path.parent.mkdir()
    path.write_text(ORIGINAL)
    return path


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"COVALENT_CONFIG_DIR": "/a", "XDG_CONFIG_DIR": "/b"}, "/a/covalent.conf"),
        ({"XDG_CONFIG_DIR": "/b"}, "/b/covalent.conf"),
        ({}, "{home}/.config/covalent/covalent.conf"),
    ],
)
def test_the_path_follows_covalents_rule(
    environ: dict[str, str], expected: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COVALENT_CONFIG_DIR", raising=False)
    monkeypatch.delenv("XDG_CONFIG_DIR", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    from covalent._shared_files.defaults import get_default_sdk_config

    assert covalent_conf.covalent_conf_path() == Path(expected.format(home=tmp_path))
    assert str(covalent_conf.covalent_conf_path()) == get_default_sdk_config()["config_file"]


def test_reading_a_missing_file_or_section_gives_none(tmp_path: Path) -> None:
    assert covalent_conf.read_executor_section(tmp_path / "none.conf") is None
    other = tmp_path / "other.conf"
    other.write_text('[executors.local]\nworkdir = "/tmp"\n')
    assert covalent_conf.read_executor_section(other) is None


def test_reading_gives_the_raw_section(conf_file: Path) -> None:
    assert covalent_conf.read_executor_section(conf_file) == {
        "poll_freq": 10, "pip_packages": ["numpy"], "region": "eu-west-2", "old_key": "from 0.3",
    }


def test_reading_defaults_to_covalents_file(conf_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVALENT_CONFIG_DIR", str(conf_file.parent))
    assert covalent_conf.read_executor_section()["region"] == "eu-west-2"


def test_writing_changes_only_the_given_keys(conf_file: Path) -> None:
    changed = covalent_conf.write_executor_section(
        {"region": "us-east-1", "s3_bucket_name": "amazon-braket-x"}, conf_file
    )
    assert changed
    before, after = toml.loads(ORIGINAL), toml.loads(conf_file.read_text())
    assert after["executors"]["braket"] == {
        **before["executors"]["braket"], "region": "us-east-1", "s3_bucket_name": "amazon-braket-x",
    }
    del before["executors"]["braket"], after["executors"]["braket"]
    assert after == before


def test_writing_the_same_values_again_leaves_the_file_alone(conf_file: Path) -> None:
    covalent_conf.write_executor_section({"region": "us-east-1"}, conf_file)
    content, stat = conf_file.read_bytes(), conf_file.stat()
    assert covalent_conf.write_executor_section({"region": "us-east-1", "poll_freq": 10}, conf_file) is False
    assert conf_file.read_bytes() == content
    assert conf_file.stat().st_mtime_ns == stat.st_mtime_ns and conf_file.stat().st_ino == stat.st_ino


def test_writing_creates_the_file_and_section(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COVALENT_CONFIG_DIR", str(tmp_path / "new"))
    assert covalent_conf.write_executor_section({"region": "us-west-2"})
    assert toml.loads((tmp_path / "new" / "covalent.conf").read_text()) == {
        "executors": {"braket": {"region": "us-west-2"}}
    }
    assert [p.name for p in (tmp_path / "new").iterdir() if not p.name.endswith(".lock")] == ["covalent.conf"]


def test_writing_keeps_the_files_permissions(conf_file: Path) -> None:
    conf_file.chmod(0o640)
    covalent_conf.write_executor_section({"region": "us-east-1"}, conf_file)
    assert conf_file.stat().st_mode & 0o777 == 0o640


def test_a_file_that_is_not_toml_is_refused_and_kept(tmp_path: Path) -> None:
    broken = tmp_path / "covalent.conf"
    broken.write_text("[executors.braket\nregion = ")
    with pytest.raises(ValueError, match="not valid TOML"):
        covalent_conf.read_executor_section(broken)
    with pytest.raises(ValueError, match="not valid TOML"):
        covalent_conf.write_executor_section({"region": "us-east-1"}, broken)
    assert broken.read_text() == "[executors.braket\nregion = "


def test_a_section_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    odd = tmp_path / "covalent.conf"
    odd.write_text('executors = "braket"\n')
    with pytest.raises(ValueError, match=r"executors\.braket is not a table"):
        covalent_conf.write_executor_section({"region": "us-east-1"}, odd)


def test_unknown_keys_are_those_the_settings_lack(conf_file: Path) -> None:
    section = covalent_conf.read_executor_section(conf_file)
    assert covalent_conf.unknown_keys(section) == ["old_key"]
    assert covalent_conf.unknown_keys({"s3_bucket_name": "x", "regoin": "y", "zz": 1}) == ["regoin", "zz"]
