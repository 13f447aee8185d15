"""Lumen's effects area: what each rule change did to the four signals (seed segA C17/C21)."""
