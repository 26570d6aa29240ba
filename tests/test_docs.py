"""The docs stay true: every variable the settings read is documented."""

from __future__ import annotations

import re

from tests.conftest import ROOT

# The settings package: every module of chatproject/settings/.
SETTINGS = "\n".join(
    path.read_text() for path in sorted((ROOT / "chatproject" / "settings").glob("*.py"))
)
README = (ROOT / "README.md").read_text()
ENV_EXAMPLE = (ROOT / ".env.example").read_text()


def settings_variables() -> set[str]:
    return set(re.findall(r'env\.\w+\(\s*"([A-Z][A-Z0-9_]+)"', SETTINGS))


def test_settings_read_the_variables_we_expect():
    # Guards the regex below against silently matching nothing.
    assert {"DATABASE_URL", "REDIS_URL", "OPENAI_API_KEY", "JWT_ACCESS_SECONDS"} <= (
        settings_variables()
    )


def test_every_variable_is_in_the_readme_configuration_table():
    table = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    missing = sorted(name for name in settings_variables() if f"`{name}`" not in table)
    assert missing == []


def test_every_variable_is_in_env_example():
    missing = sorted(name for name in settings_variables() if name not in ENV_EXAMPLE)
    assert missing == []
