"""The bromcom route: ``connector.py`` reads the vendor's API, ``mapping.py`` holds its field names,
``simulator.py`` serves it locally (README.md: what is documented, what is guessed)."""

from ncc_transfer.connectors.spec import RouteSpec

SPEC = RouteSpec(__name__, "BromcomConnector", required=("school_id", "user_env", "password_env"))
