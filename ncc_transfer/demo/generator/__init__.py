"""Synthetic local authority for the demo, tests and benchmarks (formats: README, "Adding a school", and
docs/files_route.md; columns: ``ncc_transfer.canonical``).

``build_demo_la(home)`` writes a registry (``schools.yaml``), one landing folder per school holding a
files-route extract (CTF 25 with comma-separated marks, CTF 23 with one character per session, or the
three CSVs; every school also has ``exclusions.csv``), and ``demo_manifest.json`` describing what was
generated: the schools, the statutory scenarios planted for the views (ten-day runs, sickness, the
20-day G/N/O rule, pupils moving, CME candidates, exclusions), the ground truth the generator computes
from its own marks, and every deliberately injected data error.

Everything is deterministic in ``(seed, schools, as_of, pupils_scale)``. Marks are generated with
vectorised numpy per school (a Markov chain of absence spells walked day by day over all pupils at
once); memory is bounded by the largest school, so county scale (hundreds of schools) works too.

The modules, in the order a build uses them:

- ``params``: static tables (the LA, the absence model, sizes, formats, code indices, suspensions);
- ``context``: the shared state (``_Days``, ``SchoolPlan``, ``_Ctx``, ``_School``); ``upns``: UPNs;
- ``la_plan``: the schools; ``scenario_plan``: which school hosts which scenario, pupils on two rolls;
  ``errors``: which schools get which deliberate errors, and planting them;
- ``school``: one school, step by step: ``roster``, ``marks`` (absence and events), ``scenarios``,
  ``exclusions``, ``truth`` (breaking up unplanned runs; the ground truth), ``write``;
- ``build``: ``build_demo_la`` and ``DemoLA``.

Randomness: the plan draws from ``default_rng([seed, 0])``; each school from ``[seed, 1000 + index]``
(its errors from ``[seed, 5000 + index]``), always in the order ``school._build_school`` fixes, so the
output is byte-for-byte the same for the same parameters.
"""

from .build import DemoLA, build_demo_la
from .context import SchoolPlan
from .errors import ERROR_KINDS
from .la_plan import _phase_counts
from .params import LA_CODE, LA_NAME
from .upns import upn_strings

__all__ = ["DemoLA", "ERROR_KINDS", "LA_CODE", "LA_NAME", "SchoolPlan", "build_demo_la", "upn_strings", "_phase_counts"]
