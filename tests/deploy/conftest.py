"""Fixtures for the deploy checks: rendered overlays, promtool and prometheus."""
import importlib.util
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
OVERLAYS = ("dev", "prod")
MONITORING = K8S / "components" / "monitoring"
RULES = MONITORING / "rules" / "praxis.rules.yml"
RULE_TESTS = MONITORING / "rules" / "praxis.rules.test.yml"
DASHBOARDS = MONITORING / "dashboards"

# deploy/tools/generate.py is a script, not a package: its constants, loaded from the file.
_spec = importlib.util.spec_from_file_location("generate", DEPLOY / "tools" / "generate.py")
generate = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(generate)


def kustomize(path):
    """`kubectl kustomize PATH` as a list of documents; AssertionError with kustomize's words."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.fail("kubectl (with kustomize) is required for the deploy checks")
    result = subprocess.run([kubectl, "kustomize", str(path)], capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, f"kubectl kustomize {path} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(scope="session")
def rendered():
    """{overlay: [documents]} for every overlay."""
    return {overlay: kustomize(K8S / "overlays" / overlay) for overlay in OVERLAYS}


@pytest.fixture(scope="session")
def prometheus_tools():
    """The bin directory holding promtool and prometheus (Debian's package, fetched once
    by deploy/tools/fetch-prometheus.sh into .cache/tools). Skips only when apt cannot
    download the package."""
    script = DEPLOY / "tools" / "fetch-prometheus.sh"
    result = subprocess.run(["bash", str(script)], capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        pytest.skip("promtool/prometheus unavailable: Debian's prometheus package could not "
                    f"be downloaded (apt unreachable?): {result.stderr.strip()}")
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def promtool(prometheus_tools):
    return prometheus_tools / "promtool"
