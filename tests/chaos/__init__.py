"""Proof under fire: real processes, SIGKILL, misbehaving targets, a broker outage, and a checker."""
