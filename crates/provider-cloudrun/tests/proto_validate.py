#!/usr/bin/env python3
"""Checks Cloud Run Admin API v2 and Cloud Scheduler v1 documents against Google's own
definitions, offline.

Reads a JSON list of documents from stdin, or one object per line. A document is the REST JSON
of a google.cloud.run.v2.Service, or an envelope {"@message": NAME, "@value": {...}} naming the
message its value is: google.cloud.run.v2.Service, google.cloud.run.v2.Job or
google.cloud.scheduler.v1.Job. Each one is checked:

- google.protobuf.json_format.ParseDict into run_v2.Service with ignore_unknown_fields=False:
  unknown or misspelled fields, wrong types, enum values that do not exist, malformed
  durations and integers (what the API refuses before looking at the values);
- fields documented as "Output only." that are set, and fields documented as "Required."
  that are missing in a message that is present, read from the docstrings of the official
  Python types (google-cloud-run), since the compiled descriptors carry no field behaviours;
- label and annotation keys in the namespaces the Service, Job and template documentation
  says v2 rejects (run.googleapis.com, cloud.googleapis.com, serving.knative.dev,
  autoscaling.knative.dev).

Prints "[i] ok" or "[i] <error>" per document and exits 1 when any document has an error;
exits 2 when google-cloud-run or google-cloud-scheduler cannot be imported or stdin is not
what is described above.

Used by crates/provider-cloudrun/tests/build/proto.rs and job.rs:
python3 -m pip install 'google-cloud-run==0.16.1' 'google-cloud-scheduler==2.21.0'
"""

import inspect
import json
import re
import sys

try:
    import proto
    from google.cloud import run_v2, scheduler_v1
    from google.protobuf import json_format
except ImportError as e:  # pragma: no cover - reported to the Rust test
    print(
        f"google-cloud-run or google-cloud-scheduler is not installed for {sys.executable} "
        f"({e}): python3 -m pip install 'google-cloud-run==0.16.1' "
        "'google-cloud-scheduler==2.21.0'",
        file=sys.stderr,
    )
    sys.exit(2)

RESERVED_PREFIXES = (
    "run.googleapis.com/",
    "cloud.googleapis.com/",
    "serving.knative.dev/",
    "autoscaling.knative.dev/",
)
# Messages whose labels and annotations the documentation restricts.
KEYED_MESSAGES = (
    "google.cloud.run.v2.Service",
    "google.cloud.run.v2.RevisionTemplate",
    "google.cloud.run.v2.Job",
    "google.cloud.run.v2.ExecutionTemplate",
)
# The messages a document may be, by full name: the proto-plus class.
MESSAGES = {
    "google.cloud.run.v2.Service": run_v2.Service,
    "google.cloud.run.v2.Job": run_v2.Job,
    "google.cloud.scheduler.v1.Job": scheduler_v1.Job,
}

ATTRIBUTE = re.compile(r"^(?P<indent> *)(?P<name>\w+) \([^)]*\):\s*$")


def documents(text):
    """The documents in `text`: a JSON list, one JSON object, or one object per line."""
    stripped = text.strip()
    if not stripped:
        return []
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError:
        return [json.loads(line) for line in stripped.splitlines() if line.strip()]
    return whole if isinstance(whole, list) else [whole]


def behaviours(doc):
    """{field name: "Output only" | "Required"} from a proto-plus class's Attributes section."""
    out = {}
    lines = inspect.cleandoc(doc or "").splitlines()
    try:
        start = next(i for i, l in enumerate(lines) if l.strip() == "Attributes:")
    except StopIteration:
        return out
    base = len(lines[start]) - len(lines[start].lstrip()) + 4
    for i in range(start + 1, len(lines)):
        match = ATTRIBUTE.match(lines[i])
        if not match or len(match.group("indent")) != base:
            continue
        following = next((l.strip() for l in lines[i + 1 :] if l.strip()), "")
        # proto-plus appends "_" to names that clash with Python keywords (type_).
        name = match.group("name").rstrip("_")
        for behaviour in ("Output only", "Required"):
            if following.startswith(behaviour + "."):
                out[name] = behaviour
    return out


def behaviour_table():
    """{message full name: behaviours} for every message of run_v2 and scheduler_v1, nested
    ones included."""
    table = {}

    def visit(cls):
        table[cls.pb().DESCRIPTOR.full_name] = behaviours(cls.__doc__)
        for value in vars(cls).values():
            if isinstance(value, type) and issubclass(value, proto.Message):
                visit(value)

    for module in (run_v2, scheduler_v1):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, proto.Message):
                visit(value)
    return table


def unwrap(doc):
    """(message class, short name, value) of a document; ValueError for an unknown envelope."""
    if "@message" not in doc:
        return run_v2.Service, "Service", doc
    name = doc["@message"]
    if name not in MESSAGES or not isinstance(doc.get("@value"), dict):
        raise ValueError(f"not an envelope of {sorted(MESSAGES)} with an object @value: {name!r}")
    return MESSAGES[name], name.rsplit(".", 1)[1], doc["@value"]


def is_repeated(field):
    """Whether a field is a list (protobuf 7 dropped FieldDescriptor.label)."""
    repeated = getattr(field, "is_repeated", None)
    if repeated is not None:
        return repeated
    return field.label == field.LABEL_REPEATED


def field_errors(message, table, path):
    """Output-only fields set and required fields missing, in `message` and below."""
    errors = []
    descriptor = message.DESCRIPTOR
    rules = table.get(descriptor.full_name, {})
    present = {field.name for field, _ in message.ListFields()}
    for name, behaviour in rules.items():
        field = descriptor.fields_by_name.get(name)
        if field is None:
            continue
        if behaviour == "Output only" and name in present:
            errors.append(f"{path}.{field.json_name}: output only, must not be set")
        if behaviour == "Required" and name not in present:
            errors.append(f"{path}.{field.json_name}: required, missing")
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if field.message_type.GetOptions().map_entry:
            continue
        child = f"{path}.{field.json_name}"
        if is_repeated(field):
            for i, item in enumerate(value):
                errors += field_errors(item, table, f"{child}[{i}]")
        else:
            errors += field_errors(value, table, child)
    if descriptor.full_name in KEYED_MESSAGES:
        for kind in ("labels", "annotations"):
            for key in getattr(message, kind):
                if key.startswith(RESERVED_PREFIXES):
                    errors.append(f"{path}.{kind}: {key!r} is in a namespace Cloud Run v2 rejects")
    return errors


def main():
    try:
        docs = documents(sys.stdin.read())
    except json.JSONDecodeError as e:
        print(f"stdin is not JSON: {e}", file=sys.stderr)
        return 2
    if not docs:
        print("no documents on stdin", file=sys.stderr)
        return 2
    table = behaviour_table()
    for name in MESSAGES:
        if not table.get(name):
            print(f"found no field behaviours in {name}'s documentation", file=sys.stderr)
            return 2
    failed = False
    for i, doc in enumerate(docs):
        if not isinstance(doc, dict):
            print(f"[{i}] is not a JSON object: {json.dumps(doc)[:200]}", file=sys.stderr)
            return 2
        try:
            cls, short, value = unwrap(doc)
        except ValueError as e:
            print(f"[{i}] {e}", file=sys.stderr)
            return 2
        message = cls()._pb
        try:
            json_format.ParseDict(value, message, ignore_unknown_fields=False)
        except json_format.ParseError as e:
            errors = [" ".join(f"{short}: {e}".split())]
        else:
            errors = field_errors(message, table, short)
        for error in errors:
            print(f"[{i}] {error}")
        failed = failed or bool(errors)
        if not errors:
            print(f"[{i}] ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
