#!/usr/bin/env python3
"""Validate Realtime API events against the official OpenAI SDK's models, strictly.

Reads JSON Lines (one event per line; blank lines are ignored) from FILE (or `-` for
stdin) and checks every event twice:

1. with pydantic, `TypeAdapter(openai.types.realtime.RealtimeClientEvent)` (or
   `RealtimeServerEvent` with `--kind server`) in strict mode, so a string is not accepted
   where the API wants a number and `rate` must be the literal the schema names;
2. by walking the JSON against the model the SDK chose for each object, so that any key
   the model does not declare is an error. The SDK's models accept extra keys; the API
   does not (an unknown parameter is an `invalid_request_error`), so a pydantic pass alone
   proves little.

`--kind client|server` checks the GA schema (`openai.types.realtime`). Beta-flavor events
(`OpenAI-Beta: realtime=v1`: `modalities`, `input_audio_format`, `response.audio.delta`, ...)
are NOT valid GA events and must never be validated as such; `--kind beta-client|beta-server`
checks them against the preview models the same SDK still ships
(`openai.types.beta.realtime`), with the same strict walk.

Prints one line per failing event and a summary `N passed, N failed`.
Exit status: 0 when every event passed, 1 when any failed, 2 when the tool cannot run
(missing `openai`/`pydantic`, unreadable file). Install with
`pip install -r tools/requirements.txt` (pins openai==3.54.0, the version the plugin targets).
"""

import argparse
import inspect
import json
import sys
import types
import typing

PINNED_OPENAI_VERSION = "3.54.0"
INSTALL_HINT = "pip install -r tools/requirements.txt"

try:
    import pydantic
    import openai
    from openai.types.realtime import RealtimeClientEvent, RealtimeServerEvent
    from openai.types.beta.realtime import (
        RealtimeClientEvent as BetaRealtimeClientEvent,
        RealtimeServerEvent as BetaRealtimeServerEvent,
    )
except ImportError as exc:  # the conformance test reports this; never a silent pass
    print(
        f"validate_events: cannot import the OpenAI SDK ({exc}); run `{INSTALL_HINT}`",
        file=sys.stderr,
    )
    sys.exit(2)

# The event unions by `--kind`.
ROOTS = {
    "client": RealtimeClientEvent,
    "server": RealtimeServerEvent,
    "beta-client": BetaRealtimeClientEvent,
    "beta-server": BetaRealtimeServerEvent,
}

# Type adapters are expensive to build; every (sub)type is checked many times.
_ADAPTERS = {}


def _adapter(tp):
    key = repr(tp)
    adapter = _ADAPTERS.get(key)
    if adapter is None:
        adapter = pydantic.TypeAdapter(tp)
        _ADAPTERS[key] = adapter
    return adapter


def _pydantic_errors(tp, value):
    """Strict pydantic validation of `value` (already-parsed JSON) as `tp`; error strings."""
    try:
        _adapter(tp).validate_json(json.dumps(value), strict=True)
        return []
    except pydantic.ValidationError as exc:
        out = []
        for err in exc.errors():
            loc = ".".join(str(part) for part in err.get("loc", ()))
            out.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
        return out


def _is_model(tp):
    return inspect.isclass(tp) and issubclass(tp, pydantic.BaseModel)


def _is_union(tp):
    origin = typing.get_origin(tp)
    return origin is typing.Union or origin is types.UnionType


def _literal_values(tp):
    """The values of a Literal (through Optional/Annotated), or None if `tp` is no Literal."""
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        return set(typing.get_args(tp))
    if origin is typing.Annotated:
        return _literal_values(typing.get_args(tp)[0])
    if _is_union(tp):
        values = set()
        found = False
        for arg in typing.get_args(tp):
            if arg is type(None):
                continue
            inner = _literal_values(arg)
            if inner is not None:
                found = True
                values |= inner
        return values if found else None
    return None


def _tagged(members, value):
    """The union members whose `type` literal names `value`'s `type` (empty if none do)."""
    if not isinstance(value, dict) or "type" not in value:
        return []
    tagged = []
    for member in members:
        base = member
        while typing.get_origin(base) is typing.Annotated:
            base = typing.get_args(base)[0]
        if _is_model(base) and "type" in base.model_fields:
            literals = _literal_values(base.model_fields["type"].annotation)
            if literals is not None and value["type"] in literals:
                tagged.append(member)
    return tagged


def _candidates(members, value):
    """Union members worth trying for `value`: the tagged ones when the tag settles it."""
    return _tagged(members, value) or members


def check(tp, value, path):
    """Every way `value` (parsed JSON at `path`) fails to be a `tp`, as error strings.

    Objects must carry the model's required fields and nothing the model does not declare.
    Unions are resolved the way the API resolves them: by the `type` tag when the members
    have one (so errors name the member the event meant to be), otherwise by trying each
    member; the value passes when any member accepts it. Scalars are checked by pydantic in
    strict mode (no "0.5" for a number, no 16000 where the schema says the literal 24000).
    """
    where = path or "<root>"
    if tp is typing.Any or tp is object:
        return []  # free-form JSON (e.g. a tool's `parameters` schema)
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is typing.Annotated:
        return check(args[0], value, path)
    if _is_union(tp):
        if value is None and type(None) in args:
            return []
        members = [m for m in args if m is not type(None)]
        if not members:
            return [f"{where}: must be null"]
        candidates = _candidates(members, value)
        best = None
        for member in candidates:
            errors = check(member, value, path)
            if not errors:
                return []
            if best is None or len(errors) < len(best):
                best = errors
        return best
    if _is_model(tp):
        if not isinstance(value, dict):
            return [f"{where}: must be an object ({tp.__name__}), got {_json_kind(value)}"]
        by_wire_name = {(field.alias or name): field for name, field in tp.model_fields.items()}
        errors = []
        for key, field in by_wire_name.items():
            if field.is_required() and key not in value:
                errors.append(f"{_join(path, key)}: required by {tp.__name__}, missing")
        for key, item in value.items():
            field = by_wire_name.get(key)
            if field is None:
                errors.append(f"{_join(path, key)}: unknown key (not declared by {tp.__name__})")
            else:
                errors += check(field.annotation, item, _join(path, key))
        return errors
    if origin in (list, typing.List):
        if not isinstance(value, list):
            return [f"{where}: must be an array, got {_json_kind(value)}"]
        errors = []
        for index, item in enumerate(value):
            errors += check(args[0] if args else typing.Any, item, f"{path}[{index}]")
        return errors
    if origin in (dict, typing.Dict):
        if not isinstance(value, dict):
            return [f"{where}: must be an object, got {_json_kind(value)}"]
        errors = []
        for key, item in value.items():
            errors += check(args[1] if len(args) == 2 else typing.Any, item, _join(path, key))
        return errors
    return [f"{where}: {message}" for message in _pydantic_errors(tp, value)]


def _join(path, key):
    return f"{path}.{key}" if path else str(key)


def _json_kind(value):
    if value is None:
        return "null"
    return {dict: "object", list: "array", str: "string", bool: "boolean"}.get(
        type(value), "number"
    )


def validate_event(root, value):
    """All the errors of one parsed event (empty when it conforms)."""
    if not isinstance(value, dict):
        return [f"<root>: an event must be a JSON object, got {_json_kind(value)}"]
    event_type = value.get("type")
    if not isinstance(event_type, str):
        return ["type: missing, or not a string"]
    members = typing.get_args(typing.get_args(root)[0])
    if not _tagged(members, value):
        return [f"type: {event_type[:80]!r} is not an event type of the SDK's union"]
    errors = check(root, value, "")
    if errors:
        return errors
    # Backstop: the walk above must never be more lenient than the SDK itself.
    return _pydantic_errors(root, value)


def event_types(root):
    """The `type` literals of every member of an event union."""
    names = set()
    for member in typing.get_args(typing.get_args(root)[0]):
        names |= _literal_values(member.model_fields["type"].annotation) or set()
    return names


def _describe(value):
    if isinstance(value, dict) and isinstance(value.get("type"), str):
        return value["type"][:80]
    return "?"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("file", nargs="?", help="JSON Lines file of events, or - for stdin")
    parser.add_argument(
        "--list-types",
        action="store_true",
        help="print the event types of the chosen union, one per line, and exit",
    )
    parser.add_argument(
        "--kind",
        choices=sorted(ROOTS),
        default="client",
        help="validate as the GA RealtimeClientEvent (default) or RealtimeServerEvent, "
        "or as the beta (preview) unions",
    )
    args = parser.parse_args(argv)

    if openai.__version__ != PINNED_OPENAI_VERSION:
        print(
            f"validate_events: warning: openai {openai.__version__} installed, "
            f"the plugin targets {PINNED_OPENAI_VERSION} (`{INSTALL_HINT}`)",
            file=sys.stderr,
        )

    root = ROOTS[args.kind]
    if args.list_types:
        for name in sorted(event_types(root)):
            print(name)
        return 0
    if args.file is None:
        parser.error("a FILE (or -) is required unless --list-types is given")
    try:
        if args.file == "-":
            lines = sys.stdin.read().splitlines()
        else:
            with open(args.file, encoding="utf-8") as handle:
                lines = handle.read().splitlines()
    except OSError as exc:
        print(f"validate_events: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2

    passed = failed = 0
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            errors = [f"invalid JSON: {exc}"]
            value = None
        else:
            errors = validate_event(root, value)
        if errors:
            failed += 1
            print(f"FAIL line {number} ({_describe(value)}): " + "; ".join(errors))
        else:
            passed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
