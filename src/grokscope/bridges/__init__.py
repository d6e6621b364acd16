"""Bridges to the tools researchers already use: TransformerLens both ways (transformer_lens.py)."""
