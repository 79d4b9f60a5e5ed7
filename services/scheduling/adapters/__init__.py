"""What scheduling hands to other formats: icalendar (a clinician's .ics feed)."""
