"""Issue 17's intake rules on both engines (PostgreSQL keeps aware datetimes, SQLite
naive ones): the outcomes by approach and alliance band, and the dropout-risk rule,
the application tier's scenarios run again with intake on each engine."""
import pytest

from services.intake.application import IntakeApplication
from tests.application.test_intake import ADMIN, CLINIC
from tests.application.test_intake_dropout import (  # noqa: F401 (collected here again)
    test_a_concern_then_two_misses_flag_a_dropout_risk_until_acknowledged,
    test_two_misses_then_a_concern_flag_when_the_concern_comes)
from tests.application.test_intake_outcomes_by import (  # noqa: F401
    clinic, test_outcomes_by_approach_clinician_and_alliance_band,
    test_the_alliance_band_counts_concerns_up_to_the_period_s_end_only)


@pytest.fixture
def intake(database_url):
    """As the application tier's: the dropout-risk scenarios need 2 misses in 30 days
    (the outcomes scenarios rate each session once, so the settings do not touch them)."""
    application = IntakeApplication(database_url)
    application.set_alliance_settings(ADMIN, CLINIC, {
        "instrument": "SRS", "every_sessions": 1, "drop_points": None,
        "dropout_misses": 2, "dropout_window_days": 30})
    yield application
    application.store.engine.dispose()
