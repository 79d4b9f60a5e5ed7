"""Intake's domain: clients and standardized instruments. No framework imports.

Instruments are data: adding one is a new entry in INSTRUMENTS, not a branch.
"""
from dataclasses import dataclass, field

from shared.envelope import NewEvent
from shared.errors import Conflict, InvalidInput


@dataclass(frozen=True)
class Instrument:
    code: str
    items: int
    lowest: int
    highest: int
    bands: tuple  # (lowest total, highest total, severity)

    def score(self, answers):
        """-> (total, severity); InvalidInput names the first bad item."""
        if not isinstance(answers, list) or len(answers) != self.items:
            raise InvalidInput(f"{self.code} needs {self.items} answers",
                               {"answers": [f"{self.code} has {self.items} items; "
                                            f"got {len(answers) if isinstance(answers, list) else 0}"]})
        for number, answer in enumerate(answers, start=1):
            if isinstance(answer, bool) or not isinstance(answer, int) \
                    or not self.lowest <= answer <= self.highest:
                raise InvalidInput(f"{self.code} item {number} is out of range", {
                    f"answers.{number}": [f"must be an integer {self.lowest}-{self.highest}"]})
        total = sum(answers)
        for low, high, severity in self.bands:
            if low <= total <= high:
                return total, severity
        raise AssertionError(f"bands of {self.code} do not cover {total}")


INSTRUMENTS = {
    "PHQ-9": Instrument("PHQ-9", 9, 0, 3, (
        (0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"),
        (15, 19, "moderately severe"), (20, 27, "severe"))),
    "GAD-7": Instrument("GAD-7", 7, 0, 3, (
        (0, 4, "minimal"), (5, 9, "mild"), (10, 14, "moderate"), (15, 21, "severe"))),
}


def instrument(code):
    try:
        return INSTRUMENTS[code]
    except KeyError:
        raise InvalidInput(f"unknown instrument {code!r}",
                           {"instrument": [f"one of {', '.join(sorted(INSTRUMENTS))}"]})


@dataclass
class Client:
    """A client as intake's events say it is."""
    client_id: str
    version: int = 0
    registered: bool = False
    assessed_instruments: set = field(default_factory=set)

    @classmethod
    def from_events(cls, client_id, events):
        client = cls(client_id)
        for event in events:
            client.version = event.sequence
            if event.name == "ClientRegistered":
                client.registered = True
            elif event.name == "ClientAssessed":
                client.assessed_instruments.add(event.data["instrument"])
        return client


def stream_of(client_id):
    return f"client-{client_id}"


def register(client_id, name, date_of_birth, contact, registered_at):
    return [NewEvent("ClientRegistered", {
        "client_id": client_id, "name": name, "date_of_birth": date_of_birth,
        "contact": contact, "registered_at": registered_at})]


def assess(client, assessment_id, instrument_code, answers, assessed_at):
    """Score the answers; the first assessment with an instrument is the baseline."""
    if not client.registered:
        raise Conflict(f"client {client.client_id} is not registered")
    definition = instrument(instrument_code)
    total, severity = definition.score(answers)
    kind = "reassessment" if definition.code in client.assessed_instruments else "initial"
    return [NewEvent("ClientAssessed", {
        "client_id": client.client_id, "assessment_id": assessment_id,
        "instrument": definition.code, "kind": kind, "answers": list(answers),
        "total": total, "severity": severity, "assessed_at": assessed_at})]
