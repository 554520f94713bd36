"""manifest.yml: valid per Slack's published schema, and shaped the way sarvbot needs.

The schema files are a vendored copy of github.com/slackapi/manifest-schema
(see tests/data/slack-manifest-schema/README.md); the test needs no network.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, ValidationError
from referencing import Registry, Resource

from sarvbot.slack.blocks import SHORTCUT_FREEZE
from sarvbot.slack.picker import SHORTCUT_MANAGE
from sarvbot.slack.steps import STEPS

ROOT = Path(__file__).resolve().parent.parent
MANIFEST_PATH = ROOT / "manifest.yml"
SCHEMA_DIR = Path(__file__).resolve().parent / "data" / "slack-manifest-schema"

# The top-level schema refers to the versioned schemas by these URLs; they are
# served from the vendored copies instead.
SCHEMA_TAG_URL = "https://raw.githubusercontent.com/slackapi/manifest-schema/v0.5.0/"
VERSIONED_SCHEMAS = ("schemas/manifest.schema.1.0.0.json", "schemas/manifest.schema.2.0.0.json")

COMMAND = "/smtp"
EVENTS_PATH = "/slack/events"
# Every scope is tied to a Web API method sarvbot calls (see manifest.yml).
EXPECTED_BOT_SCOPES = frozenset(
    {
        "commands",
        "chat:write",
        "im:write",
        "users:read",
        "channels:read",
        "groups:read",
        "usergroups:read",
    }
)
# The schema spells this constraint "regex", which JSON Schema ignores.
BACKGROUND_COLOR = re.compile(r"^#[0-9a-fA-F]{3}([0-9a-fA-F]{3})?$")


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def load_manifest() -> dict[str, Any]:
    data = yaml.safe_load(MANIFEST_PATH.read_text(encoding="utf-8"))
    assert isinstance(data, dict), "manifest.yml must be a YAML mapping"
    return data


def make_validator() -> Draft7Validator:
    registry: Registry[Any] = Registry().with_resources(
        (SCHEMA_TAG_URL + name, Resource.from_contents(load_json(SCHEMA_DIR / name)))
        for name in VERSIONED_SCHEMAS
    )
    schema = load_json(SCHEMA_DIR / "manifest.schema.json")
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema, registry=registry)


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """The errors worth reporting for one top-level schema error.

    The top-level schema is a oneOf over manifest versions, each branch an
    allOf of [version discriminator, versioned schema]. Report the errors of
    the versioned schema in the branches whose discriminator matched.
    """
    if error.validator != "oneOf" or not error.context:
        return [error]
    failed_discriminators = {
        c.relative_schema_path[0]
        for c in error.context
        if list(c.relative_schema_path)[1:3] == ["allOf", 0]
    }
    chosen = [
        c
        for c in error.context
        if list(c.relative_schema_path)[1:3] == ["allOf", 1]
        and c.relative_schema_path[0] not in failed_discriminators
    ]
    return chosen or [error]


def schema_errors(manifest: dict[str, Any]) -> list[str]:
    """Schema violations as sorted, de-duplicated 'path: message' lines."""
    lines = set()
    for error in make_validator().iter_errors(manifest):
        for leaf in _leaf_errors(error):
            where = "/".join(str(p) for p in leaf.absolute_path) or "<root>"
            lines.add(f"{where}: {leaf.message}")
    return sorted(lines)


def sarvbot_problems(manifest: dict[str, Any]) -> list[str]:
    """What sarvbot itself needs beyond a schema-valid manifest."""
    problems: list[str] = []
    features = manifest.get("features", {})
    settings = manifest.get("settings", {})

    commands = [c for c in features.get("slash_commands", []) if c.get("command") == COMMAND]
    if len(commands) != 1:
        problems.append(f"expected exactly one {COMMAND} slash command, found {len(commands)}")
        command: dict[str, Any] = {}
    else:
        command = commands[0]

    interactivity = settings.get("interactivity", {})
    if interactivity.get("is_enabled") is not True:
        problems.append("settings.interactivity.is_enabled must be true (buttons and modals)")

    events = settings.get("event_subscriptions", {})
    if "app_home_opened" not in events.get("bot_events", []):
        problems.append("settings.event_subscriptions.bot_events must hold app_home_opened")
    if settings.get("socket_mode_enabled"):
        if (
            {"request_url", "message_menu_options_url"} & set(interactivity)
            or "url" in command
            or "request_url" in events
        ):
            problems.append(
                "Socket Mode is on, so the command url, request_urls and options url must go"
            )
    else:
        url = command.get("url")
        if not (isinstance(url, str) and url.startswith("https://") and url.endswith(EVENTS_PATH)):
            problems.append(f"{COMMAND} url must be https://HOST{EVENTS_PATH}, got {url!r}")
        if interactivity.get("request_url") != url:
            problems.append(
                "settings.interactivity.request_url must equal the command url: "
                f"{interactivity.get('request_url')!r} != {url!r}"
            )
        if events.get("request_url") != url:
            problems.append(
                "settings.event_subscriptions.request_url must equal the command url: "
                f"{events.get('request_url')!r} != {url!r}"
            )
        if interactivity.get("message_menu_options_url") != url:
            problems.append(
                "settings.interactivity.message_menu_options_url must equal the command url "
                "(pickers load their options there)"
            )

    scopes = manifest.get("oauth_config", {}).get("scopes", {}).get("bot", [])
    if len(scopes) != len(set(scopes)):
        problems.append(f"duplicate bot scopes: {scopes}")
    if set(scopes) != EXPECTED_BOT_SCOPES:
        problems.append(
            "bot scopes changed: "
            f"missing {sorted(EXPECTED_BOT_SCOPES - set(scopes))}, "
            f"unexpected {sorted(set(scopes) - EXPECTED_BOT_SCOPES)}"
        )
    if manifest.get("oauth_config", {}).get("scopes", {}).get("user"):
        problems.append("sarvbot needs no user scopes")

    app_home = features.get("app_home", {})
    if app_home.get("messages_tab_enabled") is not True:
        problems.append("features.app_home.messages_tab_enabled must be true (password DMs)")
    if app_home.get("home_tab_enabled") is not True:
        problems.append("features.app_home.home_tab_enabled must be true (the Home tab)")

    color = manifest.get("display_information", {}).get("background_color")
    if color is not None and not BACKGROUND_COLOR.match(str(color)):
        problems.append(f"display_information.background_color is not #RGB/#RRGGBB: {color!r}")
    return problems


def all_problems(manifest: dict[str, Any]) -> list[str]:
    return schema_errors(manifest) + sarvbot_problems(manifest)


# --- the real manifest -------------------------------------------------------


def test_vendored_schema_is_a_valid_draft7_schema() -> None:
    for name in ("manifest.schema.json", *VERSIONED_SCHEMAS):
        Draft7Validator.check_schema(load_json(SCHEMA_DIR / name))


def test_manifest_matches_slack_schema() -> None:
    assert schema_errors(load_manifest()) == []


def test_manifest_meets_sarvbot_needs() -> None:
    assert sarvbot_problems(load_manifest()) == []


def test_smtp_command() -> None:
    manifest = load_manifest()
    (command,) = manifest["features"]["slash_commands"]
    assert command["command"] == COMMAND
    assert command["usage_hint"] == (
        "list | show USER | add | edit USER | reset USER | label USER LABEL | help"
    )
    # `/smtp owner USER @person` needs Slack to send the mention as <@U…|name>.
    assert command["should_escape"] is True
    assert command["description"]


def test_interactivity_uses_the_command_url() -> None:
    manifest = load_manifest()
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"] == manifest["features"]["slash_commands"][0]["url"]


def test_bot_scopes_are_exactly_the_expected_set() -> None:
    scopes = load_manifest()["oauth_config"]["scopes"]["bot"]
    assert sorted(scopes) == sorted(EXPECTED_BOT_SCOPES)


def test_http_mode_settings() -> None:
    settings = load_manifest()["settings"]
    assert settings["socket_mode_enabled"] is False
    # Slack lists an app's custom workflow steps only for org-ready apps run remotely.
    assert settings["org_deploy_enabled"] is True
    assert settings["function_runtime"] == "remote"
    assert settings["token_rotation_enabled"] is False


# --- the checks can fail -----------------------------------------------------


def _without_command_description(m: dict[str, Any]) -> None:
    del m["features"]["slash_commands"][0]["description"]


def _command_without_slash(m: dict[str, Any]) -> None:
    m["features"]["slash_commands"][0]["command"] = "smtp"


def _misspelt_key(m: dict[str, Any]) -> None:
    m["settings"]["interactivty"] = m["settings"].pop("interactivity")


def _long_name(m: dict[str, Any]) -> None:
    m["display_information"]["name"] = "s" * 36


def _relative_request_url(m: dict[str, Any]) -> None:
    m["settings"]["interactivity"]["request_url"] = "/slack/events"


@pytest.mark.parametrize(
    "breakage",
    [
        _without_command_description,
        _command_without_slash,
        _misspelt_key,
        _long_name,
        _relative_request_url,
    ],
)
def test_schema_rejects_broken_manifest(breakage: Any) -> None:
    manifest = load_manifest()
    broken = copy.deepcopy(manifest)
    breakage(broken)
    assert schema_errors(manifest) == []
    assert schema_errors(broken) != []


def _scope_typo(m: dict[str, Any]) -> None:
    scopes = m["oauth_config"]["scopes"]["bot"]
    scopes[scopes.index("chat:write")] = "chat:wirte"


def _extra_scope(m: dict[str, Any]) -> None:
    m["oauth_config"]["scopes"]["bot"].append("channels:history")


def _interactivity_off(m: dict[str, Any]) -> None:
    m["settings"]["interactivity"]["is_enabled"] = False


def _different_request_url(m: dict[str, Any]) -> None:
    m["settings"]["interactivity"]["request_url"] = "https://other.example.com/slack/events"


def _no_smtp_command(m: dict[str, Any]) -> None:
    m["features"]["slash_commands"][0]["command"] = "/mail"


def _bad_color(m: dict[str, Any]) -> None:
    m["display_information"]["background_color"] = "blue"


def _home_tab_off(m: dict[str, Any]) -> None:
    m["features"]["app_home"]["home_tab_enabled"] = False


def _no_home_opened_event(m: dict[str, Any]) -> None:
    m["settings"]["event_subscriptions"]["bot_events"] = []


def _events_elsewhere(m: dict[str, Any]) -> None:
    m["settings"]["event_subscriptions"]["request_url"] = "https://other.example.com/events"


@pytest.mark.parametrize(
    "breakage",
    [
        _scope_typo,
        _extra_scope,
        _interactivity_off,
        _different_request_url,
        _no_smtp_command,
        _bad_color,
        _home_tab_off,
        _no_home_opened_event,
        _events_elsewhere,
    ],
)
def test_sarvbot_checks_reject_broken_manifest(breakage: Any) -> None:
    """Mistakes the schema lets through (scopes are free-form strings there)."""
    broken = copy.deepcopy(load_manifest())
    breakage(broken)
    assert all_problems(broken) != []


def test_scope_typo_passes_schema_but_not_scope_check() -> None:
    broken = copy.deepcopy(load_manifest())
    _scope_typo(broken)
    assert schema_errors(broken) == []
    assert any("chat:wirte" in p for p in sarvbot_problems(broken))


def test_socket_mode_variant_is_accepted() -> None:
    """The Socket Mode recipe in manifest.yml's header comment holds up."""
    manifest = copy.deepcopy(load_manifest())
    manifest["settings"]["socket_mode_enabled"] = True
    del manifest["settings"]["interactivity"]["request_url"]
    del manifest["settings"]["interactivity"]["message_menu_options_url"]
    del manifest["features"]["slash_commands"][0]["url"]
    del manifest["settings"]["event_subscriptions"]["request_url"]
    assert all_problems(manifest) == []


def test_the_shortcuts_are_those_sarvbot_listens_for() -> None:
    shortcuts = {(s["type"], s["callback_id"]) for s in load_manifest()["features"]["shortcuts"]}
    assert shortcuts == {("message", SHORTCUT_FREEZE), ("global", SHORTCUT_MANAGE)}


def _no_options_url(m: dict[str, Any]) -> None:
    del m["settings"]["interactivity"]["message_menu_options_url"]


def test_a_manifest_without_the_options_url_is_refused() -> None:
    broken = copy.deepcopy(load_manifest())
    _no_options_url(broken)
    assert any("message_menu_options_url" in p for p in sarvbot_problems(broken))


def test_the_leak_watch_manifest_adds_only_its_events_and_history_scopes() -> None:
    variant = yaml.safe_load((MANIFEST_PATH.parent / "manifest.leak-watch.yml").read_text())
    assert schema_errors(variant) == []
    base = load_manifest()
    scopes = variant["oauth_config"]["scopes"]["bot"]
    assert set(scopes) - set(base["oauth_config"]["scopes"]["bot"]) == {
        "channels:history",
        "groups:history",
    }
    events = variant["settings"].pop("event_subscriptions")
    base_events = base["settings"].pop("event_subscriptions")
    added = [e for e in events["bot_events"] if e not in base_events["bot_events"]]
    assert added == ["message.channels", "message.groups"]
    assert set(base_events["bot_events"]) <= set(events["bot_events"])
    assert events["request_url"] == base_events["request_url"]
    variant["oauth_config"]["scopes"]["bot"] = base["oauth_config"]["scopes"]["bot"]
    assert variant == base


def test_the_workflow_steps_are_the_ones_sarvbot_runs_and_output_no_password() -> None:
    manifest = load_manifest()
    assert set(manifest["functions"]) == set(STEPS)
    events = manifest["settings"]["event_subscriptions"]
    assert "function_executed" in events["bot_events"]
    assert events["request_url"] == manifest["features"]["slash_commands"][0]["url"]
    for function in manifest["functions"].values():
        outputs = function["output_parameters"]["properties"]
        assert set(outputs) == {"state", "decided_by", "smtp_user", "request_id"}
        assert not any("password" in name for name in outputs)
        inputs = function["input_parameters"]
        assert {"channel", "requester"} <= set(inputs["required"]) <= set(inputs["properties"])
