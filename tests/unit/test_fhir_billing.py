"""Billing's FHIR adapter: valid by the FHIR models; money exact; statuses mapped."""
import pytest

from services.billing.adapters import fhir
from tests.unit.test_fhir_intake import validated

CLIENT_ID = "6b1f0c8e-0f3a-4d5e-9a2b-1c3d4e5f6a7b"
CHARGE = {"charge_id": "c-1", "kind": "session", "appointment_id": "ap-1",
          "client_id": CLIENT_ID, "clinician_id": "dr-lee", "service_date": "2026-02-02",
          "code": "90839", "lines": [{"code": "90839", "units": 1, "modifiers": ["95"]},
                                     {"code": "+90840", "units": 2, "modifiers": ["95"]}],
          "billable": True, "reason": None, "amount_minor": 23550, "currency": "USD",
          "sliding_scale_percent": 25, "invoice_id": None,
          "recorded_at": "2026-02-02T12:00:00Z"}
INVOICE = {"invoice_id": "i-1", "client_id": CLIENT_ID, "status": "paid", "currency": "USD",
           "total_minor": 23550, "paid_minor": 23550, "written_off_minor": 0,
           "issued_on": "2026-02-05", "due_on": "2026-03-07", "void_reason": None,
           "lines": [{"charge_id": "c-1", "amount_minor": 23550}]}


def test_a_charge_is_a_charge_item_with_its_code_price_and_session():
    item = validated(fhir.charge_item(CHARGE))
    assert item["code"]["coding"] == [{"system": fhir.CPT, "code": "90839"}]
    assert item["priceOverride"] == {"value": 235.5, "currency": "USD"}
    assert item["context"] == {"reference": "Encounter/ap-1"}
    assert item["note"] == [{"text": "+90840 x2 (95)"}]
    assert (item["status"], item["overrideReason"]) == ("billable", "sliding scale 25%")
    assert validated(fhir.charge_item({**CHARGE, "invoice_id": "i-1"}))["status"] == "billed"
    refused = validated(fhir.charge_item({**CHARGE, "billable": False, "reason": "no consent",
                                          "kind": "late_cancel", "code": None, "lines": [],
                                          "appointment_id": None}))
    assert refused["status"] == "not-billable" and refused["code"] == {"text": "late cancel"}


@pytest.mark.parametrize("status, fhir_status", sorted(fhir.INVOICE_STATUS.items()))
def test_an_invoice_refers_to_its_charge_items(status, fhir_status):
    found = validated(fhir.invoice({**INVOICE, "status": status}))
    assert found["status"] == fhir_status
    assert found["lineItem"] == [{"sequence": 1,
                                  "chargeItemReference": {"reference": "ChargeItem/c-1"}}]
    assert found["totalGross"] == {"value": 235.5, "currency": "USD"}


@pytest.mark.parametrize("minor, value", [(0, 0.0), (1, 0.01), (99, 0.99), (12000, 120.0),
                                          (123456789, 1234567.89)])
def test_money_is_exact(minor, value):
    assert fhir.money(minor, "USD") == {"value": value, "currency": "USD"}


def test_everything_is_valid():
    for resource in fhir.everything([CHARGE], [INVOICE]):
        validated(resource)
