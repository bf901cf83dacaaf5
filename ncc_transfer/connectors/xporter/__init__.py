"""The xporter route: ``connector.py`` reads the vendor's API, ``mapping.py`` holds its field names,
``simulator.py`` serves it locally (README.md: what is documented, what is guessed)."""

from ncc_transfer.connectors.spec import RouteSpec

# rate_per_second, GUESS: Groupcall documents no rate limit for Xporter on Demand; the project's working
# figure
SPEC = RouteSpec(__name__, "XporterConnector", required=("relying_party", "secret_env"), optional=("estab", "sts_url"), rate_per_second=5.0,
                 cohort_fields=("sen_provision", "fsm_eligible", "fsm_ever6", "looked_after"))
