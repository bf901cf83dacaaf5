"""The xporter route: ``connector.py`` reads the vendor's API, ``mapping.py`` holds its field names,
``simulator.py`` serves it locally (README.md: what is documented, what is guessed)."""

from ncc_transfer.connectors.spec import RouteSpec

SPEC = RouteSpec(__name__, "XporterConnector", required=("relying_party", "secret_env"), optional=("estab", "sts_url"))
