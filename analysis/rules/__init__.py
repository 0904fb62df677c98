"""The packaged pre-evaluation rule set: ``_ruleset.yaml`` plus one YAML file per theme."""
