"""Model code by domain (models/sales, models/reviews, models/recommendations, models/products).

Models registered in MLflow before the code was grouped by domain were pickled under their old module names
(``models.sentiment``, ``models.product_serving``, ...). Those names still import, as the modules that now hold
the same classes, so an existing registry's champions keep loading after an upgrade.
"""

import importlib
import importlib.abc
import importlib.util
import sys

LEGACY_MODULES = {
    "models.forecasting": "models.sales.forecasting",
    "models.forecast_methods": "models.sales.forecast_methods",
    "models.global_model": "models.sales.global_model",
    "models.metrics": "models.sales.forecast_metrics",
    "models.sentiment": "models.reviews.sentiment",
    "models.entities": "models.reviews.entities",
    "models.minilm": "models.reviews.minilm",
    "models.text_corpora": "models.reviews.text_corpora",
    "models.recommender": "models.recommendations.recommender",
    "models.recommender_serving": "models.recommendations.recommender_serving",
    "models.features": "models.products.features",
    "models.product_models": "models.products.product_models",
    "models.product_serving": "models.products.product_serving",
    "models.drift": "models.products.drift",
    "models.risk": "models.products.tabular",
    "models.registry": "common.registry",
}


class _LegacyNames(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old module name as the module it moved to (asked last, after every real module)."""

    def find_spec(self, name, path=None, target=None):
        return importlib.util.spec_from_loader(name, self) if name in LEGACY_MODULES else None

    def create_module(self, spec):
        return importlib.import_module(LEGACY_MODULES[spec.name])

    def exec_module(self, module):
        pass


if not any(isinstance(finder, _LegacyNames) for finder in sys.meta_path):
    sys.meta_path.append(_LegacyNames())
