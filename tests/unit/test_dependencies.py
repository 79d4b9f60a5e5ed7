"""The pins hold: every dependency exact and installed as pinned, and nameko 2.14.1
(the last stable release) still importable on the pinned setuptools, eventlet and
kombu, on each supported Python."""
import importlib
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
PINS = PROJECT["dependencies"] + PROJECT["optional-dependencies"]["test"]
PIN = re.compile(r"([A-Za-z0-9_.-]+)==([0-9][0-9A-Za-z.]*)")


def nameko_modules():
    """Every nameko module the code and tests import, found in their import lines."""
    found = set()
    for path in [*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py"),
                 *ROOT.glob("tests/**/*.py")]:
        if "node_modules" in path.parts:
            continue
        found.update(re.findall(r"^\s*(?:from|import) (nameko(?:\.\w+)*)", path.read_text(),
                                flags=re.M))
    return sorted(found)


@pytest.mark.parametrize("requirement", PINS)
def test_each_pin_is_exact_and_installed(requirement):
    match = PIN.fullmatch(requirement)
    assert match, f"{requirement}: pin an exact version (==)"
    name, version = match.groups()
    assert metadata.version(name) == version, f"{name}: installed {metadata.version(name)}"


def test_the_supported_pythons_include_this_one():
    assert PROJECT["requires-python"] == ">=3.11,<3.13"
    assert (3, 11) <= sys.version_info[:2] <= (3, 12)


def test_praxis_imports_nameko_modules_that_exist():
    modules = nameko_modules()
    assert {"nameko.web.handlers", "nameko.standalone.rpc"} <= set(modules)  # the scan works
    for name in modules:
        importlib.import_module(name)


def test_the_nameko_entry_points_load():
    """`nameko` (console script) and nameko's pytest plugin; the command imports
    pkg_resources, which setuptools 82 removed: hence setuptools below 82."""
    scripts = metadata.entry_points(group="console_scripts", name="nameko")
    (script,) = scripts
    assert script.value == "nameko.cli.main:main"
    assert callable(script.load())
    (plugin,) = metadata.entry_points(group="pytest11", name="pytest_nameko")
    plugin.load()
    assert int(metadata.version("setuptools").split(".")[0]) < 82


def test_the_nameko_command_runs():
    result = subprocess.run([sys.executable, "-m", "nameko", "--help"], capture_output=True,
                            text=True, timeout=60, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    for command in ("run", "shell", "show-config"):
        assert command in result.stdout


@pytest.mark.parametrize("python, venv", [(None, ".venv"), ("python3.12", ".venv-3.12"),
                                          ("python3.11", ".venv")])
def test_each_python_gets_its_own_virtualenv(python, venv):
    """`make test PYTHON=python3.12` beside the default: the two never share a venv."""
    # Not the make this suite may run under: `make test PYTHON=...` passes its
    # variables on to every make below it (MAKEFLAGS).
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "PYTHON")}
    result = subprocess.run(["make", "-n", "--always-make", "install",
                             *([f"PYTHON={python}"] if python else [])],
                            capture_output=True, text=True, timeout=60, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    assert f"{venv}/bin/pip install" in result.stdout
    assert f"{python or 'python3.11'} -m venv {venv}" in result.stdout
