"""What scheduling hands to other formats: icalendar (a clinician's .ics feed) and
fhir (FHIR R4 resources of its views)."""
