"""Serve an ASGI app with uvicorn in a background thread (tests, the demo)."""

from __future__ import annotations

import threading
import time
from typing import Callable

import uvicorn


def run_in_thread(app, host: str = "127.0.0.1", port: int = 0, *, start_timeout: float = 10.0
                  ) -> tuple[str, Callable[[], None]]:
    """Start ``app`` on ``host:port`` (0: a free port); returns ``(base_url, stop)``."""
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="ncc-simulator", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the simulator did not start on {host}:{port}")
        time.sleep(0.01)
    bound = server.servers[0].sockets[0].getsockname()[1]

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=10)

    return f"http://{host}:{bound}", stop
