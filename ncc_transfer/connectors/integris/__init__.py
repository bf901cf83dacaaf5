"""The integris route: ``connector.py`` reads the vendor's API, ``mapping.py`` holds its field names,
``simulator.py`` serves it locally (README.md: what is documented, what is guessed)."""

from ncc_transfer.connectors.spec import RouteSpec

# rate_per_second, GUESS: no public API documentation; the project's working figure
SPEC = RouteSpec(__name__, "IntegrisConnector",
                 required=("base_url", "school_id", "client_id_env", "client_secret_env"),
                 optional=("token_url",), rate_per_second=5.0,
                 cohort_fields=("sen_provision", "fsm_eligible", "looked_after"))
