"""The CLI's environment is built from an allow-list: secrets and provider switches of the parent stay out."""

from __future__ import annotations

from claude_code_provider.engine.environment import derive_cli_environment, derive_sdk_env

PARENT = {
    "PATH": "/usr/bin",
    "HOME": "/home/me",
    "TMPDIR": "/tmp",
    "TZ": "Pacific/Chatham",
    "LANG": "C.UTF-8",
    "LC_ALL": "C.UTF-8",
    "CLAUDE_CONFIG_DIR": "/var/lib/claude",
    "CLAUDE_CODE_OAUTH_TOKEN": "sk-ant-oat01-login",
    "ANTHROPIC_BASE_URL": "http://127.0.0.1:1",
    "HTTPS_PROXY": "http://proxy:3128",
    "no_proxy": "localhost",
    "NODE_EXTRA_CA_CERTS": "/etc/ca.pem",
    "SSL_CERT_FILE": "/etc/ca.pem",
    "DISABLE_AUTOUPDATER": "1",
    "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    "CLAUDE_CODE_MAX_OUTPUT_TOKENS": "100",
    # Outside the list:
    "ANTHROPIC_API_KEY": "sk-ant-api03-key",
    "ANTHROPIC_AUTH_TOKEN": "bearer",
    "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR": "3",
    "CLAUDE_CODE_USE_BEDROCK": "1",
    "CLAUDE_CODE_USE_VERTEX": "1",
    "AWS_SECRET_ACCESS_KEY": "aws",
    "LITELLM_MASTER_KEY": "sk-master",
    "NODE_OPTIONS": "--require /tmp/evil.js",
    "FOO": "bar",
}
OUTSIDE = {
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_AUTH_TOKEN",
    "CLAUDE_CODE_API_KEY_FILE_DESCRIPTOR",
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "AWS_SECRET_ACCESS_KEY",
    "LITELLM_MASTER_KEY",
    "NODE_OPTIONS",
    "FOO",
}


def test_the_cli_environment_keeps_what_the_cli_needs_and_nothing_else() -> None:
    env = derive_cli_environment(PARENT, {"CLAUDE_CODE_MAX_OUTPUT_TOKENS": "64"})

    assert set(env) == set(PARENT) - OUTSIDE
    assert env["CLAUDE_CODE_OAUTH_TOKEN"] == "sk-ant-oat01-login"
    assert env["NODE_EXTRA_CA_CERTS"] == "/etc/ca.pem"
    assert env["CLAUDE_CODE_MAX_OUTPUT_TOKENS"] == "64"


def test_the_sdk_env_blanks_every_other_variable_but_leaves_the_sdks_own_alone() -> None:
    parent = {**PARENT, "CLAUDE_CODE_ENTRYPOINT": "cli", "CLAUDE_CODE_SDK_READS_SESSION_STATE": "1", "PWD": "/"}

    env = derive_sdk_env(parent, {})

    assert {name for name, value in env.items() if value == ""} == OUTSIDE
    assert env["PATH"] == "/usr/bin"
    # The transport sets or drops these after merging; a blank here would override its value.
    assert not {"CLAUDE_CODE_ENTRYPOINT", "CLAUDE_CODE_SDK_READS_SESSION_STATE", "PWD"} & set(env)
