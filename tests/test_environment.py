"""environment.yml (conda) and pyproject.toml (pip) must name the same dependencies with the same bounds."""

import re
import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PIP = {"pytorch": "torch"}  # conda-forge names that differ from the PyPI ones
USER_EXTRAS = ("book", "test", "data", "equivariant", "explain")  # what `all` installs


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in USER_EXTRAS:
        requirements += project["optional-dependencies"][extra]
    parsed = (Requirement(r) for r in requirements)
    return {normalise(r.name): str(r.specifier) for r in parsed}


def environment_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    entries = []
    for item in env["dependencies"]:
        if isinstance(item, dict):
            entries += [e for e in item["pip"] if not e.startswith("-")]
        elif not re.match(r"^(python|pip)\b", item):
            entries.append(item)
    found = {}
    for entry in entries:
        requirement = Requirement(entry)
        name = CONDA_TO_PIP.get(requirement.name, requirement.name)
        found[normalise(name)] = str(requirement.specifier)
    return found


def test_all_extra_is_the_user_extras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["optional-dependencies"]["all"] == [f"reps4lhc_tutor[{','.join(USER_EXTRAS)}]"]


def test_environment_matches_pyproject():
    assert environment_requirements() == pyproject_requirements()
