"""grokscope.digits: Omnigrok's "grokking beyond algorithmic data" on scikit-learn's digits (Liu, Michaud, Tegmark 2023).

An MLP 64-200-200-10 trained with MSE and AdamW on 1,000 images: initial parameters ×8 fit the
training set long before they generalize, ×1 generalizes at once. config.py (DigitsConfig, presets),
data.py (splits and batch orders per member), model.py (the ensemble MLP, a monitor StackedModel),
loss.py, train.py (run directory), monitoring.py (the monitor's measures and SGLD settings),
report.py (the HTML report). `grokscope digits` runs it (docs/digits.md).
"""

from .config import PRESETS, DigitsConfig, get_preset
from .data import DigitsData, split_indices
from .model import DigitsMLP, init_params
from .train import train_digits, train_members

__all__ = ["PRESETS", "DigitsConfig", "DigitsData", "DigitsMLP", "get_preset", "init_params", "split_indices",
           "train_digits", "train_members"]
