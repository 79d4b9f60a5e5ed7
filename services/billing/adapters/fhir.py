"""Billing's records as FHIR R4 resources: a ChargeItem per charge (its CPT code,
units, modifiers, the session's Encounter, the price after any sliding scale) and
an Invoice per invoice (its lines referring to their ChargeItems).

Pure functions of billing's views (a charge, an invoice)."""
from decimal import Decimal

from shared.fhir import coding, fhir_id, identifier, reference, without_empty

CPT = "http://www.ama-assn.org/go/cpt"
INVOICE_STATUS = {"draft": "draft", "issued": "issued", "paid": "balanced",
                  "void": "cancelled"}


def money(amount_minor, currency):
    """FHIR Money from minor units (two decimals, as everywhere in billing)."""
    return {"value": float(Decimal(amount_minor).scaleb(-2)), "currency": currency}


def charge_item(charge):
    lines = charge.get("lines") or []
    primary, add_ons = (lines[0], lines[1:]) if lines else (None, [])
    status = "billed" if charge.get("invoice_id") else \
        "billable" if charge["billable"] else "not-billable"
    notes = [f"{line['code']} x{line['units']}" + (f" ({', '.join(line['modifiers'])})"
                                                    if line.get("modifiers") else "")
             for line in add_ons]
    if not charge["billable"] and charge.get("reason"):
        notes.append(f"not billable: {charge['reason']}")
    code = charge.get("code") or (primary or {}).get("code")
    return without_empty({
        "resourceType": "ChargeItem", "id": fhir_id(charge["charge_id"]),
        "identifier": [identifier("charge", charge["charge_id"])],
        "status": status,
        "code": {"coding": [coding(CPT, code)] if code else [],
                 "text": code or charge["kind"].replace("_", " ")},
        "subject": reference("Patient", charge["client_id"]),
        "context": reference("Encounter", charge["appointment_id"])
        if charge.get("appointment_id") else None,
        "occurrenceDateTime": charge["service_date"],
        "performer": [{"actor": reference("Practitioner", charge["clinician_id"])}]
        if charge.get("clinician_id") else [],
        "quantity": {"value": primary["units"]} if primary else None,
        "priceOverride": money(charge["amount_minor"], charge["currency"])
        if charge.get("currency") else None,
        "overrideReason": f"sliding scale {charge['sliding_scale_percent']}%"
        if charge.get("sliding_scale_percent") else None,
        "enteredDate": charge.get("recorded_at"),
        "note": [{"text": text} for text in notes],
    })


def invoice(view):
    return without_empty({
        "resourceType": "Invoice", "id": fhir_id(view["invoice_id"]),
        "identifier": [identifier("invoice", view["invoice_id"])],
        "status": INVOICE_STATUS[view["status"]],
        "cancelledReason": view.get("void_reason"),
        "subject": reference("Patient", view["client_id"]),
        "date": view.get("issued_on"),
        "lineItem": [{"sequence": number, "chargeItemReference":
                      reference("ChargeItem", line["charge_id"])}
                     for number, line in enumerate(view.get("lines") or (), start=1)
                     if line.get("charge_id")],
        "totalGross": money(view["total_minor"], view["currency"]),
        "totalNet": money(view["total_minor"] - view.get("written_off_minor", 0),
                          view["currency"]),
        "paymentTerms": f"due {view['due_on']}" if view.get("due_on") else None,
        "note": [{"text": f"paid {money(view['paid_minor'], view['currency'])['value']:.2f}"}]
        if view.get("paid_minor") else [],
    })


def everything(charges, invoices):
    """Billing's part of a client's `$everything`."""
    return [charge_item(c) for c in charges] + [invoice(i) for i in invoices]


