"""The technique catalog: schema, loading, validation, graph and coverage gaps."""

from advisor.catalog._catalog import Catalog, load_catalog
from advisor.catalog.validate import Problem, validate_dir

__all__ = ["Catalog", "Problem", "load_catalog", "validate_dir"]
