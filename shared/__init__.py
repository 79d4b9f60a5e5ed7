"""Praxis kernel: the event-sourcing library every Praxis service imports.

Nothing here knows about clients or sessions; the domain lives in services/.
"""
