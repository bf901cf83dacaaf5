"""The sims route: ``connector.py`` reads the vendor's API, ``mapping.py`` holds its field names,
``simulator.py`` serves it locally (README.md: what is documented, what is guessed)."""

from ncc_transfer.connectors.spec import RouteSpec

# rate_per_second, DOC: "a default throttle of 5 calls per second per technical integrator" (sims-
# partners.com, SIMS 8 V3 Throttle)
SPEC = RouteSpec(__name__, "SimsConnector",
                 required=("organisation_id", "client_id_env", "client_secret_env", "subscription_key_env"),
                 optional=("token_url",), rate_per_second=5.0,
                 cohort_fields=("sen_provision", "fsm_eligible", "looked_after"))
