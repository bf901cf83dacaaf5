"""The files route: the school (or its MIS) drops CTF/CSV extracts into its landing folder
(``source.path``); ``connector.py`` reads that folder through ``ncc_transfer.files_route``
(docs/files_route.md). No vendor API, so no secrets and no simulator profile."""

from ncc_transfer.connectors.spec import RouteSpec

# cohort_fields: all six from pupils.csv; a CTF has no child in need / child protection plan element
# (files_route/ctf.py), so those two are null for a school sending a CTF.
SPEC = RouteSpec(__name__, "FilesConnector", required=("path",), reads_folder=True, simulator=False,
                 cohort_fields=("sen_provision", "fsm_eligible", "fsm_ever6", "looked_after", "child_in_need",
                                "child_protection_plan"))
