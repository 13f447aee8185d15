"""Sensors: the rule-event sensor (here) and the alert sensors (alerts area)."""
