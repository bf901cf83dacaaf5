"""The Dagster code location: every definition under ``defs/`` (the dg project layout)."""

from pathlib import Path

import dagster as dg


@dg.definitions
def defs() -> dg.Definitions:
    from .config import ncc_home
    from .demo.routes import load_demo_secrets

    load_demo_secrets(ncc_home())  # on a demo home only: the simulated vendors' synthetic credentials
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
