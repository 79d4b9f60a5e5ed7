"""Provider profiles and the superbill: what a client hands an insurer to claim
back what they paid (provider, client, diagnoses, each service, amounts paid)."""
import re
from dataclasses import dataclass

from shared.aggregate import Aggregate
from shared.envelope import NewEvent
from shared.errors import InvalidInput

NPI = re.compile(r"^[0-9]{10}$")
TAX_ID = re.compile(r"^[0-9]{2}-?[0-9]{7}$")


def npi_is_valid(npi):
    """10 digits whose last is the Luhn check digit over '80840' + the first nine."""
    if not isinstance(npi, str) or not NPI.match(npi):
        return False
    digits = [int(d) for d in "80840" + npi[:9]]
    total = 0
    for index, digit in enumerate(reversed(digits)):
        if index % 2 == 0:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return (10 - total % 10) % 10 == int(npi[9])


@dataclass
class BillingProfile(Aggregate):
    """Who bills, as a superbill names them: the clinic (clinician "") or a clinician.
    Only ever set outright (a blind write), and read from the read model: the stream
    holds no state a decision needs."""
    STREAM = "billing-profile-{}/{}/{}"  # organisation, clinic, clinician or ""
    organisation_id: str
    clinic_id: str
    clinician_key: str


def set_profile(clinician_id, name, npi, tax_id=None, address=None, phone=None):
    errors = {}
    if not npi_is_valid(npi):
        errors["npi"] = ["must be a 10-digit NPI with a valid check digit"]
    if tax_id is not None and not TAX_ID.match(tax_id):
        errors["tax_id"] = ["must be an EIN such as 12-3456789"]
    if not isinstance(name, str) or not name.strip():
        errors["name"] = ["must not be empty"]
    if errors:
        raise InvalidInput("invalid billing profile", errors)
    return [NewEvent("BillingProfileSet", {"clinician_id": clinician_id, "name": name,
                                           "npi": npi, "tax_id": tax_id, "address": address,
                                           "phone": phone})]


def money(amount_minor, currency):
    """'USD 120.00' from 12000 minor units (two decimals; integer arithmetic only)."""
    sign = "-" if amount_minor < 0 else ""
    whole, cents = divmod(abs(amount_minor), 100)
    return f"{currency or ''} {sign}{whole:,}.{cents:02d}".strip()


def allocate_paid(lines, paid_by_invoice):
    """Share what was paid on each invoice across its lines in date order."""
    left = dict(paid_by_invoice)
    for line in lines:
        invoice_id = line.get("invoice_id")
        share = min(left.get(invoice_id, 0), line["fee_minor"]) if invoice_id else 0
        if invoice_id:
            left[invoice_id] -= share
        line["paid_minor"] = share
    return lines


POINTERS = "ABCDEFGHIJKL"  # a claim form's twelve diagnosis slots
LINE_POINTERS = 4            # and at most four pointers per service line


def fill_places_of_service(services, office_place):
    """A line without a place of its own (96127 for an instrument) takes the place of
    that day's session, else the clinic's office place for the client's payer."""
    by_day = {}
    for line in services:
        if line["place_of_service"]:
            by_day.setdefault(line["date"], line["place_of_service"])
    for line in services:
        if not line["place_of_service"]:
            line["place_of_service"] = by_day.get(line["date"], office_place)
    return services


def rendering_providers(services):
    """Each rendering clinician once, in the order they first appear."""
    seen = {}
    for line in services:
        key = line["clinician_id"]
        if key and key not in seen:
            seen[key] = {"clinician_id": key, "name": line["rendering_provider"],
                         "npi": line["rendering_npi"]}
    return list(seen.values())


def superbill(provider, client, diagnoses, services, period_start, period_end, currency,
              payments_minor):
    """The superbill as plain data; `services` are dicts of one billed line each. The
    diagnoses (primary first) get the claim's pointers A-L; every line points to the
    first four."""
    codes = list(diagnoses)[:len(POINTERS)]
    pointer = POINTERS[:min(len(codes), LINE_POINTERS)]
    for line in services:
        line["diagnosis_pointer"] = pointer
    charged = sum(s["fee_minor"] for s in services)
    paid = sum(s["paid_minor"] for s in services)
    return {
        "period_start": str(period_start), "period_end": str(period_end),
        "provider": provider, "client": client, "diagnoses": codes,
        "diagnosis_pointers": [{"pointer": POINTERS[i], "code": code}
                               for i, code in enumerate(codes)],
        "rendering_providers": rendering_providers(services),
        "services": services, "currency": currency,
        "total_charged_minor": charged, "total_paid_minor": paid,
        "payments_received_minor": payments_minor, "balance_minor": charged - paid,
    }
