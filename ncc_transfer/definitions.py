"""The Dagster code location: every definition under ``defs/`` (the dg project layout).

Importing this module sets the process umask to 0o077 (``files_at_rest``): ``workspace.yaml`` and
``[tool.dg]`` load it in every process that runs our code (``dagster dev``'s and the webserver's
code servers, the daemon's, and each run worker), so what they write is owner-only. Loading the
definitions also makes ``NCC_HOME`` and ``DAGSTER_HOME`` 0o700.
"""

from pathlib import Path

import dagster as dg

from .files_at_rest import restrict_umask, tighten_homes

restrict_umask()  # at import: before Dagster opens its storage or captures a compute log in this process


@dg.definitions
def defs() -> dg.Definitions:
    from .config import ncc_home
    from .demo.routes import load_demo_secrets

    tighten_homes()
    load_demo_secrets(ncc_home())  # on a demo home only: the simulated vendors' synthetic credentials
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
