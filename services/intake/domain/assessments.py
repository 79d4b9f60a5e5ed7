"""Administering an instrument: score every item, judge the change against the
episode's baseline, and raise what the answers and the change call for, all
in the one append of the assessment."""
import uuid

from shared.envelope import NewEvent

from . import change as changes
from .clients import NAMESPACE
from .not_on_track import DETERIORATION, NO_IMPROVEMENT


def risk_flag_id(assessment_id, item):
    return str(uuid.uuid5(NAMESPACE, f"{assessment_id}/risk/{item}"))


def assess(client, catalogue, rule, assessment_id, code, answers, assessed_at):
    """ClientAssessed, plus RiskFlagRaised, ReliableDeteriorationDetected and
    NotOnTrackFlagged as the answers and the change call for.

    The first assessment of an instrument in an episode is its baseline
    (kind "initial", change None); every later one carries the change.
    """
    episode = client.require_open_episode()
    instrument = catalogue.latest(code)
    score = instrument.score(answers)
    course = episode.courses.get(instrument.code)
    change = None
    if course is not None:
        change = changes.against_baseline(instrument, course.baseline_assessment_id,
                                          course.baseline_total, score.total)
    new_events = [NewEvent("ClientAssessed", {
        "client_id": client.client_id, "assessment_id": assessment_id,
        "episode_id": episode.episode_id, "instrument": instrument.code,
        "instrument_version": instrument.version,
        "kind": "initial" if course is None else "reassessment",
        "answers": list(answers), "total": score.total, "severity": score.severity,
        "change": change, "assessed_at": assessed_at,
        "details_revision": client.details_revision})]

    for risk, answer in instrument.risks(answers):
        new_events.append(NewEvent("RiskFlagRaised", {
            "client_id": client.client_id, "flag_id": risk_flag_id(assessment_id, risk.item),
            "assessment_id": assessment_id, "instrument": instrument.code,
            "reason": risk.reason, "raised_at": assessed_at, "episode_id": episode.episode_id,
            "item": risk.item, "answer": answer}))

    if change is None:
        return new_events
    flag = _not_on_track(client, episode, instrument.code, assessment_id, assessed_at)
    if change["category"] == changes.RELIABLY_DETERIORATED:
        new_events.append(NewEvent("ReliableDeteriorationDetected", {
            "client_id": client.client_id, "assessment_id": assessment_id,
            "instrument": instrument.code, "rci": change["rci"], "detected_at": assessed_at,
            "episode_id": episode.episode_id, "baseline_total": course.baseline_total,
            "total": score.total}))
        if rule.on_reliable_deterioration and DETERIORATION not in course.flagged:
            new_events.append(flag(DETERIORATION, (
                f"{instrument.code} {score.total} is reliably worse than the baseline "
                f"{course.baseline_total} (RCI {change['rci']})")))
    n = rule.reassessments_without_improvement
    if n is not None and course.reassessments + 1 >= n \
            and change["category"] not in changes.IMPROVEMENTS \
            and NO_IMPROVEMENT not in course.flagged:
        new_events.append(flag(f"reassessments_without_improvement={n}", (
            f"no reliable improvement on {instrument.code} by reassessment "
            f"{course.reassessments + 1} of the episode (baseline {course.baseline_total}, "
            f"now {score.total})")))
    return new_events


def session_held(client, rule, session_number, flagged_at):
    """NotOnTrackFlagged for each instrument of the open episode that shows no
    reliable improvement by the clinic's session limit. Whichever session at or past
    the limit arrives first decides, so the flag names the limit, not that session,
    and its id derives from the episode and the instrument: the same event whatever
    order scheduling's sessions arrive in, and nothing new when a reaction is retried."""
    n = rule.sessions_without_improvement
    episode = client.episode
    if n is None or session_number < n or not client.registered \
            or episode is None or not episode.is_open:
        return []
    new_events = []
    for code, course in sorted(episode.courses.items()):
        if course.improved or NO_IMPROVEMENT in course.flagged:
            continue
        flag = _not_on_track(client, episode, code, None, flagged_at)
        event = flag(f"sessions_without_improvement={n}", (
            f"no reliable improvement on {code} by session {n} of the episode "
            f"({course.reassessments} reassessment(s) since the baseline "
            f"{course.baseline_total})"))
        new_events.append(NewEvent(event.name, event.data, id=str(
            uuid.uuid5(NAMESPACE, f"{episode.episode_id}/not-on-track/sessions/{code}"))))
    return new_events


def _not_on_track(client, episode, code, assessment_id, at):
    def flag(rule_text, reason):
        return NewEvent("NotOnTrackFlagged", {
            "client_id": client.client_id, "instrument": code, "assessment_id": assessment_id,
            "rule": rule_text, "reason": reason, "flagged_at": at,
            "episode_id": episode.episode_id})
    return flag
