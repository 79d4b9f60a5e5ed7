"""Notes' domain: the clinical record's rules. No framework imports.

- treatment_plan: diagnoses, goals with Goal Attainment Scaling, stage of treatment
- progress_notes: one note per session held; drafts, signing, co-signing, addenda
- psychotherapy_notes: the author's own separate record
- between_sessions: homework and the client's journal
"""
from .treatment_plan import (  # noqa: F401 (the plan is what most callers want)
    DESCRIPTION_MAX, INSTRUMENT_MAX, TreatmentPlan, gas_t_score, set_goal,
)
