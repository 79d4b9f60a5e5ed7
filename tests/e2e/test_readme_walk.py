"""The README's curl walk, run as written against four service processes."""
import subprocess
from pathlib import Path

import pytest

from tests.e2e.conftest import ROOT

pytestmark = pytest.mark.e2e


def walk_script():
    text = (Path(ROOT) / "README.md").read_text()
    block = text.split("<!-- walk:start -->", 1)[1].split("<!-- walk:end -->", 1)[0]
    return block.split("```sh", 1)[1].rsplit("```", 1)[0]


@pytest.mark.parametrize("praxis", ["sqlite"], indirect=True)
def test_readme_walk_works_as_written(praxis):
    env = {**praxis.env, "INTAKE": praxis.urls["intake"],
           "SCHEDULING": praxis.urls["scheduling"], "NOTES": praxis.urls["notes"],
           "BILLING": praxis.urls["billing"]}
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", walk_script()], cwd=ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert '"reassessment"' in out
    assert "49000" in out
    assert '"90834"' in out and '"90832"' in out and '"90837"' in out
    assert '"sessions": 4' in out and '"goals": 1' in out
