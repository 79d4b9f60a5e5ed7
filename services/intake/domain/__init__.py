"""Intake's domain: clients, consents, episodes of care, instruments as data,
change against the baseline, risk and the not-on-track rule.

Plain Python: stdlib, shared.aggregate, shared.envelope, shared.errors,
shared.timeutil and shared.vocabulary only. Client, InstrumentCatalogue,
NotOnTrackRule and ClientAlliance are aggregates (shared/aggregate.py): each is what its stream says.
- instruments.py: instrument definitions (PHQ-9, GAD-7 built in), scoring
- change.py: reliable change index and the change categories
- not_on_track.py: the clinic's not-on-track rule
- clients.py: the Client (from its events) and the commands on it
- assessments.py: administering an instrument and what it raises
- care_team.py: clinicians added to a client's care team, break-glass
- alliance.py: alliance measures (SRS, WAI-SR built in), ratings, rupture flags
- erasure.py: a client's erasure request, refused while the record is retained
"""
from . import alliance, care_team  # noqa: F401
from .assessments import assess, risk_flag_id, session_held  # noqa: F401
from .change import against_baseline, category  # noqa: F401
from .clients import (  # noqa: F401
    DETAIL_FIELDS, Client, acknowledge_risk_flag, discharge, give_consent,
    implicit_episode_id, open_episode, register, revoke_consent, update_details)
from .erasure import request_erasure, retained_until  # noqa: F401
from .instruments import (  # noqa: F401
    GAD7, PHQ9, Instrument, InstrumentCatalogue, define_instrument)
from .not_on_track import NotOnTrackRule, set_not_on_track_rule  # noqa: F401

