"""The event contract: docs/events/asyncapi.json and docs/events/schemas/*.json are the
catalogue's, valid by the official AsyncAPI CLI, and only ever change additively."""
import copy
import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest
from jsonschema import Draft7Validator, FormatChecker
from marshmallow import Schema, fields, validate

from shared import asyncapi
from shared.compat import breaking_changes, version_problems
from shared.envelope import Event, dataschema_uri
from shared.events import catalogue
from shared.registry import EventRegistry
from tests.support import make_event

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "events"
STORED = Path(__file__).resolve().parent / "stored_events"
CLI = ROOT / "tests" / "asyncapi" / "node_modules" / ".bin" / "asyncapi"
REGENERATE = "run `make catalogue`"


def committed():
    return {str(path.relative_to(DOCS)): path.read_text()
            for path in [DOCS / "asyncapi.json", *sorted((DOCS / "schemas").glob("*.json"))]}


def test_every_published_schema_is_changed_additively_only():
    generated = asyncapi.files()
    problems = []
    for relative, text in committed().items():
        if not relative.startswith("schemas/"):
            continue
        if relative not in generated:
            problems.append(f"{relative}: a published type and version left the catalogue")
            continue
        problems += [f"{relative}: {change}"
                     for change in breaking_changes(json.loads(text),
                                                    json.loads(generated[relative]))]
    assert not problems, ("breaking changes to published events; make them a new version "
                          "with an upcaster (README, Events):\n" + "\n".join(problems))


def test_committed_contract_files_equal_the_generated_ones():
    generated, files = asyncapi.files(), committed()
    assert sorted(files) == sorted(generated), REGENERATE
    for relative, text in generated.items():
        assert files[relative] == text, f"{relative} is stale: {REGENERATE}"


def test_one_schema_file_per_published_type_and_version_named_by_dataschema():
    published = asyncapi.published()
    assert {s.private for s in catalogue.specs()} == {False, True}  # private ones exist
    assert len(list((DOCS / "schemas").glob("*.json"))) == len(published)
    for spec in published:
        schema = json.loads((DOCS / "schemas" / f"{asyncapi.schema_name(spec)}.json")
                            .read_text())
        Draft7Validator.check_schema(schema)
        assert schema["$id"] == dataschema_uri(schema["title"])
        assert schema["$id"].endswith(f"/{spec.service}.{spec.name}.v{spec.version}.json")


def asyncapi_validate(path, home):
    """`asyncapi validate <path>` by the official CLI -> (exit code, output)."""
    assert CLI.exists(), "the AsyncAPI CLI is installed by `make test` (tests/asyncapi)"
    result = subprocess.run([str(CLI), "validate", str(path)],
                            capture_output=True, text=True, timeout=300, cwd=ROOT,
                            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                                 "HOME": str(home), "NODE_NO_WARNINGS": "1",
                                 "ASYNCAPI_METRICS": "false", "CI": "true"})
    return result.returncode, result.stdout + result.stderr


def test_the_asyncapi_cli_validates_the_document(tmp_path):
    code, output = asyncapi_validate(DOCS / "asyncapi.json", tmp_path)
    assert code == 0, output
    assert "is valid" in output and "0 errors" in output, output


def test_the_asyncapi_cli_refuses_a_broken_document(tmp_path):
    document = asyncapi.document()
    document["operations"]["intake.publish"]["action"] = "publish"  # AsyncAPI 2's word
    del document["channels"]["billing.events"]  # operations still point at it
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(document))
    code, output = asyncapi_validate(broken, tmp_path)
    assert code != 0 and "is valid" not in output, output


def test_the_document_names_exchanges_bindings_producers_and_consumers():
    document = asyncapi.document()
    assert document["asyncapi"] == "3.0.0"
    channel = document["channels"]["scheduling.events"]
    assert channel["address"] == "{organisation}.{event}"
    assert "SessionHeld" in channel["parameters"]["event"]["enum"]
    assert channel["bindings"]["amqp"]["exchange"] == {
        "name": "scheduling.events", "type": "topic", "durable": True, "autoDelete": False,
        "vhost": "/"}
    operations = document["operations"]
    assert operations["scheduling.publish"]["action"] == "send"
    assert operations["scheduling.publish"]["bindings"]["amqp"]["deliveryMode"] == 2
    receivers = {name for name, op in operations.items()
                 if op["action"] == "receive"
                 and op["channel"]["$ref"] == "#/channels/scheduling.events"}
    assert receivers == {"intake.receive.scheduling", "notes.receive.scheduling",
                         "billing.receive.scheduling"}
    message = document["components"]["messages"]["scheduling.SessionHeld.v1"]
    assert message["contentType"] == "application/cloudevents+json"
    envelope = document["components"]["schemas"]["CloudEventEnvelope"]
    for attribute in ("specversion", "id", "source", "type", "time", "dataschema",
                      "sequence", "organisationid", "clinicid", "correlationid",
                      "causationid"):
        assert attribute in envelope["properties"]
    assert not any(spec.private and asyncapi.schema_name(spec) in
                   document["components"]["messages"] for spec in catalogue.specs())


# -- the JSON Schemas say what the marshmallow schemas say ------------------------------

CLIENT = str(uuid.uuid4())
SAMPLES = [
    ("intake", "ClientRegistered", {
        "client_id": CLIENT, "name": "Ada", "date_of_birth": "1990-01-02",
        "contact": {"email": "ada@example.org", "phone": None, "email_ok": True},
        "guardian": None, "payer": {"kind": "insurer", "insurer_name": "Acme",
                                    "member_id": None},
        "registered_at": "2026-01-01T09:00:00Z", "details_revision": 1}),
    ("intake", "ClientAssessed", {
        "client_id": CLIENT, "assessment_id": str(uuid.uuid4()), "episode_id": None,
        "instrument": "PHQ-9", "kind": "reassessment", "answers": [1, 2, 0], "total": 3,
        "severity": "minimal", "assessed_at": "2026-01-01T09:00:00Z",
        "change": {"baseline_assessment_id": str(uuid.uuid4()), "baseline_total": 12,
                   "difference": -9, "rci": -3.2, "category": "recovered",
                   "response": True, "remission": None}}),
    ("notes", "GoalSet", {
        "goal_id": str(uuid.uuid4()), "client_id": CLIENT, "description": "Sleep",
        "target_date": "2026-03-01", "instrument": None, "target_score": None,
        "levels": {"-2": "a", "-1": "b", "0": "c", "+1": "d", "+2": "e"},
        "set_by": "dr-lee", "set_at": "2026-01-01T09:00:00Z"}),
    ("billing", "FeeScheduleSet", {"currency": "USD", "prices": {"90834": 12000},
                                   "effective_from": None}),
]
BROKEN = [  # (sample index, change to data) that both schemas refuse
    (0, lambda d: d.update(name="x" * 201)),
    (0, lambda d: d.update(client_id="not-a-uuid")),
    (0, lambda d: d.pop("registered_at")),
    (0, lambda d: d["payer"].update(kind="barter")),
    (0, lambda d: d.update(date_of_birth=None)),
    (1, lambda d: d["change"].update(category="cured")),
    (1, lambda d: d.update(answers=["one"])),
    (2, lambda d: d["levels"].pop("+2")),
    (3, lambda d: d.update(currency="usd")),
    (3, lambda d: d.update(prices={"90834": -1})),
    (3, lambda d: d.update(prices={"x": 1})),
]


def _validator(service, name):
    schema = json.loads((DOCS / "schemas" / f"{service}.{name}.v1.json").read_text())
    return Draft7Validator(schema, format_checker=FormatChecker())


def test_valid_payloads_pass_both_schemas():
    for service, name, data in SAMPLES:
        spec_schema = catalogue._specs[(service, name, 1)].schema
        assert spec_schema.validate(data) == {}, name
        assert list(_validator(service, name).iter_errors(data)) == [], name


@pytest.mark.parametrize("index,change", BROKEN)
def test_invalid_payloads_fail_both_schemas(index, change):
    service, name, data = copy.deepcopy(SAMPLES[index])
    change(data)
    assert catalogue._specs[(service, name, 1)].schema.validate(data), name
    assert list(_validator(service, name).iter_errors(data)), name


# -- the compatibility rule, on a copy of a published schema -----------------------------

def published_copy():
    return json.loads((DOCS / "schemas" / "intake.ClientRegistered.v1.json").read_text())


def changed(edit):
    new = published_copy()
    edit(new)
    return breaking_changes(published_copy(), new)


def test_a_new_optional_field_and_loosened_constraints_are_additive():
    def additive(schema):
        schema["properties"]["nickname"] = {"type": ["string", "null"], "maxLength": 80}
        schema["properties"]["name"]["maxLength"] = 400            # raised: fine
        schema["properties"]["payer"]["properties"]["kind"]["enum"].append("charity")
        schema["properties"]["pronouns"]["description"] = "as the client gives them"
        schema["properties"]["details_revision"]["type"] = "number"  # integer -> number
    assert changed(additive) == []


@pytest.mark.parametrize("edit,expected", [
    (lambda s: s["properties"].pop("pronouns"), "data.pronouns: removed"),
    (lambda s: s["properties"].__setitem__("legal_name", s["properties"].pop("name")),
     "data.name: removed"),
    (lambda s: s["required"].append("preferred_name"), "data.preferred_name: made required"),
    (lambda s: (s["properties"].__setitem__("nhs_number", {"type": "string"}),
                s["required"].append("nhs_number")), "data.nhs_number: added as required"),
    (lambda s: s["required"].remove("date_of_birth"), "data.date_of_birth: no longer required"),
    (lambda s: s["properties"]["details_revision"].__setitem__("type", "string"),
     "data.details_revision: retyped from ['integer'] to ['string']"),
    (lambda s: s["properties"]["preferred_name"].__setitem__("type", "string"),
     "data.preferred_name: retyped"),  # null no longer allowed
    (lambda s: s["properties"]["registered_at"].__setitem__("format", "date"),
     "data.registered_at: format changed"),
    (lambda s: s["properties"]["payer"]["properties"]["kind"]["enum"].remove("medicaid"),
     "data.payer.kind: enum narrowed, ['medicaid'] no longer allowed"),
    (lambda s: s["properties"]["name"].__setitem__("maxLength", 100),
     "data.name: maxLength lowered from 200 to 100"),
    (lambda s: s["properties"]["referral_source"].__setitem__("minLength", 3),
     "data.referral_source: minLength raised from none to 3"),
    (lambda s: s["properties"]["contact"]["properties"]["phone"].__setitem__(
        "pattern", "^[0-9]+$"),
     "data.contact.phone: pattern changed"),
    (lambda s: s.__setitem__("additionalProperties", False), "data: unknown properties refused"),
])
def test_each_breaking_change_on_a_copy_is_reported(edit, expected):
    reported = changed(edit)
    assert any(line.startswith(expected) for line in reported), reported


def test_several_breaking_changes_are_all_reported():
    def breaking(schema):
        schema["properties"].pop("pronouns")
        schema["required"].append("preferred_name")
        schema["properties"]["details_revision"]["type"] = "string"
        schema["properties"]["payer"]["properties"]["kind"]["enum"] = ["self_pay"]
    assert len(changed(breaking)) == 4


def test_the_comparison_walks_lists_and_maps():
    old = asyncapi.data_schema(catalogue._specs[("billing", "InvoiceDrafted", 1)])
    new = copy.deepcopy(old)
    new["properties"]["lines"]["items"]["properties"].pop("description")
    assert breaking_changes(old, new) == ["data.lines[].description: removed"]
    old = asyncapi.data_schema(catalogue._specs[("billing", "FeeScheduleSet", 1)])
    new = copy.deepcopy(old)
    new["properties"]["prices"]["additionalProperties"]["maximum"] = 10**6
    assert breaking_changes(old, new) == [
        "data.prices.*: maximum lowered from none to 1000000"]


def _registry(v1, v2=None, upcaster=None):
    registry = EventRegistry()
    registry.register("intake", "Probe", 1, v1, "a probe")
    if v2 is not None:
        registry.register("intake", "Probe", 2, v2, "a probe, v2")
    if upcaster is not None:
        registry.upcaster("intake", "Probe", 1)(upcaster)
    return registry


class ProbeV1(Schema):
    minutes = fields.Integer(required=True)
    kind = fields.String(validate=validate.OneOf(["a", "b"]))


class ProbeV1Narrowed(Schema):
    minutes = fields.Integer(required=True)
    kind = fields.String(validate=validate.OneOf(["a"]))


class ProbeV1Grown(ProbeV1):
    note = fields.String(allow_none=True)


class ProbeV2(Schema):
    seconds = fields.Integer(required=True)
    kind = fields.String(validate=validate.OneOf(["a"]))


def test_make_catalogue_refuses_to_overwrite_a_published_schema_breakingly(tmp_path):
    asyncapi.write(tmp_path, _registry(ProbeV1))
    published = (tmp_path / "schemas" / "intake.Probe.v1.json").read_text()
    with pytest.raises(SystemExit, match="data.kind: enum narrowed"):
        asyncapi.write(tmp_path, _registry(ProbeV1Narrowed))
    assert (tmp_path / "schemas" / "intake.Probe.v1.json").read_text() == published
    asyncapi.write(tmp_path, _registry(ProbeV1Grown))  # additive: written
    assert "note" in json.loads((tmp_path / "schemas" / "intake.Probe.v1.json").read_text())[
        "properties"]
    # The breaking change as a new version: v1's file stays, v2's is added.
    asyncapi.write(tmp_path, _registry(ProbeV1Grown, ProbeV2,
                                       lambda d: {"seconds": d["minutes"] * 60,
                                                  **({"kind": "a"} if "kind" in d else {})}))
    assert {p.name for p in (tmp_path / "schemas").iterdir()} == {
        "intake.Probe.v1.json", "intake.Probe.v2.json"}


def test_a_new_version_needs_an_upcaster():
    assert version_problems(_registry(ProbeV1, ProbeV2)) == [
        "intake.Probe.v1: no upcaster to v2"]
    assert version_problems(_registry(ProbeV1, ProbeV2, lambda d: d)) == []
    assert version_problems(catalogue) == []


# -- every older version is upcast, tested on stored events of that version --------------

def stored_events(spec):
    """tests/unit/stored_events/<service>.<Event>.v<N>.jsonl: envelopes as stored."""
    path = STORED / f"{asyncapi.schema_name(spec)}.jsonl"
    assert path.exists(), (f"{asyncapi.schema_name(spec)} is an older version: keep stored "
                           f"events of it in {path.relative_to(ROOT)} (README, Events)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_stored_events_of_every_older_version_upcast_to_valid_latest_ones():
    older = [spec for spec in catalogue.specs()
             if catalogue.latest_type(spec.service, spec.name).split(".")[-1]
             != f"v{spec.version}"]
    for spec in older:
        bodies = stored_events(spec)
        assert bodies, spec
        for body in bodies:
            event = catalogue.decode(body)
            assert event.type == catalogue.latest_type(spec.service, spec.name)
            catalogue.validate(event)  # strict: exactly the latest schema
    for path in STORED.glob("*.jsonl"):
        for line in path.read_text().splitlines():
            if line.strip():
                assert json.loads(line)["type"].endswith(path.stem), path


def test_the_upcast_check_with_a_registry_that_has_a_v2():
    registry = _registry(ProbeV1, ProbeV2, lambda d: {"seconds": d["minutes"] * 60})
    body = make_event("intake", "ClientRegistered", {}, "probe-1").to_dict()
    body.update(type="praxis.intake.Probe.v1", data={"minutes": 2},
                dataschema=dataschema_uri("praxis.intake.Probe.v1"))
    event = registry.decode(body)
    registry.validate(event)
    assert event.data == {"seconds": 120}
    assert event.dataschema == dataschema_uri("praxis.intake.Probe.v2")


# -- dataschema in the envelope ----------------------------------------------------------

def test_dataschema_round_trips_and_old_events_without_it_still_parse():
    event = make_event("intake", "EpisodeOpened", {
        "client_id": CLIENT, "episode_id": str(uuid.uuid4()),
        "opened_at": "2026-01-01T09:00:00Z"}, f"client-{CLIENT}")
    old = event.to_dict()
    assert "dataschema" not in old  # absent, not null
    assert Event.from_dict(old).dataschema is None
    stamped = Event.from_dict({**old, "dataschema": dataschema_uri(event.type)})
    assert stamped.to_dict()["dataschema"] == (
        "https://praxis.example/events/schemas/intake.EpisodeOpened.v1.json")
    assert Event.from_json(stamped.to_json()) == stamped
    catalogue.validate(stamped)
