"""The custom resources (RabbitmqCluster, the topology operator's User, Permission and
TopicPermission, CloudNativePG Cluster and ScheduledBackup, ServiceMonitor,
PrometheusRule, cert-manager Certificate) against the
operators' CRD schemas kept in deploy/crds.

Validation is strict like the API server with kubectl's field validation: where a
schema lists properties and neither allows additional ones nor preserves unknown
fields, any other field is an error."""
import copy

import jsonschema
import pytest
import yaml

from shared import broker_identity
from shared.config import SERVICES
from tests.broker_admin import BrokerAdmin
from tests.deploy.conftest import DEPLOY, K8S, OVERLAYS

KINDS = {("rabbitmq.com", "RabbitmqCluster"), ("rabbitmq.com", "User"),
         ("rabbitmq.com", "Permission"), ("rabbitmq.com", "TopicPermission"),
         ("postgresql.cnpg.io", "Cluster"), ("postgresql.cnpg.io", "ScheduledBackup"),
         ("monitoring.coreos.com", "ServiceMonitor"), ("monitoring.coreos.com", "PrometheusRule"),
         ("cert-manager.io", "Certificate")}


def strict(schema):
    """OpenAPI v3 (structural, as CRDs use it) -> JSON Schema refusing unknown fields."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: strict(value) for key, value in schema.items()
           if not key.startswith("x-kubernetes-") and key not in ("nullable", "format")}
    if schema.get("nullable") and "type" in out:
        out["type"] = [out["type"], "null"]
    if schema.get("x-kubernetes-int-or-string") and "anyOf" not in out:
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if ("properties" in schema and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        out["additionalProperties"] = False
    return out


def load_validators():
    validators = {}
    for path in sorted((DEPLOY / "crds").glob("*.yaml")):
        crd = yaml.safe_load(path.read_text())
        group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
        for version in crd["spec"]["versions"]:
            schema = strict(version["schema"]["openAPIV3Schema"])
            validators[(f"{group}/{version['name']}", kind)] = jsonschema.Draft7Validator(schema)
    return validators


VALIDATORS = load_validators()


def errors_of(doc):
    validator = VALIDATORS.get((doc["apiVersion"], doc["kind"]))
    assert validator is not None, f"no CRD in deploy/crds for {doc['apiVersion']} {doc['kind']}"
    return [f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
            for e in validator.iter_errors(doc)]


def custom_resources(docs):
    return [d for d in docs if (d["apiVersion"].split("/")[0], d["kind"]) in KINDS]


def test_every_custom_kind_has_a_crd():
    assert {(api.split("/")[0], kind) for api, kind in VALIDATORS} == KINDS


def test_crd_files_stay_small():
    for path in (DEPLOY / "crds").glob("*"):
        assert path.stat().st_size < 200_000, path


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_custom_resources_match_their_crds(rendered, overlay):
    resources = custom_resources(rendered[overlay])
    # broker, a User and a Permission per service, four databases, ServiceMonitor, rules;
    # prod: a ScheduledBackup per database, certificates of the broker, each database, the APIs
    assert len(resources) == {"dev": 15, "prod": 25}[overlay]
    problems = {f"{d['kind']}/{d['metadata']['name']}": errors_of(d) for d in resources}
    assert not {k: v for k, v in problems.items() if v}


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_each_service_has_its_broker_user_with_its_permissions(rendered, overlay):
    docs = rendered[overlay]
    users = {d["metadata"]["name"] for d in docs if d["kind"] == "User"}
    assert users == {f"praxis-{s}-broker" for s in SERVICES}
    permissions = {d["spec"]["userReference"]["name"]: d["spec"]
                   for d in docs if d["kind"] == "Permission"}
    for service in SERVICES:
        spec = permissions[f"praxis-{service}-broker"]
        assert spec["vhost"] == "/"
        assert spec["permissions"] == broker_identity.service_permissions(service)
        assert spec["rabbitmqClusterReference"] == {"name": "praxis-rabbitmq"}


def test_the_integrator_template_matches_its_crds():
    docs = [d for d in yaml.safe_load_all((K8S / "integrators" / "example-org.yaml").read_text())
            if d]
    assert sorted(d["kind"] for d in docs) == ["Permission", "TopicPermission",
                                               "TopicPermission", "TopicPermission",
                                               "TopicPermission", "User"]
    problems = {f"{d['kind']}/{d['metadata']['name']}": errors_of(d) for d in docs}
    assert not {k: v for k, v in problems.items() if v}
    topics = {d["spec"]["permissions"]["exchange"]: d["spec"]["permissions"]["read"]
              for d in docs if d["kind"] == "TopicPermission"}
    assert topics == {f"{s}.events": r"^example-org\." for s in SERVICES}


@pytest.mark.parametrize("kind, path, value", [
    ("RabbitmqCluster", ("spec", "replica"), 3),                   # misspelt field
    ("RabbitmqCluster", ("spec", "replicas"), "three"),            # wrong type
    ("Permission", ("spec", "permissions", "configur"), ".*"),      # misspelt permission
    ("User", ("spec", "tags"), ["root"]),                          # not one of its tags
    ("Cluster", ("spec", "bootstrap", "initdb", "db"), "intake"),  # unknown nested field
    ("Cluster", ("spec", "instances"), 0),                         # below the minimum
    ("Cluster", ("spec", "backup", "retentionPolicy"), "30 days"),  # not its pattern
    ("Cluster", ("spec", "backup", "barmanObjectStore", "wal", "compression"), "zip"),
    ("ScheduledBackup", ("spec", "method"), "pg_dump"),           # not one of its methods
    ("ScheduledBackup", ("spec", "clusterName"), "praxis-intake-db"),
    ("Certificate", ("spec", "dnsName"), ["praxis-rabbitmq"]),     # misspelt field
    ("Certificate", ("spec", "privateKey", "algorithm"), "DSA"),  # not one of its algorithms
    ("ServiceMonitor", ("spec", "endpoints", 0, "honorLabel"), True),
    ("PrometheusRule", ("spec", "groups", 0, "rules", 0, "for"), "ten minutes"),
])
def test_a_broken_custom_resource_is_refused(rendered, kind, path, value):
    doc = copy.deepcopy(next(d for d in rendered["prod"] if d["kind"] == kind))
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    assert errors_of(doc), f"{kind} with {'.'.join(map(str, path))}={value!r} passed"


def major_minor(version):
    return tuple(int(part) for part in version.split(".")[:2])


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_broker_image_is_the_rabbitmq_the_tests_run_against(rendered, overlay, amqp_base_uri):
    (cluster,) = [d for d in rendered[overlay] if d["kind"] == "RabbitmqCluster"]
    image = cluster["spec"]["image"]
    name, _, tag = image.partition(":")
    assert name == "rabbitmq" and tag.endswith("-management"), \
        f"{image}: the operator needs the management plugin, in the official image"
    pinned = tag.removesuffix("-management")
    assert pinned.count(".") == 2, f"{image}: pinned to a release, not a moving tag"
    tested = BrokerAdmin(amqp_base_uri).version()
    assert major_minor(pinned) == major_minor(tested), \
        f"deploy/ runs RabbitMQ {pinned}, the tests run against {tested}"
