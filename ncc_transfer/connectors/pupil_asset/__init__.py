"""The pupil_asset route: ``connector.py`` reads the vendor's API, ``mapping.py`` holds its field names,
``simulator.py`` serves it locally (README.md: what is documented, what is guessed)."""

from ncc_transfer.connectors.spec import RouteSpec

# rate_per_second, GUESS: no public API documentation; the project's working figure
SPEC = RouteSpec(__name__, "PupilAssetConnector", required=("school_id", "api_key_env"), rate_per_second=5.0,
                 cohort_fields=("sen_provision", "fsm_eligible", "fsm_ever6", "looked_after"))
