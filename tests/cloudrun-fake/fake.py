#!/usr/bin/env python3
"""A fake Cloud Run Admin API v2 for Ferry's tests, strict about every request it is sent.

    python3 fake.py --port PORT [--host 127.0.0.1] [--operation-polls N] [--parent-pid PID]

Each request is decoded the way Google's HTTP/JSON transcoding decodes it: the path variables,
the query parameters and the JSON body are merged into the RPC's request message, which is
parsed with protobuf's json_format against the official protos of PyPI google-cloud-run. An
unknown, misplaced or mistyped field is a 400 INVALID_ARGUMENT naming it. State lives in memory.
Behaviour, admin API (/fake/...) and what is not modelled: README.md.
"""

import argparse
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
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from urllib.parse import parse_qsl, unquote, urlsplit

RUN_VERSION = "0.16.1"
INSTALL_HINT = f"python3 -m pip install 'google-cloud-run=={RUN_VERSION}'"

try:
    from google.api import launch_stage_pb2
    from google.cloud import run_v2
    from google.iam.v1 import iam_policy_pb2, policy_pb2
    from google.longrunning import operations_pb2
    from google.protobuf import descriptor, field_mask_pb2, json_format, message_factory
except ImportError as missing:
    sys.exit(f"google-cloud-run is missing for {sys.executable} ({missing}); run: {INSTALL_HINT}")

# A container image containing one of these makes every revision of its template fail.
FAIL_REVISION_MARK = "fail-revision"
MISSING_IMAGE_MARK = "missing-image"

CREATOR = "ferry-tests@cloudrun-fake.example"
RETRY_DELAY = "2s"

Service = run_v2.Service.pb()
Condition = run_v2.Condition.pb()
TrafficTargetStatus = run_v2.TrafficTargetStatus.pb()
ListServicesResponse = run_v2.ListServicesResponse.pb()

STATE = Condition.State
PENDING = STATE.Value("CONDITION_PENDING")
RECONCILING = STATE.Value("CONDITION_RECONCILING")
FAILED = STATE.Value("CONDITION_FAILED")
SUCCEEDED = STATE.Value("CONDITION_SUCCEEDED")
CONTAINER_MISSING = Condition.CommonReason.Value("CONTAINER_MISSING")
HEALTH_CHECK_CONTAINER_ERROR = Condition.RevisionReason.Value("HEALTH_CHECK_CONTAINER_ERROR")
LATEST = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_LATEST.value
REVISION = run_v2.TrafficTargetAllocationType.TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION.value
INGRESS_TRAFFIC_ALL = run_v2.IngressTraffic.INGRESS_TRAFFIC_ALL.value
GA = launch_stage_pb2.LaunchStage.Value("GA")

# Service fields a client may send but Cloud Run sets (output only, or composed by the server).
SERVER_SET = (
    "name uid generation create_time update_time delete_time expire_time creator last_modifier "
    "urls observed_generation terminal_condition conditions latest_ready_revision "
    "latest_created_revision traffic_statuses uri satisfies_pzs threat_detection_enabled "
    "reconciling etag"
).split()

LOCATION = r"projects/[^/:]+/locations/[^/:]+"
SERVICE = LOCATION + r"/services/[^/:]+"
OPERATION = LOCATION + r"/operations/[^/:]+"
SERVICE_ID = re.compile(r"[a-z]([a-z0-9-]{0,47}[a-z0-9])?")
MEMBER = re.compile(
    r"allUsers|allAuthenticatedUsers|(user|serviceAccount|group|domain|principal|principalSet"
    r"|deleted:user|deleted:serviceAccount|deleted:group):\S+"
)
REGION_CODES = {
    "us-central1": "uc",
    "us-east1": "ue",
    "us-east4": "uk",
    "us-west1": "uw",
    "europe-west1": "ew",
    "europe-west4": "ez",
    "asia-northeast1": "an",
}


class Rpc:
    """One method of the API: how its HTTP request binds to its request message."""

    def __init__(self, name, method, path, request, bind, body):
        self.name = name
        self.method = method
        self.path = re.compile(path)
        self.request = request
        self.bind = bind  # the request field the path's resource name fills
        self.body = body  # None: no body; "*": the whole request; else the field it fills


RPCS = (
    Rpc("CreateService", "POST", rf"/v2/(?P<res>{LOCATION})/services",
        run_v2.CreateServiceRequest.pb(), "parent", "service"),
    Rpc("ListServices", "GET", rf"/v2/(?P<res>{LOCATION})/services",
        run_v2.ListServicesRequest.pb(), "parent", None),
    Rpc("GetService", "GET", rf"/v2/(?P<res>{SERVICE})",
        run_v2.GetServiceRequest.pb(), "name", None),
    Rpc("UpdateService", "PATCH", rf"/v2/(?P<res>{SERVICE})",
        run_v2.UpdateServiceRequest.pb(), "service.name", "service"),
    Rpc("DeleteService", "DELETE", rf"/v2/(?P<res>{SERVICE})",
        run_v2.DeleteServiceRequest.pb(), "name", None),
    Rpc("GetIamPolicy", "GET", rf"/v2/(?P<res>{SERVICE}):getIamPolicy",
        iam_policy_pb2.GetIamPolicyRequest, "resource", None),
    Rpc("SetIamPolicy", "POST", rf"/v2/(?P<res>{SERVICE}):setIamPolicy",
        iam_policy_pb2.SetIamPolicyRequest, "resource", "*"),
    Rpc("GetOperation", "GET", rf"/v2/(?P<res>{OPERATION})",
        operations_pb2.GetOperationRequest, "name", None),
)

HTTP_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
# google.rpc.Code numbers of the errors operations finish with.
RPC_CODE = {"FAILED_PRECONDITION": 9, "ABORTED": 10}


class ApiError(Exception):
    """An answer in Google's error format: {"error": {code, message, status, details}}."""

    def __init__(self, http, status, message, details=()):
        super().__init__(message)
        self.http = http
        self.status = status
        self.message = message
        self.details = list(details)

    def body(self):
        error = {"code": self.http, "message": self.message, "status": self.status}
        if self.details:
            error["details"] = self.details
        return {"error": error}


def invalid(field, description, message=None):
    """400 INVALID_ARGUMENT with a google.rpc.BadRequest naming the field."""
    violation = {"field": field, "description": description}
    return ApiError(400, "INVALID_ARGUMENT", message or description, [
        {"@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": [violation]},
    ])


def not_found(name):
    project, region, kind, short = parts(name)
    return ApiError(404, "NOT_FOUND",
                    f"Resource '{short}' of kind '{kind}' in region '{region}' in project "
                    f"'{project}' does not exist.")


def aborted(message):
    return ApiError(409, "ABORTED", message)


def fault_error(http):
    """The answer of an injected fault with this HTTP status."""
    status = HTTP_STATUS.get(http, "UNKNOWN")
    if http == 429:
        return ApiError(429, status,
                        "Quota exceeded for quota metric 'Write requests' and limit "
                        "'Write requests per minute per region' of service 'run.googleapis.com'.",
                        [{"@type": "type.googleapis.com/google.rpc.ErrorInfo",
                          "reason": "RATE_LIMIT_EXCEEDED", "domain": "googleapis.com",
                          "metadata": {"service": "run.googleapis.com"}},
                         {"@type": "type.googleapis.com/google.rpc.RetryInfo",
                          "retryDelay": RETRY_DELAY}])
    messages = {
        500: "Internal error encountered.",
        503: "The service is currently unavailable.",
        409: "The operation was aborted.",
    }
    return ApiError(http, status, messages.get(http, f"Injected fault: HTTP {http}."))


# --- Decoding requests ---------------------------------------------------------------------------


def message_class(message_descriptor):
    return message_factory.GetMessageClass(message_descriptor)


def is_well_known(field):
    return field.message_type.full_name.startswith("google.protobuf.")


def field_names(message_descriptor):
    """The names JSON may use for each field: its lowerCamel name and its proto name.

    proto-plus renames proto fields that clash with Python names (`type` becomes `type_`);
    json_format would accept the renamed form, Google does not.
    """
    names = {}
    for field in message_descriptor.fields:
        names[field.json_name] = field
        if not field.name.endswith("_"):
            names[field.name] = field
    return names


def violation(data, message_descriptor, path):
    """(field path, message) of the first thing Google's JSON parser refuses in data, or None."""
    where = path or "request"
    if not isinstance(data, dict):
        return where, f"Invalid value at '{where}': expected a JSON object."
    names = field_names(message_descriptor)
    cls = message_class(message_descriptor)
    for key, value in data.items():
        here = f"{path}.{key}" if path else key
        field = names.get(key)
        if field is None:
            return here, f"Invalid JSON payload received. Unknown name \"{key}\" at '{where}': " \
                         "Cannot find field."
        if field.message_type is not None and not is_well_known(field) and value is not None:
            found = nested_violation(field, value, here)
            if found:
                return found
        try:
            json_format.ParseDict({key: value}, cls(), ignore_unknown_fields=False)
        except json_format.ParseError as error:
            return here, f"Invalid JSON payload received. Invalid value at '{here}': {first(error)}"
    try:
        json_format.ParseDict(data, cls(), ignore_unknown_fields=False)
    except json_format.ParseError as error:
        return where, f"Invalid JSON payload received. Invalid value at '{where}': {first(error)}"
    return None


def nested_violation(field, value, here):
    if field.message_type.GetOptions().map_entry:
        value_field = field.message_type.fields_by_name["value"]
        if value_field.message_type is None or not isinstance(value, dict):
            return None
        for key, item in value.items():
            found = violation(item, value_field.message_type, f'{here}["{key}"]')
            if found:
                return found
        return None
    if field.is_repeated:
        if isinstance(value, list):
            for index, item in enumerate(value):
                found = violation(item, field.message_type, f"{here}[{index}]")
                if found:
                    return found
        return None
    return violation(value, field.message_type, here)


def first(error):
    return str(error).strip().splitlines()[0]


def unknown_enum(message, path):
    """(field path, message) of the first enum field holding a number its enum does not define.

    Proto3 enums are open, so json_format keeps unknown numbers; Cloud Run refuses them.
    """
    for field, value in message.ListFields():
        here = f"{path}.{field.json_name}" if path else field.json_name
        if field.enum_type is not None:
            values = value if field.is_repeated else [value]
            for number in values:
                if field.enum_type.values_by_number.get(number) is None:
                    enum = field.enum_type.full_name
                    return here, f"Invalid value at '{here}' ({enum}), {number}"
        elif field.message_type is not None and not is_well_known(field):
            if field.message_type.GetOptions().map_entry:
                value_field = field.message_type.fields_by_name["value"]
                items = value.items() if value_field.message_type is not None else ()
                children = [(f'{here}["{key}"]', item) for key, item in items]
            elif field.is_repeated:
                children = [(f"{here}[{index}]", item) for index, item in enumerate(value)]
            else:
                children = [(here, value)]
            for child_path, child in children:
                found = unknown_enum(child, child_path)
                if found:
                    return found
    return None


def query_value(field, name, value):
    """A query parameter's text as the JSON value json_format expects for the field."""
    cpp = descriptor.FieldDescriptor
    if field.message_type is not None:
        if not is_well_known(field):
            raise invalid(name, f"Invalid JSON payload received. Cannot bind query parameter "
                                f"'{name}': it is a message; name one of its fields.")
        return value
    if field.cpp_type == cpp.CPPTYPE_BOOL:
        if value not in ("true", "false"):
            raise invalid(name, f"Invalid value at '{name}' (TYPE_BOOL), \"{value}\"")
        return value == "true"
    if field.cpp_type in (cpp.CPPTYPE_INT32, cpp.CPPTYPE_UINT32):
        if not re.fullmatch(r"-?\d+", value):
            raise invalid(name, f"Invalid value at '{name}' (TYPE_INT32), \"{value}\"")
        return int(value)
    if field.cpp_type == cpp.CPPTYPE_ENUM and re.fullmatch(r"\d+", value):
        return int(value)
    return value


def bind_query(data, request_descriptor, name, value, bound):
    """Sets the request field a query parameter names (`a.b` for a nested field)."""
    parts_ = name.split(".")
    target = data
    message_descriptor = request_descriptor
    for index, part in enumerate(parts_):
        field = field_names(message_descriptor).get(part)
        if field is None or (index == 0 and field.name in bound):
            raise invalid(name, f"Invalid JSON payload received. Unknown name \"{name}\": Cannot "
                                f"bind query parameter. Field '{part}' could not be found in "
                                "request message.")
        last = index == len(parts_) - 1
        if not last:
            if field.message_type is None or is_well_known(field) or \
                    field.is_repeated:
                raise invalid(name, f"Invalid JSON payload received. Cannot bind query parameter "
                                    f"'{name}': '{part}' has no fields.")
            target = target.setdefault(field.json_name, {})
            message_descriptor = field.message_type
            continue
        converted = query_value(field, name, value)
        if field.is_repeated:
            target.setdefault(field.json_name, []).append(converted)
        elif field.json_name in target:
            raise invalid(name, f"Invalid JSON payload received. Duplicate query parameter "
                                f"'{name}'.")
        else:
            target[field.json_name] = converted


def transcode(rpc, resource, query, raw_body):
    """The request message of `rpc`, from its path variable, query parameters and body."""
    data = {}
    if rpc.body is None:
        if raw_body.strip():
            raise invalid("request", f"{rpc.method} {rpc.name} takes no request body.")
    else:
        try:
            body = json.loads(raw_body or b"{}")
        except ValueError as error:
            raise invalid("request", f"Invalid JSON payload received. {error}.") from error
        if not isinstance(body, dict):
            raise invalid(rpc.body, "Invalid JSON payload received. The body must be a JSON "
                                    "object.")
        if rpc.body == "*":
            data = body
        else:
            data[rpc.body] = body
    bound = {rpc.bind.split(".")[0]} | ({rpc.body} if rpc.body not in (None, "*") else set())
    for name, value in query:
        if name != "$alt":
            bind_query(data, rpc.request.DESCRIPTOR, name, value, bound)
    # The path variable fills its field; a body naming another resource is refused.
    *outer, leaf = rpc.bind.split(".")
    target = data
    for part in outer:
        target = target.setdefault(part, {})
        if not isinstance(target, dict):
            break
    else:
        given = target.get(leaf)
        if given not in (None, "", resource):
            raise invalid(rpc.bind, f"Invalid value at '{rpc.bind}': \"{given}\" is not the "
                                    f"resource of the URL, \"{resource}\".")
        target[leaf] = resource
    found = violation(data, rpc.request.DESCRIPTOR, "")
    if found:
        raise invalid(found[0], found[1])
    request = rpc.request()
    json_format.ParseDict(data, request, ignore_unknown_fields=False)
    found = unknown_enum(request, "")
    if found:
        raise invalid(found[0], found[1])
    return request


def enum_encoding(query):
    """Whether enums are answered as numbers: `$alt=json;enum-encoding=int`, as the Rust client
    asks. Any other `$alt` than `json` is refused."""
    alts = [value for name, value in query if name == "$alt"]
    if len(alts) > 1 or any(alt not in ("json", "json;enum-encoding=int") for alt in alts):
        raise invalid("$alt", f"Invalid value at '$alt': {alts}; the fake answers JSON only.")
    return alts == ["json;enum-encoding=int"]


# --- Resources -----------------------------------------------------------------------------------


def parts(name):
    """(project, region, kind, id) of `projects/P/locations/R/KINDs/ID`."""
    pieces = name.split("/")
    kind = pieces[4].rstrip("s").upper() if len(pieces) > 4 else "LOCATION"
    return pieces[1], pieces[3], kind, pieces[-1]


def project_number(project):
    digest = int(hashlib.sha256(project.encode()).hexdigest(), 16)
    return str(100_000_000_000 + digest % 900_000_000_000)


def service_uris(name):
    project, region, _, service_id = parts(name)
    digest = hashlib.sha256(project.encode()).hexdigest()
    project_hash = "".join(chr(ord("a") + int(c, 16) % 26) for c in digest[:10])
    code = REGION_CODES.get(region) or "".join(word[0] for word in region.split("-"))
    uri = f"https://{service_id}-{project_hash}-{code}.a.run.app"
    return uri, [f"https://{service_id}-{project_number(project)}.{region}.run.app", uri]


def new_etag():
    return f'"{secrets.token_urlsafe(18)}"'


def now(timestamp):
    timestamp.GetCurrentTime()


def touch(service):
    """Records a change of the stored service: a new etag."""
    service.etag = new_etag()


def fill_defaults(service, project):
    """The defaults Cloud Run fills in and answers (see README.md)."""
    if not service.ingress:
        service.ingress = INGRESS_TRAFFIC_ALL
    if not service.launch_stage:
        service.launch_stage = GA
    if not service.traffic:
        service.traffic.add(type_=LATEST, percent=100)
    template = service.template
    if not template.HasField("timeout"):
        template.timeout.FromSeconds(300)
    if not template.max_instance_request_concurrency:
        template.max_instance_request_concurrency = 80
    if not template.service_account:
        number = project_number(project)
        template.service_account = f"{number}-compute@developer.gserviceaccount.com"
    if not template.scaling.max_instance_count:
        template.scaling.max_instance_count = 100
    for container in template.containers:
        if not container.resources.limits:
            container.resources.limits.update({"cpu": "1000m", "memory": "512Mi"})
        if not container.ports:
            container.ports.add(name="http1", container_port=8080)
        if not container.HasField("startup_probe"):
            probe = container.startup_probe
            probe.timeout_seconds = 240
            probe.period_seconds = 240
            probe.failure_threshold = 1
            probe.tcp_socket.port = container.ports[0].container_port


def check_spec(service, service_id):
    """Cloud Run's own checks of a service it is asked to run."""
    template = service.template
    if not service.HasField("template"):
        raise invalid("service.template", "service.template: is required.")
    if not template.containers:
        raise invalid("service.template.containers",
                      "service.template.containers: at least one container is required.")
    for index, container in enumerate(template.containers):
        if not container.image:
            raise invalid(f"service.template.containers[{index}].image",
                          f"service.template.containers[{index}].image: is required.")
    if template.revision and not template.revision.startswith(f"{service_id}-"):
        raise invalid("service.template.revision",
                      f"service.template.revision: Revision name must be prefixed by the name of "
                      f"the enclosing Service '{service_id}'.")
    if service.traffic:
        for index, target in enumerate(service.traffic):
            if target.type_ == REVISION and not target.revision:
                raise invalid(f"service.traffic[{index}].revision",
                              f"service.traffic[{index}].revision: is required for a "
                              "TRAFFIC_TARGET_ALLOCATION_TYPE_REVISION target.")
        total = sum(target.percent for target in service.traffic)
        if total != 100:
            raise invalid("service.traffic",
                          f"service.traffic: the percents sum to {total}, not 100.")


def failure(service):
    """How the latest revision fails: (message, function setting the condition's reason), or
    None when it becomes ready."""
    revision = service.latest_created_revision
    for container in service.template.containers:
        if MISSING_IMAGE_MARK in container.image:
            message = f"Revision '{revision}' is not ready and cannot serve traffic. " \
                      f"Image '{container.image}' not found."
            return message, lambda condition: setattr(condition, "reason", CONTAINER_MISSING)
        if FAIL_REVISION_MARK in container.image:
            port = container.ports[0].container_port if container.ports else 8080
            message = (
                f"Revision '{revision}' is not ready and cannot serve traffic. The user-provided "
                f"container failed to start and listen on the port defined provided by the "
                f"PORT={port} environment variable within the allocated timeout. This can happen "
                "when the container port is misconfigured or if the timeout is too short. The "
                "health check timeout can be extended. Logs for this revision might contain "
                "more information."
            )
            return message, lambda condition: setattr(
                condition, "revision_reason", HEALTH_CHECK_CONTAINER_ERROR)
    return None


def condition(kind, state, message, reason, old):
    """A condition; its lastTransitionTime moves only when its state does."""
    made = Condition(type_=kind, state=state, message=message)
    if reason:
        reason(made)
    if old is not None and old.state == state and old.HasField("last_transition_time"):
        made.last_transition_time.CopyFrom(old.last_transition_time)
    else:
        now(made.last_transition_time)
    return made


def set_status(service, state, message="", reason=None, routes=None):
    """terminalCondition (type Ready) and the RoutesReady / ConfigurationsReady conditions;
    RoutesReady follows `routes` (state, message, reason) when given, else the same state."""
    old = service.terminal_condition if service.HasField("terminal_condition") else None
    service.terminal_condition.CopyFrom(condition("Ready", state, message, reason, old))
    previous = {}
    for old_condition in service.conditions:
        kept = Condition()
        kept.CopyFrom(old_condition)
        previous[kept.type_] = kept
    routes = routes or (state, message, reason)
    wanted = [("RoutesReady", *routes), ("ConfigurationsReady", state, message, reason)]
    del service.conditions[:]
    for kind, kind_state, kind_message, kind_reason in wanted:
        service.conditions.append(
            condition(kind, kind_state, kind_message, kind_reason, previous.get(kind)))


class Entry:
    """A stored service, its revisions and its IAM policy."""

    def __init__(self, service):
        self.service = service
        self.revisions = {}  # revision name -> its template, serialized
        self.next_revision = 1
        self.policy = policy_pb2.Policy(version=1, etag=secrets.token_bytes(8))
        self.operation = None  # the operation reconciling it, while one does


class Operation:
    def __init__(self, name, service, kind, steps):
        self.message = operations_pb2.Operation(name=name)
        self.service = service  # the service's name
        self.kind = kind  # "reconcile" or "delete"
        self.steps = steps  # observations left before it is done
        self.deleted = None  # a delete operation's answer: the service as deleted


# --- The API -------------------------------------------------------------------------------------


class Fake:
    """Services, operations and IAM policies in memory; the calls received; faults to inject."""

    def __init__(self, operation_polls):
        self.polls = operation_polls
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        self.services = {}
        self.operations = {}
        self.requests = []
        self.faults = []

    # Faults and records ------------------------------------------------------------------------

    def take_fault(self, rpc, project):
        for fault in self.faults:
            if fault["rpc"] in ("*", rpc) and fault.get("project") in (None, project):
                fault["times"] -= 1
                if fault["times"] <= 0:
                    self.faults.remove(fault)
                return fault["fault"]
        return None

    def records(self, project, since=0):
        """The calls (of `project`) after the first `since` of them."""
        return [r for r in self.requests if project is None or r["project"] == project][since:]

    def clear(self, project):
        self.requests = [r for r in self.requests
                         if project is not None and r["project"] != project]
        self.faults = [f for f in self.faults
                       if project is not None and f.get("project") != project]

    # RPCs ----------------------------------------------------------------------------------------

    def call(self, rpc, request, ints):
        handler = getattr(self, rpc.name)
        return 200, render(handler(request), ints)

    def CreateService(self, request):
        service_id = request.service_id
        if not SERVICE_ID.fullmatch(service_id):
            raise invalid("serviceId",
                          f"serviceId: \"{service_id}\" must start with a letter, contain only "
                          "lowercase letters, digits and hyphens, end with a letter or digit, "
                          "and have at most 49 characters.")
        name = f"{request.parent}/services/{service_id}"
        return self.create(name, request.service, request.validate_only)

    def create(self, name, spec, validate_only):
        if name in self.services:
            raise ApiError(409, "ALREADY_EXISTS", f"Resource '{parts(name)[3]}' already exists.")
        project, _, _, service_id = parts(name)
        check_spec(spec, service_id)
        service = Service()
        service.CopyFrom(spec)
        for field in SERVER_SET:
            service.ClearField(field)
        service.name = name
        service.uid = str(uuid.uuid4())
        service.generation = 1
        now(service.create_time)
        service.update_time.CopyFrom(service.create_time)
        service.creator = CREATOR
        service.last_modifier = CREATOR
        service.uri, urls = service_uris(name)
        service.urls.extend(urls)
        fill_defaults(service, project)
        entry = Entry(service)
        self.commit_revision(entry, service, self.revision_for(entry, service))
        return self.reconcile(entry, validate_only)

    def UpdateService(self, request):
        name = request.service.name
        entry = self.services.get(name)
        if entry is None:
            if request.allow_missing:
                return self.create(name, request.service, request.validate_only)
            raise not_found(name)
        stored = entry.service
        if request.service.etag and request.service.etag != stored.etag:
            raise aborted(f"The etag {request.service.etag} does not match the current etag "
                          f"of service '{name}'; read it again and retry.")
        sent = Service()
        sent.CopyFrom(request.service)
        for field in SERVER_SET:
            sent.ClearField(field)
        updated = Service()
        updated.CopyFrom(stored)
        if request.update_mask.paths:
            mask = request.update_mask
            if not mask.IsValidForDescriptor(Service.DESCRIPTOR):
                raise invalid("updateMask", f"updateMask: {mask.ToJsonString()} names a field "
                                            "Service does not have.")
            # Output-only fields are ignored, as they are in the body.
            writable = field_mask_pb2.FieldMask(
                paths=[path for path in mask.paths if path.split(".")[0] not in SERVER_SET])
            writable.MergeMessage(sent, updated, replace_message_field=True,
                                  replace_repeated_field=True)
        else:
            for field in Service.DESCRIPTOR.fields:
                if field.name not in SERVER_SET:
                    updated.ClearField(field.name)
            updated.MergeFrom(sent)
        project, _, _, service_id = parts(name)
        check_spec(updated, service_id)
        fill_defaults(updated, project)
        revision = self.revision_for(entry, updated)
        if request.validate_only:
            return self.done_operation(updated)
        updated.generation = stored.generation + 1
        now(updated.update_time)
        updated.last_modifier = CREATOR
        self.commit_revision(entry, updated, revision)
        entry.service = updated
        return self.reconcile(entry, False)

    def revision_for(self, entry, service):
        """(name, serialized template) of the revision running the service's template, new or
        not; refuses a revision name already used for another template."""
        template = service.template.SerializeToString(deterministic=True)
        revision = service.template.revision
        if revision:
            known = entry.revisions.get(revision)
            if known is not None and known != template:
                raise ApiError(409, "ALREADY_EXISTS", f"Revision named '{revision}' with "
                                                      "different configuration already exists.")
            return revision, template
        latest = service.latest_created_revision
        if latest and entry.revisions.get(latest) == template:
            return latest, template
        suffix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(3))
        return f"{parts(service.name)[3]}-{entry.next_revision:05d}-{suffix}", template

    @staticmethod
    def commit_revision(entry, service, revision):
        name, template = revision
        if name not in entry.revisions:
            entry.revisions[name] = template
            entry.next_revision += 1
        service.latest_created_revision = name

    def reconcile(self, entry, validate_only):
        """Starts bringing the service to its new generation; answers the operation doing it."""
        service = entry.service
        if validate_only:
            return self.done_operation(service)
        service.reconciling = True
        set_status(service, PENDING)
        touch(service)
        if entry.operation is not None:
            superseded = self.operations[entry.operation]
            self.finish_with_error(superseded, "ABORTED",
                                   f"Superseded by a newer change to service '{service.name}' "
                                   f"(generation {service.generation}).")
        operation = self.new_operation(service.name, "reconcile")
        self.services[service.name] = entry
        entry.operation = operation.message.name
        if operation.steps == 0:
            self.finish(entry, operation)
        return self.operation_message(operation)

    def new_operation(self, service_name, kind):
        project, region, _, _ = parts(service_name)
        name = f"projects/{project}/locations/{region}/operations/{uuid.uuid4()}"
        operation = Operation(name, service_name, kind, self.polls)
        self.operations[name] = operation
        return operation

    def done_operation(self, service):
        """The answer to a validate-only request: a finished operation that is not kept."""
        project, region, _, _ = parts(service.name)
        message = operations_pb2.Operation(
            name=f"projects/{project}/locations/{region}/operations/{uuid.uuid4()}", done=True)
        message.metadata.Pack(service)
        message.response.Pack(service)
        return message

    def observe(self, entry):
        """One observation of a reconciling service: a step towards its end."""
        if entry.operation is None:
            return
        operation = self.operations[entry.operation]
        operation.steps -= 1
        if operation.steps <= 0:
            self.finish(entry, operation)
        elif entry.service.terminal_condition.state == PENDING:
            set_status(entry.service, RECONCILING,
                       f"Deploying revision '{entry.service.latest_created_revision}'.")
            touch(entry.service)

    def finish(self, entry, operation):
        service = entry.service
        entry.operation = None
        service.reconciling = False
        failed = failure(service)
        if failed is None:
            service.observed_generation = service.generation
            service.latest_ready_revision = service.latest_created_revision
            del service.traffic_statuses[:]
            uri = service.uri
            for target in service.traffic:
                status = TrafficTargetStatus(type_=target.type_, revision=target.revision,
                                             percent=target.percent, tag=target.tag)
                if target.tag:
                    status.uri = uri.replace("https://", f"https://{target.tag}---", 1)
                service.traffic_statuses.append(status)
            set_status(service, SUCCEEDED)
            touch(service)
            operation.message.done = True
            operation.message.metadata.Pack(service)
            operation.message.response.Pack(service)
            return
        message, reason = failed
        serving = bool(service.latest_ready_revision)
        routes = (SUCCEEDED, "", None) if serving else (FAILED, message, reason)
        set_status(service, FAILED, message, reason, routes)
        touch(service)
        self.finish_with_error(operation, "FAILED_PRECONDITION", message)

    def finish_with_error(self, operation, status, message):
        operation.message.done = True
        operation.message.error.code = RPC_CODE[status]
        operation.message.error.message = message
        entry = self.services.get(operation.service)
        if entry is not None:
            operation.message.metadata.Pack(entry.service)
            if entry.operation == operation.message.name:
                entry.operation = None

    def operation_message(self, operation):
        if not operation.message.done:
            entry = self.services.get(operation.service)
            if entry is not None:
                operation.message.metadata.Pack(entry.service)
        return operation.message

    def GetService(self, request):
        entry = self.services.get(request.name)
        if entry is None:
            raise not_found(request.name)
        self.observe(entry)
        return entry.service

    def ListServices(self, request):
        prefix = f"{request.parent}/services/"
        names = sorted(name for name in self.services if name.startswith(prefix))
        start = 0
        if request.page_token:
            if not request.page_token.isdigit():
                raise invalid("pageToken", "pageToken: not a token this fake gave.")
            start = int(request.page_token)
        size = request.page_size if request.page_size > 0 else 100
        answer = ListServicesResponse()
        for name in names[start:start + size]:
            answer.services.append(self.services[name].service)
        if start + size < len(names):
            answer.next_page_token = str(start + size)
        return answer

    def DeleteService(self, request):
        entry = self.services.get(request.name)
        if entry is None:
            raise not_found(request.name)
        service = entry.service
        if request.etag and request.etag != service.etag:
            raise aborted(f"The etag {request.etag} does not match the current etag of service "
                          f"'{request.name}'; read it again and retry.")
        if request.validate_only:
            return self.done_operation(service)
        if entry.operation is not None:
            self.finish_with_error(self.operations[entry.operation], "ABORTED",
                                   f"Service '{request.name}' was deleted before this operation "
                                   "finished.")
        del self.services[request.name]
        now(service.delete_time)
        service.expire_time.FromSeconds(service.delete_time.seconds + 30 * 24 * 3600)
        touch(service)
        operation = self.new_operation(request.name, "delete")
        operation.message.metadata.Pack(service)
        operation.deleted = service
        if operation.steps == 0:
            self.finish_delete(operation)
        return operation.message

    def finish_delete(self, operation):
        operation.message.done = True
        operation.message.response.Pack(operation.deleted)

    def GetOperation(self, request):
        operation = self.operations.get(request.name)
        if operation is None:
            raise not_found(request.name)
        if not operation.message.done:
            if operation.kind == "delete":
                operation.steps -= 1
                if operation.steps <= 0:
                    self.finish_delete(operation)
            elif operation.service in self.services:
                self.observe(self.services[operation.service])
        return self.operation_message(operation)

    def GetIamPolicy(self, request):
        entry = self.services.get(request.resource)
        if entry is None:
            raise not_found(request.resource)
        return entry.policy

    def SetIamPolicy(self, request):
        entry = self.services.get(request.resource)
        if entry is None:
            raise not_found(request.resource)
        policy = request.policy
        if policy.etag and policy.etag != entry.policy.etag:
            raise aborted("There were concurrent policy changes. Please retry the whole "
                          "read-modify-write with exponential backoff.")
        for index, binding in enumerate(policy.bindings):
            if not binding.role.startswith("roles/"):
                raise invalid(f"policy.bindings[{index}].role",
                              f"Role {binding.role} is not supported for this resource.")
            for number, member in enumerate(binding.members):
                if not MEMBER.fullmatch(member):
                    raise invalid(f"policy.bindings[{index}].members[{number}]",
                                  f"Invalid member: {member}.")
        stored = policy_pb2.Policy()
        stored.CopyFrom(policy)
        stored.version = stored.version or 1
        stored.etag = secrets.token_bytes(8)
        entry.policy = stored
        return stored


def render(message, ints):
    return json_format.MessageToDict(message, use_integers_for_enums=ints)


# --- HTTP ----------------------------------------------------------------------------------------


def route(method, path):
    """(rpc, resource name) for a request, or (None, None)."""
    for rpc in RPCS:
        match = rpc.path.fullmatch(path)
        if match and rpc.method == method:
            return rpc, match.group("res")
    return None, None


def project_of(path):
    match = re.match(r"/v2/projects/([^/:]+)", path)
    return match.group(1) if match else None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cloudrun-fake"

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
            status, answer = admin(fake, method, path, query, raw)
        else:
            status, answer = self.api(fake, method, path, query, raw)
        body = json.dumps(answer).encode()
        print(f"{method} {self.path} -> {status}", file=sys.stderr, flush=True)
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def api(self, fake, method, path, query, raw):
        rpc, resource = route(method, path)
        project = project_of(path)
        record = {
            "rpc": rpc.name if rpc else "Unknown",
            "httpMethod": method,
            "path": path,
            "query": [[name, value] for name, value in query],
            "body": recorded_body(raw),
            "project": project,
            "fault": None,
            # When it arrived (before waiting for the lock), in microseconds since the epoch.
            "atUs": time.time_ns() // 1000,
        }
        with fake.lock:
            fault = fake.take_fault(record["rpc"], project)
            record["fault"] = fault
            try:
                if isinstance(fault, dict):
                    raise fault_error(fault["status"])
                if rpc is None:
                    raise ApiError(501, "UNIMPLEMENTED",
                                   f"cloudrun-fake implements no method {method} {path}.")
                ints = enum_encoding(query)
                request = transcode(rpc, resource, query, raw)
                status, answer = fake.call(rpc, request, ints)
            except ApiError as error:
                status, answer = error.http, error.body()
            except Exception as error:  # a bug of the fake: say so loudly
                traceback.print_exc()
                status, answer = 500, ApiError(500, "INTERNAL", f"cloudrun-fake failed: "
                                                                f"{error!r}").body()
            if fault == "lost-response":
                status, answer = 503, fault_error(503).body()
            record["status"] = status
            fake.requests.append(record)
        return status, answer


def recorded_body(raw):
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode("utf-8", "replace")


def admin(fake, method, path, query, raw):
    """The admin API: what was received, faults to inject, and resets."""
    project = dict(query).get("project")
    with fake.lock:
        if (method, path) == ("GET", "/fake/health"):
            return 200, {"operationPolls": fake.polls, "googleCloudRun": RUN_VERSION}
        if (method, path) == ("GET", "/fake/requests"):
            since = dict(query).get("since", "0")
            if not since.isdigit():
                return 400, {"error": {"code": 400, "message": f"since={since!r}: not a count"}}
            return 200, {"requests": fake.records(project, int(since))}
        if (method, path) == ("POST", "/fake/clear"):
            fake.clear(project)
            return 200, {}
        if (method, path) == ("POST", "/fake/reset"):
            fake.reset()
            return 200, {}
        if (method, path) == ("POST", "/fake/faults"):
            try:
                fault = json.loads(raw)
                if not (isinstance(fault.get("rpc"), str) and isinstance(fault.get("times"), int)
                        and (fault.get("fault") == "lost-response"
                             or isinstance(fault.get("fault", {}).get("status"), int))):
                    raise ValueError(f"not a fault: {fault}")
            except (ValueError, AttributeError) as error:
                return 400, {"error": {"code": 400, "message": str(error)}}
            if fault["times"] > 0:
                fake.faults.append(fault)
            return 200, {}
    return 404, {"error": {"code": 404, "message": f"no admin method {method} {path}"}}


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
    parser.add_argument("--operation-polls", type=int, default=2,
                        help="observations (GetOperation, GetService) before an operation is done")
    parser.add_argument("--parent-pid", type=int,
                        help="exit when this process is gone (default: the parent at start)")
    args = parser.parse_args()

    exit_with_parent(args.parent_pid or os.getppid())
    installed = metadata.version("google-cloud-run")
    if installed != RUN_VERSION:
        sys.exit(f"google-cloud-run {installed} is installed for {sys.executable}; the fake is "
                 f"pinned to {RUN_VERSION}: {INSTALL_HINT}")
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.fake = Fake(max(args.operation_polls, 0))
    print(f"cloudrun-fake (google-cloud-run {RUN_VERSION}) on {args.host}:{args.port}",
          file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
