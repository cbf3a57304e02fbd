# %% [markdown]
# # Your own prices in a notebook
#
# This file is a notebook in the "percent" format: Jupyter (with jupytext),
# VS Code and PyCharm open it cell by cell, and `python docs/examples/own_data.py`
# runs it whole. `make test` runs it too (tests/integration/test_api.py), so it
# cannot drift from the API.
#
# The closes here are five symbols of the bundled demo data, made wide the way
# most price files are: a date index and one column per symbol. Use your own.

# %%
import duckdb

import allocator

demo = allocator.settings().project_dir / "data" / "demo" / "sp500_prices.parquet"
closes = (
    duckdb.sql(
        f"select date, symbol, close from read_parquet('{demo}') "
        "where date >= date '2019-01-01' and symbol in ('AAPL', 'JNJ', 'JPM', 'MSFT', 'XOM')"
    )
    .df()
    .pivot(index="date", columns="symbol", values="close")
)
closes.tail(3)

# %% [markdown]
# ## The two-pass audit, without start, end or profile
#
# The start defaults to the earliest date the strategy has the history it
# needs (printed), the end to the data's last date.

# %%
audit = allocator.two_pass(closes)
print(audit.verdict)  # the report's first line: is it better than a leverage cut?
audit  # in Jupyter: the verdict, the metrics, the controls and the flags

# %% [markdown]
# ## The results are pandas DataFrames

# %%
audit.metrics[["metric", "baseline", "scaled", "delta"]]

# %%
audit.controls[["book_label", "mean_exposure", "cagr", "sharpe", "max_drawdown"]]

# %%
audit.regimes["regime"].value_counts()

# %% [markdown]
# ## The report, and every stored run

# %%
print(audit.report())  # reports/runs/<scaled run>/two_pass_comparison.html
allocator.runs()[["run_id", "kind", "profile", "start", "end", "sharpe", "inputs"]]
