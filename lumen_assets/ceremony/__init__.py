"""The ceremony simulator (seed segD §6): rehearse the root-custody ceremony, score it, certify it."""
