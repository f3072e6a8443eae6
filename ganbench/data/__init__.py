"""Datasets: each family in its own module, registered in :data:`ganbench.registry.DATASETS`."""

from ganbench.data.base import Dataset, DatasetInfo, load_dataset

__all__ = ["Dataset", "DatasetInfo", "load_dataset"]
