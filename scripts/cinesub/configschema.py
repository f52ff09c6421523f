"""Settings from the validated config: the config schema is the one place defaults live.

A stage builds its settings with :func:`validated_section` (a whole config: :func:`validated_config`),
which fills a section's defaults the way the workflow's ``snakemake.utils.validate`` does, so code never
carries a second copy of a default. Tests and benches build their settings the same way.
"""

from __future__ import annotations

from pathlib import Path

from .errors import CinesubError
from .fileio import read_json

CONFIG_SCHEMA_PATH = Path(__file__).resolve().parents[2] / "workflow" / "schemas" / "config.schema.json"


def validated_section(name: str, given: dict | None, schema: dict | None = None) -> dict:
    """Config section ``name`` validated against the config schema, every default filled in.

    The same filling the workflow's ``snakemake.utils.validate`` does (a default is set wherever a
    property is missing, then validated, through ``$ref`` too), so a stage or a test building its
    settings from a partial section gets exactly what the workflow would hand it. A bad or misspelt
    key is one CinesubError naming it.
    """
    import copy

    import jsonschema

    schema = schema or read_json(CONFIG_SCHEMA_PATH)
    section = {"$defs": schema.get("$defs", {}), **schema["properties"][name]}
    check_properties = jsonschema.Draft202012Validator.VALIDATORS["properties"]

    def fill_defaults(validator, properties, instance, subschema):
        if validator.is_type(instance, "object"):
            for key, sub in properties.items():
                if "default" in sub and key not in instance:
                    instance[key] = copy.deepcopy(sub["default"])
        yield from check_properties(validator, properties, instance, subschema)

    filling = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"properties": fill_defaults})
    value = copy.deepcopy(given) if given is not None else copy.deepcopy(section.get("default", {}))
    error = jsonschema.exceptions.best_match(filling(section).iter_errors(value))
    if error is not None:
        where = ".".join(str(p) for p in (name, *error.absolute_path))
        raise CinesubError(f"config {where}: {error.message}")
    return value


def validated_config(given: dict | None = None, schema: dict | None = None) -> dict:
    """A whole config (a config.yaml's contents; nothing: the defaults) with every section validated and
    filled by :func:`validated_section`; a top-level key the schema does not know is refused."""
    schema = schema or read_json(CONFIG_SCHEMA_PATH)
    config = dict(given or {})
    unknown = sorted(set(config) - set(schema["properties"]))
    if unknown:
        raise CinesubError(f"config: unknown key(s) {', '.join(unknown)}")
    for name, sub in schema["properties"].items():
        if sub.get("type") == "object":
            config[name] = validated_section(name, config.get(name), schema)
        elif name not in config and "default" in sub:
            config[name] = sub["default"]
    return config
