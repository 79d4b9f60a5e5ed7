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
CUSTOM_GROUPS = ("rabbitmq.com", "postgresql.cnpg.io", "monitoring.coreos.com", "cert-manager.io")


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
        # A read-model rebuild keeps a new pod unready (never unlive) while the old serves.
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        assert deployment["spec"]["progressDeadlineSeconds"] >= 3600
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(container["resources"][bound]), bound
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert container["securityContext"]["readOnlyRootFilesystem"] is True
        env = {e["name"]: e for e in container["env"]}
        secret_of = {name: e["valueFrom"]["secretKeyRef"]["name"]
                     for name, e in env.items() if "secretKeyRef" in e.get("valueFrom", {})}
        assert secret_of["PRAXIS_DATABASE_SECRET_URI"] == f"praxis-{service}-db-app"
        assert env[f"PRAXIS_{service.upper()}_DATABASE_URL"]["value"] == (
            "$(PRAXIS_DATABASE_SECRET_URI)$(PRAXIS_DATABASE_URL_PARAMS)")
        # Its own broker user, never the cluster's default (administrator) user.
        credentials = f"praxis-{service}-broker-user-credentials"
        assert secret_of["PRAXIS_AMQP_USERNAME"] == credentials
        assert secret_of["PRAXIS_AMQP_PASSWORD"] == credentials
        assert env[f"PRAXIS_{service.upper()}_AMQP_URI"]["value"] == (
            "$(PRAXIS_AMQP_SCHEME)://$(PRAXIS_AMQP_USERNAME):$(PRAXIS_AMQP_PASSWORD)"
            "@$(PRAXIS_AMQP_HOST):$(PRAXIS_AMQP_PORT)/")
        # Referenced variables are defined before the ones using them.
        names = [e["name"] for e in container["env"]]
        for later, earlier in ((f"PRAXIS_{service.upper()}_AMQP_URI", "PRAXIS_AMQP_PORT"),
                               (f"PRAXIS_{service.upper()}_DATABASE_URL",
                                "PRAXIS_DATABASE_SECRET_URI")):
            assert names.index(earlier) < names.index(later)
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


def test_prod_backs_up_every_database_and_dev_none(rendered):
    clusters = of_kind(rendered["prod"], "Cluster")
    for name, cluster in clusters.items():
        backup = cluster["spec"]["backup"]
        assert backup["retentionPolicy"] == "30d"
        store = backup["barmanObjectStore"]
        assert store["destinationPath"].startswith("s3://")
        assert {ref["name"] for ref in store["s3Credentials"].values()} == {"praxis-backup-s3"}
        assert store["wal"]["compression"] == "gzip"
    scheduled = of_kind(rendered["prod"], "ScheduledBackup")
    assert sorted(b["spec"]["cluster"]["name"] for b in scheduled.values()) == sorted(clusters)
    for backup in scheduled.values():
        assert backup["spec"]["method"] == "barmanObjectStore"
        assert len(backup["spec"]["schedule"].split()) == 6  # CloudNativePG: seconds first
    assert not of_kind(rendered["dev"], "ScheduledBackup")
    assert not [c for c in of_kind(rendered["dev"], "Cluster").values() if "backup" in c["spec"]]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_network_policies_allow_only_dns_broker_own_database_https_and_smtp(rendered, overlay):
    for service in SERVICES:
        policy = of_kind(rendered[overlay], "NetworkPolicy")[f"praxis-{service}"]["spec"]
        assert policy["policyTypes"] == ["Ingress", "Egress"]
        allowed = []
        for rule in policy["egress"]:
            ports = sorted(p["port"] for p in rule["ports"])
            for peer in rule["to"]:
                who = (("cidr", peer["ipBlock"]["cidr"]),) if "ipBlock" in peer else tuple(sorted(
                    peer.get("podSelector", {}).get("matchLabels", {}).items()))
                allowed.append((who, tuple(ports)))
        assert sorted(allowed) == sorted([
            ((("app.kubernetes.io/name", "praxis-rabbitmq"),), (5671, 5672)),
            ((("cnpg.io/cluster", f"praxis-{service}-db"),), (5432,)),
            ((("k8s-app", "kube-dns"),), (53, 53)),
            # The OpenID Connect provider's discovery document and keys: HTTPS anywhere.
            ((("cidr", "0.0.0.0/0"),), (443,)), ((("cidr", "::/0"),), (443,)),
            # scheduling's appointment reminders: the organisation's mail relay.
            *([((("cidr", "0.0.0.0/0"),), (25, 465, 587)), ((("cidr", "::/0"),), (25, 465, 587))]
              if service == "scheduling" else []),
        ])
        (ingress,) = policy["ingress"]
        assert ingress["ports"] == [{"protocol": "TCP", "port": "http"}]
        # From namespaces by a label of Praxis's, never by an ingress controller's name.
        assert [peer["namespaceSelector"]["matchLabels"] for peer in ingress["from"]] == [
            {"praxis.io/ingress": "allowed"}, {"praxis.io/metrics": "allowed"}]


def test_prod_speaks_tls_to_broker_databases_and_clients(rendered):
    docs = rendered["prod"]
    config = of_kind(docs, "ConfigMap")
    (config,) = [c["data"] for name, c in config.items() if name.startswith("praxis-config")]
    assert (config["PRAXIS_AMQP_SCHEME"], config["PRAXIS_AMQP_PORT"]) == ("amqps", "5671")
    assert config["PRAXIS_DATABASE_URL_PARAMS"] == (
        "?sslmode=verify-full&sslrootcert=/etc/praxis/tls/database/ca.crt")
    secrets = {c["spec"]["secretName"]: c for c in of_kind(docs, "Certificate").values()}
    broker = of_kind(docs, "RabbitmqCluster")["praxis-rabbitmq"]["spec"]["tls"]
    assert "praxis-rabbitmq" in secrets[broker["secretName"]]["spec"]["dnsNames"]
    for service in SERVICES:
        cluster = of_kind(docs, "Cluster")[f"praxis-{service}-db"]["spec"]["certificates"]
        names = secrets[cluster["serverTLSSecret"]]["spec"]["dnsNames"]
        assert f"praxis-{service}-db-rw" in names  # the host of CloudNativePG's uri
        pod = of_kind(docs, "Deployment")[f"praxis-{service}"]["spec"]["template"]["spec"]
        (volume,) = [v for v in pod["volumes"] if v["name"] == "tls-ca"]
        mounted = {item["path"]: source["secret"]["name"]
                   for source in volume["projected"]["sources"]
                   for item in source["secret"]["items"]}
        assert mounted == {"broker/ca.crt": broker["secretName"],
                           "database/ca.crt": cluster["serverTLSSecret"]}
        (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "tls-ca"]
        assert config["PRAXIS_AMQP_CA_FILE"] == mount["mountPath"] + "/broker/ca.crt"
    (ingress,) = of_kind(docs, "Ingress").values()
    (tls,) = ingress["spec"]["tls"]
    assert sorted(tls["hosts"]) == sorted(secrets[tls["secretName"]]["spec"]["dnsNames"])
    services = of_kind(docs, "Service")
    for rule in ingress["spec"]["rules"]:
        assert rule["host"] in tls["hosts"]
        (path,) = rule["http"]["paths"]
        backend = path["backend"]["service"]
        ports = [p["name"] for p in services[backend["name"]]["spec"]["ports"]]
        assert backend["port"]["name"] in ports
    dev = rendered["dev"]
    assert not of_kind(dev, "Certificate") and not of_kind(dev, "Ingress")
    (dev_config,) = [c["data"] for n, c in of_kind(dev, "ConfigMap").items()
                     if n.startswith("praxis-config")]
    assert (dev_config["PRAXIS_AMQP_SCHEME"], dev_config["PRAXIS_DATABASE_URL_PARAMS"]) == (
        "amqp", "")


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
