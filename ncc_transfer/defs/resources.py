"""Resources: where the registry, the landing files and the warehouse are (README, "Configuration")."""


from pathlib import Path

import dagster as dg

from ncc_transfer import config
from ncc_transfer.registry import Registry, load_registry
from ncc_transfer.warehouse import Warehouse, open_warehouse


class NccSettings(dg.ConfigurableResource):
    """Paths and URLs, each defaulting to its NCC_* environment variable, read at run time."""

    home: str | None = None
    schools_file: str | None = None
    warehouse_url: str | None = None

    def home_path(self) -> Path:
        return Path(self.home).absolute() if self.home else config.ncc_home()

    def registry(self) -> Registry:
        return load_registry(Path(self.schools_file) if self.schools_file else config.schools_file(), home=self.home_path())

    def warehouse(self) -> Warehouse:
        return open_warehouse(self.warehouse_url or config.warehouse_url())


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources={"ncc": NccSettings()})
