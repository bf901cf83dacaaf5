"""What the route registry (``routes.py``) knows of one route: ``RouteSpec`` (docs/adding_a_route.md).

Each route package ``connectors/<route>/`` declares its ``SPEC`` in its ``__init__.py``; the package
holds ``connector.py`` (the connector class), ``mapping.py`` (the vendor's field names) and, for a
vendor API, ``simulator.py`` (the simulator profile). Nothing heavy is imported here or in a route's
``__init__.py``: the schools registry validates settings from the specs, and a route's connector is
imported only when a school on that route is extracted.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RouteSpec:
    """One route: its package (``__name__`` of ``connectors/<route>/__init__.py``), connector class name
    (in ``<package>.connector``) and the registry ``source`` settings it needs and accepts.

    ``reads_folder``: the route reads the school's landing folder (``source.path``) instead of an API.
    ``simulator``: the package has a simulator profile (``<package>.simulator``) serving the vendor's API.
    ``rate_per_second``: the vendor's documented request rate per credential (None: not documented);
    the connector's default limit and the simulator's ``--vendor-rate-limits`` use it. Its source is
    in the route's README.
    ``cohort_fields``: the canonical cohort columns (``canonical.COHORT_COLUMNS``, ``ncc_transfer.cohorts``)
    the route carries; the others are always null on it ("not supplied"). The route contract holds the
    route to exactly these (docs/routes.md, "Cohort fields by route").
    """

    package: str
    connector: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    reads_folder: bool = False
    simulator: bool = True
    rate_per_second: float | None = None
    cohort_fields: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.package.rsplit(".", 1)[-1]

    @property
    def connector_path(self) -> tuple[str, str]:
        """(module, class name) of the route's connector."""
        return f"{self.package}.connector", self.connector

    @property
    def simulator_module(self) -> str | None:
        return f"{self.package}.simulator" if self.simulator else None

    @property
    def secrets(self) -> tuple[str, ...]:
        """The settings naming an environment variable that holds a secret (``*_env``)."""
        return tuple(s for s in (*self.required, *self.optional) if s.endswith("_env"))
