"Model families. Importing this package registers every built-in family and the entry-point plugins (nbs/08_models.registry.ipynb)."
from .registry import ModelRegistry, load_model
ModelRegistry.discover()
