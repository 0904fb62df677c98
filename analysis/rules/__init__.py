"""The pre-evaluation rule set: the YAML files (``_ruleset.yaml`` plus one per theme) and their model.

``schema.py`` holds the models of the files, ``catalog_checks.py`` checks them against the layer catalog,
``loader.py`` reads them and ``model.py`` is the rule set the engine grades with.
"""
