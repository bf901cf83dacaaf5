"""The bromcom route: ``connector.py`` reads the vendor's API, ``mapping.py`` holds its field names,
``simulator.py`` serves it locally (README.md: what is documented, what is guessed)."""

from ncc_transfer.connectors.spec import RouteSpec

# rate_per_second, GUESS: Bromcom's partner API documents no rate limit; the project's working figure
SPEC = RouteSpec(__name__, "BromcomConnector", required=("school_id", "user_env", "password_env"), rate_per_second=5.0,
                 cohort_fields=("sen_provision", "looked_after"))
