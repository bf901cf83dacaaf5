"""The arbor route: ``connector.py`` reads the vendor's API, ``mapping.py`` holds its field names,
``simulator.py`` serves it locally (README.md: what is documented, what is guessed)."""

from ncc_transfer.connectors.spec import RouteSpec

# rate_per_second, GUESS: Arbor publishes no figure, but answers 429 (arbor-education/sis-sdk-php pull
# request 60, 2024)
SPEC = RouteSpec(__name__, "ArborConnector",
                 required=("base_url", "user_env", "password_env"),
                 optional=("application_id",), rate_per_second=2.0,
                 cohort_fields=("sen_provision", "fsm_eligible", "fsm_ever6", "looked_after", "child_protection_plan"))
