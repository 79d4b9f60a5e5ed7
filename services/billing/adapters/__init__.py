"""What billing renders for the world outside: the superbill as a PDF (superbill_pdf),
charges and invoices as FHIR R4 resources (fhir)."""
