"""The superbill as a PDF (reportlab): one line of text per fact, so it reads
aloud and extracts cleanly."""
from io import BytesIO

from reportlab.lib.pagesizes import LETTER
from reportlab.pdfgen import canvas

from .domain.superbill import money

LEFT, TOP, LINE = 54, 740, 15


def render(bill):
    """Superbill data (domain.superbill.superbill) -> PDF bytes."""
    buffer = BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=LETTER, invariant=1)
    pdf.setTitle("Superbill")
    y = TOP

    def write(text, font="Helvetica", size=10):
        nonlocal y
        if y < 60:
            pdf.showPage()
            y = TOP
        pdf.setFont(font, size)
        pdf.drawString(LEFT, y, text)
        y -= LINE

    provider, client, currency = bill["provider"], bill["client"], bill["currency"]
    write("Superbill", "Helvetica-Bold", 16)
    write(f"Period: {bill['period_start']} to {bill['period_end']}")
    y -= 4
    write("Provider", "Helvetica-Bold", 12)
    write(f"Provider: {provider['name']}")
    write(f"NPI: {provider['npi']}")
    write(f"Tax ID: {provider['tax_id'] or '-'}")
    if provider.get("address"):
        write(f"Address: {provider['address']}")
    y -= 4
    write("Client", "Helvetica-Bold", 12)
    write(f"Client: {client['name'] or '-'}")
    write(f"Date of birth: {client['date_of_birth'] or '-'}")
    write(f"Diagnoses (ICD-10): {', '.join(bill['diagnoses']) or '-'}")
    y -= 4
    write("Services", "Helvetica-Bold", 12)
    write("Date | CPT | Modifiers | POS | Units | Fee | Paid | Rendering provider (NPI)",
          "Helvetica-Bold", 9)
    for s in bill["services"]:
        rendering = (f"{s['rendering_provider']} ({s['rendering_npi']})"
                     if s["rendering_provider"] else s["clinician_id"] or "-")
        write(f"{s['date']} | {s['code']} | {', '.join(s['modifiers']) or '-'} | "
              f"{s['place_of_service'] or '-'} | {s['units']} | "
              f"{money(s['fee_minor'], currency)} | {money(s['paid_minor'], currency)} | "
              f"{rendering}", size=9)
    y -= 4
    write(f"Total charged: {money(bill['total_charged_minor'], currency)}", "Helvetica-Bold")
    write(f"Total paid: {money(bill['total_paid_minor'], currency)}", "Helvetica-Bold")
    write(f"Balance: {money(bill['balance_minor'], currency)}", "Helvetica-Bold")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
