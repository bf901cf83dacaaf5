"""A local HTTP simulator of the MIS vendors' APIs, serving the synthetic LA (issue #4).

``source.load_source`` reads a landing folder into a ``SourceSchool``; each vendor profile
(``connectors/<route>/simulator.py``, found through the route registry) renders it in its wire shape; ``app.create_app`` mounts every profile under
``/<route>``; ``server.run_in_thread`` serves the app with uvicorn on loopback (tests, the demo,
``ncc-transfer simulator``).
"""

from .app import available_profiles, create_app, register_school, simulator_for_registry
from .core import FAULTS, FaultHandling, Hit, Simulator
from .network import Network, route_rates
from .server import run_in_thread
from .source import SourceSchool, load_source

__all__ = ["FAULTS", "FaultHandling", "Hit", "Network", "Simulator", "SourceSchool", "available_profiles",
           "create_app", "load_source", "register_school", "route_rates", "run_in_thread",
           "simulator_for_registry"]
