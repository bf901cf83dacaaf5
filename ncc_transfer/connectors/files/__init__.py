"""The files route: the school (or its MIS) drops CTF/CSV extracts into its landing folder
(``source.path``); ``connector.py`` reads that folder through ``ncc_transfer.files_route``
(docs/files_route.md). No vendor API, so no secrets and no simulator profile."""

from ncc_transfer.connectors.spec import RouteSpec

SPEC = RouteSpec(__name__, "FilesConnector", required=("path",), reads_folder=True, simulator=False)
