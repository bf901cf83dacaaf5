"""The statutory rules (docs/statutory_views.md, docs/absence.md, docs/cme.md) as pure, vectorised functions over DataFrames.

No Dagster here: each function takes canonical frames (``ncc_transfer.canonical``) and an ``as_of``
date and returns a view frame with the columns of ``canonical.VIEW_COLUMNS``.
"""
