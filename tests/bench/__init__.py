"""`make bench`: Praxis measured side by side with its peers in one run (see
__main__.py for what each figure is). Printed and written to var/bench/, never
asserted."""
