"""The wonde route: ``connector.py`` reads the vendor's API, ``mapping.py`` holds its field names,
``simulator.py`` serves it locally (README.md: what is documented, what is guessed)."""

from ncc_transfer.connectors.spec import RouteSpec

# rate_per_second, GUESS: Wonde documents no rate limit (docs.wonde.com/docs/api/sync/); the project's
# working figure
SPEC = RouteSpec(__name__, "WondeConnector", required=("school_id", "token_env"), rate_per_second=5.0,
                 cohort_fields=("sen_provision", "fsm_eligible", "fsm_ever6", "looked_after", "child_protection_plan"))
