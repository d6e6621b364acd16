"""Issue 9's data layer: did a model compress its training regime into a rule, or photograph it?

`synthetic` (Demo 1: regimes that obey one law), `shortcut` (Demo 2: a shortcut simpler than the rule),
`market` (Demo 3: S&P 500 and Fama–French from the `arch` wheel) and `baselines` (structural-break tests);
Demo 1's models (`models`: the C, P and E kinds in one ensemble), their monitor measures (`measures`) and the
Demo 1 runner (`demo1.run_demo1`), the Demo 2 runner (`demo2.run_demo2`) and the verdict
(`verdict.regime_verdict`).
Nothing here imports `arch`, `statsmodels` or `scipy` until a loader or test is called.
"""

from .baselines import (
    BreakTest,
    chow_test,
    cusum_ols_test,
    cusum_recursive_test,
    sup_f_test,
)
from .demo1 import PRESETS as DEMO1_PRESETS
from .demo1 import Demo1Preset, Demo1Result, run_demo1
from .demo2 import PRESETS as DEMO2_PRESETS
from .demo2 import Demo2Preset, Demo2Result, run_demo2
from .market import (
    MarketData,
    fama_french_raw,
    load_fama_french,
    load_sp500,
    walk_forward_folds,
)
from .measures import MeasureSettings, measure_zoo
from .models import Members, TrainedZoo, TrainSettings, train_zoo
from .shortcut import (
    MULTI_PERIOD,
    SINGLE_PERIOD,
    ShortcutData,
    ShortcutSpec,
    make_shortcut_data,
)
from .synthetic import (
    RegimeData,
    RegimeSpec,
    id_slots,
    make_regime_data,
    oracle_losses,
    rule,
)
from .verdict import Verdict, regime_verdict

__all__ = [
    "BreakTest", "MULTI_PERIOD", "MarketData", "RegimeData", "RegimeSpec", "SINGLE_PERIOD", "ShortcutData",
    "ShortcutSpec", "chow_test", "cusum_ols_test", "cusum_recursive_test", "fama_french_raw", "id_slots",
    "load_fama_french", "load_sp500", "make_regime_data", "make_shortcut_data", "oracle_losses", "rule",
    "sup_f_test", "walk_forward_folds",
    "DEMO1_PRESETS", "Demo1Preset", "Demo1Result", "MeasureSettings", "Members", "TrainSettings", "TrainedZoo",
    "measure_zoo", "run_demo1", "train_zoo",
    "DEMO2_PRESETS", "Demo2Preset", "Demo2Result", "Verdict", "regime_verdict", "run_demo2",
]
