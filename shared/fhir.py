"""FHIR R4 building blocks every service's FHIR adapter shares (plain Python).

Resources are plain dicts in FHIR's JSON form. Ids are Praxis's own ids, so the
resources of the four services refer to each other without a lookup:
Patient/<client_id>, Practitioner/<clinician_id>, Encounter/<appointment_id>.
"""
import hashlib
import re

SYSTEM = "https://praxis.example/fhir"  # the namespace of Praxis's identifiers and codes
LOINC = "http://loinc.org"


_OUTSIDE_FHIR_IDS = re.compile(r"[^A-Za-z0-9-]")


def fhir_id(value):
    """A Praxis id as a FHIR id ([A-Za-z0-9-.], 64 at most), one to one: a character
    FHIR ids lack becomes '.' and its hex code ('.' itself included); an id that
    grows past 64 becomes a digest of itself (the identifier keeps it whole)."""
    encoded = _OUTSIDE_FHIR_IDS.sub(lambda m: f".{ord(m.group()):02X}", str(value))
    if len(encoded) <= 64:
        return encoded
    return "sha256." + hashlib.sha256(str(value).encode()).hexdigest()[:57]


def reference(resource_type, id_, display=None):
    found = {"reference": f"{resource_type}/{fhir_id(id_)}"}
    if display:
        found["display"] = display
    return found


def identifier(kind, value):
    """A Praxis id as a FHIR identifier (kind: client, appointment, ...)."""
    return {"system": f"{SYSTEM}/{kind}", "value": str(value)}


def coding(system, code, display=None):
    found = {"system": system, "code": code}
    if display:
        found["display"] = display
    return found


def concept(system, code, display=None, text=None):
    found = {"coding": [coding(system, code, display)]}
    if text:
        found["text"] = text
    return found


def organisation(organisation_id, clinic_id):
    """The clinic as the managing organisation (not exported as a resource of its own)."""
    return {"identifier": identifier("clinic", f"{organisation_id}/{clinic_id}"),
            "display": clinic_id}


def searchset(resources):
    """A Bundle of type searchset, as `$everything` answers."""
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"fullUrl": f"{SYSTEM}/{r['resourceType']}/{r['id']}", "resource": r,
                       "search": {"mode": "match"}} for r in resources]}


def without_empty(resource):
    """FHIR forbids empty values: drop None, "", [] and {} at any depth."""
    if isinstance(resource, dict):
        cleaned = {k: without_empty(v) for k, v in resource.items()}
        return {k: v for k, v in cleaned.items() if v not in (None, "", [], {})}
    if isinstance(resource, list):
        cleaned = [without_empty(v) for v in resource]
        return [v for v in cleaned if v not in (None, "", [], {})]
    return resource
