"""A local HTTP simulator of the MIS vendors' APIs, serving the synthetic LA (issue #4).

``app.create_app`` builds the Starlette app (only the Wonde shape so far); ``server.run_in_thread``
serves it with uvicorn on loopback for tests and the demo.
"""

from .app import SimSchool, Simulator, create_app, wonde_school_from_folder
from .server import run_in_thread

__all__ = ["SimSchool", "Simulator", "create_app", "run_in_thread", "wonde_school_from_folder"]
