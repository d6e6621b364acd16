"""Bridges to the tools researchers already use: TransformerLens both ways (transformer_lens.py); a finished run's
metrics into TensorBoard or W&B (tracker_export.py; live logging is training/trackers.py)."""
