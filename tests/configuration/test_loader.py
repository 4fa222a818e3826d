from pathlib import Path

import pytest

from gateway.configuration import load_config
from gateway.problems import ConfigError

REPO = Path(__file__).resolve().parents[2]


def _copy_config(tmp_path: Path) -> Path:
    target = tmp_path / "config"
    target.mkdir()
    for name in ("gateway.toml", "departments.toml", "routes.toml"):
        (target / name).write_text((REPO / "config" / name).read_text(encoding="utf-8"))
    return target


def test_default_configuration_loads_the_eleven_departments_and_the_case_service() -> None:
    config = load_config(REPO / "config")
    assert (
        len(config.departments) == 13
    )  # DESIGN section 4, plus 330784.onething and the employer channel
    assert config.departments["330784.onething"].receives == frozenset()
    assert config.cases.definition == REPO / "config" / "cases" / "work_injury.toml"
    assert "330700.hrss.assessment" in config.departments
    assert config.gateway.dev_keys is True
    assert config.retry.max_age.days == 3


def test_toml_syntax_error_names_the_file_and_line(tmp_path: Path) -> None:
    directory = _copy_config(tmp_path)
    (directory / "routes.toml").write_text("[[routes]\nname = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_config(directory)
    assert "routes.toml" in caught.value.detail
    assert "line 1" in caught.value.detail


def test_bad_delivery_mode_names_the_place(tmp_path: Path) -> None:
    directory = _copy_config(tmp_path)
    text = (directory / "departments.toml").read_text(encoding="utf-8")
    (directory / "departments.toml").write_text(
        text.replace('delivery = { mode = "pull" }', 'delivery = { mode = "pusj" }', 1)
    )
    with pytest.raises(ConfigError) as caught:
        load_config(directory)
    assert "departments.toml: departments[0].delivery.mode" in caught.value.detail


def test_route_to_unknown_department_is_refused(tmp_path: Path) -> None:
    directory = _copy_config(tmp_path)
    with (directory / "routes.toml").open("a") as handle:
        handle.write(
            '\n[[routes]]\nname = "typo"\ntype = "cn.gov.zj.injury.x.v1"\nto = ["330784.nosuch"]\n'
        )
    with pytest.raises(ConfigError) as caught:
        load_config(directory)
    assert "unknown department '330784.nosuch'" in caught.value.detail
    assert "routes[21].to[0]" in caught.value.detail


def test_private_key_in_configuration_is_refused(tmp_path: Path) -> None:
    directory = _copy_config(tmp_path)
    with (directory / "departments.toml").open("a") as handle:
        handle.write(
            '\n[[departments]]\nid = "330784.extra"\nname = "x"\n'
            '[[departments.keys]]\nname = "k1"\njwk = { kty = "OKP", crv = "Ed25519", '
            'x = "abc", d = "secret" }\n'
        )
    with pytest.raises(ConfigError) as caught:
        load_config(directory)
    assert "private key" in caught.value.detail
    assert "secret" not in caught.value.detail


def test_missing_directory_and_unknown_keys(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "nope")
    directory = _copy_config(tmp_path)
    with (directory / "gateway.toml").open("a") as handle:
        handle.write("\n[surprise]\nx = 1\n")
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(directory)


def test_bad_duration(tmp_path: Path) -> None:
    directory = _copy_config(tmp_path)
    text = (directory / "gateway.toml").read_text()
    (directory / "gateway.toml").write_text(text.replace('max_age = "3d"', 'max_age = "3 days"'))
    with pytest.raises(ConfigError, match=r"retry.max_age: must be a duration"):
        load_config(directory)


def test_control_characters_in_a_name_are_refused(tmp_path: Path) -> None:
    directory = _copy_config(tmp_path)
    text = (directory / "departments.toml").read_text(encoding="utf-8")
    (directory / "departments.toml").write_text(
        text.replace('name_zh = "浙里办"', 'name_zh = "浙里\\u0000办"', 1), encoding="utf-8"
    )
    with pytest.raises(ConfigError) as caught:
        load_config(directory)
    assert "departments[0].name_zh: must not hold control characters" in caught.value.detail
