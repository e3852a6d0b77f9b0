"""Thin HTTP handlers by area; the rules live in pure functions elsewhere."""
