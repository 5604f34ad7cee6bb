#!/usr/bin/env python3
"""A fake Cloud Run Admin API v2 (services, jobs, executions) and Cloud Scheduler API v1 for
Ferry's tests, strict about every request it is sent.

    python3 fake.py --port PORT [--host 127.0.0.1] [--operation-polls N] [--parent-pid PID]

Each request is decoded the way Google's HTTP/JSON transcoding decodes it: the path variables,
the query parameters and the JSON body are merged into the RPC's request message, which is
parsed with protobuf's json_format against the official protos of PyPI google-cloud-run and
google-cloud-scheduler. An unknown, misplaced or mistyped field is a 400 INVALID_ARGUMENT naming
it. State lives in memory. Behaviour, admin API (/fake/...) and what is not modelled: README.md.
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
import zoneinfo
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import metadata
from urllib.parse import parse_qsl, unquote, urlsplit

RUN_VERSION = "0.16.1"
SCHEDULER_VERSION = "2.21.0"
INSTALL_HINT = (f"python3 -m pip install 'google-cloud-run=={RUN_VERSION}' "
                f"'google-cloud-scheduler=={SCHEDULER_VERSION}'")

try:
    from google.api import launch_stage_pb2
    from google.cloud import run_v2, scheduler_v1
    from google.iam.v1 import iam_policy_pb2, policy_pb2
    from google.longrunning import operations_pb2
    from google.protobuf import descriptor, empty_pb2, field_mask_pb2, json_format, message_factory
    from google.rpc import code_pb2, status_pb2
except ImportError as missing:
    sys.exit(f"google-cloud-run or google-cloud-scheduler is missing for {sys.executable} "
             f"({missing}); run: {INSTALL_HINT}")

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

Job = run_v2.Job.pb()
Execution = run_v2.Execution.pb()
ListJobsResponse = run_v2.ListJobsResponse.pb()
ListExecutionsResponse = run_v2.ListExecutionsResponse.pb()
RunJobRequest = run_v2.RunJobRequest.pb()
COMPLETION = run_v2.ExecutionReference.CompletionStatus
EXECUTION_REASON = Condition.ExecutionReason
NON_ZERO_EXIT_CODE = EXECUTION_REASON.Value("NON_ZERO_EXIT_CODE")
CANCELLING = EXECUTION_REASON.Value("CANCELLING")
CANCELLED = EXECUTION_REASON.Value("CANCELLED")

SchedulerJob = scheduler_v1.Job.pb()
ListSchedulerJobsResponse = scheduler_v1.ListJobsResponse.pb()
ENABLED = scheduler_v1.Job.State.ENABLED.value
PAUSED = scheduler_v1.Job.State.PAUSED.value
HTTP_POST = scheduler_v1.HttpMethod.POST.value
BODY_METHODS = {HTTP_POST, scheduler_v1.HttpMethod.PUT.value, scheduler_v1.HttpMethod.PATCH.value}

# Task outcomes, a convention shared by Ferry's fakes: the command and args of a job's containers
# (after RunJob overrides), joined with spaces, decide what every attempt of every task does.
EXIT_MARK = re.compile(r"exit (\d+)")
SLEEP_FOREVER_MARK = "sleep infinity"

# Service fields a client may send but Cloud Run sets (output only, or composed by the server).
SERVER_SET = (
    "name uid generation create_time update_time delete_time expire_time creator last_modifier "
    "urls observed_generation terminal_condition conditions latest_ready_revision "
    "latest_created_revision traffic_statuses uri satisfies_pzs threat_detection_enabled "
    "reconciling etag"
).split()

# Job fields a client may send but Cloud Run sets.
JOB_SERVER_SET = (
    "name uid generation create_time update_time delete_time expire_time creator last_modifier "
    "observed_generation terminal_condition conditions execution_count latest_created_execution "
    "reconciling satisfies_pzs etag"
).split()
# Cloud Scheduler job fields that are output only.
SCHEDULER_SERVER_SET = "name user_update_time state status schedule_time last_attempt_time".split()

LOCATION = r"projects/[^/:]+/locations/[^/:]+"
SERVICE = LOCATION + r"/services/[^/:]+"
OPERATION = LOCATION + r"/operations/[^/:]+"
JOB = LOCATION + r"/jobs/[^/:]+"
EXECUTION = JOB + r"/executions/[^/:]+"
SERVICE_ID = re.compile(r"[a-z]([a-z0-9-]{0,47}[a-z0-9])?")
JOB_ID = re.compile(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?")
EXECUTION_TOKEN = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
SCHEDULER_JOB_ID = re.compile(r"[A-Za-z0-9_-]{1,500}")
# The Cloud Run Admin API URIs a Cloud Scheduler HTTP target runs a Cloud Run job with: v2
# (global or regional endpoint) and the v1 form Google's "Execute jobs on a schedule" page uses.
RUN_JOB_URI = re.compile(r"https://(?:[a-z0-9-]+-)?run\.googleapis\.com/v2/"
                         r"(?P<job>projects/[^/:]+/locations/[^/:]+/jobs/[^/:]+):run")
RUN_JOB_V1_URI = re.compile(r"https://(?P<region>[a-z0-9-]+)-run\.googleapis\.com/apis/"
                            r"run\.googleapis\.com/v1/namespaces/(?P<project>[^/:]+)/jobs/"
                            r"(?P<job>[^/:]+):run")
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
        self.name = name  # Cloud Run's bare (`CreateJob`), Cloud Scheduler's `CloudScheduler.X`
        self.handler = name.replace(".", "_")  # the method of Fake that answers it
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
    Rpc("CreateJob", "POST", rf"/v2/(?P<res>{LOCATION})/jobs",
        run_v2.CreateJobRequest.pb(), "parent", "job"),
    Rpc("ListJobs", "GET", rf"/v2/(?P<res>{LOCATION})/jobs",
        run_v2.ListJobsRequest.pb(), "parent", None),
    Rpc("GetJob", "GET", rf"/v2/(?P<res>{JOB})",
        run_v2.GetJobRequest.pb(), "name", None),
    Rpc("UpdateJob", "PATCH", rf"/v2/(?P<res>{JOB})",
        run_v2.UpdateJobRequest.pb(), "job.name", "job"),
    Rpc("DeleteJob", "DELETE", rf"/v2/(?P<res>{JOB})",
        run_v2.DeleteJobRequest.pb(), "name", None),
    Rpc("RunJob", "POST", rf"/v2/(?P<res>{JOB}):run", RunJobRequest, "name", "*"),
    Rpc("ListExecutions", "GET", rf"/v2/(?P<res>{JOB})/executions",
        run_v2.ListExecutionsRequest.pb(), "parent", None),
    Rpc("GetExecution", "GET", rf"/v2/(?P<res>{EXECUTION})",
        run_v2.GetExecutionRequest.pb(), "name", None),
    Rpc("DeleteExecution", "DELETE", rf"/v2/(?P<res>{EXECUTION})",
        run_v2.DeleteExecutionRequest.pb(), "name", None),
    Rpc("CancelExecution", "POST", rf"/v2/(?P<res>{EXECUTION}):cancel",
        run_v2.CancelExecutionRequest.pb(), "name", "*"),
    Rpc("CloudScheduler.CreateJob", "POST", rf"/v1/(?P<res>{LOCATION})/jobs",
        scheduler_v1.CreateJobRequest.pb(), "parent", "job"),
    Rpc("CloudScheduler.ListJobs", "GET", rf"/v1/(?P<res>{LOCATION})/jobs",
        scheduler_v1.ListJobsRequest.pb(), "parent", None),
    Rpc("CloudScheduler.GetJob", "GET", rf"/v1/(?P<res>{JOB})",
        scheduler_v1.GetJobRequest.pb(), "name", None),
    Rpc("CloudScheduler.UpdateJob", "PATCH", rf"/v1/(?P<res>{JOB})",
        scheduler_v1.UpdateJobRequest.pb(), "job.name", "job"),
    Rpc("CloudScheduler.DeleteJob", "DELETE", rf"/v1/(?P<res>{JOB})",
        scheduler_v1.DeleteJobRequest.pb(), "name", None),
    Rpc("CloudScheduler.PauseJob", "POST", rf"/v1/(?P<res>{JOB}):pause",
        scheduler_v1.PauseJobRequest.pb(), "name", "*"),
    Rpc("CloudScheduler.ResumeJob", "POST", rf"/v1/(?P<res>{JOB}):resume",
        scheduler_v1.ResumeJobRequest.pb(), "name", "*"),
    Rpc("CloudScheduler.RunJob", "POST", rf"/v1/(?P<res>{JOB}):run",
        scheduler_v1.RunJobRequest.pb(), "name", "*"),
)

RUN_JOB = next(rpc for rpc in RPCS if rpc.name == "RunJob")

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
# google.rpc.Code numbers by name: the errors operations finish with, the statuses Cloud
# Scheduler records for an attempt.
RPC_CODE = {value.name: value.number for value in code_pb2.Code.DESCRIPTOR.values}


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
        if name == "$alt":
            continue
        if rpc.body == "*":
            # Every field not in the path is in the body: no query parameter can bind.
            raise invalid(name, f"Invalid JSON payload received. Unknown name \"{name}\": Cannot "
                                f"bind query parameter. Field '{name}' could not be found in "
                                "request message.")
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
    """(project, region, kind, id) of `projects/P/locations/R/[.../]KINDs/ID`."""
    pieces = name.split("/")
    kind = pieces[-2].rstrip("s").upper() if len(pieces) > 4 else "LOCATION"
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


def page(token, size, default):
    """(start, size) of the page a pageToken this fake gave (an offset) and a pageSize ask for."""
    start = 0
    if token:
        if not token.isdigit():
            raise invalid("pageToken", "pageToken: not a token this fake gave.")
        start = int(token)
    return start, size if size > 0 else default


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


# Where Cloud Run mounts no volume ("Disallowed paths" of its volume mount pages: /dev, /proc,
# /sys and their subdirectories).
DISALLOWED_MOUNT_PATHS = ("/dev", "/proc", "/sys")


def check_volumes(template, at):
    """Cloud Run's checks of a template's volumes and mounts (`at`: the template's field path),
    from the v2 protos' comments: a Volume's name and a secret volume's `secret` are
    "Required", items "must specify a path and a version", a VolumeMount's name "must match
    the Name of a Volume" and its mountPath "Must not contain ':'"; and no mount under
    /dev, /proc or /sys (Cloud Run's docs)."""
    names = set()
    for index, volume in enumerate(template.volumes):
        field = f"{at}.volumes[{index}]"
        if not volume.name:
            raise invalid(f"{field}.name", f"{field}.name: is required.")
        names.add(volume.name)
        if volume.WhichOneof("volume_type") == "secret":
            secret = volume.secret
            if not secret.secret:
                raise invalid(f"{field}.secret.secret", f"{field}.secret.secret: is required.")
            for item_index, item in enumerate(secret.items):
                for name, value in (("path", item.path), ("version", item.version)):
                    if not value:
                        item_field = f"{field}.secret.items[{item_index}].{name}"
                        raise invalid(item_field, f"{item_field}: is required: items must "
                                                  "specify a path and a version.")
    for index, container in enumerate(template.containers):
        for mount_index, mount in enumerate(container.volume_mounts):
            field = f"{at}.containers[{index}].volumeMounts[{mount_index}]"
            if mount.name not in names:
                raise invalid(f"{field}.name", f"{field}.name: \"{mount.name}\" must match the "
                                               "name of a volume.")
            path = mount.mount_path
            if not path:
                raise invalid(f"{field}.mountPath", f"{field}.mountPath: is required.")
            if ":" in path:
                raise invalid(f"{field}.mountPath",
                              f"{field}.mountPath: \"{path}\" must not contain ':'.")
            if any(path == d or path.startswith(d + "/") for d in DISALLOWED_MOUNT_PATHS):
                raise invalid(f"{field}.mountPath",
                              f"{field}.mountPath: \"{path}\" is not allowed: volumes cannot be "
                              "mounted at /dev, /proc or /sys or their subdirectories.")


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
    check_volumes(template, "service.template")
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


# --- Jobs and executions -------------------------------------------------------------------------


def check_job_spec(job, job_id):
    """Cloud Run's own checks of a job it is asked to keep."""
    if not job.HasField("template"):
        raise invalid("job.template", "job.template: is required.")
    template = job.template
    task = template.template
    if not task.containers:
        raise invalid("job.template.template.containers",
                      "job.template.template.containers: at least one container is required.")
    for index, container in enumerate(task.containers):
        if not container.image:
            raise invalid(f"job.template.template.containers[{index}].image",
                          f"job.template.template.containers[{index}].image: is required.")
    check_volumes(task, "job.template.template")
    if template.task_count < 0:
        raise invalid("job.template.taskCount", "job.template.taskCount: must not be negative.")
    if template.parallelism < 0:
        raise invalid("job.template.parallelism",
                      "job.template.parallelism: must not be negative.")
    if task.HasField("max_retries") and not 0 <= task.max_retries <= 10:
        raise invalid("job.template.template.maxRetries",
                      "job.template.template.maxRetries: must be between 0 and 10.")
    kind = job.WhichOneof("create_execution")
    if kind is not None:
        token = getattr(job, kind)
        field = "job." + ("startExecutionToken" if kind == "start_execution_token"
                          else "runExecutionToken")
        if not EXECUTION_TOKEN.fullmatch(token):
            raise invalid(field, f"{field}: \"{token}\" must contain only lowercase letters, "
                                 "digits and hyphens, and start and end with a letter or digit "
                                 "(it names an execution).")
        if len(job_id) + len(token) >= 63:
            raise invalid(field, f"{field}: the sum of job name and token length must be fewer "
                                 f"than 63 characters ({len(job_id)} + {len(token)}).")


def fill_job_defaults(job, project):
    """The defaults Cloud Run fills in on a job and answers (see README.md)."""
    if not job.launch_stage:
        job.launch_stage = GA
    template = job.template
    if not template.task_count:
        template.task_count = 1
    task = template.template
    if not task.HasField("max_retries"):
        task.max_retries = 3
    if not task.HasField("timeout"):
        task.timeout.FromSeconds(600)
    if not task.service_account:
        task.service_account = f"{project_number(project)}-compute@developer.gserviceaccount.com"
    for container in task.containers:
        if not container.resources.limits:
            container.resources.limits.update({"cpu": "1000m", "memory": "512Mi"})


def set_job_status(job, state, message=""):
    """The job's terminalCondition (type Ready); lastTransitionTime moves only on a change."""
    old = job.terminal_condition if job.HasField("terminal_condition") else None
    job.terminal_condition.CopyFrom(condition("Ready", state, message, None, old))


def execution_template(job, overrides):
    """(taskCount, parallelism, TaskTemplate) of a new execution of `job`, RunJob's overrides
    applied: taskCount and timeout replace the job's, a container override replaces its args
    (or clears them) and merges its env by name."""
    task = run_v2.TaskTemplate.pb()()
    task.CopyFrom(job.template.template)
    task_count = job.template.task_count or 1
    if overrides is not None:
        if overrides.task_count < 0:
            raise invalid("overrides.taskCount", "overrides.taskCount: must not be negative.")
        if overrides.task_count:
            task_count = overrides.task_count
        if overrides.HasField("timeout"):
            task.timeout.CopyFrom(overrides.timeout)
        for index, override in enumerate(overrides.container_overrides):
            named = [c for c in task.containers if c.name == override.name]
            if not named and not override.name and len(task.containers) == 1:
                named = list(task.containers)
            if not named:
                raise invalid(f"overrides.containerOverrides[{index}].name",
                              f"overrides.containerOverrides[{index}].name: no container of the "
                              f"job is named \"{override.name}\".")
            container = named[0]
            if override.clear_args:
                del container.args[:]
            elif override.args:
                container.args[:] = override.args
            for variable in override.env:
                kept = [e for e in container.env if e.name != variable.name]
                del container.env[:]
                container.env.extend(kept)
                container.env.add().CopyFrom(variable)
    parallelism = min(job.template.parallelism or task_count, task_count)
    return task_count, parallelism, task


def task_outcome(task):
    """What every attempt of every task does (Ferry's fakes' convention): the exit code of
    `exit N` in a container's command and args, "forever" for `sleep infinity`, else "succeed"."""
    texts = [" ".join([*container.command, *container.args]) for container in task.containers]
    for text in texts:
        found = EXIT_MARK.search(text)
        if found and int(found.group(1)) != 0:
            return int(found.group(1))
    if any(SLEEP_FOREVER_MARK in text for text in texts):
        return "forever"
    return "succeed"


def seconds_since(timestamp):
    """Seconds from `timestamp` to now as Cloud Run writes them in messages: "12.34s"."""
    elapsed = max(time.time() - timestamp.ToNanoseconds() / 1e9, 0.0)
    return f"{elapsed:.2f}".rstrip("0").rstrip(".") + "s"


def job_of(execution_name):
    """The job name of an execution name."""
    return execution_name.rsplit("/executions/", 1)[0]


EXECUTION_CONDITIONS = ("Completed", "ResourcesAvailable", "Started")


def set_execution_conditions(execution, changes):
    """Changes some of an execution's conditions ({type: (state, message, reason)}), keeping the
    others; the list always holds Completed, ResourcesAvailable and Started, in that order."""
    current = {}
    for old in execution.conditions:
        kept = Condition()
        kept.CopyFrom(old)
        current[kept.type_] = kept
    rebuilt = []
    for kind in EXECUTION_CONDITIONS:
        old = current.get(kind)
        if kind in changes:
            state, message, reason = changes[kind]
            rebuilt.append(condition(kind, state, message, reason, old))
        elif old is not None:
            rebuilt.append(old)
        else:
            rebuilt.append(condition(kind, PENDING, "", None, None))
    del execution.conditions[:]
    execution.conditions.extend(rebuilt)


def execution_reason(reason):
    return lambda made: setattr(made, "execution_reason", reason)


def completed_message(execution):
    for made in execution.conditions:
        if made.type_ == "Completed":
            return made.message
    return ""


class JobEntry:
    """A stored Cloud Run job."""

    def __init__(self, job):
        self.job = job
        self.operation = None  # the operation reconciling it, while one does
        # While that operation waits for an execution token: ("start" or "run", execution name).
        self.token = None


class ExecutionEntry:
    """A stored execution and where its tasks are."""

    def __init__(self, execution, outcome, steps):
        self.execution = execution
        self.outcome = outcome  # task_outcome()
        self.phase = "pending"  # pending, running, cancelling, done
        self.result = None  # once done: succeeded, failed or cancelled
        self.steps = steps  # observations left before the next phase
        self.operation = None  # the RunJob operation waiting for it, if any
        self.cancel = None  # the CancelExecution operation waiting for it, if any


# --- Cloud Scheduler -----------------------------------------------------------------------------

MONTH_NAMES = "jan feb mar apr may jun jul aug sep oct nov dec".split()
DAY_NAMES = "sun mon tue wed thu fri sat".split()


def cron_field(text, low, high, names=(), first_name=0):
    """The values a unix-cron field matches; ValueError when it is not one."""

    def number(item):
        if item.lower() in names:
            return names.index(item.lower()) + first_name
        if not item.isdigit():
            raise ValueError(item)
        return int(item)

    values = set()
    for item in text.split(","):
        span, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(item)
            step = int(step_text)
        if span == "*":
            start, end = low, high
        elif "-" in span:
            start_text, end_text = span.split("-", 1)
            start, end = number(start_text), number(end_text)
        else:
            start = number(span)
            end = high if slash else start
        if not low <= start <= end <= high:
            raise ValueError(item)
        values.update(range(start, end + 1, step))
    return values


def parse_cron(schedule):
    """(minutes, hours, days of month, months, days of week, day of month is *, day of week is
    *) of a unix-cron schedule; ValueError when it is not one."""
    fields = schedule.split()
    if len(fields) != 5:
        raise ValueError(schedule)
    minutes = cron_field(fields[0], 0, 59)
    hours = cron_field(fields[1], 0, 23)
    days = cron_field(fields[2], 1, 31)
    months = cron_field(fields[3], 1, 12, MONTH_NAMES, 1)
    weekdays = {day % 7 for day in cron_field(fields[4], 0, 7, DAY_NAMES)}
    return minutes, hours, days, months, weekdays, fields[2] == "*", fields[4] == "*"


def time_zone(name):
    """The tz database zone a job's timeZone names (empty or "utc": UTC); ValueError if none."""
    if name in ("", "utc", "UTC", "Etc/UTC"):
        return timezone.utc
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(name) from error


def next_run(schedule, zone, after):
    """The first time after `after` (UTC) that the unix-cron `schedule` names in `zone`, as a UTC
    datetime; None when it names none in the next five years."""
    minutes, hours, days, months, weekdays, any_day, any_weekday = parse_cron(schedule)
    local = after.astimezone(zone).replace(second=0, microsecond=0, tzinfo=None)
    local += timedelta(minutes=1)
    day = local.date()
    for _ in range(5 * 366):
        by_date = day.day in days
        by_weekday = day.isoweekday() % 7 in weekdays
        # As in cron: when both are restricted, either may match.
        matches = by_date and by_weekday if any_day or any_weekday else by_date or by_weekday
        if day.month in months and matches:
            for hour in sorted(hours):
                for minute in sorted(minutes):
                    candidate = datetime(day.year, day.month, day.day, hour, minute)
                    if candidate >= local:
                        return candidate.replace(tzinfo=zone).astimezone(timezone.utc)
        day += timedelta(days=1)
    return None


def check_scheduler_job(job):
    """Cloud Scheduler's own checks of a job it is asked to keep."""
    if job.WhichOneof("target") is None:
        raise invalid("job", "job: a target is required: httpTarget, pubsubTarget or "
                             "appEngineHttpTarget.")
    if len(job.description) > 500:
        raise invalid("job.description", "job.description: must not be longer than 500 "
                                         "characters.")
    if not job.schedule:
        raise invalid("job.schedule", "job.schedule: is required.")
    if job.schedule.strip().lower().startswith("every "):
        raise invalid("job.schedule", "job.schedule: cloudrun-fake understands unix-cron schedules "
                                      "only, not English-like ones (which Cloud Scheduler also "
                                      "takes).")
    try:
        parse_cron(job.schedule)
    except ValueError:
        raise invalid("job.schedule", "Schedule or time zone is invalid.") from None
    try:
        time_zone(job.time_zone)
    except ValueError:
        raise invalid("job.timeZone", "Schedule or time zone is invalid.") from None
    if job.HasField("http_target"):
        target = job.http_target
        if not target.uri.startswith(("http://", "https://")) or len(target.uri) > 2083:
            raise invalid("job.httpTarget.uri", "job.httpTarget.uri: must begin with \"http://\" "
                                                "or \"https://\" and be at most 2083 characters.")
        if target.body and (target.http_method or HTTP_POST) not in BODY_METHODS:
            raise invalid("job.httpTarget.body", "job.httpTarget.body: a request body is allowed "
                                                 "only if the HTTP method is POST, PUT, or PATCH.")
        for token in ("oauth_token", "oidc_token"):
            if target.HasField(token) and not getattr(target, token).service_account_email:
                field = "oauthToken" if token == "oauth_token" else "oidcToken"
                raise invalid(f"job.httpTarget.{field}.serviceAccountEmail",
                              f"job.httpTarget.{field}.serviceAccountEmail: is required.")
        if job.HasField("attempt_deadline"):
            seconds = job.attempt_deadline.ToNanoseconds() / 1e9
            if not 15 <= seconds <= 1800:
                raise invalid("job.attemptDeadline", "job.attemptDeadline: must be between 15 "
                                                     "seconds and 30 minutes for HTTP targets.")
    retry = job.retry_config
    if not 0 <= retry.retry_count <= 5:
        raise invalid("job.retryConfig.retryCount", "job.retryConfig.retryCount: values greater "
                                                    "than 5 and negative values are not allowed.")
    if retry.max_doublings < 0:
        raise invalid("job.retryConfig.maxDoublings",
                      "job.retryConfig.maxDoublings: must not be negative.")
    for field, name in (("max_retry_duration", "maxRetryDuration"),
                        ("min_backoff_duration", "minBackoffDuration"),
                        ("max_backoff_duration", "maxBackoffDuration")):
        if getattr(retry, field).ToNanoseconds() < 0:
            raise invalid(f"job.retryConfig.{name}", f"job.retryConfig.{name}: must not be "
                                                     "negative.")


def fill_scheduler_defaults(job):
    """What Cloud Scheduler fills in on an HTTP target and answers (see README.md)."""
    if not job.HasField("http_target"):
        return
    target = job.http_target
    if not target.http_method:
        target.http_method = HTTP_POST
    for key in [key for key in target.headers if key.lower() == "user-agent"]:
        del target.headers[key]
    target.headers["User-Agent"] = "Google-Cloud-Scheduler"
    if not job.HasField("attempt_deadline"):
        job.attempt_deadline.FromSeconds(180)


def schedule_next(job):
    """scheduleTime: the schedule's next time while the job is enabled, else none."""
    job.ClearField("schedule_time")
    if job.state != ENABLED:
        return
    upcoming = next_run(job.schedule, time_zone(job.time_zone), datetime.now(timezone.utc))
    if upcoming is not None:
        job.schedule_time.FromDatetime(upcoming)


def scheduler_not_found():
    return ApiError(404, "NOT_FOUND", "Job not found.")


def v1_run_body(raw):
    """A Cloud Run Admin API v1 RunJobRequest body as the v2 body it means (`overrides` with
    `containerOverrides`, `taskCount`, `timeoutSeconds`); ValueError when the fake cannot say."""
    if not raw.strip():
        return b"{}"
    body = json.loads(raw)
    if not isinstance(body, dict) or set(body) - {"overrides"}:
        raise ValueError("a v1 RunJobRequest has only `overrides`")
    overrides = body.get("overrides") or {}
    if not isinstance(overrides, dict):
        raise ValueError("`overrides` is not an object")
    converted = {}
    for key, value in overrides.items():
        if key == "timeoutSeconds":
            converted["timeout"] = f"{int(value)}s"
        elif key in ("containerOverrides", "taskCount"):
            converted[key] = value
        else:
            raise ValueError(f"v1 overrides have no `{key}`")
    return json.dumps({"overrides": converted} if converted else {}).encode()


MISSING_CREDENTIALS = ("Request is missing required authentication credential. Expected OAuth 2 "
                       "access token, login cookie or other valid authentication credential. See "
                       "https://developers.google.com/identity/sign-in/web/devconsole-project.")
INVALID_CREDENTIALS = ("Request had invalid authentication credentials. Expected OAuth 2 access "
                       "token, login cookie or other valid authentication credential. See "
                       "https://developers.google.com/identity/sign-in/web/devconsole-project.")


class Entry:
    """A stored service, its revisions and its IAM policy."""

    def __init__(self, service):
        self.service = service
        self.revisions = {}  # revision name -> its template, serialized
        self.next_revision = 1
        self.policy = policy_pb2.Policy(version=1, etag=secrets.token_bytes(8))
        self.operation = None  # the operation reconciling it, while one does


class Operation:
    def __init__(self, name, resource, kind, steps):
        self.message = operations_pb2.Operation(name=name)
        self.resource = resource  # the name of the service, job or execution it is about
        # "reconcile" (a service), "job" (a job), "run" or "cancel" (an execution), "delete"
        self.kind = kind
        self.steps = steps  # observations left before it is done (reconcile, job, delete)
        self.deleted = None  # a delete operation's answer: the resource as deleted


# --- The API -------------------------------------------------------------------------------------


class Fake:
    """Services, jobs, executions, scheduler jobs, operations and IAM policies in memory; the
    calls received; faults to inject."""

    def __init__(self, operation_polls):
        self.polls = operation_polls
        self.lock = threading.RLock()
        self.reset()

    def reset(self):
        self.services = {}
        self.jobs = {}
        self.executions = {}  # by name, oldest first
        self.scheduler_jobs = {}
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
        handler = getattr(self, rpc.handler)
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

    def new_operation(self, resource, kind):
        project, region, _, _ = parts(resource)
        name = f"projects/{project}/locations/{region}/operations/{uuid.uuid4()}"
        operation = Operation(name, resource, kind, self.polls)
        self.operations[name] = operation
        return operation

    def done_operation(self, resource):
        """The answer to a validate-only request: a finished operation that is not kept."""
        project, region, _, _ = parts(resource.name)
        message = operations_pb2.Operation(
            name=f"projects/{project}/locations/{region}/operations/{uuid.uuid4()}", done=True)
        message.metadata.Pack(resource)
        message.response.Pack(resource)
        return message

    def current(self, name):
        """The stored service, job or execution of that name, or None."""
        for store, field in ((self.services, "service"), (self.jobs, "job"),
                             (self.executions, "execution")):
            if name in store:
                return getattr(store[name], field)
        return None

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
        resource = self.current(operation.resource)
        if resource is not None:
            operation.message.metadata.Pack(resource)
        name = operation.message.name
        entry = self.services.get(operation.resource) or self.jobs.get(operation.resource)
        if entry is not None and entry.operation == name:
            entry.operation = None
            if isinstance(entry, JobEntry):
                entry.token = None
        execution = self.executions.get(operation.resource)
        if execution is not None:
            if execution.operation == name:
                execution.operation = None
            if execution.cancel == name:
                execution.cancel = None

    def operation_message(self, operation):
        if not operation.message.done:
            resource = self.current(operation.resource)
            if resource is not None:
                operation.message.metadata.Pack(resource)
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
        start, size = page(request.page_token, request.page_size, 100)
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
        return self.delete_operation(service)

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
            elif operation.kind == "reconcile" and operation.resource in self.services:
                self.observe(self.services[operation.resource])
            elif operation.kind == "job" and operation.resource in self.jobs:
                self.observe_job(self.jobs[operation.resource])
            elif operation.kind in ("run", "cancel") and operation.resource in self.executions:
                self.step_execution(self.executions[operation.resource])
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

    # Jobs ----------------------------------------------------------------------------------------

    def CreateJob(self, request):
        job_id = request.job_id
        if not JOB_ID.fullmatch(job_id):
            raise invalid("jobId",
                          f"jobId: \"{job_id}\" must start with a letter, contain only lowercase "
                          "letters, digits and hyphens, end with a letter or digit, and have at "
                          "most 63 characters.")
        return self.create_job(f"{request.parent}/jobs/{job_id}", request.job,
                               request.validate_only)

    def create_job(self, name, spec, validate_only):
        if name in self.jobs:
            raise ApiError(409, "ALREADY_EXISTS", f"Resource '{parts(name)[3]}' already exists.")
        project, _, _, job_id = parts(name)
        check_job_spec(spec, job_id)
        job = Job()
        job.CopyFrom(spec)
        for field in JOB_SERVER_SET:
            job.ClearField(field)
        job.name = name
        job.uid = str(uuid.uuid4())
        job.generation = 1
        now(job.create_time)
        job.update_time.CopyFrom(job.create_time)
        job.creator = CREATOR
        job.last_modifier = CREATOR
        fill_job_defaults(job, project)
        return self.reconcile_job(JobEntry(job), validate_only)

    def UpdateJob(self, request):
        name = request.job.name
        entry = self.jobs.get(name)
        if entry is None:
            if request.allow_missing:
                return self.create_job(name, request.job, request.validate_only)
            raise not_found(name)
        stored = entry.job
        if request.job.etag and request.job.etag != stored.etag:
            raise aborted(f"The etag {request.job.etag} does not match the current etag of job "
                          f"'{name}'; read it again and retry.")
        sent = Job()
        sent.CopyFrom(request.job)
        for field in JOB_SERVER_SET:
            sent.ClearField(field)
        updated = Job()
        updated.CopyFrom(stored)
        for field in Job.DESCRIPTOR.fields:
            if field.name not in JOB_SERVER_SET:
                updated.ClearField(field.name)
        updated.MergeFrom(sent)
        project, _, _, job_id = parts(name)
        check_job_spec(updated, job_id)
        fill_job_defaults(updated, project)
        if request.validate_only:
            return self.done_operation(updated)
        updated.generation = stored.generation + 1
        now(updated.update_time)
        updated.last_modifier = CREATOR
        entry.job = updated
        return self.reconcile_job(entry, False)

    def reconcile_job(self, entry, validate_only):
        """Starts bringing the job to its new generation, with the execution its token asks for;
        answers the operation doing it."""
        job = entry.job
        if validate_only:
            return self.done_operation(job)
        job.reconciling = True
        set_job_status(job, PENDING)
        touch(job)
        if entry.operation is not None:
            self.finish_with_error(self.operations[entry.operation], "ABORTED",
                                   f"Superseded by a newer change to job '{job.name}' "
                                   f"(generation {job.generation}).")
        operation = self.new_operation(job.name, "job")
        self.jobs[job.name] = entry
        entry.operation = operation.message.name
        operation.message.metadata.Pack(job)
        kind = job.WhichOneof("create_execution")
        if kind is None:
            if operation.steps == 0:
                self.finish_job(entry, operation)
            return self.operation_message(operation)
        # The token names the execution; one that exists already is not made again.
        execution_id = f"{parts(job.name)[3]}-{getattr(job, kind)}"
        execution_name = f"{job.name}/executions/{execution_id}"
        entry.token = ("start" if kind == "start_execution_token" else "run", execution_name)
        if execution_name not in self.executions:
            self.new_execution(entry, execution_id, *execution_template(job, None))
        self.settle_token(entry)
        return self.operation_message(operation)

    def finish_job(self, entry, operation):
        job = entry.job
        entry.operation = None
        entry.token = None
        job.reconciling = False
        job.observed_generation = job.generation
        set_job_status(job, SUCCEEDED)
        touch(job)
        operation.message.done = True
        operation.message.metadata.Pack(job)
        operation.message.response.Pack(job)

    def fail_job(self, entry, operation, message):
        """A reconciliation that failed: as documented, observedGeneration keeps the last one
        that succeeded."""
        job = entry.job
        job.reconciling = False
        set_job_status(job, FAILED, message)
        touch(job)
        self.finish_with_error(operation, "FAILED_PRECONDITION", message)

    def settle_token(self, entry):
        """Finishes the job's reconciliation once its token's execution has started (start
        token) or completed (run token)."""
        if entry.operation is None or entry.token is None:
            return
        kind, execution_name = entry.token
        operation = self.operations[entry.operation]
        execution = self.executions.get(execution_name)
        if execution is None:
            self.fail_job(entry, operation, f"Execution '{parts(execution_name)[3]}' was deleted.")
            return
        started = execution.execution.HasField("start_time")
        if kind == "start" and started:
            self.finish_job(entry, operation)
        elif execution.phase == "done":
            if execution.result == "succeeded":
                self.finish_job(entry, operation)
            else:
                self.fail_job(entry, operation, completed_message(execution.execution))

    def observe_job(self, entry):
        """One observation of a job: a step for each of its unfinished executions and for its
        reconciliation."""
        for execution in self.executions_of(entry.job.name):
            self.step_execution(execution)
        if entry.operation is None:
            return
        operation = self.operations[entry.operation]
        if entry.token is None:
            operation.steps -= 1
            if operation.steps <= 0:
                self.finish_job(entry, operation)
                return
        if entry.job.terminal_condition.state == PENDING:
            set_job_status(entry.job, RECONCILING)
            touch(entry.job)

    def GetJob(self, request):
        entry = self.jobs.get(request.name)
        if entry is None:
            raise not_found(request.name)
        self.observe_job(entry)
        return entry.job

    def ListJobs(self, request):
        prefix = f"{request.parent}/jobs/"
        names = sorted(name for name in self.jobs if name.startswith(prefix))
        start, size = page(request.page_token, request.page_size, 100)
        answer = ListJobsResponse()
        for name in names[start:start + size]:
            answer.jobs.append(self.jobs[name].job)
        if start + size < len(names):
            answer.next_page_token = str(start + size)
        return answer

    def DeleteJob(self, request):
        entry = self.jobs.get(request.name)
        if entry is None:
            raise not_found(request.name)
        job = entry.job
        if request.etag and request.etag != job.etag:
            raise aborted(f"The etag {request.etag} does not match the current etag of job "
                          f"'{request.name}'; read it again and retry.")
        if request.validate_only:
            return self.done_operation(job)
        if entry.operation is not None:
            self.finish_with_error(self.operations[entry.operation], "ABORTED",
                                   f"Job '{request.name}' was deleted before this operation "
                                   "finished.")
        for execution in self.executions_of(request.name, finished=True):
            self.drop_execution(execution, f"Job '{request.name}' was deleted.")
        del self.jobs[request.name]
        now(job.delete_time)
        job.expire_time.FromSeconds(job.delete_time.seconds + 30 * 24 * 3600)
        touch(job)
        return self.delete_operation(job)

    def delete_operation(self, deleted):
        operation = self.new_operation(deleted.name, "delete")
        operation.message.metadata.Pack(deleted)
        operation.deleted = deleted
        if operation.steps == 0:
            self.finish_delete(operation)
        return operation.message

    def RunJob(self, request):
        entry = self.jobs.get(request.name)
        if entry is None:
            raise not_found(request.name)
        job = entry.job
        if request.etag and request.etag != job.etag:
            raise aborted(f"The etag {request.etag} does not match the current etag of job "
                          f"'{request.name}'; read it again and retry.")
        overrides = request.overrides if request.HasField("overrides") else None
        task_count, parallelism, task = execution_template(job, overrides)
        suffix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(5))
        execution_id = f"{parts(job.name)[3]}-{suffix}"
        if request.validate_only:
            execution = self.execution_message(job, execution_id, task_count, parallelism, task)
            return self.done_operation(execution)
        execution = self.new_execution(entry, execution_id, task_count, parallelism, task)
        operation = self.new_operation(execution.execution.name, "run")
        execution.operation = operation.message.name
        operation.message.metadata.Pack(execution.execution)
        if execution.phase == "done":
            self.finish_execution_operations(execution)
        return self.operation_message(operation)

    # Executions ----------------------------------------------------------------------------------

    def executions_of(self, job_name, finished=False):
        """The executions of a job, oldest first (only unfinished ones unless `finished`)."""
        prefix = f"{job_name}/executions/"
        return [execution for name, execution in list(self.executions.items())
                if name.startswith(prefix) and (finished or execution.phase != "done")]

    @staticmethod
    def execution_message(job, execution_id, task_count, parallelism, task):
        execution = Execution(name=f"{job.name}/executions/{execution_id}", uid=str(uuid.uuid4()),
                              creator=CREATOR, generation=1, observed_generation=1,
                              launch_stage=job.launch_stage, job=parts(job.name)[3],
                              task_count=task_count, parallelism=parallelism, reconciling=True)
        execution.template.CopyFrom(task)
        execution.labels.update(job.template.labels)
        execution.annotations.update(job.template.annotations)
        now(execution.create_time)
        execution.update_time.CopyFrom(execution.create_time)
        set_execution_conditions(execution, {})
        touch(execution)
        return execution

    def new_execution(self, entry, execution_id, task_count, parallelism, task):
        job = entry.job
        message = self.execution_message(job, execution_id, task_count, parallelism, task)
        execution = ExecutionEntry(message, task_outcome(task), self.polls)
        self.executions[message.name] = execution
        job.execution_count += 1
        reference = job.latest_created_execution
        reference.Clear()
        reference.name = message.name
        reference.create_time.CopyFrom(message.create_time)
        reference.completion_status = COMPLETION.EXECUTION_PENDING.value
        touch(job)
        self.advance(execution)
        return execution

    def step_execution(self, execution):
        """One observation of an execution: a step towards its next phase."""
        if execution.phase == "done":
            return
        execution.steps -= 1
        self.advance(execution)

    def advance(self, execution):
        """Moves the execution through every phase whose observations are used up."""
        while execution.steps <= 0 and execution.phase != "done":
            if execution.phase == "pending":
                self.start_tasks(execution)
            elif execution.phase == "cancelling":
                self.end_cancelled(execution)
            elif execution.outcome == "forever":
                break
            else:
                self.end_tasks(execution)
        self.sync(execution)

    def start_tasks(self, execution):
        message = execution.execution
        execution.phase = "running"
        execution.steps = self.polls
        message.running_count = message.parallelism
        now(message.start_time)
        message.update_time.CopyFrom(message.start_time)
        set_execution_conditions(message, {
            "Completed": (RECONCILING, "Waiting for execution to complete.", None),
            "ResourcesAvailable": (SUCCEEDED, "Provisioned imported containers.", None),
            "Started": (SUCCEEDED, "Started deployed execution in "
                                   f"{seconds_since(message.create_time)}.", None),
        })
        touch(message)

    def end_tasks(self, execution):
        message = execution.execution
        execution.phase = "done"
        message.running_count = 0
        if execution.outcome == "succeed":
            execution.result = "succeeded"
            message.succeeded_count = message.task_count
            completed = (SUCCEEDED, "Execution completed successfully in "
                                    f"{seconds_since(message.create_time)}.", None)
        else:
            # Every attempt of every task exits with the code: each task is retried
            # maxRetries times, then fails. retriedCount counts the tasks that retried.
            execution.result = "failed"
            message.failed_count = message.task_count
            if message.template.max_retries > 0:
                message.retried_count = message.task_count
            completed = (FAILED, f"Execution {parts(message.name)[3]} has failed to complete, "
                                 f"0/{message.task_count} tasks were a success.",
                         execution_reason(NON_ZERO_EXIT_CODE))
        self.complete(message, completed)

    def end_cancelled(self, execution):
        message = execution.execution
        execution.phase = "done"
        execution.result = "cancelled"
        message.cancelled_count = (message.task_count - message.succeeded_count
                                   - message.failed_count)
        message.running_count = 0
        self.complete(message, (FAILED, f"Execution {parts(message.name)[3]} was cancelled.",
                                execution_reason(CANCELLED)))

    @staticmethod
    def complete(message, completed):
        message.reconciling = False
        now(message.completion_time)
        message.update_time.CopyFrom(message.completion_time)
        set_execution_conditions(message, {"Completed": completed})
        touch(message)

    def sync(self, execution):
        """What follows from the execution's state: its job's latestCreatedExecution, the job's
        token, and its operations once it is done."""
        message = execution.execution
        entry = self.jobs.get(job_of(message.name))
        if entry is not None:
            reference = entry.job.latest_created_execution
            if reference.name == message.name:
                status = {
                    "pending": COMPLETION.EXECUTION_PENDING,
                    "running": COMPLETION.EXECUTION_RUNNING,
                    "cancelling": COMPLETION.EXECUTION_RUNNING,
                    "succeeded": COMPLETION.EXECUTION_SUCCEEDED,
                    "failed": COMPLETION.EXECUTION_FAILED,
                    "cancelled": COMPLETION.EXECUTION_CANCELLED,
                }[execution.result or execution.phase].value
                if reference.completion_status != status:
                    reference.completion_status = status
                    if message.HasField("completion_time"):
                        reference.completion_time.CopyFrom(message.completion_time)
                    touch(entry.job)
            self.settle_token(entry)
        if execution.phase == "done":
            self.finish_execution_operations(execution)

    def finish_execution_operations(self, execution):
        """Ends the RunJob and CancelExecution operations of a finished execution: a RunJob
        operation with the execution as its response when it succeeded, else with an error."""
        message = execution.execution
        for field in ("operation", "cancel"):
            name = getattr(execution, field)
            setattr(execution, field, None)
            operation = self.operations.get(name) if name else None
            if operation is None or operation.message.done:
                continue
            operation.message.done = True
            operation.message.metadata.Pack(message)
            if field == "cancel" or execution.result == "succeeded":
                operation.message.response.Pack(message)
            elif execution.result == "cancelled":
                operation.message.error.code = RPC_CODE["CANCELLED"]
                operation.message.error.message = completed_message(message)
            else:
                operation.message.error.code = RPC_CODE["FAILED_PRECONDITION"]
                operation.message.error.message = completed_message(message)

    def drop_execution(self, execution, why):
        """Forgets an execution; operations still waiting for it end ABORTED."""
        for name in (execution.operation, execution.cancel):
            if name and name in self.operations:
                self.finish_with_error(self.operations[name], "ABORTED", why)
        del self.executions[execution.execution.name]

    def GetExecution(self, request):
        execution = self.executions.get(request.name)
        if execution is None:
            raise not_found(request.name)
        self.step_execution(execution)
        return execution.execution

    def ListExecutions(self, request):
        """Newest first. `-` for the job lists the executions of every job of the location."""
        if parts(request.parent)[3] == "-":
            prefix = request.parent[:-1]
            names = [name for name in self.executions if name.startswith(prefix)]
        else:
            if request.parent not in self.jobs:
                raise not_found(request.parent)
            names = [name for name in self.executions
                     if job_of(name) == request.parent]
        names.reverse()
        start, size = page(request.page_token, request.page_size, 100)
        answer = ListExecutionsResponse()
        for name in names[start:start + size]:
            answer.executions.append(self.executions[name].execution)
        if start + size < len(names):
            answer.next_page_token = str(start + size)
        return answer

    def DeleteExecution(self, request):
        execution = self.executions.get(request.name)
        if execution is None:
            raise not_found(request.name)
        message = execution.execution
        if request.etag and request.etag != message.etag:
            raise aborted(f"The etag {request.etag} does not match the current etag of execution "
                          f"'{request.name}'; read it again and retry.")
        if request.validate_only:
            return self.done_operation(message)
        self.drop_execution(execution, f"Execution '{request.name}' was deleted.")
        now(message.delete_time)
        message.expire_time.FromSeconds(message.delete_time.seconds + 30 * 24 * 3600)
        touch(message)
        entry = self.jobs.get(job_of(request.name))
        if entry is not None:
            self.settle_token(entry)
        return self.delete_operation(message)

    def CancelExecution(self, request):
        execution = self.executions.get(request.name)
        if execution is None:
            raise not_found(request.name)
        message = execution.execution
        if request.etag and request.etag != message.etag:
            raise aborted(f"The etag {request.etag} does not match the current etag of execution "
                          f"'{request.name}'; read it again and retry.")
        if execution.phase == "done":
            raise ApiError(400, "FAILED_PRECONDITION",
                           f"Execution '{parts(request.name)[3]}' has already completed and "
                           "cannot be cancelled.")
        if request.validate_only:
            return self.done_operation(message)
        if execution.cancel is not None:
            return self.operation_message(self.operations[execution.cancel])
        execution.phase = "cancelling"
        execution.steps = self.polls
        set_execution_conditions(message, {
            "Completed": (RECONCILING, "", execution_reason(CANCELLING)),
        })
        touch(message)
        operation = self.new_operation(message.name, "cancel")
        execution.cancel = operation.message.name
        operation.message.metadata.Pack(message)
        self.advance(execution)
        return self.operation_message(operation)

    # Cloud Scheduler -----------------------------------------------------------------------------

    def CloudScheduler_CreateJob(self, request):
        job = SchedulerJob()
        job.CopyFrom(request.job)
        prefix = f"{request.parent}/jobs/"
        if job.name:
            if not (job.name.startswith(prefix)
                    and SCHEDULER_JOB_ID.fullmatch(job.name[len(prefix):])):
                raise invalid("job.name", f"job.name: \"{job.name}\" must be {prefix}JOB_ID, where "
                                          "JOB_ID has only letters, digits, hyphens and "
                                          "underscores, and at most 500 characters.")
            name = job.name
        else:
            name = prefix + "".join(secrets.choice("0123456789") for _ in range(20))
        if name in self.scheduler_jobs:
            raise ApiError(409, "ALREADY_EXISTS", f"Job {name} already exists.")
        for field in SCHEDULER_SERVER_SET:
            job.ClearField(field)
        job.name = name
        check_scheduler_job(job)
        fill_scheduler_defaults(job)
        job.state = ENABLED
        now(job.user_update_time)
        schedule_next(job)
        self.scheduler_jobs[name] = job
        return job

    def scheduler_job(self, name):
        job = self.scheduler_jobs.get(name)
        if job is None:
            raise scheduler_not_found()
        return job

    def CloudScheduler_GetJob(self, request):
        return self.scheduler_job(request.name)

    def CloudScheduler_ListJobs(self, request):
        prefix = f"{request.parent}/jobs/"
        names = sorted(name for name in self.scheduler_jobs if name.startswith(prefix))
        if request.page_size > 500:
            raise invalid("pageSize", "pageSize: the maximum page size is 500.")
        start, size = page(request.page_token, request.page_size, 500)
        answer = ListSchedulerJobsResponse()
        for name in names[start:start + size]:
            answer.jobs.append(self.scheduler_jobs[name])
        if start + size < len(names):
            answer.next_page_token = str(start + size)
        return answer

    def CloudScheduler_UpdateJob(self, request):
        stored = self.scheduler_job(request.job.name)
        sent = SchedulerJob()
        sent.CopyFrom(request.job)
        for field in SCHEDULER_SERVER_SET:
            sent.ClearField(field)
        updated = SchedulerJob()
        updated.CopyFrom(stored)
        if request.update_mask.paths:
            mask = request.update_mask
            if not mask.IsValidForDescriptor(SchedulerJob.DESCRIPTOR):
                raise invalid("updateMask", f"updateMask: {mask.ToJsonString()} names a field "
                                            "Job does not have.")
            writable = field_mask_pb2.FieldMask(paths=[
                path for path in mask.paths if path.split(".")[0] not in SCHEDULER_SERVER_SET])
            writable.MergeMessage(sent, updated, replace_message_field=True,
                                  replace_repeated_field=True)
        else:
            # The body replaces the job, but for its schedule, which UpdateJob does not require.
            if not sent.schedule:
                sent.schedule = stored.schedule
            for field in SchedulerJob.DESCRIPTOR.fields:
                if field.name not in SCHEDULER_SERVER_SET:
                    updated.ClearField(field.name)
            updated.MergeFrom(sent)
        check_scheduler_job(updated)
        fill_scheduler_defaults(updated)
        now(updated.user_update_time)
        schedule_next(updated)
        self.scheduler_jobs[updated.name] = updated
        return updated

    def CloudScheduler_DeleteJob(self, request):
        self.scheduler_job(request.name)
        del self.scheduler_jobs[request.name]
        return empty_pb2.Empty()

    def CloudScheduler_PauseJob(self, request):
        job = self.scheduler_job(request.name)
        if job.state != ENABLED:
            raise ApiError(400, "FAILED_PRECONDITION",
                           f"Job {request.name} is not ENABLED: only an enabled job can be paused.")
        job.state = PAUSED
        schedule_next(job)
        return job

    def CloudScheduler_ResumeJob(self, request):
        job = self.scheduler_job(request.name)
        if job.state != PAUSED:
            raise ApiError(400, "FAILED_PRECONDITION",
                           f"Job {request.name} is not PAUSED: only a paused job can be resumed.")
        job.state = ENABLED
        schedule_next(job)
        return job

    def CloudScheduler_RunJob(self, request):
        job = self.scheduler_job(request.name)
        if job.state == PAUSED:
            raise ApiError(400, "FAILED_PRECONDITION",
                           f"Job {request.name} is paused: resume it before running it.")
        self.fire(job)
        return job

    def fire(self, job):
        """One attempt of a scheduler job, as its schedule or RunJob makes it."""
        now(job.last_attempt_time)
        job.status.CopyFrom(self.deliver(job))
        schedule_next(job)

    def deliver(self, job):
        """Sends the job's HTTP request where the fake can: to a Cloud Run job's `:run`, which
        starts an execution as RunJob does. Answers the google.rpc.Status of the attempt."""
        if not job.HasField("http_target"):
            return status_pb2.Status(code=RPC_CODE["UNIMPLEMENTED"],
                                     message="cloudrun-fake delivers HTTP targets only.")
        target = job.http_target
        split = urlsplit(target.uri)
        base = f"{split.scheme}://{split.netloc}{split.path}"
        v2 = RUN_JOB_URI.fullmatch(base)
        v1 = RUN_JOB_V1_URI.fullmatch(base)
        if v2 is None and v1 is None:
            return status_pb2.Status(code=RPC_CODE["UNIMPLEMENTED"],
                                     message="cloudrun-fake delivers only to a Cloud Run job's "
                                             f":run URI, not to {target.uri}.")
        if (target.http_method or HTTP_POST) != HTTP_POST:
            return status_pb2.Status(code=RPC_CODE["NOT_FOUND"],
                                     message="RunJob is a POST; Cloud Run answers any other "
                                             "method of a :run URI 404 Not Found.")
        if target.HasField("oidc_token"):
            return status_pb2.Status(code=RPC_CODE["UNAUTHENTICATED"],
                                     message=INVALID_CREDENTIALS)
        if not target.HasField("oauth_token"):
            return status_pb2.Status(code=RPC_CODE["UNAUTHENTICATED"],
                                     message=MISSING_CREDENTIALS)
        try:
            if v2 is not None:
                name, body = v2.group("job"), target.body
            else:
                name = (f"projects/{v1.group('project')}/locations/{v1.group('region')}/jobs/"
                        f"{v1.group('job')}")
                try:
                    body = v1_run_body(target.body)
                except (ValueError, TypeError) as error:
                    raise invalid("overrides", f"cloudrun-fake cannot read this v1 RunJob body: "
                                               f"{error}") from error
            self.RunJob(transcode(RUN_JOB, name, [], body))
        except ApiError as error:
            return status_pb2.Status(code=RPC_CODE.get(error.status, RPC_CODE["UNKNOWN"]),
                                     message=error.message)
        return status_pb2.Status()


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
    match = re.match(r"/v[12]/projects/([^/:]+)", path)
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
            return 200, {"operationPolls": fake.polls, "googleCloudRun": RUN_VERSION,
                         "googleCloudScheduler": SCHEDULER_VERSION}
        if (method, path) == ("POST", "/fake/scheduler/fire"):
            try:
                name = json.loads(raw).get("job")
                if not isinstance(name, str):
                    raise ValueError(f"not a job name: {name!r}")
            except (ValueError, AttributeError) as error:
                return 400, {"error": {"code": 400, "message": str(error)}}
            job = fake.scheduler_jobs.get(name)
            if job is None:
                return 404, {"error": {"code": 404, "message": f"no scheduler job {name}"}}
            # The schedule's own tick: a paused (or disabled) job does not run.
            if job.state != ENABLED:
                return 200, {"ran": False}
            fake.fire(job)
            return 200, {"ran": True, "status": render(job.status, False)}
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
                        help="observations (GetOperation, GetService, GetJob, GetExecution) "
                             "before an operation is done or an execution moves on")
    parser.add_argument("--parent-pid", type=int,
                        help="exit when this process is gone (default: the parent at start)")
    args = parser.parse_args()

    exit_with_parent(args.parent_pid or os.getppid())
    for package, pinned in (("google-cloud-run", RUN_VERSION),
                            ("google-cloud-scheduler", SCHEDULER_VERSION)):
        installed = metadata.version(package)
        if installed != pinned:
            sys.exit(f"{package} {installed} is installed for {sys.executable}; the fake is "
                     f"pinned to {pinned}: {INSTALL_HINT}")
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    server.fake = Fake(max(args.operation_polls, 0))
    print(f"cloudrun-fake (google-cloud-run {RUN_VERSION}, google-cloud-scheduler "
          f"{SCHEDULER_VERSION}) on {args.host}:{args.port}",
          file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
