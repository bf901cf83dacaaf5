"""One partition per school-and-MIS pair, keyed ``<laestab>-<mis>``, synced from the registry."""

import dagster as dg

from ncc_transfer.registry import Registry

school_partitions = dg.DynamicPartitionsDefinition(name="schools")


def partition_changes(registry: Registry, existing: list[str]) -> tuple[list[str], list[str]]:
    """(keys to add, keys to delete) so the partitions match the registry.

    Inactive schools stay partitions (their history and last load stay visible in the UI); a school
    removed from the registry altogether loses its partition (its events stay in the instance).
    """
    wanted = [school.key for school in registry.schools]
    have = set(existing)
    return [k for k in wanted if k not in have], sorted(have - set(wanted))


def sync_partitions(instance: dg.DagsterInstance, registry: Registry) -> tuple[list[str], list[str]]:
    """Make the instance's partitions match the registry now; returns (added, deleted)."""
    added, deleted = partition_changes(registry, instance.get_dynamic_partitions(school_partitions.name))
    if added:
        instance.add_dynamic_partitions(school_partitions.name, added)
    for key in deleted:
        instance.delete_dynamic_partition(school_partitions.name, key)
    return added, deleted
