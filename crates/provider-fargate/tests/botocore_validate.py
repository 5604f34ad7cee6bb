#!/usr/bin/env python3
"""Checks AWS request parameters against botocore's own service models, offline.

Reads JSON documents {"service": "ecs" | "application-autoscaling" | "scheduler",
"operation": "CreateService",
"params": {...}} from stdin, either one per line or as one JSON list, and validates each params
object against the operation's input shape:

- botocore.validate.ParamValidator: unknown keys, missing required keys, types, minimum lengths
  and values (what boto3 checks before it sends a request);
- and, because ParamValidator does not check them, enum values, maximum lengths, sizes and
  values, and string patterns (matched whole, as AWS matches names and tokens), as the model
  states them (what the AWS API itself refuses).

Prints every error, prefixed with the document's index and operation, and exits 1 when there is
any; exits 2 when botocore cannot be imported or the input is not what is described above.

Used by crates/provider-fargate/tests/build/botocore.rs; botocore comes with moto
(python3 -m pip install 'moto[server]==5.2.5').
"""

import json
import re
import sys

try:
    import botocore.session
    import botocore.validate
except ImportError as e:  # pragma: no cover - reported to the Rust test
    print(
        f"botocore is not installed for {sys.executable} ({e}): "
        "python3 -m pip install 'moto[server]==5.2.5'",
        file=sys.stderr,
    )
    sys.exit(2)


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


# Java's Unicode classes, which Python's `re` lacks, as the ranges they cover in practice.
UNICODE_CLASSES = {
    r"\p{L}": r"a-zA-Z\u00c0-\uffff",
    r"\p{Z}": r" \u00a0\u2000-\u200a\u3000",
    r"\p{N}": r"0-9",
}


def matches(pattern, value):
    """Whether `value` matches the model's `pattern` whole. A pattern Python's `re` cannot read
    (Application Auto Scaling's "any XML character" classes written with UTF-16 surrogates, and
    \p{Print}) matches anything: those accept every string Ferry sends."""
    for java, python in UNICODE_CLASSES.items():
        pattern = pattern.replace(java, python)
    try:
        compiled = re.compile(pattern.removeprefix("^").removesuffix("$"))
    except re.error:
        return True
    return compiled.fullmatch(value) is not None


def strict_errors(value, shape, path):
    """Enum values, maximums and patterns, which ParamValidator leaves to the server."""
    errors = []
    if shape is None:
        return errors
    kind = shape.type_name
    meta = shape.metadata
    if kind == "structure" and isinstance(value, dict):
        for key, item in value.items():
            member = shape.members.get(key)
            if member is not None:
                errors += strict_errors(item, member, f"{path}.{key}")
    elif kind == "list" and isinstance(value, list):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} items, at most {meta['max']} allowed")
        for i, item in enumerate(value):
            errors += strict_errors(item, shape.member, f"{path}[{i}]")
    elif kind == "map" and isinstance(value, dict):
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} entries, at most {meta['max']} allowed")
        for key, item in value.items():
            errors += strict_errors(key, shape.key, f"{path} key {key!r}")
            errors += strict_errors(item, shape.value, f"{path}[{key!r}]")
    elif kind == "string" and isinstance(value, str):
        enum = shape.enum
        if enum and value not in enum:
            errors.append(f"{path}: {value!r} is not one of {', '.join(enum)}")
        if "max" in meta and len(value) > meta["max"]:
            errors.append(f"{path}: {len(value)} characters, at most {meta['max']} allowed")
        pattern = meta.get("pattern")
        if pattern and not matches(pattern, value):
            errors.append(f"{path}: {value!r} does not match the pattern {pattern}")
    elif kind in ("integer", "long", "double", "float") and isinstance(value, (int, float)):
        if not isinstance(value, bool) and "max" in meta and value > meta["max"]:
            errors.append(f"{path}: {value}, at most {meta['max']} allowed")
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
    session = botocore.session.get_session()
    validator = botocore.validate.ParamValidator()
    failed = False
    for i, doc in enumerate(docs):
        try:
            service, operation, params = doc["service"], doc["operation"], doc["params"]
            shape = session.get_service_model(service).operation_model(operation).input_shape
        except Exception as e:  # unknown service or operation, or a malformed document
            print(f"[{i}] cannot check {json.dumps(doc)[:200]}: {e!r}", file=sys.stderr)
            return 2
        label = f"[{i}] {service} {operation}"
        report = validator.validate(params, shape)
        errors = []
        if report.has_errors():
            errors += report.generate_report().splitlines()
        errors += strict_errors(params, shape, operation)
        for error in errors:
            print(f"{label}: {error}")
        failed = failed or bool(errors)
        if not errors:
            print(f"{label}: ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
