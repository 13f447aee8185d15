"""Lumen's rhythm area: environment rhythms and their blend with the loop's signals (seed segC C1)."""
