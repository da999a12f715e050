"""Validate server events (JSONL, one per line) against the official SDK's models.

Each line must parse as openai.types.realtime.RealtimeServerEvent, and no object in it
may carry a key the SDK model does not define (the models accept extras; the API does not).
Exit 0: all valid; 1: some invalid (details on stdout); 3: python packages missing.
"""
import json
import sys

try:
    from openai.types.realtime import RealtimeServerEvent
    from pydantic import BaseModel, TypeAdapter
except ImportError as exc:  # pragma: no cover - environment problem, reported by the caller
    print(f"MISSING-DEPENDENCY: {exc}")
    sys.exit(3)

ADAPTER = TypeAdapter(RealtimeServerEvent)


def extra_keys(value, path, found):
    if isinstance(value, BaseModel):
        for key in value.model_extra or {}:
            found.append(f"{path}.{key}")
        for name in type(value).model_fields:
            extra_keys(getattr(value, name), f"{path}.{name}", found)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            extra_keys(item, f"{path}[{i}]", found)


def relevant(exc):
    """The union's errors from the member whose `type` matched, not from the other 45."""
    errors = getattr(exc, "errors", None)
    if errors is None:
        return str(exc)
    errors = errors()
    wrong_members = {
        e["loc"][0] for e in errors
        if e["type"] == "literal_error" and len(e["loc"]) == 2 and e["loc"][1] == "type"
    }
    kept = [e for e in errors if e["loc"] and e["loc"][0] not in wrong_members]
    return "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in kept) or str(exc)[:500]


def main(path):
    failures = 0
    count = 0
    with open(path, encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            count += 1
            event = json.loads(line)
            try:
                model = ADAPTER.validate_python(event)
            except Exception as exc:  # pydantic.ValidationError and friends
                failures += 1
                print(f"line {number} ({event.get('type')}): invalid: {relevant(exc)}")
                continue
            if getattr(model, "type", None) != event.get("type"):
                failures += 1
                print(f"line {number}: parsed as {type(model).__name__}, type {event.get('type')}")
            extras = []
            extra_keys(model, event.get("type", "?"), extras)
            if extras:
                failures += 1
                print(f"line {number} ({event.get('type')}): keys outside the SDK model: {extras}")
    print(f"checked {count} events, {failures} invalid")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
