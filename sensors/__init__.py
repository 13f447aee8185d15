"""Every sensor and schedule of the code location, and the jobs they start, one module per topic (automation,
rule events, alerts, posteriors, environment, tlog); `lumen_assets/definitions.py` collects them all."""
