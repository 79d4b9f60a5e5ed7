"""The superbill as the form a payer expects (reportlab): provider and client boxes,
payer and member id, the rendering clinicians, ICD-10 codes with their pointers
A-L, a ruled table of services, totals and a signature line."""
from io import BytesIO
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ..domain.superbill import money

WIDTH = LETTER[0] - 1.2 * inch  # the frame between the margins
RULE = colors.black
SHADE = colors.Color(0.88, 0.88, 0.88)
PAYERS = {"self_pay": "Self-pay", "insurer": "Insurance", "medicaid": "Medicaid"}

TITLE = ParagraphStyle("title", fontName="Helvetica-Bold", fontSize=16, leading=20)
SMALL = ParagraphStyle("small", fontName="Helvetica", fontSize=8, leading=10)
HEAD = ParagraphStyle("head", fontName="Helvetica-Bold", fontSize=9, leading=11)
CELL = ParagraphStyle("cell", fontName="Helvetica", fontSize=9, leading=11)


def _text(value, missing="-"):
    return str(value) if value not in (None, "") else missing


def _markup(value):
    """A value as Paragraph markup: what a client typed (a name with "<" or "&") is
    text, never markup, and an address keeps its lines."""
    return escape(_text(value)).replace("\n", "<br/>")


def _box(title, rows):
    """The rows of a titled box: label / value."""
    return [[Paragraph(title, HEAD), ""]] + [
        [Paragraph(label, CELL), Paragraph(_markup(value), CELL)] for label, value in rows]


def _two_boxes(left, right):
    """Two boxes side by side, each ruled round, sharing their rows' height."""
    height = max(len(left), len(right))
    left += [["", ""]] * (height - len(left))
    right += [["", ""]] * (height - len(right))
    quarter = WIDTH / 4
    table = Table([a + b for a, b in zip(left, right)],
                  colWidths=[quarter * 0.6, quarter * 1.4, quarter * 0.6, quarter * 1.4])
    table.setStyle(TableStyle([
        ("BOX", (0, 0), (1, -1), 1, RULE), ("BOX", (2, 0), (3, -1), 1, RULE),
        ("SPAN", (0, 0), (1, 0)), ("SPAN", (2, 0), (3, 0)),
        ("BACKGROUND", (0, 0), (1, 0), SHADE), ("BACKGROUND", (2, 0), (3, 0), SHADE),
        ("LINEBELOW", (0, 0), (-1, 0), 1, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
    ]))
    return table


def _ruled(data, widths, header_rows=1, align_right_from=None):
    table = Table(data, colWidths=widths, repeatRows=header_rows)
    style = [("GRID", (0, 0), (-1, -1), 0.75, RULE), ("BOX", (0, 0), (-1, -1), 1.25, RULE),
             ("BACKGROUND", (0, 0), (-1, header_rows - 1), SHADE),
             ("FONTNAME", (0, 0), (-1, header_rows - 1), "Helvetica-Bold"),
             ("FONTSIZE", (0, 0), (-1, -1), 9), ("VALIGN", (0, 0), (-1, -1), "MIDDLE")]
    if align_right_from is not None:
        style.append(("ALIGN", (align_right_from, 0), (-1, -1), "RIGHT"))
    table.setStyle(TableStyle(style))
    return table


def render(bill):
    """Superbill data (domain.superbill.superbill) -> PDF bytes."""
    buffer = BytesIO()
    document = SimpleDocTemplate(buffer, pagesize=LETTER, title="Superbill",
                                 leftMargin=0.6 * inch, rightMargin=0.6 * inch,
                                 topMargin=0.6 * inch, bottomMargin=0.6 * inch, invariant=1)
    provider, client, currency = bill["provider"], bill["client"], bill["currency"]
    story = [
        Paragraph("Superbill", TITLE),
        Paragraph("Statement of services for insurance reimbursement. "
                  f"Dates of service: {bill['period_start']} to {bill['period_end']}", SMALL),
        Spacer(1, 10),
        _two_boxes(
            _box("Provider", [("Name", provider["name"]), ("NPI", provider["npi"]),
                              ("Tax ID (EIN)", provider["tax_id"]),
                              ("Address", provider["address"]), ("Phone", provider["phone"])]),
            _box("Client", [("Name", client["name"]), ("Date of birth", client["date_of_birth"]),
                            ("Address", client.get("address") or "not on file"),
                            ("Payer", _payer(client)),
                            ("Member ID", client.get("member_id"))])),
        Spacer(1, 10),
    ]
    clinicians = [[p["name"] or p["clinician_id"], _text(p["npi"])]
                  for p in bill["rendering_providers"]] or [["-", "-"]]
    story += [_ruled([["Rendering clinician", "Rendering NPI"]] + clinicians,
                     [WIDTH * 0.7, WIDTH * 0.3]), Spacer(1, 10)]

    pointers = [f"{d['pointer']}. {d['code']}" for d in bill["diagnosis_pointers"]] \
        or ["none on file"]
    pointers += [""] * (-len(pointers) % 4)
    rows = [pointers[i:i + 4] for i in range(0, len(pointers), 4)]
    diagnoses = Table([[Paragraph("Diagnosis codes (ICD-10), by pointer", HEAD), "", "", ""]]
                      + rows, colWidths=[WIDTH / 4] * 4)
    diagnoses.setStyle(TableStyle([
        ("SPAN", (0, 0), (-1, 0)), ("BOX", (0, 0), (-1, -1), 1, RULE),
        ("BACKGROUND", (0, 0), (-1, 0), SHADE), ("LINEBELOW", (0, 0), (-1, 0), 1, RULE),
        ("INNERGRID", (0, 1), (-1, -1), 0.5, RULE), ("FONTSIZE", (0, 1), (-1, -1), 9)]))
    story += [diagnoses, Spacer(1, 10)]

    header = ["Date", "POS", "CPT", "Modifiers", "Units", "Dx pointer", "Rendering NPI",
              "Fee", "Paid"]
    lines = [[s["date"], _text(s["place_of_service"]), s["code"],
              ", ".join(s["modifiers"]) or "-", str(s["units"]),
              _text(s.get("diagnosis_pointer")), _text(s["rendering_npi"]),
              money(s["fee_minor"], currency), money(s["paid_minor"], currency)]
             for s in bill["services"]] or [["no services in this period"] + [""] * 8]
    widths = [0.12, 0.06, 0.08, 0.11, 0.07, 0.1, 0.14, 0.16, 0.16]
    story += [_ruled([header] + lines, [WIDTH * w for w in widths], align_right_from=7),
              Spacer(1, 6)]

    totals = _ruled([["Totals", ""],
                     ["Total charged", money(bill["total_charged_minor"], currency)],
                     ["Total paid", money(bill["total_paid_minor"], currency)],
                     ["Balance due", money(bill["balance_minor"], currency)]],
                    [WIDTH * 0.2, WIDTH * 0.2], align_right_from=1)
    totals.hAlign = "RIGHT"
    story += [totals, Spacer(1, 36)]

    signature = Table([["", "", ""], ["Provider signature", "", "Date"]],
                      colWidths=[WIDTH * 0.6, WIDTH * 0.1, WIDTH * 0.3],
                      rowHeights=[24, 14])
    signature.setStyle(TableStyle([
        ("LINEBELOW", (0, 0), (0, 0), 1, RULE), ("LINEBELOW", (2, 0), (2, 0), 1, RULE),
        ("FONTSIZE", (0, 1), (-1, 1), 8)]))
    story += [signature, Spacer(1, 6),
              Paragraph("I certify that the services above were rendered as described.",
                        SMALL)]
    document.build(story)
    return buffer.getvalue()


def _payer(client):
    kind = PAYERS.get(client.get("payer_kind"), _text(client.get("payer_kind")))
    return f"{kind}: {client['insurer_name']}" if client.get("insurer_name") else kind
