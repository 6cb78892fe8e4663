from __future__ import annotations

from pathlib import Path

import pytest

from kagura_magic.settings import config_path, load_user_settings


def test_path_follows_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("KAGURA_CONFIG", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert config_path() == tmp_path / "kagura_magic" / "config.toml"
    monkeypatch.setenv("KAGURA_CONFIG", str(tmp_path / "mine.toml"))
    assert config_path() == tmp_path / "mine.toml"


def test_values_map_to_traits(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('model = "demo/echo"\nformat = "text"\ntemperature = 0.2\n[params]\nseed = 7\n')
    settings = load_user_settings(path)
    assert settings.values == {
        "model": "demo/echo",
        "default_format": "text",
        "temperature": 0.2,
        "params": {"seed": 7},
    }
    assert settings.problems == []


def test_bad_files_are_reported_not_raised(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("model = \n")
    assert "not read" in load_user_settings(broken).problems[0]
    unknown = tmp_path / "unknown.toml"
    unknown.write_text('colour = "blue"\n')
    assert "unknown setting 'colour'" in load_user_settings(unknown).problems[0]
    assert load_user_settings(tmp_path / "missing.toml").values == {}
