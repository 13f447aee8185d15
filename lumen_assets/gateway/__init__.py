"""Lumen's gateway area: the activation lifecycle and the signature hash (seed segA C1-C8)."""
