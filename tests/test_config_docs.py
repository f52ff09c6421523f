"""config/README.md documents every key: its table is generated from the schemas and must be current."""

from __future__ import annotations

import json

from cinesub import configdoc


def test_config_readme_is_current():
    text = configdoc.README.read_text(encoding="utf-8")
    assert configdoc.updated_readme(text) == text, "run: cd scripts && python -m cinesub.configdoc"
    assert configdoc.main(["--check"]) == 0


def test_every_setting_is_described():
    for schema_path in (configdoc.CONFIG_SCHEMA, configdoc.JOBS_SCHEMA):
        schema = json.loads(schema_path.read_text(encoding="utf-8"))
        undocumented = [
            key
            for key, kind, _, text in configdoc.rows(schema, schema)
            if kind != "section" and "<code>" not in key and not text
        ]
        assert not undocumented, f"{schema_path.name}: describe {undocumented}"


def test_shipped_config_sets_only_known_keys():
    import yaml

    config = yaml.safe_load((configdoc.ROOT / "config" / "config.yaml").read_text())
    schema = json.loads(configdoc.CONFIG_SCHEMA.read_text())
    for section, values in config.items():
        assert section in schema["properties"]
        if isinstance(values, dict) and "properties" in schema["properties"][section]:
            assert set(values) <= set(schema["properties"][section]["properties"]), section
