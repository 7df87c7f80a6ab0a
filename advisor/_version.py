"""The installed version of green-dl-advisor and the version of its result files (lowest layer: no imports).

``RESULT_SCHEMA_VERSION`` is the one ``schema_version`` every result dict and file carries:
measurement runs, per-step training runs, to-target runs, generation runs, tune plans and the
report document (``report.json``). Raise it when a field changes meaning or is removed, never for
an added field; readers accept every version up to it (older files load, as they always did); the
measurement and report readers name a newer one in a one-line error. History: 1, the first files;
2, measurement results carry ``comparison`` (ratios with intervals) instead of ``speedup`` (schema
1 measurement files still load). Training, generation and report files written as 1 have the
same fields as 2.
(The knowledge exchange file is a format of its own, ``green-advisor-knowledge``, with its own
version in ``advisor.tuning``.)
"""

from importlib.metadata import PackageNotFoundError, version

__all__ = ["RESULT_SCHEMA_VERSION", "__version__"]

RESULT_SCHEMA_VERSION = 2

try:
    __version__ = version("green-dl-advisor")
except PackageNotFoundError:  # pragma: no cover - running from a bare checkout
    __version__ = "0+unknown"
