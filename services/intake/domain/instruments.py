"""Standardized instruments as versioned reference data, not code branches.

An instrument definition says how many items there are, the answer range,
how answers are scored (a sum, with optional reverse-scored items), the
severity bands, the clinical cut-off, which direction is worse, and the SD
and test-retest reliability r behind the reliable-change threshold
(Jacobson & Truax 1991: S_diff = sqrt(2) * SD * sqrt(1 - r); a change is
reliable when |difference| / S_diff > 1.96).

PHQ-9 and GAD-7 ship built in as version 1. Their SD and r are configurable
reference data: chosen so that 1.96 * S_diff reproduces the NHS Talking
Therapies reliable-change thresholds (6 points PHQ-9, 4 points GAD-7). An
organisation that wants other figures defines a new version of the same code
(InstrumentDefined); an organisation also adds its own instruments that way.
"""
import math
import re
from dataclasses import dataclass, field
from typing import NamedTuple

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import InvalidInput

RELIABLE_Z = 1.96
CODE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$")


@dataclass(frozen=True)
class Band:
    low: int
    high: int
    label: str


@dataclass(frozen=True)
class RiskItem:
    """An answer above `above` on item `item` (1-based) raises a risk flag."""
    item: int
    above: int
    reason: str


class Score(NamedTuple):
    total: int
    severity: str


@dataclass(frozen=True)
class Instrument:
    code: str
    version: int
    name: str
    items: tuple            # item wordings (or short labels), in order
    lowest: int             # every item is answered lowest..highest
    highest: int
    bands: tuple            # Band, ascending, covering every possible total
    cut_off: int            # first total of the clinical range (last+1 when higher is better)
    sd: float               # population SD of the total
    reliability: float      # test-retest reliability r
    higher_is_worse: bool = True
    reversed_items: tuple = ()        # items scored highest + lowest - answer
    response_drop_percent: int = None  # response: total down at least this % from baseline
    remission_below: int = None        # remission: total below this
    risk_items: tuple = ()
    built_in: bool = False

    # -- derived figures ---------------------------------------------------
    @property
    def item_count(self):
        return len(self.items)

    @property
    def min_total(self):
        return self.item_count * self.lowest

    @property
    def max_total(self):
        return self.item_count * self.highest

    @property
    def standard_error_of_difference(self):
        return math.sqrt(2) * self.sd * math.sqrt(1 - self.reliability)

    @property
    def reliable_change_points(self):
        """1.96 * S_diff: the change (in points) the SD and r make reliable."""
        return RELIABLE_Z * self.standard_error_of_difference

    @property
    def reliable_change_threshold(self):
        """The smallest whole-point change that is reliable (|RCI| > 1.96)."""
        return math.floor(self.reliable_change_points) + 1

    # -- scoring -------------------------------------------------------------
    def check_answers(self, answers):
        """InvalidInput naming every missing or out-of-range item."""
        if not isinstance(answers, list):
            raise InvalidInput(f"{self.code} needs a list of answers",
                               {"answers": [f"a list of {self.item_count} answers"]})
        problems = {}
        if len(answers) > self.item_count:
            problems["answers"] = [f"{self.code} has {self.item_count} items; "
                                   f"got {len(answers)} answers"]
        for number in range(1, self.item_count + 1):
            answer = answers[number - 1] if number <= len(answers) else None
            if answer is None:
                problems[f"answers.{number}"] = [
                    f"missing: item {number} needs an answer {self.lowest}-{self.highest}"]
            elif isinstance(answer, bool) or not isinstance(answer, int) \
                    or not self.lowest <= answer <= self.highest:
                problems[f"answers.{number}"] = [
                    f"must be an integer {self.lowest}-{self.highest}"]
        if problems:
            first = next(iter(problems))
            raise InvalidInput(f"{self.code} answers are incomplete or out of range "
                               f"({first})", problems)

    def score(self, answers):
        """-> Score(total, severity) of a complete, in-range set of answers."""
        self.check_answers(answers)
        total = 0
        for number, answer in enumerate(answers, start=1):
            if number in self.reversed_items:
                answer = self.highest + self.lowest - answer
            total += answer
        return Score(total, self.severity(total))

    def severity(self, total):
        for band in self.bands:
            if band.low <= total <= band.high:
                return band.label
        raise AssertionError(f"bands of {self.code} v{self.version} do not cover {total}")

    def is_clinical(self, total):
        """In the clinical range ('caseness')?"""
        return total >= self.cut_off if self.higher_is_worse else total < self.cut_off

    def risks(self, answers):
        """[(RiskItem, answer)] for every risk item answered above its limit."""
        return [(risk, answers[risk.item - 1]) for risk in self.risk_items
                if answers[risk.item - 1] > risk.above]

    # -- as data -------------------------------------------------------------
    def to_data(self):
        return {
            "code": self.code, "version": self.version, "name": self.name,
            "items": list(self.items), "lowest": self.lowest, "highest": self.highest,
            "reversed_items": list(self.reversed_items),
            "higher_is_worse": self.higher_is_worse,
            "bands": [{"low": b.low, "high": b.high, "label": b.label} for b in self.bands],
            "cut_off": self.cut_off, "sd": self.sd, "reliability": self.reliability,
            "reliable_change_threshold": self.reliable_change_threshold,
            "response_drop_percent": self.response_drop_percent,
            "remission_below": self.remission_below,
            "risk_items": [{"item": r.item, "above": r.above, "reason": r.reason}
                           for r in self.risk_items],
        }

    @classmethod
    def from_data(cls, data, built_in=False):
        """From an InstrumentDefined payload (or a definition request), unchecked."""
        return cls(
            code=data["code"], version=data["version"], name=data["name"],
            items=tuple(data["items"]), lowest=data["lowest"], highest=data["highest"],
            bands=tuple(Band(b["low"], b["high"], b["label"]) for b in data["bands"]),
            cut_off=data["cut_off"], sd=float(data["sd"]),
            reliability=float(data["reliability"]),
            higher_is_worse=data.get("higher_is_worse", True),
            reversed_items=tuple(data.get("reversed_items") or ()),
            response_drop_percent=data.get("response_drop_percent"),
            remission_below=data.get("remission_below"),
            risk_items=tuple(RiskItem(r["item"], r["above"], r["reason"])
                             for r in data.get("risk_items") or ()),
            built_in=built_in)


def check_definition(instrument, previous=None):
    """InvalidInput naming each field of a definition that does not hold together.

    `previous` is the latest version of the same code: a new version must keep
    the items and answer range, so totals stay comparable with the baseline.
    """
    problems = {}

    def refuse(name, message):
        problems.setdefault(name, []).append(message)

    if not CODE_PATTERN.match(instrument.code or ""):
        refuse("code", "letters, digits, '.', '_' or '-', at most 40, starting with a letter "
                       "or digit")
    if not 1 <= instrument.item_count <= 200:
        refuse("items", "between 1 and 200 items")
    if any(not isinstance(text, str) or not text.strip() for text in instrument.items):
        refuse("items", "every item needs its wording")
    if instrument.lowest >= instrument.highest:
        refuse("highest", "must be above lowest")
    if problems:
        raise InvalidInput("instrument definition is inconsistent", problems)

    expected = instrument.min_total
    for index, band in enumerate(instrument.bands):
        if band.low != expected or band.high < band.low:
            refuse(f"bands.{index}", f"must start at {expected} and not end before it "
                                     "(bands ascend without gaps or overlaps)")
            break
        expected = band.high + 1
    else:
        if not instrument.bands or expected != instrument.max_total + 1:
            refuse("bands", f"must cover every total {instrument.min_total}-"
                            f"{instrument.max_total}")
    if not instrument.min_total < instrument.cut_off <= instrument.max_total:
        refuse("cut_off", f"must be within {instrument.min_total + 1}-{instrument.max_total}")
    if not instrument.sd > 0:
        refuse("sd", "must be above 0")
    if not 0 <= instrument.reliability < 1:
        refuse("reliability", "must be at least 0 and below 1")
    for number in instrument.reversed_items:
        if not 1 <= number <= instrument.item_count:
            refuse("reversed_items", f"item {number} does not exist")
    if len(set(instrument.reversed_items)) != len(instrument.reversed_items):
        refuse("reversed_items", "lists an item twice")
    if instrument.response_drop_percent is not None:
        if not instrument.higher_is_worse:
            refuse("response_drop_percent", "response (a drop from baseline) needs an "
                                            "instrument where higher is worse")
        elif not 1 <= instrument.response_drop_percent <= 100:
            refuse("response_drop_percent", "must be 1-100")
    if instrument.remission_below is not None and not \
            instrument.min_total < instrument.remission_below <= instrument.max_total:
        refuse("remission_below", f"must be within {instrument.min_total + 1}-"
                                  f"{instrument.max_total}")
    for index, risk in enumerate(instrument.risk_items):
        if not 1 <= risk.item <= instrument.item_count:
            refuse(f"risk_items.{index}.item", f"item {risk.item} does not exist")
        if not instrument.lowest <= risk.above < instrument.highest:
            refuse(f"risk_items.{index}.above",
                   f"must be {instrument.lowest}-{instrument.highest - 1}")
    if previous is not None and (previous.item_count, previous.lowest, previous.highest) != (
            instrument.item_count, instrument.lowest, instrument.highest):
        refuse("items", f"version {previous.version} of {previous.code} has "
                        f"{previous.item_count} items answered {previous.lowest}-"
                        f"{previous.highest}; a new version must keep them (define a new code "
                        "for a different scale)")
    if problems:
        raise InvalidInput("instrument definition is inconsistent", problems)


PHQ9 = Instrument(
    code="PHQ-9", version=1, name="Patient Health Questionnaire (depression)",
    items=(
        "Little interest or pleasure in doing things",
        "Feeling down, depressed, or hopeless",
        "Trouble falling or staying asleep, or sleeping too much",
        "Feeling tired or having little energy",
        "Poor appetite or overeating",
        "Feeling bad about yourself, or that you are a failure or have let yourself "
        "or your family down",
        "Trouble concentrating on things, such as reading or watching television",
        "Moving or speaking so slowly that other people could have noticed, or the "
        "opposite: being so fidgety or restless that you have been moving around a lot "
        "more than usual",
        "Thoughts that you would be better off dead, or of hurting yourself in some way",
    ),
    lowest=0, highest=3,
    bands=(Band(0, 4, "minimal"), Band(5, 9, "mild"), Band(10, 14, "moderate"),
           Band(15, 19, "moderately severe"), Band(20, 27, "severe")),
    cut_off=10,
    # Reference data (configurable by a new version): 1.96 * sqrt(2) * 6.0 *
    # sqrt(1 - 0.87) = 5.997, so a change of 6 points is reliable (NHS TT).
    sd=6.0, reliability=0.87,
    response_drop_percent=50, remission_below=5,
    risk_items=(RiskItem(9, 0, "PHQ-9 item 9 (thoughts of being better off dead or of "
                               "self-harm) answered above 0"),),
    built_in=True)

GAD7 = Instrument(
    code="GAD-7", version=1, name="Generalized Anxiety Disorder scale",
    items=(
        "Feeling nervous, anxious, or on edge",
        "Not being able to stop or control worrying",
        "Worrying too much about different things",
        "Trouble relaxing",
        "Being so restless that it is hard to sit still",
        "Becoming easily annoyed or irritable",
        "Feeling afraid, as if something awful might happen",
    ),
    lowest=0, highest=3,
    bands=(Band(0, 4, "minimal"), Band(5, 9, "mild"), Band(10, 14, "moderate"),
           Band(15, 21, "severe")),
    cut_off=8,  # NHS Talking Therapies caseness (>= 10 is the detection cut-off)
    # Reference data: 1.96 * sqrt(2) * 4.0 * sqrt(1 - 0.87) = 3.998: 4 points (NHS TT).
    sd=4.0, reliability=0.87,
    response_drop_percent=50, remission_below=None,
    built_in=True)

BUILT_IN = {instrument.code: instrument for instrument in (PHQ9, GAD7)}


def _built_ins():  # every catalogue starts with version 1 of each built-in
    return {code: {1: instrument} for code, instrument in BUILT_IN.items()}


@dataclass
class InstrumentCatalogue(Aggregate):
    """The instruments one organisation can administer: built-ins plus its own
    (the InstrumentDefined events of its stream)."""
    STREAM = "instruments-{}"
    organisation_id: str = None
    versions: dict = field(default_factory=_built_ins)  # code -> {version: Instrument}

    @classmethod
    def of_organisation(cls, organisation_id, definitions):
        """From InstrumentDefined payloads kept elsewhere (the read side's table)."""
        catalogue = cls.new(organisation_id)
        for data in definitions:
            catalogue._include(data)
        return catalogue

    def _on_InstrumentDefined(self, event, data):
        self._include(data)

    def _include(self, data):
        definition = Instrument.from_data(data)
        self.versions.setdefault(definition.code, {})[definition.version] = definition

    def codes(self):
        return sorted(self.versions)

    def latest(self, code):
        versions = self.versions.get(code)
        if not versions:
            raise InvalidInput(f"unknown instrument {code!r}",
                               {"instrument": [f"one of {', '.join(self.codes())}"]})
        return versions[max(versions)]

    def instrument(self, code, version):
        """That version of the instrument, or None."""
        return self.versions.get(code, {}).get(version)

    def all_latest(self):
        return [self.latest(code) for code in self.codes()]

    def next_version(self, code):
        versions = self.versions.get(code)
        return max(versions) + 1 if versions else 1


def define_instrument(catalogue, definition, defined_by, defined_at):
    """InstrumentDefined: the next version of `definition['code']` in the organisation."""
    code = definition["code"]
    previous = catalogue.latest(code) if catalogue.versions.get(code) else None
    instrument = Instrument.from_data({**definition, "version": catalogue.next_version(code)})
    check_definition(instrument, previous)
    given = definition.get("reliable_change_threshold")
    if given is not None and given != instrument.reliable_change_threshold:
        raise InvalidInput("reliable-change threshold does not follow from SD and r", {
            "reliable_change_threshold": [
                f"SD {instrument.sd} and r {instrument.reliability} make changes of "
                f"{instrument.reliable_change_threshold} points reliable "
                f"(1.96 * S_diff = {instrument.reliable_change_points:.3f})"]})
    return instrument, [NewEvent("InstrumentDefined", {
        **instrument.to_data(), "defined_by": defined_by, "defined_at": defined_at})]
