"""Inspection plans: which assets a contractor inspects, how often, with which checklist."""
