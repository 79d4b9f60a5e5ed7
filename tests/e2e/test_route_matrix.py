"""Issue 11, tests that must exist: the route matrix. Every HTTP route of the four
services (walked from the Service classes) x every role x {own record, another
clinic's, another organisation's, a made-up id} x {without, with an extra
clinic_id=<the caller's clinic>}, against the four services as real processes, one
Praxis and one data set per engine. The tables and rules are in route_matrix.py.

Expectations come from the access policy (shared.access.decide): a role it denies
gets 403 (404 where it conceals the resource), an allowed role gets 2xx for its own
record (a write may also be refused as invalid: 400/409/422), 404 for another
clinic's, another organisation's or a made-up record (403 when the path names a
clinic the token lacks); never 5xx, never 401. No response (JSON, PDF, ICS, CSV)
carries another tenant's identifiers or text, nor a field the role may not see.

Reads run before writes (writes on own records change them), and each route's
cases run in a fixed order, so the run is deterministic.
"""
import io
import json
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from urllib.parse import quote, urlparse

import pytest
import requests
from sqlalchemy import create_engine, text

from shared.auth import issue_token
from shared.config import SERVICES
from tests.e2e import route_matrix as m
from tests.e2e.conftest import Praxis
from tests.support import SECRET, wait_until

pytestmark = pytest.mark.e2e

ROUTES = m.all_routes()
ROUTE_BY_KEY = {r.key: r for r in ROUTES}

# (service, method, url, role) -> why: a case that leaks, known and reported. Empty
# means none is known; an entry becomes a strict xfail, so a fix shows up.
KNOWN_LEAKS = {}  # (service, method, url, role) -> the leak, as a strict xfail
FAILED = set()  # engines with a failed case: their services' logs are printed


def test_every_route_has_a_case():
    """A route of a service class without a row in the table, a row for a route that
    no longer exists, or a path variable without samples fails here."""
    declared = {r.key for r in ROUTES}
    missing = sorted(declared - set(m.ROUTES))
    stale = sorted(set(m.ROUTES) - declared)
    unsampled = sorted({(str(r), p) for r in ROUTES for p in r.params
                        if m.sample_key(r.url, p) is None})
    assert not missing, f"routes without a case in tests/e2e/route_matrix.py ROUTES: {missing}"
    assert not stale, f"ROUTES rows for routes that do not exist: {stale}"
    assert not unsampled, f"path variables without samples (route_matrix.PARAMS): {unsampled}"
    # Every sample key a path variable maps to is made by the data set.
    keys = {m.sample_key(r.url, p) for r in ROUTES for p in r.params}
    assert keys <= set(made_up_samples()), keys - set(made_up_samples())


def test_the_matrix_size():
    total = sum(len(m.roles_of(r)) * len(m.targets_of(r)) * len(m.VARIANTS) for r in ROUTES)
    print(f"{len(ROUTES)} routes, {total} cases per engine")
    assert len(ROUTES) >= 120 and total >= 5000


# -- the data set ------------------------------------------------------------------------
def bearer(role, org=m.ORG_A, clinics=m.CALLER_CLINICS, user=None, client_id=None):
    return issue_token(SECRET, user or f"{role}-a1", role, org, list(clinics),
                       client_id=client_id)


class Client:
    """A requests session per service URL with a default bearer."""

    def __init__(self, praxis, token):
        self.praxis, self.token = praxis, token
        self.session = requests.Session()

    def call(self, service, method, path, body=None, params=None, token=None):
        use = self.token if token is None else token
        headers = {"Authorization": f"Bearer {use}"} if use else {}
        data = None if body is None else json.dumps(body)
        if data is not None:
            headers["Content-Type"] = "application/json"
        return self.session.request(method, self.praxis.urls[service] + path, params=params,
                                    data=data, headers=headers, timeout=30)

    def ok(self, service, method, path, body=None, params=None, token=None, retry=0.0):
        """A setup call that must succeed; `retry` seconds while the service has not
        yet seen the events it needs."""
        responses = []

        def attempt():
            response = self.call(service, method, path, body, params, token)
            responses.append(response)
            return response if response.status_code < 300 else None
        if retry:
            try:
                return wait_until(attempt, timeout=retry, interval=0.1,
                                  message=f"{method} {path}").json()
            except AssertionError:
                pass
        elif attempt():
            return responses[-1].json()
        last = responses[-1]
        raise AssertionError(f"setup {service} {method} {path}: {last.status_code} {last.text}")


def made_up_samples():
    return {
        "organisation_id": m.ORG_A, "clinic_id": m.MADE_UP_CLINIC,
        "client_id": m.new_uuid(), "appointment_id": m.new_uuid(), "series_id": m.new_uuid(),
        "charge_id": m.new_uuid(), "invoice_id": m.new_uuid(), "goal_id": m.new_uuid(),
        "homework_id": m.new_uuid(), "entry_id": m.new_uuid(), "flag_id": m.new_uuid(),
        "message_id": m.new_uuid(),
        "note_id": m.new_uuid(), "psychotherapy_note_id": m.new_uuid(),
        "feed_id": m.new_uuid(), "clinician_id": "clin-nobody", "room_id": "room-nobody",
        "care_member_id": "clin-nobody", "session_id": m.new_uuid(),
        "alliance_flag_id": m.new_uuid(),
        "instrument_code": "NOPE-1", "consent_kind": "treatment", "instrument": "PHQ-9",
    }


def make_tenant(api, target):
    """One tenant's records through the real APIs, as its clinic's admin."""
    org, clinic, short = m.TENANTS[target]
    admin = bearer("admin", org, [clinic], user=f"admin-{short}")
    clinician = f"clin-{short}"
    as_clinician = bearer("clinician", org, [clinic], user=clinician)
    s = {"organisation_id": org, "clinic_id": clinic, "clinician_id": clinician,
         "admin_user": f"admin-{short}", "room_id": f"room-{short}",
         "consent_kind": "treatment", "instrument": "PHQ-9", "instrument_code": "PHQ-9"}

    def ok(service, method, path, body=None, **kwargs):
        return api.ok(service, method, path, body, token=kwargs.pop("token", admin), **kwargs)

    ok("billing", "PUT", f"/clinics/{clinic}/fee-schedule",
       {"currency": "USD", "prices": {"90834": 12000, "90837": 16000, "96127": 500,
                                      "90785": 2000}})
    ok("billing", "PUT", f"/clinics/{clinic}/billing-profile", m.PROFILE)
    ok("billing", "PUT", f"/clinics/{clinic}/clinicians/{clinician}/billing-profile",
       {"name": f"Dr {short}", "npi": "1245319599"})
    ok("scheduling", "PUT", f"/clinics/{clinic}", {"name": f"Clinic {short}"})
    ok("scheduling", "POST", f"/clinics/{clinic}/rooms", {"room_id": s["room_id"], "name": "Room"})
    ok("scheduling", "PUT", f"/clinicians/{clinician}",
       {"name": f"Dr {short}", "clinic_ids": [clinic]})
    registered = ok("intake", "POST", "/clients", {
        "organisation_id": org, "clinic_id": clinic, "name": m.NAMES[target],
        "date_of_birth": m.BIRTHS[target], "contact": {"email": f"{short}@example.org"},
        "primary_clinician_id": clinician, "payer": {"kind": "self_pay"}})
    client_id = s["client_id"] = registered["client_id"]
    s["care_member_id"] = f"clin-member-{short}"
    ok("intake", "POST", f"/clients/{client_id}/care-team", {"clinician_id": s["care_member_id"]})
    ok("intake", "POST", f"/clients/{client_id}/consents",
       {"kind": "treatment", "document_version": "v1"})
    assessed = ok("intake", "POST", f"/clients/{client_id}/assessments",
                  {"instrument": "PHQ-9", "answers": [2, 2, 2, 2, 2, 2, 1, 1, 1]})
    (s["flag_id"],) = [r["flag_id"] for r in assessed["raised"] if r.get("flag_id")]
    as_client = bearer("client", org, [clinic], user=f"client-{short}", client_id=client_id)
    s["client_token"] = as_client
    s["goal_id"] = ok("notes", "POST", f"/clients/{client_id}/goals", {
        "description": m.canary("goal", target), "target_date": "2027-03-01",
        "instrument": "PHQ-9", "target_score": 4}, retry=30)["goal_id"]
    s["homework_id"] = ok("notes", "POST", f"/clients/{client_id}/homework", {
        "goal_id": s["goal_id"], "instructions": m.canary("homework", target),
        "due_date": str(m.today() + timedelta(days=5))})["homework_id"]
    s["entry_id"] = ok("notes", "POST", f"/clients/{client_id}/journal", {
        "mood": 6, "text": m.canary("journal", target), "shared": True},
        token=as_client)["entry_id"]
    s["message_id"] = ok("notes", "POST", f"/clients/{client_id}/messages", {
        "text": m.canary("message", target)}, token=as_client)["message_id"]
    ok("notes", "PUT", f"/clients/{client_id}/diagnoses", {"codes": ["F32.1"]})
    past = (datetime.now(timezone.utc) - timedelta(days=2)).replace(
        hour=10, minute=0, second=0, microsecond=0)
    held = ok("scheduling", "POST", "/appointments", {
        "organisation_id": org, "clinic_id": clinic, "client_id": client_id,
        "clinician_id": clinician, "start": past.isoformat(), "duration_minutes": 50,
        "modality": "in_person", "override_working_hours": True}, retry=30)["appointment_id"]
    ok("scheduling", "POST", f"/appointments/{held}/held", {"minutes": 50})
    s["session_id"] = held  # rated 20 (a concern) once intake has the session held
    ok("intake", "POST", f"/clients/{client_id}/sessions/{held}/alliance",
       {"item_scores": [5, 5, 5, 5]}, retry=30)
    (concern,) = ok("intake", "GET", f"/clinics/{clinic}/alliance-concerns")["alliance_concerns"]
    s["alliance_flag_id"] = concern["flag_id"]
    s["appointment_id"] = ok("scheduling", "POST", "/appointments", {
        "organisation_id": org, "clinic_id": clinic, "client_id": client_id,
        "clinician_id": clinician, "start": m._future(7), "duration_minutes": 50,
        "modality": "video", "override_working_hours": True})["appointment_id"]
    s["series_id"] = ok("scheduling", "POST", "/series", {
        **m._booking(s, 28), "frequency": "weekly", "count": 2})["series_id"]
    ok("notes", "PUT", f"/clinicians/{clinician}/supervision",
       {"pre_licensed": False, "clinic_id": clinic})
    feed = ok("scheduling", "POST", f"/clinicians/{clinician}/calendar-feeds", {})
    s["feed_id"], s["feed_token"] = feed["feed_id"], feed["feed_token"]
    s["psychotherapy_note_id"] = ok("notes", "POST", "/psychotherapy-notes", {
        "client_id": client_id, "text": m.canary("psycho", target)},
        token=as_clinician, retry=30)["note_id"]

    def note_due():
        due = api.call("notes", "GET", f"/clinicians/{clinician}/notes-due", token=as_clinician)
        return due.status_code == 200 and due.json()["notes"]
    (note,) = wait_until(note_due, timeout=30, message=f"{short}'s note due")
    s["note_id"] = note["note_id"]
    ok("notes", "PUT", f"/notes/{s['note_id']}/draft", {"format": "SOAP", "sections": {
        "subjective": m.canary("note", target), "objective": "calm"}}, token=as_clinician)

    def charged():
        balance = api.call("billing", "GET", f"/clients/{client_id}/balance", token=admin)
        return balance.status_code == 200 and [
            c for c in balance.json()["charges"] if c["code"] == "90834"]
    s["charge_id"] = wait_until(charged, timeout=30, message=f"{short}'s charge")[0]["charge_id"]
    period = {"period_start": str(m.today() - timedelta(days=30)),
              "period_end": str(m.today() + timedelta(days=1))}
    s["invoice_id"] = ok("billing", "POST", f"/clients/{client_id}/invoices", period,
                         retry=30)["invoice_id"]
    return s


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(request, amqp_base_uri, tmp_path_factory):
    """One Praxis (four processes) per engine and one data set of three tenants."""
    started = time.monotonic()
    tmp = tmp_path_factory.mktemp(f"matrix-{request.param}")
    vhost, drop_vhost = make_vhost(amqp_base_uri)
    cleanup = None
    if request.param == "sqlite":
        urls = {s: f"sqlite:///{tmp}/{s}.db" for s in SERVICES}
    else:
        base = request.getfixturevalue("postgres_base_uri")
        admin = create_engine(base, isolation_level="AUTOCOMMIT")
        names = {s: f"praxis_matrix_{s}_{uuid.uuid4().hex[:8]}" for s in SERVICES}
        with admin.connect() as conn:
            for name in names.values():
                conn.execute(text(f'CREATE DATABASE "{name}"'))
        prefix = base.rsplit("/", 1)[0]
        urls = {s: f"{prefix}/{names[s]}" for s in SERVICES}

        def cleanup():
            with admin.connect() as conn:
                for name in names.values():
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    praxis = Praxis(vhost, urls, tmp)
    try:
        for service in SERVICES:
            praxis.start(service)
        api = Client(praxis, None)
        with ThreadPoolExecutor(max_workers=len(m.TENANTS)) as pool:  # three tenants at once
            made = pool.map(lambda target: make_tenant(Client(praxis, None), target), m.TENANTS)
            samples = dict(zip(m.TENANTS, made))
        # Another organisation's own instrument (an organisation-wide admin defines it).
        org_b = bearer("admin", m.ORG_B, ["*"], user="admin-b-all")
        api.ok("intake", "POST", "/instruments", {**m.INSTRUMENT, "code": "BRAVO-7"},
               token=org_b)
        samples[m.OTHER_ORG]["instrument_code"] = "BRAVO-7"
        samples[m.MADE_UP] = made_up_samples()
        # The calendar feed a case presents is always the caller's own one.
        for s in samples.values():
            s["caller_feed_token"] = samples[m.OWN]["feed_token"]
        print(f"matrix data set on {request.param} in {time.monotonic() - started:.1f}s")
        yield World(praxis, samples, request.param)
    finally:
        for service in list(praxis.processes):
            praxis.stop(service)
        if request.param in FAILED:
            for service in SERVICES:
                print(f"--- {service} log ---\n{praxis.log(service)}")
        if cleanup:
            cleanup()
        drop_vhost()


def make_vhost(amqp_base_uri):
    parsed = urlparse(amqp_base_uri)
    api = os.environ.get("PRAXIS_TEST_RABBIT_API", f"http://{parsed.hostname}:15672/api")
    auth = (parsed.username or "guest", parsed.password or "guest")
    vhost = f"praxis-matrix-{uuid.uuid4().hex[:12]}"
    requests.put(f"{api}/vhosts/{vhost}", auth=auth, timeout=5).raise_for_status()
    requests.put(f"{api}/permissions/{vhost}/{auth[0]}", auth=auth, timeout=5,
                 json={"configure": ".*", "write": ".*", "read": ".*"}).raise_for_status()
    uri = (f"amqp://{auth[0]}:{auth[1]}@{parsed.hostname}:{parsed.port or 5672}/"
           f"{quote(vhost, safe='')}")
    return uri, lambda: requests.delete(f"{api}/vhosts/{vhost}", auth=auth, timeout=10)


class World:
    def __init__(self, praxis, samples, engine):
        self.praxis, self.samples, self.engine = praxis, samples, engine
        self.client = Client(praxis, None)
        self.forbidden = m.foreign_strings(samples)
        self.tokens = {role: bearer(role) for role in m.ROLES if role not in (
            "clinician", "client")}
        self.tokens["clinician"] = bearer("clinician", user=samples[m.OWN]["clinician_id"])
        self.tokens["client"] = samples[m.OWN]["client_token"]
        self.tokens["none"] = ""
        self.results, self.requests, self.elapsed = {}, 0, 0.0


# -- running the cases ---------------------------------------------------------------------
def order(route):
    """Public and feed reads first, then reads, then writes, upserts by name last."""
    spec = m.ROUTES.get(route.key, m.Spec())
    if route.reads:
        return 0 if route.public or route.url in ("/events", "/audit/accesses") else 1
    if spec.upsert or route.method == "DELETE":
        return 3  # they make or take away what other cases count on
    return 2


def params():
    found = []
    for route in sorted(ROUTES, key=lambda r: (order(r), r.service, r.url, r.method)):
        for role in m.roles_of(route):
            leak = KNOWN_LEAKS.get((*route.key, role))
            marks = [pytest.mark.xfail(strict=True, reason=leak)] if leak else []
            found.append(pytest.param(route.key, role, marks=marks,
                                      id=f"{route.service} {route.method} {route.url} {role}"))
    return found


def body_text(response):
    kind = response.headers.get("Content-Type", "")
    if kind.startswith("application/pdf"):
        from pypdf import PdfReader
        reader = PdfReader(io.BytesIO(response.content))
        return "\n".join(page.extract_text() or "" for page in reader.pages) + response.text
    return response.text


def check(world, case, response, own_statuses):
    """The problems of one case's answer (empty when it is right)."""
    problems = []
    status = response.status_code
    route = case.route
    if status >= 500:
        problems.append(f"{status} (server error) {response.text[:200]}")
    if route.public:
        if "calendar.ics" in route.url:
            allowed = {200} if case.target == m.OWN else {401, 404}
        else:
            allowed = {200}
        if status not in allowed and not m.extra_clinic_refused(case, response):
            problems.append(f"{status}, expected one of {sorted(allowed)}: {response.text[:200]}")
    else:
        expectation = m.expected(case, world.samples)
        fine = status in expectation.statuses or m.extra_clinic_refused(case, response)
        if (not fine and case.target != m.OWN and not route.reads and status in (400, 422)
                and own_statuses.get((case.role, case.variant)) == status):
            fine = True  # the body is refused before the record is looked up, for all targets
        if status == 401:
            fine = False
        if not fine:
            shown = sorted(s for s in expectation.statuses if s < 200 or s >= 300)
            if expectation.statuses & m.SUCCESS:
                shown = ["2xx"] + shown
            problems.append(f"{status}, expected {shown} ({expectation.why}): "
                            f"{response.text[:200]}")
    text_ = body_text(response)
    request_text = case.request_text()
    forbidden = world.forbidden | m.forbidden_own(case)
    if route.url == "/metrics":
        # Gauges are labelled by organisation and clinic, the unread-messages one also by
        # clinician (staff ids, never a client's).
        forbidden = forbidden - {m.ORG_B} - {
            world.samples[t][key] for t in (m.OTHER_CLINIC, m.OTHER_ORG)
            for key in ("clinician_id", "care_member_id")}
    leaked = sorted(s for s in forbidden if s in text_ and s not in request_text)
    if leaked:
        problems.append(f"{status} body carries {leaked}: {text_[:300]}")
    if response.headers.get("Content-Type", "").startswith("application/json"):
        try:
            keys = set(m.json_keys(response.json()))
        except ValueError:
            keys = set()
        hidden = keys & m.hidden_keys(case)
        if hidden:
            problems.append(f"{status} body has fields the role may not see: {sorted(hidden)}")
    return problems


def test_the_canaries_are_live(world):
    """The absence of another tenant's names and text means something: each tenant's
    own admin (and the author, for a psychotherapy note) reads them, and the own
    tenant's answers, PDF and note text are where the caller's clinical roles see them."""
    for target in m.TENANTS:
        org, clinic, short = m.TENANTS[target]
        s = world.samples[target]
        admin = bearer("admin", org, [clinic], user=f"admin-{short}")
        author = bearer("clinician", org, [clinic], user=s["clinician_id"])
        reads = [("intake", f"/clients/{s['client_id']}", admin, [m.NAMES[target],
                                                                m.BIRTHS[target]]),
                 ("notes", f"/notes/{s['note_id']}", admin, [m.canary("note", target)]),
                 ("notes", f"/psychotherapy-notes/{s['psychotherapy_note_id']}", author,
                  [m.canary("psycho", target)]),
                 ("notes", f"/clients/{s['client_id']}/plan", admin, [m.canary("goal", target)]),
                 ("notes", f"/clients/{s['client_id']}/homework", admin,
                  [m.canary("homework", target)]),
                 ("notes", f"/clients/{s['client_id']}/journal", s["client_token"],
                  [m.canary("journal", target)]),
                 ("notes", f"/clients/{s['client_id']}/messages", s["client_token"],
                  [m.canary("message", target)])]
        for service, path, token, expected in reads:
            response = world.client.call(service, "GET", path, token=token)
            assert response.status_code == 200, (path, response.text)
            for text_ in expected:
                assert text_ in response.text, (target, path, text_)
    own = world.samples[m.OWN]
    client = world.client.call("intake", "GET", f"/clients/{own['client_id']}",
                               token=world.tokens["admin"])
    assert m.ANSWER_KEYS & set(m.json_keys(client.json())), "answers under another name?"
    pdf = world.client.call("billing", "GET", f"/clients/{own['client_id']}/superbill.pdf",
                            params=m._period(), token=world.tokens["billing"])
    assert pdf.status_code == 200 and m.NAMES[m.OWN] in body_text(pdf)
    ics = world.client.call("scheduling", "GET",
                            f"/clinicians/{own['clinician_id']}/calendar.ics",
                            params={"feed_token": own["feed_token"]}, token="")
    assert ics.status_code == 200 and "BEGIN:VEVENT" in ics.text


def run_route(world, route, role, session):
    """One route's cases for one role, in order (own before the others of a variant):
    [(case, status, problems)]."""
    token = world.tokens[role]
    outcomes, own_statuses = [], {}
    for case in m.cases_of(route, world.samples, roles=(role,)):
        response = session.call(route.service, route.method, case.path, case.body,
                                case.query or None, token=token)
        if case.target == m.OWN:
            own_statuses[(case.role, case.variant)] = response.status_code
        outcomes.append((case, response.status_code, check(world, case, response,
                                                           own_statuses)))
    return outcomes


def run_matrix(world):
    """Every case: reads first, then writes in a fixed order per service (the four
    services side by side: what one service's write does to another's records travels
    as events anyway, and only ever to the caller's own records)."""

    local = threading.local()

    def session():
        if not hasattr(local, "client"):
            local.client = Client(world.praxis, None)
        return local.client

    items = [(ROUTE_BY_KEY[p.values[0]], p.values[1]) for p in params()
             if p.values[0] in m.ROUTES]
    reads = [(route, role) for route, role in items if route.reads]
    writes = [(route, role) for route, role in items if not route.reads]
    started = time.monotonic()
    phases = []

    def run_phase(pairs, per_service):
        """The pairs of each service in order, `per_service` at a time, the four
        services side by side (each has its own process and database)."""
        queues = {service: [p for p in pairs if p[0].service == service]
                  for service in SERVICES}
        lock = threading.Lock()

        def worker(service):
            while True:
                with lock:
                    if not queues[service]:
                        return
                    route, role = queues[service].pop(0)
                world.results[(route.key, role)] = run_route(world, route, role, session())
        begun = time.monotonic()
        with ThreadPoolExecutor(max_workers=len(SERVICES) * per_service) as pool:
            list(pool.map(worker, [s for s in SERVICES for _ in range(per_service)]))
        phases.append(f"{time.monotonic() - begun:.1f}s")

    # Reads change nothing: two at a time per service. Writes one at a time per
    # service, in a fixed order; upserts by name and deletions last, after every
    # service's other writes (a clinician made by one is seen by the others).
    run_phase(reads, 2)
    for phase in (2, 3):
        run_phase([(r, role) for r, role in writes if order(r) == phase], 1)
    world.elapsed = time.monotonic() - started
    world.requests = sum(len(o) for o in world.results.values())
    print(f"\nroute matrix on {world.engine}: {world.requests} cases "
          f"({len(reads)} read and {len(writes)} write route-role pairs) in "
          f"{world.elapsed:.1f}s (reads, writes, last writes: {', '.join(phases)})")


@pytest.mark.parametrize("route_key,role", params())
def test_route_matrix(world, route_key, role):
    route = ROUTE_BY_KEY[route_key]
    assert route_key in m.ROUTES, f"{route} has no case in tests/e2e/route_matrix.py ROUTES"
    if not world.results:
        run_matrix(world)
    failures = [f"[{world.engine}] {case.target} {case.variant}: {problem}"
                for case, _status, problems in world.results[(route_key, role)]
                for problem in problems]
    if failures:
        FAILED.add(world.engine)
    assert not failures, f"{route} as {role}:\n" + "\n".join(failures)
