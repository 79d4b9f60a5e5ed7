"""The clinic outcomes summary by approach, clinician and alliance band (issue 17 item 5),
on a generated clinic whose expected counts are worked by hand below."""
from datetime import date, datetime, timedelta, timezone

import pytest

from services.intake.application import IntakeApplication
from tests.application.test_intake import ADMIN, CLINIC, CLINICIAN, ORG, assess, register
from tests.application.test_intake_alliance import held, rate
from tests.order_independence import published

MODERATE = [2, 2, 2, 2, 2, 2, 2, 1, 0]  # PHQ-9 15: clinical baseline
BETTER = [1, 1, 1, 1, 1, 0, 0, 0, 0]   # 5: recovered
WORSE = [3, 3, 3, 3, 3, 3, 3, 2, 0]    # 23: reliably deteriorated
CONCERN, FINE = [9, 9, 9, 8], [9, 9, 9, 9]  # SRS 35 (below 36), 36

# The clinic: (primary clinician, approaches, reassessment, alliance, discharge reason).
CLINIC_SPEC = {
    "c1": ("clin-1", ["cognitive_behavioural"], BETTER, CONCERN, None),
    "c2": ("clin-1", ["cognitive_behavioural"], WORSE, FINE, None),
    "c3": ("clin-2", ["psychodynamic"], BETTER, CONCERN, "dropped_out"),
    "c4": ("clin-2", ["cognitive_behavioural", "systemic"], MODERATE, FINE, "planned_ending"),
    "c5": ("clin-1", None, None, CONCERN, "dropped_out"),
}


@pytest.fixture
def intake(tmp_path):
    application = IntakeApplication(f"sqlite:///{tmp_path}/intake.db")
    yield application
    application.store.engine.dispose()


def approach_set(client_id, approaches):
    """notes' TreatmentApproachSet as its store publishes it."""
    at = datetime(2026, 11, 1, 9, tzinfo=timezone.utc)
    return published("notes", "TreatmentApproachSet", {
        "client_id": client_id, "approaches": approaches, "other_text": None,
        "previous_approaches": [], "set_by": "clin-1", "set_at": at.isoformat()},
        f"treatment-plan-{client_id}", 1, at, ORG, CLINIC)


@pytest.fixture
def clinic(intake):
    intake.ids = {}
    for name, (clinician, approaches, reassessment, alliance, reason) in CLINIC_SPEC.items():
        client_id = register(intake, name=f"Client {name}", primary_clinician_id=clinician)
        intake.ids[name] = client_id
        assess(intake, client_id, MODERATE)
        if reassessment is not None:
            assess(intake, client_id, reassessment)
        if approaches is not None:
            assert intake.consume(approach_set(client_id, approaches).to_dict()) == "applied"
        rate(intake, CLINICIAN, client_id, held(intake, client_id), alliance)
        if reason is not None:
            intake.discharge(ADMIN, client_id, {"reason": reason, "discharged_at": None})
    return intake


def summary(intake, **period):
    return intake.clinic_outcomes(ADMIN.principal, CLINIC, {
        "from_": period.get("from_"), "to": period.get("to"), "instrument": None})


def counts(group):
    return tuple(group[k] for k in ("measured", "reliably_improved", "recovered",
                                    "reliably_deteriorated", "discharged", "dropped_out"))


def test_outcomes_by_approach_clinician_and_alliance_band(clinic):
    answer = summary(clinic)
    # measured, improved, recovered, deteriorated, discharged, dropped out
    assert {k: counts(v) for k, v in answer["by_approach"].items()} == {
        "cognitive_behavioural": (3, 1, 1, 1, 1, 0),   # c1, c2, c4
        "psychodynamic": (1, 1, 1, 0, 1, 1),           # c3
        "systemic": (1, 0, 0, 0, 1, 0),                # c4 (two approaches: in both)
        "unrecorded": (0, 0, 0, 0, 1, 1),              # c5, no reassessment
    }
    assert {k: counts(v) for k, v in answer["by_clinician"].items()} == {
        "clin-1": (2, 1, 1, 1, 1, 1),                  # c1, c2, c5
        "clin-2": (2, 1, 1, 0, 2, 1),                  # c3, c4
    }
    assert {k: counts(v) for k, v in answer["by_alliance"].items()} == {
        "ever_in_concern": (2, 2, 2, 0, 2, 2),         # c1, c3, c5
        "never_in_concern": (2, 0, 0, 1, 1, 0),        # c2, c4
    }
    assert answer["by_clinician"]["clin-2"]["dropout_rate"] == 0.5
    assert answer["by_alliance"]["ever_in_concern"]["reliable_improvement_rate"] == 1.0
    assert answer["by_approach"]["unrecorded"]["reliable_improvement_rate"] is None
    assert answer["measured"] == 4  # the clinic's own figures are unchanged by the groups


def test_a_period_before_everything_counts_nothing_in_any_group(clinic):
    yesterday = date.today() - timedelta(days=1)
    answer = summary(clinic, from_=yesterday - timedelta(days=30), to=yesterday)
    assert answer["by_approach"] == {}
    assert {k: counts(v) for k, v in answer["by_alliance"].items()} == {
        "ever_in_concern": (0, 0, 0, 0, 0, 0), "never_in_concern": (0, 0, 0, 0, 0, 0)}



def test_the_outcome_chart_overlays_the_alliance_when_asked(clinic):
    client_id = clinic.ids["c1"]
    query = {"episode_id": None, "format": "svg"}
    plain = clinic.chart(ADMIN.principal, client_id, "PHQ-9", {**query, "overlay": None})
    overlaid = clinic.chart(ADMIN.principal, client_id, "PHQ-9",
                            {**query, "overlay": "alliance"}).get_data(as_text=True)
    assert 'id="alliance' not in plain.get_data(as_text=True)
    assert 'id="alliance_1"' in overlaid or 'id="alliance"' in overlaid
    assert "alliance concern below 36" in overlaid and "SRS total (alliance)" in overlaid


def test_the_alliance_band_counts_concerns_up_to_the_period_s_end_only(intake):
    """Courses judged 10 and 5 days ago, the concern today: a period ending yesterday
    puts the client in never_in_concern, a period up to today in ever_in_concern."""
    now = datetime.now(timezone.utc)
    client_id = register(intake, primary_clinician_id="clin-1")
    assess(intake, client_id, MODERATE, assessed_at=now - timedelta(days=10))
    assess(intake, client_id, BETTER, assessed_at=now - timedelta(days=5))
    rate(intake, CLINICIAN, client_id, held(intake, client_id), CONCERN)
    start, yesterday = (now - timedelta(days=30)).date(), (now - timedelta(days=1)).date()
    before = summary(intake, from_=start, to=yesterday)["by_alliance"]
    assert (before["ever_in_concern"]["measured"], before["never_in_concern"]["measured"]) \
        == (0, 1)
    up_to_today = summary(intake, from_=start, to=now.date())["by_alliance"]
    assert (up_to_today["ever_in_concern"]["measured"],
            up_to_today["never_in_concern"]["measured"]) == (1, 0)
