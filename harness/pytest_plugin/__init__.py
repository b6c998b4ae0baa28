"""``pytest -p harness.pytest_plugin``, the spelling of older docs: loads the plugin as ``-p harness``
(the documented form) does. The plugin itself is harness/integrations/pytest/plugin.py."""

pytest_plugins = ["harness.integrations.pytest.plugin"]
