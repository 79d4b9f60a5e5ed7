"""The superbill a payer expects: pointers A-L, a place of service on every line
(96127 included), and a PDF that is a ruled form with every fact in its place."""
from services.billing.adapters import superbill_pdf
from services.billing.domain import superbill as superbills
from tests.superbill_checks import has_row, page_structure, pdf_lines

CLINICIAN_NPI = "1245319599"
PROVIDER = {"clinician_id": None, "name": "Praxis Clinic", "npi": "1234567893",
            "tax_id": "12-3456789", "address": "1 Main St, Springfield", "phone": "555-0100"}
CLIENT = {"client_id": "c-1", "name": "Ada Lovelace", "date_of_birth": "1990-01-02",
          "payer_kind": "insurer", "insurer_name": "Acme Health", "member_id": "M-991"}


def line(day, code, place, fee, clinician=True, modifiers=(), invoice_id=None):
    return {"date": day, "code": code, "modifiers": list(modifiers), "place_of_service": place,
            "units": 1, "fee_minor": fee, "clinician_id": "clin-1" if clinician else None,
            "rendering_provider": "Dr Grace Hopper" if clinician else None,
            "rendering_npi": CLINICIAN_NPI if clinician else None,
            "invoice_id": invoice_id, "charge_id": f"{day}-{code}"}


def a_bill(diagnoses=("F32.1", "F41.1")):
    services = [line("2026-03-02", "90834", "10", 12000, modifiers=["95"], invoice_id="i-1"),
                line("2026-03-02", "96127", None, 500, clinician=False),
                line("2026-03-09", "90832", "11", 9000),
                line("2026-03-20", "96127", None, 500, clinician=False)]
    superbills.allocate_paid(services, {"i-1": 12000})
    superbills.fill_places_of_service(services, "11")
    return superbills.superbill(PROVIDER, CLIENT, diagnoses, services, "2026-03-01",
                                "2026-03-31", "USD", 12000)


def test_every_line_has_a_place_of_service_and_points_to_the_diagnoses():
    bill = a_bill()
    # 96127 takes the place of that day's session, else the office's.
    assert [(s["code"], s["place_of_service"]) for s in bill["services"]] == [
        ("90834", "10"), ("96127", "10"), ("90832", "11"), ("96127", "11")]
    assert bill["diagnosis_pointers"] == [{"pointer": "A", "code": "F32.1"},
                                          {"pointer": "B", "code": "F41.1"}]
    assert {s["diagnosis_pointer"] for s in bill["services"]} == {"AB"}
    assert bill["rendering_providers"] == [
        {"clinician_id": "clin-1", "name": "Dr Grace Hopper", "npi": CLINICIAN_NPI}]
    many = a_bill([f"F{n:02d}.0" for n in range(14)])
    assert [d["pointer"] for d in many["diagnosis_pointers"]] == list("ABCDEFGHIJKL")
    assert many["services"][0]["diagnosis_pointer"] == "ABCD"  # a line takes four at most
    assert a_bill(())["services"][0]["diagnosis_pointer"] == ""


def test_the_pdf_is_a_ruled_form_with_every_fact_in_its_place():
    content = superbill_pdf.render(a_bill())
    lines = pdf_lines(content)
    for label, value in (("Name", "Praxis Clinic"), ("NPI", "1234567893"),
                         ("Tax ID (EIN)", "12-3456789"), ("Address", "1 Main St, Springfield"),
                         ("Phone", "555-0100"), ("Name", "Ada Lovelace"),
                         ("Date of birth", "1990-01-02"), ("Payer", "Insurance: Acme Health"),
                         ("Member ID", "M-991")):
        assert has_row(lines, [label, value]), (label, value, lines)
    assert has_row(lines, ["Rendering clinician", "Rendering NPI", "Dr Grace Hopper",
                           CLINICIAN_NPI])
    assert has_row(lines, ["A. F32.1", "B. F41.1"])
    assert has_row(lines, ["Date", "POS", "CPT", "Modifiers", "Units", "Dx pointer",
                           "Rendering NPI", "Fee", "Paid"])
    for row in (["2026-03-02", "10", "90834", "95", "1", "AB", CLINICIAN_NPI, "USD 120.00",
                 "USD 120.00"],
                ["2026-03-02", "10", "96127", "-", "1", "AB", "-", "USD 5.00", "USD 0.00"],
                ["2026-03-09", "11", "90832", "-", "1", "AB", CLINICIAN_NPI, "USD 90.00",
                 "USD 0.00"],
                ["2026-03-20", "11", "96127", "-", "1", "AB", "-", "USD 5.00", "USD 0.00"]):
        assert has_row(lines, row), (row, lines)
    for row in (["Total charged", "USD 220.00"], ["Total paid", "USD 120.00"],
                ["Balance due", "USD 100.00"], ["Provider signature", "Date"]):
        assert has_row(lines, row), (row, lines)

    ink, across, down = page_structure(content)
    assert 0.005 < ink < 0.3, ink  # neither blank nor a black page
    # Boxes and tables: provider/client box, clinicians, diagnoses, services, totals,
    # and the signature lines are ruled; the old text-only page had none of them.
    assert across >= 15 and down >= 10, (across, down)


def test_the_client_box_prints_the_address_by_lines_and_typed_text_as_text():
    client = {**CLIENT, "name": "Ada <b>Lovelace</b> & Co",
              "address": "1 Rue <Haute>\n75001 Paris\nFR"}
    bill = superbills.superbill(PROVIDER, client, [], [], "2026-03-01", "2026-03-31", None, 0)
    lines = pdf_lines(superbill_pdf.render(bill))
    assert has_row(lines, ["Name", "Ada <b>Lovelace</b> & Co"]), lines
    assert has_row(lines, ["Address", "1 Rue <Haute>"]), lines
    assert has_row(lines, ["75001 Paris"]) and has_row(lines, ["FR"]), lines


def test_a_period_without_services_still_renders_the_form():
    bill = superbills.superbill(PROVIDER, {**CLIENT, "insurer_name": None, "member_id": None,
                                           "payer_kind": "self_pay"},
                                [], [], "2026-03-01", "2026-03-31", None, 0)
    lines = pdf_lines(superbill_pdf.render(bill))
    assert "no services in this period" in lines and "none on file" in lines
    assert has_row(lines, ["Payer", "Self-pay"]) and has_row(lines, ["Member ID", "-"])
