"""environment.yml (conda) and pyproject.toml (pip) must ask for the same packages."""

import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _pyproject_requirements() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return set(project["dependencies"]) | set(project["optional-dependencies"]["dev"])


def test_environment_yml_parses_and_names_the_env():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert env["name"] == "lmcourse"
    assert any(str(d).startswith("python") for d in env["dependencies"] if isinstance(d, str))


def test_conda_and_pip_install_the_same_packages_with_the_same_bounds():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip_section = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    packages = {line for line in pip_section if not line.startswith("-")}
    assert packages == _pyproject_requirements()
    assert "-c constraints.txt" in pip_section and "-e ." in pip_section


def test_torch_is_pinned_to_the_cpu_build_in_the_constraints_file():
    pins = [line.strip() for line in (ROOT / "constraints.txt").read_text().splitlines()
            if line.strip() and not line.startswith("#")]
    assert "torch==2.13.0" in pins


def test_conda_python_is_one_that_requires_python_allows():
    # the code and tests need 3.11 (tomllib, above); conda must not build an env pip would refuse
    floor = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    python = next(d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python"))
    assert floor == ">=3.11" and python == "python=3.11", (floor, python)
