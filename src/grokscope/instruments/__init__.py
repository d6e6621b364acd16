"""Instruments: what the loss curve hides, measured (Nanda et al. 2023)."""
