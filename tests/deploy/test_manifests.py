"""Kustomize renders every overlay; the core kinds pass kubernetes-validate in
strict mode; the rendered objects have what issue 7 asks of them."""
import subprocess
import sys

import kubernetes_validate
import pytest

from tests.deploy.conftest import K8S, OVERLAYS, ROOT, kustomize

# The versions checked: kubectl on this machine is 1.32 (clusters still run it) and
# 1.35 is a current release of managed Kubernetes; both must accept every core object.
KUBERNETES_VERSIONS = ("1.32.0", "1.35.0")
SERVICES = ("intake", "scheduling", "notes", "billing")
CUSTOM_GROUPS = ("rabbitmq.com", "postgresql.cnpg.io", "monitoring.coreos.com")


def is_custom(doc):
    return doc["apiVersion"].split("/")[0] in CUSTOM_GROUPS


def of_kind(docs, kind):
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def test_generated_files_are_current():
    result = subprocess.run([sys.executable, "deploy/tools/generate.py", "--check"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("path", ["base", "components/rabbitmq", "components/postgres",
                                  "components/monitoring"])
def test_every_component_is_used_by_every_overlay(path):
    for overlay in OVERLAYS:
        text = (K8S / "overlays" / overlay / "kustomization.yaml").read_text()
        assert f"../../{path}" in text, f"{overlay} does not use {path}"


def test_base_renders_alone():
    docs = kustomize(K8S / "base")
    assert sorted(of_kind(docs, "Deployment")) == sorted(f"praxis-{s}" for s in SERVICES)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_core_kinds_pass_strict_validation(rendered, overlay, version):
    checked = 0
    for doc in rendered[overlay]:
        if is_custom(doc):
            continue
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            pytest.fail(f"{overlay}: {doc['kind']}/{doc['metadata']['name']} invalid for "
                        f"Kubernetes {version}: {exc.caught.message} at "
                        f"{'.'.join(map(str, exc.caught.absolute_path))}")
        checked += 1
    assert checked >= 20


def test_strict_validation_catches_an_unknown_field(rendered):
    """The check above can fail: a misspelt probe field is refused."""
    deployment = next(d for d in rendered["dev"] if d["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[0], strict=True)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_has_its_objects(rendered, overlay):
    docs = rendered[overlay]
    for kind in ("Deployment", "Service", "PodDisruptionBudget", "NetworkPolicy"):
        assert sorted(of_kind(docs, kind)) == sorted(f"praxis-{s}" for s in SERVICES), kind
    assert sorted(of_kind(docs, "Cluster")) == sorted(f"praxis-{s}-db" for s in SERVICES)
    assert list(of_kind(docs, "RabbitmqCluster")) == ["praxis-rabbitmq"]
    assert list(of_kind(docs, "ServiceMonitor")) == ["praxis"]
    assert list(of_kind(docs, "PrometheusRule")) == ["praxis"]
    namespaces = {d["metadata"].get("namespace") for d in docs if d["kind"] != "Namespace"}
    assert namespaces == {f"praxis-{overlay}" if overlay == "dev" else "praxis"}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_deployments_probe_limit_and_take_config_and_secrets(rendered, overlay):
    docs = rendered[overlay]
    config_maps = of_kind(docs, "ConfigMap")
    for service in SERVICES:
        deployment = of_kind(docs, "Deployment")[f"praxis-{service}"]
        pod = deployment["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        assert container["args"] == [service]
        assert container["image"].startswith("ghcr.io/praxis/praxis:")
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert container["startupProbe"]["httpGet"]["path"] == "/livez"
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][bound]), bound
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        env = {e["name"]: e for e in container["env"]}
        secret_of = {name: e["valueFrom"]["secretKeyRef"]["name"]
                     for name, e in env.items() if "secretKeyRef" in e.get("valueFrom", {})}
        assert secret_of[f"PRAXIS_{service.upper()}_DATABASE_URL"] == f"praxis-{service}-db-app"
        # Its own broker user, never the cluster's default (administrator) user.
        credentials = f"praxis-{service}-broker-user-credentials"
        assert secret_of["PRAXIS_AMQP_USERNAME"] == credentials
        assert secret_of["PRAXIS_AMQP_PASSWORD"] == credentials
        assert "$(PRAXIS_AMQP_USERNAME)" in env[f"PRAXIS_{service.upper()}_AMQP_URI"]["value"]
        assert "PRAXIS_AMQP_URI" not in env
        assert secret_of["PRAXIS_TOKEN_SECRET"].startswith("praxis-token")
        (config_ref,) = container["envFrom"]
        config = config_maps[config_ref["configMapRef"]["name"]]["data"]
        assert config["PRAXIS_HOST"] == "0.0.0.0"
        port = container["ports"][0]["containerPort"]
        assert env[f"PRAXIS_{service.upper()}_PORT"]["value"] == str(port)


def test_dev_runs_one_of_everything(rendered):
    docs = rendered["dev"]
    assert {d["spec"]["replicas"] for d in of_kind(docs, "Deployment").values()} == {1}
    assert not of_kind(docs, "HorizontalPodAutoscaler")
    assert of_kind(docs, "RabbitmqCluster")["praxis-rabbitmq"]["spec"]["replicas"] == 1
    assert {c["spec"]["instances"] for c in of_kind(docs, "Cluster").values()} == {1}


def test_prod_is_replicated(rendered):
    docs = rendered["prod"]
    assert {d["spec"]["replicas"] for d in of_kind(docs, "Deployment").values()} == {3}
    autoscalers = of_kind(docs, "HorizontalPodAutoscaler")
    assert sorted(autoscalers) == sorted(f"praxis-{s}" for s in SERVICES)
    for hpa in autoscalers.values():
        assert hpa["spec"]["minReplicas"] == 3 and hpa["spec"]["maxReplicas"] > 3
    assert of_kind(docs, "RabbitmqCluster")["praxis-rabbitmq"]["spec"]["replicas"] == 3
    for cluster in of_kind(docs, "Cluster").values():
        assert cluster["spec"]["instances"] == 3
        assert cluster["spec"]["minSyncReplicas"] == 1
    assert not [d for d in docs if d["kind"] == "Secret"], "prod must not ship a secret"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_allow_only_dns_broker_and_own_database(rendered, overlay):
    for service in SERVICES:
        policy = of_kind(rendered[overlay], "NetworkPolicy")[f"praxis-{service}"]["spec"]
        assert policy["policyTypes"] == ["Ingress", "Egress"]
        allowed = []
        for rule in policy["egress"]:
            ports = sorted(p["port"] for p in rule["ports"])
            for peer in rule["to"]:
                allowed.append((tuple(sorted(peer.get("podSelector", {})
                                             .get("matchLabels", {}).items())), tuple(ports)))
        assert sorted(allowed) == sorted([
            ((("app.kubernetes.io/name", "praxis-rabbitmq"),), (5672,)),
            ((("cnpg.io/cluster", f"praxis-{service}-db"),), (5432,)),
            ((("k8s-app", "kube-dns"),), (53, 53)),
        ])
        (ingress,) = policy["ingress"]
        assert ingress["ports"] == [{"protocol": "TCP", "port": "http"}]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_dashboards_are_labelled_for_the_grafana_sidecar(rendered, overlay):
    config_map = of_kind(rendered[overlay], "ConfigMap")["praxis-dashboards"]
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert sorted(config_map["data"]) == ["praxis-overview.json", "praxis-practice.json",
                                          "praxis-service.json"]


def test_kustomize_refuses_a_broken_overlay(tmp_path):
    """A kustomization naming a missing component fails the render (and so the checks)."""
    (tmp_path / "kustomization.yaml").write_text(
        f"resources: [{K8S / 'base'}]\ncomponents: [{K8S / 'components' / 'missing'}]\n")
    with pytest.raises(AssertionError, match="kubectl kustomize"):
        kustomize(tmp_path)
