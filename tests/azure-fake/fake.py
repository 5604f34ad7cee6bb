#!/usr/bin/env python3
"""A fake Azure Resource Manager for Ferry's tests, strict about every request body it is sent.

    python3 fake.py --port PORT --specs DIR [--host 127.0.0.1] [--operation-polls N]
                    [--retry-after S] [--hang-seconds S] [--parent-pid PID]

It serves Azure Container Apps (Microsoft.App/containerApps and their revisions, Microsoft.App/jobs
and their executions, api-version 2026-01-01) and Azure Container Instances
(Microsoft.ContainerInstance/containerGroups, api-version 2026-05-01), keeps them in memory, and
finishes their long-running operations after N polls; job executions run to the outcome their
command decides. Every request body is checked against Microsoft's own Swagger definitions (DIR
is the azure-specs folder: a copy of Azure/azure-rest-api-specs' `specification/`), and so is
every answer it gives. Python standard library only. Behaviour, admin API (/fake/...) and what
is not modelled: README.md.
"""

import argparse
import base64
import copy
import hashlib
import json
import os
import re
import secrets
import sys
import threading
import time
import traceback
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, urlsplit

APP_API = "2026-01-01"
ACI_API = "2026-05-01"
RESOURCES_API = "2021-04-01"  # ResourceGroups_Get, for a cheap authenticated read
APP_DIR = "app/resource-manager/Microsoft.App/ContainerApps/stable/" + APP_API
ACI_DIR = ("containerinstance/resource-manager/Microsoft.ContainerInstance/ContainerInstance/"
           "stable/" + ACI_API)
APP_FILE = APP_DIR + "/ContainerApps.json"
REVISIONS_FILE = APP_DIR + "/ContainerAppsRevisions.json"
JOBS_FILE = APP_DIR + "/Jobs.json"
ACI_FILE = ACI_DIR + "/containerInstance.json"
COMMON_V5 = "common-types/resource-management/v5/types.json"

APP_TYPE = "Microsoft.App/containerApps"
REVISION_TYPE = "Microsoft.App/containerApps/revisions"
JOB_TYPE = "Microsoft.App/jobs"
EXECUTION_TYPE = "Microsoft.App/jobs/executions"
ACI_TYPE = "Microsoft.ContainerInstance/containerGroups"
STORAGE_TYPE = "Microsoft.App/managedEnvironments/storages"

# `ManagedEnvironmentStorage`, as ManagedEnvironmentsStorages.json (api-version 2026-01-01,
# Azure/azure-rest-api-specs commit 2a9d26b29f7f6b4596d6f58ebd9dde0b12e70fc2) defines it. That file
# is not among the shared definitions (SOURCE.md); the definition is written here as upstream has
# it, with its `$ref`s resolved from ContainerApps.json's folder, where it lives upstream.
# `AzureFileProperties.accountKey` is x-ms-secret: never answered.
STORAGE_SCHEMA = {
    "description": "Storage resource for managedEnvironment.",
    "type": "object",
    "allOf": [{"$ref": "../../../../../../common-types/resource-management/v5/types.json"
                       "#/definitions/ProxyResource"}],
    "properties": {"properties": {
        "description": "Storage properties",
        "type": "object",
        "properties": {
            "azureFile": {"$ref": "./CommonDefinitions.json#/definitions/AzureFileProperties"},
            "nfsAzureFile": {"$ref": "./CommonDefinitions.json#/definitions/"
                                     "NfsAzureFileProperties"},
        },
    }},
}
# The operations of STORAGE_SCHEMA: (request schema?, response schema by status).
STORAGE_OPERATIONS = {
    "ManagedEnvironmentsStorages_Get": (False, (200,)),
    "ManagedEnvironmentsStorages_CreateOrUpdate": (True, (200, 201)),
    "ManagedEnvironmentsStorages_Delete": (False, ()),
}

ARM_SCOPES = ("https://management.azure.com/.default", "https://management.core.windows.net//.default")
ANONYMOUS = "ferry-tests@azure-fake.example"
GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
API_VERSION = re.compile(r"\d{4}-\d{2}-\d{2}(-preview)?")
APP_NAME = re.compile(r"[a-z][a-z0-9-]{0,30}[a-z0-9]")
GROUP_NAME = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?")
INT_RANGE = {"int32": (-2**31, 2**31 - 1), "int64": (-2**63, 2**63 - 1)}
DOTNET = {"integer": "System.Int32", "number": "System.Double", "boolean": "System.Boolean",
          "string": "System.String", "array": "System.Collections.Generic.List`1",
          "object": "System.Object"}


# --- Errors ---------------------------------------------------------------------------------------


class ArmError(Exception):
    """An answer in ARM's error shape: {"error": {"code", "message", "target"?}}."""

    def __init__(self, http, code, message, target=None, headers=()):
        super().__init__(message)
        self.http = http
        self.code = code
        self.message = message
        self.target = target
        self.headers = list(headers)

    def body(self):
        error = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        return {"error": error}


def content_error(message, target):
    """400 InvalidRequestContent, as ARM answers a body its JSON deserializer refuses."""
    return ArmError(400, "InvalidRequestContent",
                    f"The request content was invalid and could not be deserialized: "
                    f"'{message}.'.", target)


FAULT_ERRORS = {
    400: ("BadRequest", "The request is invalid."),
    401: ("AuthenticationFailed", "Authentication failed."),
    403: ("AuthorizationFailed", "The client does not have authorization to perform action."),
    404: ("ResourceNotFound", "The resource was not found."),
    409: ("Conflict", "The request conflicts with the current state of the resource."),
    500: ("InternalServerError", "Encountered internal server error. Diagnostic information: "
                                 "timestamp '{now}', subscription id '{sub}', tracking id "
                                 "'{tracking}', request correlation id '{tracking}'."),
    502: ("BadGateway", "The gateway did not receive a response from 'Microsoft.App' within "
                        "the specified time period."),
    503: ("ServiceUnavailable", "The server (leased) is currently unable to handle the request "
                                "due to a temporary overloading or maintenance of the server."),
    504: ("GatewayTimeout", "The gateway did not receive a response from the resource provider "
                            "within the specified time period."),
}


def fault_error(fault, sub):
    if "throttled" in fault:
        seconds = fault["throttled"]
        return ArmError(429, "SubscriptionRequestsThrottled",
                        f"Number of requests for subscription '{sub}' and operation "
                        f"'{fault.get('operation', '*')}' exceeded the backend storage limit. "
                        f"Please try again after '{seconds}' seconds.",
                        headers=[("Retry-After", str(seconds))])
    status = fault["status"]
    if status == 429:
        return fault_error({"throttled": 1, "operation": fault.get("operation")}, sub)
    code, message = FAULT_ERRORS.get(status, ("InjectedFault", f"Injected fault: HTTP {status}."))
    message = message.format(now=now(), sub=sub, tracking=uuid.uuid4())
    return ArmError(status, code, message)


# --- The definitions ------------------------------------------------------------------------------


class Specs:
    """The Swagger files under DIR, loaded on first use, with `$ref`s resolved across files."""

    def __init__(self, root):
        self.root = os.path.abspath(root)
        self.files = {}
        for needed in (APP_FILE, REVISIONS_FILE, JOBS_FILE, ACI_FILE, COMMON_V5):
            self.load(os.path.join(self.root, needed))

    def load(self, path):
        path = os.path.normpath(path)
        if path not in self.files:
            with open(path, encoding="utf-8") as file:
                self.files[path] = json.load(file)
        return self.files[path]

    def path(self, relative):
        return os.path.normpath(os.path.join(self.root, relative))

    def resolve(self, ref, base):
        """(schema, file, definition name) that a `$ref` written in `base` names."""
        target, _, pointer = ref.partition("#")
        file = os.path.normpath(os.path.join(os.path.dirname(base), target)) if target else base
        node = self.load(file)
        name = None
        for part in [p for p in pointer.split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            if part not in node:
                raise KeyError(f"{ref} (from {base}) does not resolve")
            node = node[part]
            name = part
        return node, file, name

    def deref(self, schema, file, name=None):
        """Follows `$ref`s; the referencing schema's own readOnly, mutability and nullability
        still apply (Swagger 2.0 keeps such siblings)."""
        attrs = {}
        while "$ref" in schema:
            for key in ("readOnly", "x-ms-mutability", "x-nullable"):
                if key in schema and key not in attrs:
                    attrs[key] = schema[key]
            schema, file, name = self.resolve(schema["$ref"], file)
        for key in ("readOnly", "x-ms-mutability", "x-nullable"):
            if key in schema and key not in attrs:
                attrs[key] = schema[key]
        return schema, file, name, attrs

    def shape(self, schema, file):
        """An object schema with its allOf merged: (properties {name: (schema, file)},
        required, additionalProperties (True, (schema, file) or None), structured)."""
        properties, required, additional, structured = {}, set(), None, False
        for part in schema.get("allOf", []):
            sub, sub_file, _, _ = self.deref(part, file)
            p, r, a, s = self.shape(sub, sub_file)
            properties.update(p)
            required |= r
            additional = additional or a
            structured = structured or s
        if "properties" in schema:
            structured = True
            for name, sub in schema["properties"].items():
                properties[name] = (sub, file)
        required |= set(schema.get("required", []))
        extra = schema.get("additionalProperties")
        if extra is True or extra == {}:
            additional = True
        elif isinstance(extra, dict):
            additional = (extra, file)
        return properties, required, additional, structured

    def operation(self, operation_id):
        """(operation, file) of an operationId in the served files."""
        for relative in (APP_FILE, REVISIONS_FILE, JOBS_FILE, ACI_FILE):
            file = self.path(relative)
            for item in self.load(file)["paths"].values():
                for method, operation in item.items():
                    if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                        return operation, file
        raise KeyError(f"no operation {operation_id}")

    def definition(self, relative, name):
        """(schema, file) of `#/definitions/NAME` in a served file."""
        file = self.path(relative)
        return self.load(file)["definitions"][name], file

    def request_schema(self, operation_id):
        if operation_id in STORAGE_OPERATIONS:
            has_body = STORAGE_OPERATIONS[operation_id][0]
            return (STORAGE_SCHEMA, self.path(APP_FILE)) if has_body else (None, None)
        operation, file = self.operation(operation_id)
        for parameter in operation.get("parameters", []):
            parameter, param_file, _, _ = self.deref(parameter, file)
            if parameter.get("in") == "body":
                return parameter["schema"], param_file
        return None, None

    def response_schema(self, operation_id, status):
        if operation_id in STORAGE_OPERATIONS:
            with_body = STORAGE_OPERATIONS[operation_id][1]
            found = str(status) in map(str, with_body)
            return (STORAGE_SCHEMA, self.path(APP_FILE)) if found else (None, None)
        operation, file = self.operation(operation_id)
        response = operation["responses"].get(str(status))
        if response is None:
            response = operation["responses"].get("default")
        return (response.get("schema"), file) if response else (None, None)


class Checker:
    """Checks a JSON value against a schema, the way ARM's deserializer refuses a body: the first
    violation raises ArmError naming its path (`properties.template.containers[0].foo`).

    Modes: "create" and "update" (a PUT body: read-only properties refused, required ones
    enforced), "patch" (a merge patch: nothing required, null allowed), "response" (what the
    fake answers: read-only allowed)."""

    def __init__(self, specs):
        self.specs = specs

    def check(self, value, schema, file, mode, path="", immutable=None):
        schema, file, name, attrs = self.specs.deref(schema, file)
        if value is None:
            if mode == "patch" or attrs.get("x-nullable"):
                return
            raise content_error(f"Null is not a valid value here. Path '{path}'", path)
        kind = schema.get("type")
        if kind is None and ("properties" in schema or "allOf" in schema
                             or "additionalProperties" in schema):
            kind = "object"
        if kind == "object":
            self.check_object(value, schema, file, name, mode, path, immutable)
        elif kind == "array":
            if not isinstance(value, list):
                raise self.wrong_type(value, "array", name, path)
            for index, item in enumerate(value):
                self.check(item, schema.get("items", {}), file, mode, f"{path}[{index}]",
                           immutable)
        elif kind is not None:
            self.check_scalar(value, schema, kind, path)

    def check_object(self, value, schema, file, name, mode, path, immutable):
        if not isinstance(value, dict):
            raise self.wrong_type(value, "object", name, path)
        properties, required, additional, structured = self.specs.shape(schema, file)
        if not structured and additional is None:
            return  # a free-form object ("type": "object" and nothing else)
        for key, item in value.items():
            here = member_path(path, key)
            if key in properties:
                sub, sub_file = properties[key]
                _, _, _, attrs = self.specs.deref(sub, sub_file)
                mutability = attrs.get("x-ms-mutability")
                writing = mode in ("create", "update", "patch")
                if writing and attrs.get("readOnly"):
                    raise ArmError(400, "InvalidRequestContent",
                                   f"The request content was invalid: the property '{here}' is "
                                   f"read-only and cannot be set.", here)
                if writing and mutability is not None and "create" not in mutability \
                        and "update" not in mutability:
                    raise ArmError(400, "InvalidRequestContent",
                                   f"The request content was invalid: the property '{here}' "
                                   f"cannot be set.", here)
                if immutable is not None and mutability is not None \
                        and "update" not in mutability:
                    immutable.append(here)
                self.check(item, sub, sub_file, mode, here, immutable)
            elif additional is True:
                continue
            elif additional is not None:
                self.check(item, additional[0], additional[1], mode, here, immutable)
            else:
                raise content_error(f"Could not find member '{key}' on object of type "
                                    f"'{name or 'Object'}'. Path '{here}'", here)
        if mode == "patch":
            return
        for key in sorted(required):
            if key in value:
                continue
            sub, sub_file = properties.get(key, ({}, file))
            _, _, _, attrs = self.specs.deref(sub, sub_file)
            if mode != "response" and attrs.get("readOnly"):
                continue
            if key == "location" and path == "":
                raise ArmError(400, "LocationRequired",
                               "The location property is required for this definition.",
                               "location")
            raise content_error(f"Required property '{key}' not found in JSON. Path '{path}'",
                                member_path(path, key))

    def check_scalar(self, value, schema, kind, path):
        fmt = schema.get("format")
        if kind == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                raise self.wrong_type(value, "integer", None, path, fmt)
            low, high = INT_RANGE.get(fmt, INT_RANGE["int64"])
            if not low <= value <= high:
                raise content_error(f"Value was either too large or too small for an "
                                    f"{'Int32' if fmt == 'int32' else 'Int64'}. Path '{path}'",
                                    path)
        elif kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise self.wrong_type(value, "number", None, path)
        elif kind == "boolean":
            if not isinstance(value, bool):
                raise self.wrong_type(value, "boolean", None, path)
        elif kind == "string":
            if not isinstance(value, str):
                raise self.wrong_type(value, "string", None, path)
            self.check_string(value, schema, fmt, path)
        if kind in ("integer", "number"):
            if "minimum" in schema and value < schema["minimum"] or \
                    "maximum" in schema and value > schema["maximum"]:
                raise ArmError(400, "InvalidRequestContent",
                               f"The value {value} of '{path}' is outside "
                               f"[{schema.get('minimum', '')}, {schema.get('maximum', '')}].",
                               path)
        if "enum" in schema and value not in schema["enum"]:
            enum = schema.get("x-ms-enum", {}).get("name", "String")
            raise content_error(f"Error converting value {json.dumps(value)} to type '{enum}': "
                                f"it is not one of {', '.join(map(str, schema['enum']))}. "
                                f"Path '{path}'", path)

    @staticmethod
    def check_string(value, schema, fmt, path):
        def bad(what):
            return content_error(f"Could not convert string to {what}: {value}. Path '{path}'",
                                 path)
        if fmt == "date-time" and not DATE_TIME.fullmatch(value):
            raise bad("DateTime")
        if fmt == "uuid" and not GUID.fullmatch(value):
            raise bad("Guid")
        if fmt == "arm-id" and not value.startswith("/"):
            raise bad("ResourceIdentifier")
        if fmt == "uri" and not re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", value):
            raise bad("Uri")
        if fmt == "byte":
            try:
                base64.b64decode(value, validate=True)
            except ValueError:
                raise bad("Byte[]") from None
        limits = (schema.get("minLength", 0), schema.get("maxLength", len(value)))
        if not limits[0] <= len(value) <= limits[1]:
            raise ArmError(400, "InvalidRequestContent",
                           f"The length of '{path}' must be between {limits[0]} and {limits[1]}.",
                           path)
        if "pattern" in schema and not re.search(schema["pattern"], value):
            raise ArmError(400, "InvalidRequestContent",
                           f"The value '{value}' of '{path}' does not match the pattern "
                           f"'{schema['pattern']}'.", path)

    @staticmethod
    def wrong_type(value, kind, name, path, fmt=None):
        target = DOTNET[kind]
        if kind == "integer" and fmt == "int64":
            target = "System.Int64"
        if kind == "object" and name:
            target = name
        return content_error(f"Error converting value {json.dumps(value)} to type '{target}'. "
                             f"Path '{path}'", path)


def member_path(path, key):
    if re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$-]*", key):
        return f"{path}.{key}" if path else key
    return f"{path}['{key}']"


def lookup(value, path):
    """The value at a path `member_path` made, or a unique sentinel when absent."""
    for part in re.findall(r"\['([^']*)'\]|\[(\d+)\]|([^.\[\]]+)", path):
        key, index, plain = part
        if index:
            if not isinstance(value, list) or int(index) >= len(value):
                return ABSENT
            value = value[int(index)]
        else:
            key = key or plain
            if not isinstance(value, dict) or key not in value:
                return ABSENT
            value = value[key]
    return value


ABSENT = object()


# --- Helpers --------------------------------------------------------------------------------------


def now():
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z"


def region(location):
    """ARM's normalized location name: "East US" -> "eastus"."""
    return re.sub(r"\s+", "", location).lower()


def digest(*parts, size=8):
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:size]


def address(prefix, *parts):
    raw = hashlib.sha256("/".join(parts).encode()).digest()
    return f"{prefix}.{raw[0]}.{raw[1]}.{max(raw[2], 1)}"


def suffix():
    return "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(7))


def merge_patch(target, patch):
    """RFC 7396 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def canonical(value):
    return json.dumps(value, sort_keys=True)


# --- State ----------------------------------------------------------------------------------------


class Operation:
    """An Azure-AsyncOperation: done after `remaining` more observations."""

    def __init__(self, sub, kind, key, action, polls, location, targets=()):
        self.id = str(uuid.uuid4())
        self.sub = sub
        self.kind = kind  # "app", "job" or "group"
        self.key = key  # the Resource it changes; the Execution a "start" starts
        # "put" or "delete" (of a Resource); "start", "stop" or "stopAll" (of executions)
        self.action = action
        self.targets = list(targets)  # the Executions a "stop" or "stopAll" stops
        self.remaining = polls
        self.status = "InProgress"
        self.error = None
        self.start = now()
        self.end = None
        self.location = location

    def namespace(self):
        return "Microsoft.ContainerInstance" if self.kind == "group" else "Microsoft.App"

    def api(self):
        return ACI_API if self.kind == "group" else APP_API

    def status_path(self):
        kind = {"app": "containerappOperationStatuses", "job": "containerappsjobOperationStatuses",
                "group": "operations"}[self.kind]
        return (f"/subscriptions/{self.sub}/providers/{self.namespace()}/locations/"
                f"{region(self.location)}/{kind}/{self.id}")

    def result_path(self):
        kind = {"app": "containerappOperationResults", "job": "containerappsjobOperationResults",
                "group": "operationResults"}[self.kind]
        return (f"/subscriptions/{self.sub}/providers/{self.namespace()}/locations/"
                f"{region(self.location)}/{kind}/{self.id}")

    def finish(self, status, error=None):
        if self.status == "InProgress":
            self.status = status
            self.error = error
            self.end = now()
            self.remaining = 0

    def render(self):
        body = {"id": self.status_path(), "name": self.id, "status": self.status,
                "startTime": self.start}
        if self.end:
            body["endTime"] = self.end
        if self.error:
            body["error"] = self.error
        return body


class Revision:
    def __init__(self, name, template):
        self.name = name
        self.template = template
        self.created = now()
        self.provisioning = "Provisioning"
        self.running = "Processing"
        self.health = "None"
        self.error = None
        self.active = True
        self.ready = False
        self.last_active = None


class Execution:
    """A run of a job: the template it runs and how far it got."""

    def __init__(self, job, name, template, outcome, retry_limit):
        self.job = job
        self.name = name
        self.template = template
        self.outcome = outcome  # ("succeeds",), ("fails", exit code) or ("runs",)
        self.retry_limit = retry_limit
        self.start = now()
        self.end = None
        self.status = "Running"
        self.observations = 0
        self.operation = None  # the pending "start" or "stop" Operation
        self.stopping = False

    def arm_id(self):
        return f"{self.job.arm_id()}/executions/{self.name}"


class Resource:
    """A container app, job or container group, with what it was last sent and its status."""

    def __init__(self, kind, sub, rg, name, spec, who):
        self.kind = kind
        self.sub = sub
        self.rg = rg
        self.name = name
        self.spec = spec
        self.created = now()
        self.modified = self.created
        self.created_by = who
        self.modified_by = who
        self.operation = None  # the pending Operation
        self.deleting = False
        self.state = "InProgress"
        # container apps
        self.revisions = {}
        self.latest = None
        self.latest_ready = None
        self.pending_revision = None
        # jobs: their executions by name, oldest first
        self.executions = {}
        # container groups
        self.outcome = None  # None (pending), "running", "missing", "crashing"
        self.outcome_before = False  # whether it existed before the pending operation
        self.restarts = 0
        self.started = None
        self.observations = 0

    def arm_id(self):
        provider = {"app": APP_TYPE, "job": JOB_TYPE, "group": ACI_TYPE}[self.kind]
        return f"/subscriptions/{self.sub}/resourceGroups/{self.rg}/providers/{provider}/{self.name}"


class Fake:
    def __init__(self, specs, polls, retry_after, hang):
        self.lock = threading.Lock()
        self.specs = specs
        self.checker = Checker(specs)
        self.polls = polls
        self.retry_after = retry_after
        self.hang = hang
        self.reset()

    def reset(self):
        self.resources = {}
        self.storages = {}  # (sub, rg, environment, name), lower-case -> the storage as sent
        self.operations = {}
        self.requests = []
        self.faults = []
        self.images = {}  # (subscription or None, image) -> "missing" | "crashing" | "ok"
        self.auth = {}  # subscription or None -> bool
        self.clients = {}  # client id -> {"tenant", "secrets"}
        self.tokens = {}  # access token -> {"clientId", "tenant", "expired"}

    # --- admin state

    def take_fault(self, operation, sub):
        for fault in self.faults:
            if fault["operation"] in (operation, "*") and fault.get("subscription") in (None, sub):
                fault["times"] -= 1
                if fault["times"] <= 0:
                    self.faults.remove(fault)
                return fault["fault"]
        return None

    def records(self, sub, since=0):
        chosen = [r for r in self.requests if sub is None or r["subscription"] == sub]
        return chosen[since:]

    def clear(self, sub):
        self.requests = [r for r in self.requests if sub is not None and r["subscription"] != sub]
        self.faults = [f for f in self.faults if sub is not None and f.get("subscription") != sub]

    def behaviour(self, sub, image):
        return self.images.get((sub, image)) or self.images.get((None, image)) or "ok"

    def requires_token(self, sub):
        return self.auth.get(sub, self.auth.get(None, False))

    # --- authentication

    def authenticate(self, sub, header):
        """The client id of a call's bearer token; 401 when the subscription requires one and
        the call has none that is valid."""
        token = header[7:].strip() if header and header.lower().startswith("bearer ") else None
        known = self.tokens.get(token) if token else None
        if not self.requires_token(sub):
            return known["clientId"] if known else None

        def refused(code, message, error):
            challenge = (f'Bearer authorization_uri="https://login.microsoftonline.com/common", '
                         f'error="{error}", error_description="{message}"')
            return ArmError(401, code, message, headers=[("WWW-Authenticate", challenge)])

        if not header:
            raise refused("AuthenticationFailed",
                          "Authentication failed. The 'Authorization' header is missing.",
                          "invalid_token")
        if known is None:
            raise refused("InvalidAuthenticationToken", "The access token is invalid.",
                          "invalid_token")
        if known["expired"]:
            raise refused("ExpiredAuthenticationToken",
                          f"The access token expiry UTC time '{known['expiredAt']}' is earlier "
                          f"than current UTC time '{now()}'.", "invalid_token")
        return known["clientId"]

    def issue_token(self, tenant, form):
        """Microsoft Entra ID's client-credentials grant: (status, body)."""
        def refused(status, error, code, text):
            return status, {"error": error, "error_description": f"AADSTS{code}: {text}",
                            "error_codes": [code], "timestamp": now(),
                            "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4())}

        grant = form.get("grant_type")
        if grant != "client_credentials":
            return refused(400, "unsupported_grant_type", 70003,
                           f"The app requested an unsupported grant type '{grant}'.")
        client_id = form.get("client_id", "")
        client = self.clients.get(client_id)
        if client is None or client["tenant"] != tenant:
            return refused(400, "unauthorized_client", 700016,
                           f"Application with identifier '{client_id}' was not found in the "
                           f"directory '{tenant}'.")
        if form.get("client_secret") not in client["secrets"]:
            return refused(401, "invalid_client", 7000215,
                           "Invalid client secret provided. Ensure the secret being sent in the "
                           "request is the client secret value, not the client secret ID, for "
                           f"a secret added to app '{client_id}'.")
        if form.get("scope") not in ARM_SCOPES:
            return refused(400, "invalid_scope", 70011,
                           f"The provided request must include a 'scope' input parameter. The "
                           f"provided value for the input parameter 'scope' is not valid: "
                           f"'{form.get('scope')}'.")
        expires = int(time.time()) + 3599
        claims = {"aud": "https://management.azure.com/", "tid": tenant, "appid": client_id,
                  "oid": str(uuid.uuid4()), "iat": int(time.time()), "exp": expires}
        token = ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=")
                         for part in ({"typ": "JWT", "alg": "none"}, claims)) + "."
        token += secrets.token_urlsafe(16)
        self.tokens[token] = {"clientId": client_id, "tenant": tenant, "expired": False}
        return 200, {"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                     "access_token": token}

    # --- resources

    def find(self, kind, sub, rg, name):
        return self.resources.get((kind, sub.lower(), rg.lower(), name.lower()))

    def store(self, resource):
        key = (resource.kind, resource.sub.lower(), resource.rg.lower(), resource.name.lower())
        self.resources[key] = resource

    def drop(self, resource):
        key = (resource.kind, resource.sub.lower(), resource.rg.lower(), resource.name.lower())
        self.resources.pop(key, None)

    def listed(self, kind, sub, rg=None):
        return [r for (k, s, g, _), r in sorted(self.resources.items())
                if k == kind and s == sub.lower() and (rg is None or g == rg.lower())]

    def start_operation(self, resource, action, location):
        if resource.operation is not None:
            resource.operation.finish("Canceled", {"code": "OperationCanceled",
                                                   "message": "The operation was canceled."})
        operation = Operation(resource.sub, resource.kind, resource, action, self.polls, location)
        self.operations[operation.id] = operation
        resource.operation = operation
        if self.polls == 0:
            self.finish(resource)
        return operation

    def observe(self, resource):
        """One look at a resource or its operation: moves a pending operation on, and a
        crash-looping container on by one restart."""
        resource.observations += 1
        operation = resource.operation
        if operation is not None and operation.status == "InProgress":
            operation.remaining -= 1
            if operation.remaining <= 0:
                self.finish(resource)
            elif resource.kind == "group" and not resource.deleting and resource.state == "Pending":
                resource.state = "Updating" if resource.outcome_before else "Creating"
        elif resource.kind == "group" and resource.outcome == "crashing":
            resource.restarts += 1

    def finish(self, resource):
        operation = resource.operation
        if resource.deleting:
            operation.finish("Succeeded")
            self.drop(resource)
        elif resource.kind == "app":
            self.finish_app(resource, operation)
        elif resource.kind == "job":
            resource.state = "Succeeded"
            operation.finish("Succeeded")
        else:
            self.finish_group(resource, operation)
        resource.operation = None

    # --- container apps

    def finish_app(self, app, operation):
        revision = app.revisions.get(app.pending_revision) if app.pending_revision else None
        app.pending_revision = None
        if revision is None:
            app.state = "Succeeded"
            operation.finish("Succeeded")
            return
        images = [c.get("image", "") for c in revision.template.get("containers", [])]
        behaviours = [self.behaviour(app.sub, image) for image in images]
        if "missing" in behaviours:
            container = revision.template["containers"][behaviours.index("missing")]
            image = container.get("image", "")
            last = image.rsplit("/", 1)[-1]
            tag = last.rsplit(":", 1)[1] if ":" in last else "latest"
            detail = (f"The following field(s) are either invalid or missing. Field "
                      f"'template.containers.{container.get('name', '')}.image' is invalid with "
                      f"details: 'Invalid value: \"{image}\": GET https:?????: MANIFEST_UNKNOWN: "
                      f"manifest tagged by \"{tag}\" is not found; map[Tag:{tag}]';.")
            revision.provisioning, revision.running, revision.health = "Failed", "Failed", "Unhealthy"
            revision.error = detail
            app.state = "Failed"
            operation.finish("Failed", {
                "code": "ContainerAppOperationError",
                "message": f"Failed to provision revision for container app '{app.name}'. "
                           f"Error details: {detail}"})
        elif "crashing" in behaviours:
            container = revision.template["containers"][behaviours.index("crashing")]
            revision.provisioning, revision.running, revision.health = \
                "Provisioned", "Degraded", "Unhealthy"
            revision.error = (f"Container '{container.get('name', '')}' of revision "
                              f"'{revision.name}' terminated with exit code 1 and is restarting "
                              f"(CrashLoopBackOff).")
            app.state = "Succeeded"
            operation.finish("Succeeded")
        else:
            revision.provisioning, revision.running, revision.health = \
                "Provisioned", "Running", "Healthy"
            revision.ready = True
            app.latest_ready = revision.name
            app.state = "Succeeded"
            operation.finish("Succeeded")
        self.settle_active(app)

    def settle_active(self, app):
        """Single mode keeps one revision active: the latest ready one, else the latest."""
        if mode_of(app.spec) != "Single":
            return
        keep = app.latest_ready or app.latest
        for revision in app.revisions.values():
            was = revision.active
            revision.active = revision.name == keep or revision.name == app.pending_revision
            if was and not revision.active:
                revision.last_active = now()

    def put_app(self, sub, rg, name, body, base, who, patch=False):
        existing = self.find("app", sub, rg, name)
        if existing is not None and existing.deleting:
            raise in_progress(name, "deleted")
        if not APP_NAME.fullmatch(name) or "--" in name:
            raise ArmError(400, "ContainerAppInvalidName",
                           f"Invalid ContainerApp name '{name}'. A name must consist of lower "
                           f"case alphanumeric characters or '-', start with an alphabetic "
                           f"character, and end with an alphanumeric character and cannot have "
                           f"'--'. The length must not be more than 32 characters.")
        schema, file = self.specs.request_schema("ContainerApps_CreateOrUpdate")
        immutable = []
        if patch:
            if existing is None:
                raise not_found(APP_TYPE, name, rg)
            self.checker.check(body, schema, file, "patch")
            body = merge_patch(existing.spec, body)
        self.checker.check(body, schema, file, "update" if existing else "create",
                           immutable=immutable)
        if existing is not None and existing.operation is not None:
            raise in_progress(name, "updated")
        check_immutable(existing, body, immutable)
        template = app_template(body)
        check_app_rules(body, template)
        app = existing or Resource("app", sub, rg, name, body, who)
        revision_name = None
        current = app.revisions.get(app.latest) if app.latest else None
        if current is None or canonical(current.template) != canonical(template):
            revision_suffix = body["properties"]["template"].get("revisionSuffix")
            revision_name = f"{name}--{revision_suffix or suffix()}"
            if revision_name in app.revisions:
                raise ArmError(400, "ContainerAppRevisionSuffixConflict",
                               f"Revision '{revision_name}' already exists with a different "
                               f"template. Use a different revisionSuffix.",
                               "properties.template.revisionSuffix")
        check_traffic(app, body, revision_name)
        app.spec = body
        app.modified, app.modified_by = now(), who
        app.state = "InProgress"
        if revision_name:
            app.revisions[revision_name] = Revision(revision_name, template)
            app.latest = revision_name
            app.pending_revision = revision_name
        elif not current.ready:
            # The same template again: the service tries the revision that never got ready
            # once more (an image pushed since, a crash fixed by configuration).
            retried = Revision(current.name, current.template)
            retried.created = current.created
            app.revisions[current.name] = retried
            app.pending_revision = current.name
        self.store(app)
        operation = self.start_operation(app, "put", body["location"])
        status = 201 if existing is None else 200
        headers = async_headers(base, operation, self.retry_after)
        if patch:
            return 202, None, headers + [("Location", base + operation.result_path()
                                          + f"?api-version={APP_API}")]
        return status, self.render_app(app, base), headers

    def render_app(self, app, base):
        spec = copy.deepcopy(app.spec)
        properties = spec.setdefault("properties", {})
        environment = properties.get("environmentId") or properties.get("managedEnvironmentId")
        properties["environmentId"] = properties["managedEnvironmentId"] = environment
        domain = app_domain(environment, spec["location"])
        configuration = properties.setdefault("configuration", {})
        configuration.setdefault("activeRevisionsMode", "Single")
        configuration.setdefault("maxInactiveRevisions", 100)
        ingress = configuration.get("ingress")
        if ingress is not None:
            ingress.setdefault("external", False)
            ingress.setdefault("transport", "auto")
            ingress.setdefault("allowInsecure", False)
            ingress.setdefault("traffic", [{"weight": 100, "latestRevision": True}])
            ingress["fqdn"] = f"{app.name}.{'' if ingress['external'] else 'internal.'}{domain}"
        latest = app.revisions.get(app.latest) if app.latest else None
        properties["template"] = copy.deepcopy(latest.template) if latest else app_template(spec)
        properties.update({
            "provisioningState": "Deleting" if app.deleting else app.state,
            "runningStatus": "Running",
            "latestRevisionName": app.latest or "",
            "latestRevisionFqdn": f"{app.latest}.{domain}" if ingress and app.latest else "",
            "customDomainVerificationId": digest(app.sub, size=64).upper(),
            "outboundIpAddresses": [address("20", environment, str(n)) for n in range(3)],
            "eventStreamEndpoint": f"https://{region(spec['location'])}.azurecontainerapps.dev/"
                                   f"subscriptions/{app.sub}/resourceGroups/{app.rg}/"
                                   f"containerApps/{app.name}/eventstream",
        })
        if app.latest_ready:
            properties["latestReadyRevisionName"] = app.latest_ready
        spec.update({"id": app.arm_id(), "name": app.name, "type": APP_TYPE,
                     "systemData": system_data(app)})
        return spec

    def render_revision(self, app, revision):
        weights = traffic_weights(app)
        domain = app_domain(environment_of(app.spec), app.spec["location"])
        ingress = app.spec.get("properties", {}).get("configuration", {}).get("ingress")
        scale = revision.template.get("scale", {})
        serving = revision.active and revision.running == "Running"
        properties = {
            "createdTime": revision.created,
            "template": copy.deepcopy(revision.template),
            "active": revision.active,
            "replicas": max(scale.get("minReplicas", 0), 1) if serving else 0,
            "trafficWeight": weights.get(revision.name, 0),
            "healthState": revision.health,
            "provisioningState": revision.provisioning,
            "runningState": "Stopped" if revision.ready and not revision.active
            else revision.running,
        }
        if ingress is not None:
            properties["fqdn"] = f"{revision.name}.{domain}"
        if revision.last_active and not revision.active:
            properties["lastActiveTime"] = revision.last_active
        if revision.error:
            properties["provisioningError"] = revision.error
        return {"id": f"{app.arm_id()}/revisions/{revision.name}", "name": revision.name,
                "type": REVISION_TYPE, "properties": properties}

    # --- managed environments' storages

    def storage_key(self, m):
        return (m["sub"].lower(), m["rg"].lower(), m["env"].lower(), m["storage"].lower())

    def put_storage(self, m, body):
        """ManagedEnvironmentsStorages_CreateOrUpdate: not long-running; the environment itself
        is not modelled (every name has one)."""
        schema, file = self.specs.request_schema("ManagedEnvironmentsStorages_CreateOrUpdate")
        self.checker.check(body, schema, file, "create")
        properties = body.get("properties") or {}
        if ("azureFile" in properties) == ("nfsAzureFile" in properties):
            raise ArmError(400, "ManagedEnvironmentStorageInvalid",
                           "Set exactly one of properties.azureFile and properties.nfsAzureFile.",
                           "properties")
        key = self.storage_key(m)
        existing = key in self.storages
        self.storages[key] = {"names": (m["sub"], m["rg"], m["env"], m["storage"]),
                              "spec": copy.deepcopy(body)}
        return (200 if existing else 201), self.render_storage(self.storages[key]), []

    def render_storage(self, storage):
        sub, rg, env, name = storage["names"]
        body = copy.deepcopy(storage["spec"])
        body.get("properties", {}).get("azureFile", {}).pop("accountKey", None)  # x-ms-secret
        body.update({"id": f"/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.App/"
                           f"managedEnvironments/{env}/storages/{name}",
                     "name": name, "type": STORAGE_TYPE})
        return body

    # --- container groups

    def put_group(self, sub, rg, name, body, base, who):
        existing = self.find("group", sub, rg, name)
        if existing is not None and existing.deleting:
            raise in_progress(name, "deleted", group=True)
        if not GROUP_NAME.fullmatch(name) or "--" in name:
            raise ArmError(400, "ContainerGroupNameInvalid",
                           f"The container group name '{name}' is invalid. A container group "
                           f"name must contain no more than 63 characters and must match the "
                           f"regex '[a-z0-9]([-a-z0-9]*[a-z0-9])?' (e.g. 'my-name').")
        schema, file = self.specs.request_schema("ContainerGroups_CreateOrUpdate")
        immutable = []
        self.checker.check(body, schema, file, "update" if existing else "create",
                           immutable=immutable)
        if "location" not in body:
            raise ArmError(400, "LocationRequired",
                           "The location property is required for this definition.", "location")
        if existing is not None and existing.operation is not None:
            raise in_progress(name, "updated", group=True)
        check_immutable(existing, body, immutable)
        check_group_rules(body)
        group = existing or Resource("group", sub, rg, name, body, who)
        group.spec = body
        group.modified, group.modified_by = now(), who
        group.state = "Pending"
        group.outcome_before = existing is not None
        group.outcome, group.restarts, group.started = None, 0, None
        self.store(group)
        operation = self.start_operation(group, "put", body["location"])
        headers = async_headers(base, operation, self.retry_after)
        headers.append(("Location", base + operation.result_path() + f"?api-version={ACI_API}"))
        return (201 if existing is None else 200), self.render_group(group), headers

    def finish_group(self, group, operation):
        containers = group.spec["properties"]["containers"]
        behaviours = [self.behaviour(group.sub, c["properties"].get("image", ""))
                      for c in containers]
        group.started = now()
        if "missing" in behaviours:
            image = containers[behaviours.index("missing")]["properties"]["image"]
            group.outcome = "missing"
            group.state = "Failed"
            operation.finish("Failed", {
                "code": "InaccessibleImage",
                "message": f"The image '{image}' in container group '{group.name}' is not "
                           f"accessible. Please check the image and registry credential."})
        else:
            group.outcome = "crashing" if "crashing" in behaviours else "running"
            group.state = "Succeeded"
            operation.finish("Succeeded")

    def render_group(self, group):
        spec = copy.deepcopy(group.spec)
        properties = spec["properties"]
        hide_group_secrets(properties)
        properties.setdefault("osType", "Linux")
        properties.setdefault("restartPolicy", "Always")
        properties.setdefault("sku", "Standard")
        properties["provisioningState"] = "Deleting" if group.deleting else group.state
        location = region(spec["location"])
        ip = properties.get("ipAddress")
        if ip is not None and group.outcome is not None:
            ip["ip"] = address("20" if ip.get("type") == "Public" else "10", group.arm_id())
            if ip.get("dnsNameLabel"):
                ip["fqdn"] = f"{ip['dnsNameLabel']}.{location}.azurecontainer.io"
        group_events = []
        states = []
        for container in properties["containers"]:
            view, state = self.container_view(group, container)
            states.append(state)
            if view is not None:
                container["properties"]["instanceView"] = view
        if group.outcome is None:
            state = "Pending"
        elif group.outcome == "missing" or "Failed" in states:
            state = "Failed"
        else:
            state = "Running"
        properties["instanceView"] = {"events": group_events, "state": state}
        spec.update({"id": group.arm_id(), "name": group.name, "type": ACI_TYPE})
        return spec

    def container_view(self, group, container):
        """(instanceView, state) of one container, from the group's outcome and its image."""
        if group.outcome is None:
            return None, "Waiting"
        image = container["properties"].get("image", "")
        behaviour = self.behaviour(group.sub, image)
        start = group.started

        def event(name, kind, message, count=1):
            return {"count": count, "firstTimestamp": start, "lastTimestamp": now(),
                    "name": name, "message": message, "type": kind}

        pulling = event("Pulling", "Normal", f'pulling image "{image}"')
        if behaviour == "missing" or group.outcome == "missing":
            failed = behaviour == "missing"
            return {
                "restartCount": 0,
                "currentState": {"state": "Waiting",
                                 "detailStatus": "ErrImagePull" if failed else ""},
                "events": [pulling] + ([event(
                    "Failed", "Warning",
                    f'Failed to pull image "{image}": rpc error: code = NotFound desc = failed to '
                    f'pull and unpack image "{image}": not found')] if failed else []),
            }, "Waiting"
        pulled = event("Pulled", "Normal", f'Successfully pulled image "{image}"')
        if behaviour == "crashing":
            if group.spec["properties"].get("restartPolicy", "Always") == "Never":
                return {
                    "restartCount": 0,
                    "currentState": {"state": "Terminated", "startTime": start, "exitCode": 1,
                                     "finishTime": now(), "detailStatus": "Error"},
                    "events": [pulling, pulled, event("Started", "Normal", "Started container")],
                }, "Failed"
            return {
                "restartCount": group.restarts,
                "currentState": {"state": "Waiting",
                                 "detailStatus": "CrashLoopBackOff: Back-off restarting failed"},
                "previousState": {"state": "Terminated", "startTime": start, "exitCode": 1,
                                  "finishTime": now(), "detailStatus": "Error"},
                "events": [pulling, pulled,
                           event("Started", "Normal", "Started container", group.restarts + 1),
                           event("BackOff", "Warning", "Back-off restarting failed container",
                                 max(group.restarts, 1))],
            }, "Waiting"
        return {
            "restartCount": 0,
            "currentState": {"state": "Running", "startTime": start, "detailStatus": ""},
            "events": [pulling, pulled, event("Started", "Normal", "Started container")],
        }, "Running"

    # --- jobs

    def put_job(self, sub, rg, name, body, base, who, patch=False):
        existing = self.find("job", sub, rg, name)
        if existing is not None and existing.deleting:
            raise job_in_progress(name, "deleted")
        if not APP_NAME.fullmatch(name) or "--" in name:
            raise ArmError(400, "ContainerAppJobInvalidName",
                           f"Invalid Container Apps Job name '{name}'. A name must consist of "
                           f"lower case alphanumeric characters or '-', start with an alphabetic "
                           f"character, and end with an alphanumeric character and cannot have "
                           f"'--'. The length must not be more than 32 characters.")
        schema, file = self.specs.request_schema("Jobs_CreateOrUpdate")
        immutable = []
        if patch:
            if existing is None:
                raise not_found(JOB_TYPE, name, rg)
            patch_schema, patch_file = self.specs.request_schema("Jobs_Update")
            self.checker.check(body, patch_schema, patch_file, "patch")
            body = merge_patch(existing.spec, body)
        self.checker.check(body, schema, file, "update" if existing else "create",
                           immutable=immutable)
        if existing is not None and existing.operation is not None:
            raise job_in_progress(name, "updated")
        check_immutable(existing, body, immutable)
        check_job_rules(body)
        job = existing or Resource("job", sub, rg, name, body, who)
        job.spec = body
        job.modified, job.modified_by = now(), who
        job.state = "InProgress"
        self.store(job)
        operation = self.start_operation(job, "put", body["location"])
        if patch:
            return 202, None, lro_headers(base, operation, self.retry_after)
        return (201 if existing is None else 200), self.render_job(job), \
            async_headers(base, operation, self.retry_after)

    def render_job(self, job):
        spec = copy.deepcopy(job.spec)
        properties = spec.setdefault("properties", {})
        configuration = properties.get("configuration", {})
        if configuration.get("triggerType") == "Manual":
            configuration.setdefault("manualTriggerConfig", {})
        for key in TRIGGER_CONFIGS.values():
            if key in configuration:
                configuration[key].setdefault("replicaCompletionCount", 1)
                configuration[key].setdefault("parallelism", 1)
        for secret in configuration.get("secrets", []):
            secret.pop("value", None)  # x-ms-secret: only Jobs_ListSecrets shows values
        environment = properties.get("environmentId", "")
        properties.update({
            "template": job_template(spec),
            "provisioningState": "Deleting" if job.deleting else job.state,
            "outboundIpAddresses": [address("20", environment, str(n)) for n in range(3)],
            "eventStreamEndpoint": f"https://{region(spec['location'])}.azurecontainerapps.dev/"
                                   f"subscriptions/{job.sub}/resourceGroups/{job.rg}/jobs/"
                                   f"{job.name}/eventstream",
        })
        spec.update({"id": job.arm_id(), "name": job.name, "type": JOB_TYPE,
                     "systemData": system_data(job)})
        return spec

    def execution_template(self, template):
        """A job template as an execution shows it: its containers and init containers, with
        only what JobExecutionContainer has."""
        schema, file = self.specs.definition(JOBS_FILE, "JobExecutionContainer")
        keys = self.specs.shape(schema, file)[0]
        return {key: [{k: v for k, v in container.items() if k in keys}
                      for container in template[key]]
                for key in ("containers", "initContainers") if key in template}

    def new_execution(self, job, name, template):
        """An execution of `job` running `template`, Running from now on."""
        configuration = job.spec["properties"]["configuration"]
        execution = Execution(job, name, template,
                              run_outcome(template, lambda image: self.behaviour(job.sub, image)),
                              configuration.get("replicaRetryLimit", 0))
        job.executions[name] = execution
        self.settle(execution)
        return execution

    def start_job(self, job, raw, base):
        """Jobs_Start: an execution with the job's template, or with the containers and init
        containers the body gives instead (each list as it was sent)."""
        if job.deleting or job.operation is not None:
            raise job_in_progress(job.name, "started")
        template = self.execution_template(job_template(job.spec))
        if raw.strip():
            body = body_of(raw, "JobExecutionTemplate")
            schema, file = self.specs.request_schema("Jobs_Start")
            self.checker.check(body, schema, file, "create")
            template.update(copy.deepcopy(body))
            check_containers(template, "")
        name = f"{job.name}-{suffix()}"
        while name in job.executions:
            name = f"{job.name}-{suffix()}"
        execution = self.new_execution(job, name, template)
        operation = Operation(job.sub, "job", execution, "start", self.polls, job.spec["location"])
        self.operations[operation.id] = operation
        execution.operation = operation
        if self.polls == 0:
            self.complete(operation)
        return 202, execution_base(execution), lro_headers(base, operation, self.retry_after)

    def fire(self, job):
        """A Schedule job's run at its cron time: named after the minute, like the platform's
        (`JOB-27944454`, minutes since 1970), with the job's template."""
        minute = int(time.time()) // 60
        while f"{job.name}-{minute}" in job.executions:
            minute += 1
        return self.new_execution(job, f"{job.name}-{minute}",
                                  self.execution_template(job_template(job.spec)))

    def stop(self, job, executions, action, base):
        """Jobs_StopExecution ("stop") and Jobs_StopMultipleExecutions ("stopAll"): the running
        ones among `executions` are Stopped when the operation is done."""
        running = [e for e in executions if e.status == "Running"]
        if not running:
            return 200, ({"value": []} if action == "stopAll" else None), []
        operation = Operation(job.sub, "job", job, action, self.polls, job.spec["location"],
                              targets=running)
        self.operations[operation.id] = operation
        for execution in running:
            pending = execution.operation
            if pending is not None and pending.action == "start":
                self.complete(pending)  # the run did start
            execution.operation = operation
            execution.stopping = True
        if self.polls == 0:
            self.complete(operation)
        return 202, None, lro_headers(base, operation, self.retry_after)

    def observe_execution(self, execution):
        """One look at an execution: moves its pending operation on, and its run."""
        if execution.operation is not None and execution.operation.status == "InProgress":
            self.tick(execution.operation)
        if execution.status == "Running" and not execution.stopping:
            execution.observations += 1
            self.settle(execution)

    def settle(self, execution):
        """Ends a run observed long enough: `polls` observations per attempt, and a failing
        replica is tried 1 + replicaRetryLimit times."""
        kind = execution.outcome[0]
        if kind == "runs" or execution.status != "Running":
            return
        attempts = 1 if kind == "succeeds" else 1 + max(execution.retry_limit, 0)
        if execution.observations >= self.polls * attempts:
            execution.status = "Succeeded" if kind == "succeeds" else "Failed"
            execution.end = now()

    def tick(self, operation):
        """One observation of an execution's operation."""
        if operation.status != "InProgress":
            return
        operation.remaining -= 1
        if operation.remaining <= 0:
            self.complete(operation)

    def complete(self, operation):
        """Finishes an execution's operation: a start once its run is under way (the run goes
        on), a stop by ending the runs it stops."""
        for execution in operation.targets:
            if execution.status == "Running":
                execution.status = "Stopped"
                execution.end = now()
            execution.stopping = False
        for execution in operation.targets or [operation.key]:
            if execution.operation is operation:
                execution.operation = None
        operation.finish("Succeeded")

    # --- deletes and operations

    def delete(self, kind, sub, rg, name, base):
        resource = self.find(kind, sub, rg, name)
        if resource is None:
            return 204, None, []
        operation = resource.operation
        if not resource.deleting:
            resource.deleting = True
            operation = self.start_operation(resource, "delete", resource.spec["location"])
        return 202, None, lro_headers(base, operation, self.retry_after)

    def operation_status(self, sub, operation_id, kind):
        operation = self.operations.get(operation_id)
        if operation is None or operation.sub.lower() != sub.lower() or operation.kind != kind:
            raise ArmError(404, "OperationNotFound",
                           f"The operation '{operation_id}' could not be found.")
        if operation.status == "InProgress":
            if operation.action in ("put", "delete"):
                self.observe(operation.key)
            else:
                self.tick(operation)
        return operation

    def operation_result(self, sub, operation_id, kind, base):
        operation = self.operation_status(sub, operation_id, kind)
        if operation.status == "InProgress":
            return 202, None, [("Location", base + operation.result_path()
                                + f"?api-version={operation.api()}"),
                               ("Retry-After", str(self.retry_after))]
        if operation.status == "Failed":
            error = operation.error
            raise ArmError(400, error["code"], error["message"])
        if operation.status == "Canceled":
            raise ArmError(409, "OperationCanceled", "The operation was canceled.")
        if operation.action == "delete":
            return 204, None, []
        if operation.action == "start":
            return 200, execution_base(operation.key), []
        if operation.action == "stop":
            return 200, None, []
        if operation.action == "stopAll":
            return 200, {"value": [render_execution(e) for e in operation.targets]}, []
        resource = operation.key
        if self.find(resource.kind, resource.sub, resource.rg, resource.name) is not resource:
            return 204, None, []
        render = {"app": lambda r: self.render_app(r, base), "job": self.render_job,
                  "group": self.render_group}[kind]
        return 200, render(resource), []


def mode_of(spec):
    configuration = spec.get("properties", {}).get("configuration", {})
    return configuration.get("activeRevisionsMode", "Single")


def environment_of(spec):
    properties = spec.get("properties", {})
    return properties.get("environmentId") or properties.get("managedEnvironmentId") or ""


def app_domain(environment, location):
    name = environment.rstrip("/").rsplit("/", 1)[-1].lower() or "env"
    return f"{name}-{digest(environment)}.{region(location)}.azurecontainerapps.io"


def app_template(spec):
    """The template as Container Apps keeps it: with the defaults it fills in."""
    template = copy.deepcopy(spec.get("properties", {}).get("template", {}))
    for container in template.get("containers", []):
        resources = container.setdefault("resources", {})
        resources.setdefault("cpu", 0.5)
        resources.setdefault("memory", "1Gi")
        resources.setdefault("ephemeralStorage", "2Gi")
    template.setdefault("scale", {}).setdefault("maxReplicas", 10)
    return template


def check_app_rules(spec, template):
    """What Container Apps refuses beyond the schema."""
    def invalid(message, target):
        return ArmError(400, "ContainerAppInvalidSchema",
                        f"Invalid request body for container app. {message}", target)

    if not environment_of(spec):
        raise invalid("The container app needs an environment: set properties.environmentId.",
                      "properties.environmentId")
    containers = template.get("containers", [])
    if not containers:
        raise invalid("At least one container is required.", "properties.template.containers")
    for index, container in enumerate(containers):
        for key in ("name", "image"):
            if not container.get(key):
                raise invalid(f"Container {index} has no {key}.",
                              f"properties.template.containers[{index}].{key}")


def check_traffic(app, spec, new_revision):
    """Multiple mode: weights add up to 100 and name revisions that exist (Single mode ignores
    the weights: all traffic goes to its one active revision)."""
    if mode_of(spec) != "Multiple":
        return
    ingress = spec.get("properties", {}).get("configuration", {}).get("ingress") or {}
    traffic = ingress.get("traffic")
    if not traffic:
        return
    total = sum(entry.get("weight", 0) for entry in traffic)
    if total != 100:
        raise ArmError(400, "ContainerAppInvalidTrafficWeight",
                       f"The traffic weights add up to {total}; they must add up to 100.",
                       "properties.configuration.ingress.traffic")
    for index, entry in enumerate(traffic):
        name = entry.get("revisionName")
        if entry.get("latestRevision") and name:
            raise ArmError(400, "ContainerAppInvalidTrafficWeight",
                           "A traffic weight names either a revision or the latest revision, "
                           "not both.", f"properties.configuration.ingress.traffic[{index}]")
        if name and name not in app.revisions and name != new_revision:
            raise ArmError(400, "ContainerAppRevisionNotFound",
                           f"Revision '{name}' was not found in container app '{app.name}'.",
                           f"properties.configuration.ingress.traffic[{index}].revisionName")


def traffic_weights(app):
    if mode_of(app.spec) == "Single":
        keep = app.latest_ready
        return {keep: 100} if keep else {}
    ingress = app.spec.get("properties", {}).get("configuration", {}).get("ingress") or {}
    weights = {}
    for entry in ingress.get("traffic") or [{"weight": 100, "latestRevision": True}]:
        target = app.latest_ready if entry.get("latestRevision") else entry.get("revisionName")
        if target:
            weights[target] = weights.get(target, 0) + entry.get("weight", 0)
    return weights


def check_group_rules(spec):
    containers = spec["properties"]["containers"]
    if not containers:
        raise ArmError(400, "NoContainersInContainerGroup",
                       "The container group must contain at least one container.",
                       "properties.containers")
    for index, container in enumerate(containers):
        properties = container["properties"]
        if not properties.get("image"):
            raise ArmError(400, "InvalidContainerImage",
                           f"The container '{container['name']}' has no image.",
                           f"properties.containers[{index}].properties.image")
        if "resources" not in properties:
            raise ArmError(400, "InvalidContainerResources",
                           f"The container '{container['name']}' has no resource requests.",
                           f"properties.containers[{index}].properties.resources")


TRIGGER_CONFIGS = {"Manual": "manualTriggerConfig", "Schedule": "scheduleTriggerConfig",
                   "Event": "eventTriggerConfig"}
MONTHS = {name: n + 1 for n, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))}
WEEKDAYS = {name: n for n, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
CRON_FIELDS = ((0, 59, {}), (0, 23, {}), (1, 31, {}), (1, 12, MONTHS), (0, 6, WEEKDAYS))
EXIT = re.compile(r"exit (\d+)")


def cron_valid(expression):
    """A five-field cron expression: `*`, values, ranges, lists and steps within each field's
    bounds; month and weekday names (`JAN`, `MON`) too."""
    fields = expression.split()
    if len(fields) != len(CRON_FIELDS):
        return False
    for text, (low, high, names) in zip(fields, CRON_FIELDS):
        for item in text.split(","):
            base, slash, step = item.partition("/")
            if slash and not (step.isdigit() and int(step) > 0):
                return False
            if base == "*":
                continue
            values = []
            for end in base.split("-"):
                value = names.get(end.lower(), int(end) if end.isdigit() else None)
                if value is None or not low <= value <= high:
                    return False
                values.append(value)
            if len(values) > 2 or values != sorted(values):
                return False
    return True


def job_template(spec):
    """The template as Container Apps keeps a job's: with the resources it fills in."""
    template = copy.deepcopy(spec.get("properties", {}).get("template", {}))
    for container in template.get("initContainers", []) + template.get("containers", []):
        resources = container.setdefault("resources", {})
        resources.setdefault("cpu", 0.5)
        resources.setdefault("memory", "1Gi")
    return template


def check_containers(template, path):
    """At least one container; every container and init container with a name and an image."""
    def invalid(message, target):
        return ArmError(400, "ContainerAppInvalidSchema",
                        f"Invalid request body for container apps job. {message}", target)

    if not template.get("containers"):
        raise invalid("At least one container is required.", f"{path}containers")
    for key in ("initContainers", "containers"):
        for index, container in enumerate(template.get(key, [])):
            for field in ("name", "image"):
                if not container.get(field):
                    raise invalid(f"{key} {index} has no {field}.",
                                  f"{path}{key}[{index}].{field}")


def check_job_rules(spec):
    """What Container Apps refuses in a job beyond the schema."""
    def invalid(message, target):
        return ArmError(400, "ContainerAppInvalidSchema",
                        f"Invalid request body for container apps job. {message}", target)

    properties = spec.get("properties", {})
    if not properties.get("environmentId"):
        raise invalid("The job needs an environment: set properties.environmentId.",
                      "properties.environmentId")
    configuration = properties.get("configuration")
    if configuration is None:
        raise invalid("The job needs a configuration with its triggerType and replicaTimeout.",
                      "properties.configuration")
    path = "properties.configuration"
    trigger = configuration["triggerType"]
    for kind, key in TRIGGER_CONFIGS.items():
        if key in configuration and kind != trigger:
            raise invalid(f"{key} is set but triggerType is {trigger}.", f"{path}.{key}")
    if trigger != "Manual" and TRIGGER_CONFIGS[trigger] not in configuration:
        raise invalid(f"A {trigger} job needs {TRIGGER_CONFIGS[trigger]}.",
                      f"{path}.{TRIGGER_CONFIGS[trigger]}")
    if trigger == "Schedule":
        cron = configuration["scheduleTriggerConfig"]["cronExpression"]
        if not cron_valid(cron):
            raise ArmError(400, "InvalidCronExpression",
                           f"Given CRON expression - '{cron}' is not valid, please visit "
                           f"https://learn.microsoft.com/en-us/rest/api/containerapps/preview/"
                           f"jobs/create-or-update?tabs=HTTP#scheduletriggerconfig for more "
                           f"information.", f"{path}.scheduleTriggerConfig.cronExpression")
    least = [("replicaTimeout", 1), ("replicaRetryLimit", 0)]
    for key, low in least:
        if configuration.get(key, low) < low:
            raise invalid(f"{key} must be at least {low}.", f"{path}.{key}")
    config = configuration.get(TRIGGER_CONFIGS[trigger], {})
    for key in ("replicaCompletionCount", "parallelism"):
        if config.get(key, 1) < 1:
            raise invalid(f"{key} must be at least 1.", f"{path}.{TRIGGER_CONFIGS[trigger]}.{key}")
    check_containers(properties.get("template", {}), "properties.template.")


def run_outcome(template, behaviour):
    """What the replicas of an execution running `template` do, by the convention all Ferry
    fakes share (each container's command and args joined with spaces): ("fails", N) when one
    says `exit N` (N > 0) or its image is Missing or Crashing (N = 1), else ("runs",) when one
    says `sleep infinity`, else ("succeeds",)."""
    forever = False
    for container in template.get("initContainers", []) + template.get("containers", []):
        line = " ".join(container.get("command", []) + container.get("args", []))
        match = EXIT.search(line)
        if match and int(match.group(1)) > 0:
            return ("fails", int(match.group(1)))
        if behaviour(container.get("image", "")) in ("missing", "crashing"):
            return ("fails", 1)
        forever = forever or "sleep infinity" in line
    return ("runs",) if forever else ("succeeds",)


def execution_base(execution):
    """JobExecutionBase: what Jobs_Start answers."""
    return {"id": execution.arm_id(), "name": execution.name}


def render_execution(execution):
    properties = {"status": execution.status, "startTime": execution.start,
                  "template": copy.deepcopy(execution.template)}
    if execution.end:
        properties["endTime"] = execution.end
    return {"id": execution.arm_id(), "name": execution.name, "type": EXECUTION_TYPE,
            "properties": properties}


def job_in_progress(name, doing):
    return ArmError(409, "ContainerAppOperationInProgress",
                    f"Cannot modify a container apps job '{name}' because there is a pending "
                    f"operation in progress; it cannot be {doing} now. Please retry later.")


def check_immutable(existing, body, immutable):
    """x-ms-mutability without "update": the value may not change once created."""
    if existing is None:
        return
    for path in immutable:
        old, new = lookup(existing.spec, path), lookup(body, path)
        if path == "location":
            if region(old) != region(new):
                raise ArmError(409, "InvalidResourceLocation",
                               f"The resource '{existing.name}' already exists in location "
                               f"'{region(old)}' in resource group '{existing.rg}'. A resource "
                               f"with the same name cannot be created in location "
                               f"'{region(new)}'. Please select a new resource name.",
                               "location")
        elif old is not ABSENT and old != new:
            raise ArmError(400, "InvalidRequestContent",
                           f"The property '{path}' cannot be changed after the resource is "
                           f"created.", path)


def in_progress(name, doing, group=False):
    if group:
        return ArmError(409, "ContainerGroupTransitioning",
                        f"The container group '{name}' is still transitioning, please retry "
                        f"later.")
    return ArmError(409, "ContainerAppOperationInProgress",
                    f"Cannot modify a container app '{name}' because there is a pending "
                    f"operation in progress; it cannot be {doing} now. Please retry later.")


def not_found(resource_type, name, rg):
    return ArmError(404, "ResourceNotFound",
                    f"The Resource '{resource_type}/{name}' under resource group '{rg}' was not "
                    f"found. For more details please go to https://aka.ms/ARMResourceNotFoundFix")


def system_data(resource):
    def kind(who):
        return "User" if who == ANONYMOUS else "Application"
    return {"createdBy": resource.created_by, "createdByType": kind(resource.created_by),
            "createdAt": resource.created, "lastModifiedBy": resource.modified_by,
            "lastModifiedByType": kind(resource.modified_by), "lastModifiedAt": resource.modified}


def async_headers(base, operation, retry_after):
    url = base + operation.status_path() + f"?api-version={operation.api()}"
    return [("Azure-AsyncOperation", url), ("Retry-After", str(retry_after))]


def lro_headers(base, operation, retry_after):
    """async_headers and the operation's Location (final-state-via: location)."""
    return async_headers(base, operation, retry_after) + [
        ("Location", base + operation.result_path() + f"?api-version={operation.api()}")]


# --- Routing --------------------------------------------------------------------------------------

SUB = r"/subscriptions/(?P<sub>[^/]+)"
RG = SUB + r"/resourcegroups/(?P<rg>[^/]+)"
APPS = RG + r"/providers/microsoft\.app/containerapps"
GROUPS = RG + r"/providers/microsoft\.containerinstance/containergroups"
JOBS = RG + r"/providers/microsoft\.app/jobs"
STORAGES = RG + (r"/providers/microsoft\.app/managedenvironments/(?P<env>[^/]+)/storages/"
                 r"(?P<storage>[^/]+)")
EXECUTION = r"/executions/(?P<execution>[^/]+)"
NAME = r"/(?P<name>[^/]+)"
OPERATION_ID = r"/(?P<operation>[^/]+)"
APP_LOC = SUB + r"/providers/microsoft\.app/locations/(?P<loc>[^/]+)"
ACI_LOC = SUB + r"/providers/microsoft\.containerinstance/locations/(?P<loc>[^/]+)"

# (method, path, operationId, api-version, handler name)
ROUTES = [
    ("GET", RG, "ResourceGroups_Get", RESOURCES_API, "get_resource_group"),
    ("GET", SUB + r"/providers/microsoft\.app/containerapps", "ContainerApps_ListBySubscription",
     APP_API, "list_apps"),
    ("GET", APPS, "ContainerApps_ListByResourceGroup", APP_API, "list_apps"),
    ("GET", APPS + NAME, "ContainerApps_Get", APP_API, "get_app"),
    ("PUT", APPS + NAME, "ContainerApps_CreateOrUpdate", APP_API, "put_app_route"),
    ("PATCH", APPS + NAME, "ContainerApps_Update", APP_API, "patch_app_route"),
    ("DELETE", APPS + NAME, "ContainerApps_Delete", APP_API, "delete_app"),
    ("GET", APPS + NAME + r"/revisions", "ContainerAppsRevisions_ListRevisions", APP_API,
     "list_revisions"),
    ("GET", APPS + NAME + r"/revisions/(?P<revision>[^/]+)", "ContainerAppsRevisions_GetRevision",
     APP_API, "get_revision"),
    ("GET", APP_LOC + r"/containerappoperationstatuses" + OPERATION_ID, "OperationStatus_Get",
     APP_API, "app_operation_status"),
    ("GET", APP_LOC + r"/containerappoperationresults" + OPERATION_ID, "OperationResult_Get",
     APP_API, "app_operation_result"),
    ("GET", SUB + r"/providers/microsoft\.app/jobs", "Jobs_ListBySubscription", APP_API,
     "list_jobs"),
    ("GET", JOBS, "Jobs_ListByResourceGroup", APP_API, "list_jobs"),
    ("GET", JOBS + NAME, "Jobs_Get", APP_API, "get_job"),
    ("PUT", JOBS + NAME, "Jobs_CreateOrUpdate", APP_API, "put_job_route"),
    ("PATCH", JOBS + NAME, "Jobs_Update", APP_API, "patch_job_route"),
    ("DELETE", JOBS + NAME, "Jobs_Delete", APP_API, "delete_job"),
    ("POST", JOBS + NAME + r"/start", "Jobs_Start", APP_API, "start_job_route"),
    ("POST", JOBS + NAME + r"/stop", "Jobs_StopMultipleExecutions", APP_API, "stop_executions"),
    ("POST", JOBS + NAME + r"/listsecrets", "Jobs_ListSecrets", APP_API, "list_job_secrets"),
    ("GET", JOBS + NAME + r"/executions", "JobsExecutions_List", APP_API, "list_executions"),
    ("GET", JOBS + NAME + EXECUTION, "JobExecution", APP_API, "get_execution"),
    ("POST", JOBS + NAME + EXECUTION + r"/stop", "Jobs_StopExecution", APP_API,
     "stop_execution"),
    ("GET", APP_LOC + r"/containerappsjoboperationstatuses" + OPERATION_ID, "OperationStatus_Get",
     APP_API, "job_operation_status"),
    ("GET", APP_LOC + r"/containerappsjoboperationresults" + OPERATION_ID, "OperationResult_Get",
     APP_API, "job_operation_result"),
    ("GET", STORAGES, "ManagedEnvironmentsStorages_Get", APP_API, "get_storage"),
    ("PUT", STORAGES, "ManagedEnvironmentsStorages_CreateOrUpdate", APP_API, "put_storage_route"),
    ("DELETE", STORAGES, "ManagedEnvironmentsStorages_Delete", APP_API, "delete_storage"),
    ("GET", SUB + r"/providers/microsoft\.containerinstance/containergroups", "ContainerGroups_List",
     ACI_API, "list_groups"),
    ("GET", GROUPS, "ContainerGroups_ListByResourceGroup", ACI_API, "list_groups"),
    ("GET", GROUPS + NAME, "ContainerGroups_Get", ACI_API, "get_group"),
    ("PUT", GROUPS + NAME, "ContainerGroups_CreateOrUpdate", ACI_API, "put_group_route"),
    ("DELETE", GROUPS + NAME, "ContainerGroups_Delete", ACI_API, "delete_group"),
    ("GET", ACI_LOC + r"/operations" + OPERATION_ID, "OperationStatus_Get", ACI_API,
     "group_operation_status"),
    ("GET", ACI_LOC + r"/operationresults" + OPERATION_ID, "OperationResult_Get", ACI_API,
     "group_operation_result"),
]
COMPILED = [(m, re.compile(p, re.IGNORECASE), o, a, h) for m, p, o, a, h in ROUTES]
NAMESPACES = {"microsoft.app": APP_API, "microsoft.containerinstance": ACI_API}
TOKEN_PATH = re.compile(r"/(?P<tenant>[^/]+)/oauth2/v2\.0/token")


def route(method, path):
    """(operationId, api-version, handler, match) of an ARM request; operationId "Unknown"
    when nothing serves it."""
    for route_method, pattern, operation, api, handler in COMPILED:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return operation, api, handler, match
    return "Unknown", None, None, None


def body_of(raw, type_name="ResourceDefinition"):
    """A request body that must be a JSON object."""
    if not raw.strip():
        raise content_error("The request content was empty", "")
    try:
        body = json.loads(raw)
    except ValueError as error:
        raise content_error(f"Unexpected character encountered while parsing value: "
                            f"{error}", "") from None
    if not isinstance(body, dict):
        raise content_error(f"Error converting value {json.dumps(body)} to type "
                            f"'{type_name}'. Path ''", "")
    return body


class Api:
    """The handlers of the served operations, called with the lock held."""

    def __init__(self, fake, base, who, query=()):
        self.fake = fake
        self.base = base
        self.who = who
        self.query = query

    @staticmethod
    def body_of(raw):
        return body_of(raw)

    def get_resource_group(self, m, raw):
        """Resource groups exist implicitly: every name answers, in the location of a resource
        it holds, else westeurope."""
        held = [resource for kind in ("app", "job", "group")
                for resource in self.fake.listed(kind, m["sub"], m["rg"])]
        location = next((region(r.spec["location"]) for r in held
                         if r.spec and r.spec.get("location")), "westeurope")
        return 200, {"id": f"/subscriptions/{m['sub']}/resourceGroups/{m['rg']}",
                     "name": m["rg"], "type": "Microsoft.Resources/resourceGroups",
                     "location": location, "properties": {"provisioningState": "Succeeded"}}, []

    def list_apps(self, m, raw):
        apps = self.fake.listed("app", m["sub"], m.groupdict().get("rg"))
        return 200, {"value": [self.fake.render_app(a, self.base) for a in apps]}, []

    def app(self, m):
        app = self.fake.find("app", m["sub"], m["rg"], m["name"])
        if app is None:
            raise not_found(APP_TYPE, m["name"], m["rg"])
        return app

    def get_app(self, m, raw):
        app = self.app(m)
        self.fake.observe(app)
        app = self.app(m)  # a delete may have finished
        return 200, self.fake.render_app(app, self.base), []

    def put_app_route(self, m, raw):
        return self.fake.put_app(m["sub"], m["rg"], m["name"], self.body_of(raw), self.base,
                                 self.who)

    def patch_app_route(self, m, raw):
        return self.fake.put_app(m["sub"], m["rg"], m["name"], self.body_of(raw), self.base,
                                 self.who, patch=True)

    def delete_app(self, m, raw):
        return self.fake.delete("app", m["sub"], m["rg"], m["name"], self.base)

    def list_revisions(self, m, raw):
        app = self.app(m)
        return 200, {"value": [self.fake.render_revision(app, r)
                               for r in app.revisions.values()]}, []

    def get_revision(self, m, raw):
        app = self.app(m)
        revision = next((r for name, r in app.revisions.items()
                         if name.lower() == m["revision"].lower()), None)
        if revision is None:
            raise ArmError(404, "ContainerAppRevisionNotFound",
                           f"Revision '{m['revision']}' not found in container app "
                           f"'{app.name}'.")
        return 200, self.fake.render_revision(app, revision), []

    def app_operation_status(self, m, raw):
        operation = self.fake.operation_status(m["sub"], m["operation"], "app")
        return 200, operation.render(), self.retry(operation)

    def app_operation_result(self, m, raw):
        return self.fake.operation_result(m["sub"], m["operation"], "app", self.base)

    def list_groups(self, m, raw):
        groups = self.fake.listed("group", m["sub"], m.groupdict().get("rg"))
        return 200, {"value": [listed_group(self.fake.render_group(g)) for g in groups]}, []

    def group(self, m):
        group = self.fake.find("group", m["sub"], m["rg"], m["name"])
        if group is None:
            raise not_found(ACI_TYPE, m["name"], m["rg"])
        return group

    def get_group(self, m, raw):
        self.fake.observe(self.group(m))
        return 200, self.fake.render_group(self.group(m)), []

    def put_group_route(self, m, raw):
        return self.fake.put_group(m["sub"], m["rg"], m["name"], self.body_of(raw), self.base,
                                   self.who)

    def delete_group(self, m, raw):
        return self.fake.delete("group", m["sub"], m["rg"], m["name"], self.base)

    def group_operation_status(self, m, raw):
        operation = self.fake.operation_status(m["sub"], m["operation"], "group")
        return 200, operation.render(), self.retry(operation)

    def group_operation_result(self, m, raw):
        return self.fake.operation_result(m["sub"], m["operation"], "group", self.base)

    def list_jobs(self, m, raw):
        jobs = self.fake.listed("job", m["sub"], m.groupdict().get("rg"))
        return 200, {"value": [self.fake.render_job(j) for j in jobs]}, []

    def job(self, m):
        job = self.fake.find("job", m["sub"], m["rg"], m["name"])
        if job is None:
            raise not_found(JOB_TYPE, m["name"], m["rg"])
        return job

    def get_job(self, m, raw):
        self.fake.observe(self.job(m))
        return 200, self.fake.render_job(self.job(m)), []  # a delete may have finished

    def put_job_route(self, m, raw):
        return self.fake.put_job(m["sub"], m["rg"], m["name"], self.body_of(raw), self.base,
                                 self.who)

    def patch_job_route(self, m, raw):
        return self.fake.put_job(m["sub"], m["rg"], m["name"], self.body_of(raw), self.base,
                                 self.who, patch=True)

    def delete_job(self, m, raw):
        return self.fake.delete("job", m["sub"], m["rg"], m["name"], self.base)

    def get_storage(self, m, raw):
        storage = self.fake.storages.get(self.fake.storage_key(m))
        if storage is None:
            raise not_found(STORAGE_TYPE, m["storage"], m["rg"])
        return 200, self.fake.render_storage(storage), []

    def put_storage_route(self, m, raw):
        return self.fake.put_storage(m, self.body_of(raw))

    def delete_storage(self, m, raw):
        """Synchronous: 200 when it was there, 204 when not."""
        gone = self.fake.storages.pop(self.fake.storage_key(m), None)
        return (200 if gone is not None else 204), None, []

    def start_job_route(self, m, raw):
        return self.fake.start_job(self.job(m), raw, self.base)

    def list_job_secrets(self, m, raw):
        secrets_ = self.job(m).spec["properties"].get("configuration", {}).get("secrets", [])
        return 200, {"value": copy.deepcopy(secrets_)}, []

    def execution(self, m):
        job = self.job(m)
        execution = next((e for name, e in job.executions.items()
                          if name.lower() == m["execution"].lower()), None)
        if execution is None:
            raise not_found(f"{JOB_TYPE}/{job.name}/executions", m["execution"], m["rg"])
        return job, execution

    def list_executions(self, m, raw):
        """Newest first; each listed execution is observed once, as by a GET of it."""
        if any(name == "$filter" for name, _ in self.query):
            raise ArmError(501, "NotImplemented",
                           "azure-fake does not implement $filter on job executions.")
        executions = list(self.job(m).executions.values())
        for execution in executions:
            self.fake.observe_execution(execution)
        return 200, {"value": [render_execution(e) for e in reversed(executions)]}, []

    def get_execution(self, m, raw):
        _, execution = self.execution(m)
        self.fake.observe_execution(execution)
        return 200, render_execution(execution), []

    def stop_execution(self, m, raw):
        job, execution = self.execution(m)
        return self.fake.stop(job, [execution], "stop", self.base)

    def stop_executions(self, m, raw):
        job = self.job(m)
        return self.fake.stop(job, list(job.executions.values()), "stopAll", self.base)

    def job_operation_status(self, m, raw):
        operation = self.fake.operation_status(m["sub"], m["operation"], "job")
        return 200, operation.render(), self.retry(operation)

    def job_operation_result(self, m, raw):
        return self.fake.operation_result(m["sub"], m["operation"], "job", self.base)

    def retry(self, operation):
        if operation.status == "InProgress":
            return [("Retry-After", str(self.fake.retry_after))]
        return []


def hide_group_secrets(properties):
    """What Container Instances never answers: x-ms-secret values (an environment variable's
    `secureValue`, an Azure Files volume's `storageAccountKey`) and the files of a secret volume,
    answered as `"secret": {}` (ContainerGroupsCreateOrUpdate.json's 200 shows both)."""
    for container in properties.get("containers", []) + properties.get("initContainers", []):
        for variable in container.get("properties", {}).get("environmentVariables", []):
            variable.pop("secureValue", None)
    for volume in properties.get("volumes", []):
        if isinstance(volume.get("azureFile"), dict):
            volume["azureFile"].pop("storageAccountKey", None)
        if "secret" in volume:
            volume["secret"] = {}


def listed_group(group):
    """A container group as ContainerGroups_List shows it: without instance views."""
    properties = group["properties"]
    properties.pop("instanceView", None)
    for container in properties["containers"]:
        container["properties"].pop("instanceView", None)
    return group


def check_api_version(query, api):
    versions = [value for name, value in query if name == "api-version"]
    if not versions:
        raise ArmError(400, "MissingApiVersionParameter",
                       "The api-version query parameter (?api-version=) is required for all "
                       "requests.")
    version = versions[0]
    if not API_VERSION.fullmatch(version):
        raise ArmError(400, "InvalidApiVersionParameter",
                       f"The api-version '{version}' is invalid. The supported versions are "
                       f"'{api}'.")
    if version != api:
        raise ArmError(400, "NoRegisteredProviderFound",
                       f"No registered resource provider found for location 'global' and API "
                       f"version '{version}' for this type. The supported api-versions are "
                       f"'{api}'.")


def unrouted(method, path):
    """The ARM error for a request no route serves."""
    match = re.match(r"/subscriptions/[^/]+(/resourcegroups/[^/]+)?/providers/([^/]+)/([^/]+)",
                     path, re.IGNORECASE)
    if match is None:
        return ArmError(404, "InvalidRequestUri" if path.startswith("/subscriptions") else
                        "NotFound", f"The request URI '{path}' is not valid.")
    namespace, resource_type = match.group(2), match.group(3)
    if namespace.lower() not in NAMESPACES:
        return ArmError(400, "InvalidResourceNamespace",
                        f"The resource namespace '{namespace}' is invalid.")
    known = {"microsoft.app": ("containerapps", "jobs", "locations", "managedenvironments"),
             "microsoft.containerinstance": ("containergroups", "locations")}
    if resource_type.lower() not in known[namespace.lower()]:
        return ArmError(400, "InvalidResourceType",
                        f"The resource type '{resource_type}' could not be found in the "
                        f"namespace '{namespace}' for api version "
                        f"'{NAMESPACES[namespace.lower()]}'.")
    return ArmError(501, "NotImplemented", f"azure-fake does not implement {method} {path}.")


# --- HTTP -----------------------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "azure-fake"

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PATCH(self):
        self.handle_any("PATCH")

    def do_DELETE(self):
        self.handle_any("DELETE")

    def do_PUT(self):
        self.handle_any("PUT")

    def log_request(self, code="-", size="-"):
        pass  # handle_any logs one line per request

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def handle_any(self, method):
        fake = self.server.fake
        split = urlsplit(self.path)
        path = unquote(split.path)
        query = parse_qsl(split.query, keep_blank_values=True)
        raw = self.read_body()
        if path.startswith("/fake/"):
            status, body, headers = admin(fake, method, path, query, raw)
        elif TOKEN_PATH.fullmatch(path):
            status, body, headers = self.token(fake, method, path, query, raw)
        else:
            status, body, headers = self.arm(fake, method, path, query, raw)
        if status is None:  # a lost or timed-out answer: no answer at all
            print(f"{method} {self.path} -> (no answer)", file=sys.stderr, flush=True)
            self.close_connection = True
            return
        print(f"{method} {self.path} -> {status}", file=sys.stderr, flush=True)
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-ms-request-id", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(payload)

    def base(self):
        return f"http://{self.headers.get('Host') or '%s:%d' % self.server.server_address[:2]}"

    def record(self, operation, method, path, query, raw, sub):
        return {"operation": operation, "httpMethod": method, "path": path,
                "query": [[name, value] for name, value in query], "body": recorded_body(raw),
                "subscription": sub, "clientId": None, "fault": None,
                "atUs": time.time_ns() // 1000}

    def token(self, fake, method, path, query, raw):
        tenant = TOKEN_PATH.fullmatch(path)["tenant"]
        form = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        record = self.record("Token", method, path, query, None, None)
        record["clientId"] = form.get("client_id")
        record["body"] = {k: v for k, v in form.items() if k != "client_secret"}
        with fake.lock:
            if method != "POST":
                status, body = 405, {"error": "invalid_request",
                                     "error_description": "AADSTS900561: The endpoint only "
                                                          "accepts POST requests."}
            else:
                status, body = fake.issue_token(tenant, form)
            record["status"] = status
            fake.requests.append(record)
        return status, body, [("Cache-Control", "no-store")]

    def arm(self, fake, method, path, query, raw):
        operation, api, handler, match = route(method, path)
        sub_match = re.match(r"/subscriptions/([^/]+)", path, re.IGNORECASE)
        sub = sub_match.group(1) if sub_match else None
        record = self.record(operation, method, path, query, raw, sub)
        headers = []
        with fake.lock:
            fault = fake.take_fault(operation, sub)
            record["fault"] = fault
            if fault == "timeout":
                record["status"] = None
                fake.requests.append(record)
        if fault == "timeout":
            time.sleep(fake.hang)  # the lock is free meanwhile; then no answer at all
            return None, None, []
        with fake.lock:
            try:
                if isinstance(fault, dict):
                    raise fault_error(dict(fault, operation=operation), sub)
                record["clientId"] = fake.authenticate(sub, self.headers.get("Authorization"))
                if sub is not None and not GUID.fullmatch(sub):
                    raise ArmError(400, "InvalidSubscriptionId",
                                   f"The provided subscription identifier '{sub}' is malformed "
                                   f"or invalid.")
                if handler is None:
                    raise unrouted(method, path)
                check_api_version(query, api)
                api_handlers = Api(fake, self.base(), record["clientId"] or ANONYMOUS, query)
                status, body, headers = getattr(api_handlers, handler)(match, raw)
                if body is not None:
                    self.check_answer(fake, operation, status, body)
            except ArmError as error:
                status, body, headers = error.http, error.body(), error.headers
            except Exception as error:  # a bug of the fake: say so loudly
                traceback.print_exc()
                status, body, headers = 500, ArmError(
                    500, "AzureFakeFailed", f"azure-fake failed: {error!r}").body(), []
            record["status"] = None if fault == "lost" else status
            fake.requests.append(record)
        if fault == "lost":
            return None, None, []
        return status, body, headers

    @staticmethod
    def check_answer(fake, operation, status, body):
        """Every answer the fake gives must fit the definitions too: a misfit is its own bug."""
        if operation in ("OperationStatus_Get",):
            schema, file = {"$ref": "#/definitions/OperationStatusResult"}, \
                fake.specs.path(COMMON_V5)
        elif operation in ("OperationResult_Get", "ResourceGroups_Get"):
            return  # ResourceGroups_Get: Microsoft.Resources' definitions are not in azure-specs
        elif (operation, status) == ("Jobs_Start", 202):
            # Jobs.json declares no body for 202; the service names the execution in it all
            # the same (az CLI's `job start` prints it without polling): JobExecutionBase.
            schema, file = fake.specs.definition(JOBS_FILE, "JobExecutionBase")
        else:
            schema, file = fake.specs.response_schema(operation, status)
        if schema is None:
            raise RuntimeError(f"{operation} has no response schema for {status}")
        try:
            fake.checker.check(body, schema, file, "response")
        except ArmError as error:
            raise RuntimeError(f"the fake's own {operation} answer does not fit the "
                               f"definitions: {error.message}") from None


def recorded_body(raw):
    if raw is None or not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


# --- Admin API ------------------------------------------------------------------------------------


def admin(fake, method, path, query, raw):
    """The admin API: what was received, faults, image behaviours, credentials, resets."""
    params = dict(query)
    sub = params.get("subscription")

    def bad(message):
        return 400, {"error": {"code": "BadAdminRequest", "message": message}}, []

    try:
        body = json.loads(raw) if raw.strip() else {}
    except ValueError as error:
        return bad(f"not JSON: {error}")
    with fake.lock:
        if (method, path) == ("GET", "/fake/health"):
            return 200, {"operationPolls": fake.polls, "retryAfter": fake.retry_after,
                         "hangSeconds": fake.hang, "specs": fake.specs.root,
                         "apiVersions": {"Microsoft.App": APP_API,
                                         "Microsoft.ContainerInstance": ACI_API}}, []
        if (method, path) == ("GET", "/fake/requests"):
            since = params.get("since", "0")
            if not since.isdigit():
                return bad(f"since={since!r}: not a count")
            return 200, {"requests": fake.records(sub, int(since))}, []
        if (method, path) == ("POST", "/fake/clear"):
            fake.clear(sub)
            return 200, {}, []
        if (method, path) == ("POST", "/fake/reset"):
            fake.reset()
            return 200, {}, []
        if (method, path) == ("POST", "/fake/faults"):
            fault = body.get("fault")
            valid = fault in ("timeout", "lost") or isinstance(fault, dict) and (
                isinstance(fault.get("status"), int) or isinstance(fault.get("throttled"), int))
            if not (isinstance(body.get("operation"), str) and isinstance(body.get("times"), int)
                    and valid):
                return bad(f"not a fault: {body}")
            if body["times"] > 0:
                fake.faults.append(body)
            return 200, {}, []
        if (method, path) == ("POST", "/fake/images"):
            if body.get("behaviour") not in ("ok", "missing", "crashing") or \
                    not isinstance(body.get("image"), str):
                return bad(f"not an image behaviour: {body}")
            fake.images[(body.get("subscription"), body["image"])] = body["behaviour"]
            return 200, {}, []
        if (method, path) == ("POST", "/fake/auth"):
            if not isinstance(body.get("required"), bool):
                return bad(f"not an auth setting: {body}")
            fake.auth[body.get("subscription")] = body["required"]
            return 200, {}, []
        if (method, path) == ("POST", "/fake/clients"):
            secrets_ = body.get("secrets")
            if not (isinstance(body.get("tenant"), str) and isinstance(body.get("clientId"), str)
                    and isinstance(secrets_, list)):
                return bad(f"not a client: {body}")
            fake.clients[body["clientId"]] = {"tenant": body["tenant"], "secrets": set(secrets_)}
            return 200, {}, []
        if (method, path) == ("POST", "/fake/tokens/expire"):
            expired = 0
            for token in fake.tokens.values():
                if token["clientId"] == body.get("clientId") and not token["expired"]:
                    token["expired"], token["expiredAt"] = True, now()
                    expired += 1
            return 200, {"expired": expired}, []
        if (method, path) == ("POST", "/fake/check"):
            return check_admin(fake, body)
        if (method, path) == ("POST", "/fake/jobs/fire"):
            return fire_admin(fake, body)
    return 404, {"error": {"code": "NotFound", "message": f"no admin method {method} {path}"}}, []


def check_admin(fake, body):
    """Checks a body against an operation's request (or, with "status", response) schema."""
    operation = body.get("operation")
    status = body.get("status")
    try:
        if status is None:
            schema, file = fake.specs.request_schema(operation)
            mode = "patch" if operation in ("ContainerApps_Update", "Jobs_Update") else "create"
        else:
            schema, file = fake.specs.response_schema(operation, status)
            mode = "response"
    except (KeyError, TypeError):
        return 400, {"error": {"code": "BadAdminRequest",
                               "message": f"no operation {operation!r}"}}, []
    if schema is None:
        return 400, {"error": {"code": "BadAdminRequest",
                               "message": f"{operation} {status} has no body"}}, []
    try:
        fake.checker.check(body.get("body"), schema, file, mode)
    except ArmError as error:
        return 200, {"violation": error.body()["error"]}, []
    return 200, {"violation": None}, []


def fire_admin(fake, body):
    """Runs a Schedule job as the platform does at its cron time: {id, name} of the execution."""
    job_id = body.get("id")
    match = re.fullmatch(JOBS + NAME, job_id, re.IGNORECASE) if isinstance(job_id, str) else None
    if match is None:
        return 400, {"error": {"code": "BadAdminRequest",
                               "message": f"not the ARM id of a job: {job_id!r}"}}, []
    job = fake.find("job", match["sub"], match["rg"], match["name"])
    if job is None:
        return 404, not_found(JOB_TYPE, match["name"], match["rg"]).body(), []
    trigger = job.spec["properties"]["configuration"]["triggerType"]
    if trigger != "Schedule":
        return 409, {"error": {"code": "NotScheduled",
                               "message": f"job '{job.name}' has triggerType {trigger}: only "
                                          f"Schedule jobs run on their own"}}, []
    if job.deleting or job.operation is not None:
        return 409, {"error": {"code": "NotReady",
                               "message": f"job '{job.name}' is still being "
                                          f"{'deleted' if job.deleting else 'provisioned'}"}}, []
    return 200, execution_base(fake.fire(job)), []


def exit_with_parent(parent):
    """Exits within a second of the parent process (once gone, this one is re-parented)."""

    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--specs", required=True,
                        help="the azure-specs folder (Azure/azure-rest-api-specs' specification/)")
    parser.add_argument("--operation-polls", type=int, default=2,
                        help="observations (operation polls, resource GETs) until an operation "
                             "is done")
    parser.add_argument("--retry-after", type=int, default=0,
                        help="the Retry-After seconds of long-running operations")
    parser.add_argument("--hang-seconds", type=float, default=30,
                        help="how long a 'timeout' fault keeps a call without an answer")
    parser.add_argument("--parent-pid", type=int,
                        help="exit when this process is gone (default: the parent at start)")
    args = parser.parse_args()

    exit_with_parent(args.parent_pid or os.getppid())
    try:
        specs = Specs(args.specs)
    except (OSError, ValueError) as error:
        sys.exit(f"cannot read the Azure definitions under {args.specs}: {error}")
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.fake = Fake(specs, max(args.operation_polls, 0), max(args.retry_after, 0),
                       args.hang_seconds)
    print(f"azure-fake (Microsoft.App {APP_API}, Microsoft.ContainerInstance {ACI_API}) on "
          f"{args.host}:{args.port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
