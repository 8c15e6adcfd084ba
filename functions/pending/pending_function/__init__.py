"""Classifies comments that were stored as pending while the model was unreachable."""
