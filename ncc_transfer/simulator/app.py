"""The simulator's Starlette app: every vendor profile mounted under ``/<route>``.

A profile is a route's ``connectors/<route>/simulator.py`` (the route registry,
``connectors/routes.py``, lists the routes that have one) with ``ROUTE``, ``routes(sim)`` (its Starlette routes,
relative to the mount) and ``register(sim, school, source, env)`` (serve one registry school from its
``SourceSchool``, with the credentials named in the registry read from ``env``). A school whose registry
entry says ``mis: xporter`` is therefore reached at ``<simulator>/xporter`` as its ``base_url``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

from ..connectors.routes import ROUTES, simulator_profile, simulator_routes
from ..registry import Registry, School
from .core import Simulator
from .source import load_source

profile = simulator_profile  # route -> its profile module (imported on first use)


def available_profiles() -> list[str]:
    """The routes the simulator serves: those with a profile in the route registry."""
    return simulator_routes()


def create_app(sim: Simulator) -> Starlette:
    """The Starlette app serving ``sim``'s schools; ``app.state.sim`` is the simulator."""

    async def index(request):
        return JSONResponse({"simulator": "ncc-transfer", "routes": {r: sorted(sim.schools.get(r, {}))
                                                                     for r in available_profiles()}})

    mounts = [Mount(f"/{route}", routes=profile(route).routes(sim)) for route in available_profiles()]
    app = Starlette(routes=[Route("/", index), *mounts])
    app.state.sim = sim
    return app


def register_school(sim: Simulator, school: School, home: Path, env: Mapping[str, str],
                    folder: Path | None = None) -> str:
    """Serve a registry school through its route's profile, from its landing folder (default
    ``$NCC_HOME/landing/<laestab>``). Returns the vendor school id."""
    folder = folder or (home / "landing" / school.laestab)
    return profile(school.mis).register(sim, school, load_source(folder, school.laestab), env)


def simulator_for_registry(registry: Registry, home: Path, env: Mapping[str, str]) -> Simulator:
    """A simulator serving every active vendor-route school of ``registry``."""
    sim = Simulator()
    for school in registry.active_schools:
        if ROUTES[school.mis].simulator:
            register_school(sim, school, home, env)
    return sim
