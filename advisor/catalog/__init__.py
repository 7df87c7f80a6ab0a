"""The technique catalog: schema, loading, validation, graph and coverage gaps."""

from advisor.catalog._catalog import Catalog, load_catalog
from advisor.catalog._files import default_data_dir, read_data_dir
from advisor.catalog._query import CatalogQuery
from advisor.catalog.validate import Problem, validate_dir
from advisor.catalog.variant_id import VariantId

__all__ = [
    "Catalog",
    "CatalogQuery",
    "Problem",
    "VariantId",
    "default_data_dir",
    "load_catalog",
    "read_data_dir",
    "validate_dir",
]
