"""The deflated Sharpe ratio of the chosen configuration given the number of
configurations tried (Bailey and Lopez de Prado, 2014), and the probability
of backtest overfitting by CSCV (Bailey, Borwein, Lopez de Prado and Zhu,
2015), over every configuration's daily net returns
(python/allocator/tuning.py::selection_bias). One row."""

import numpy as np
import pandas as pd

from allocator.tuning import returns_matrix, selection_bias


def model(dbt, session):
    (splits,) = dbt.ref("stg_tuning_config").project("pbo_splits").fetchall()[0]
    configurations = dbt.ref("tuning_configurations").project("config_id, is_chosen").df()
    configurations = configurations.sort_values("config_id").reset_index(drop=True)
    # config ids are 0..N-1 (stg_tuning__grid), so column c is config c
    returns = returns_matrix(dbt.ref("tuning_sessions"), len(configurations))
    chosen = int(np.flatnonzero(configurations["is_chosen"].to_numpy())[0])
    return pd.DataFrame([selection_bias(returns, chosen, int(splits))])
