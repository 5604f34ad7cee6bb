#!/usr/bin/env python3
"""moto server for Ferry's tests, patched where Ferry depends on ECS and Scheduler acting as AWS.

    python3 launcher.py --host 127.0.0.1 --port PORT [--rollout-describes K] [--parent-pid PID]

moto 5.2.5 is patched in memory (nothing on disk changes); every patch is listed in README.md,
as is the admin call added (POST /moto-api/ferry/scheduler/fire).
The server exits by itself when the process that started it dies, so a killed test binary
never leaves it behind.
"""

import argparse
import datetime
import json
import logging
import os
import re
import sys
import threading
import time
import zoneinfo

MOTO_VERSION = "5.2.5"
INSTALL_HINT = f"python3 -m pip install 'moto[server]=={MOTO_VERSION}'"

# A task definition with an image containing this text never starts: its rollouts fail.
FAIL_ROLLOUT_MARK = "fail-rollout"
CIRCUIT_BREAKER_REASON = "ECS deployment circuit breaker: tasks failed to start."

# moto's server answers from several threads; the patched ECS state changes under this lock.
LOCK = threading.RLock()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--rollout-describes",
        type=int,
        default=2,
        help="the K-th DescribeServices that includes a service reports its rollout finished",
    )
    parser.add_argument(
        "--parent-pid",
        type=int,
        help="exit when this process is gone (default: the parent at start)",
    )
    args = parser.parse_args()

    exit_with_parent(args.parent_pid or os.getppid())
    moto_server = import_moto()
    # moto reads this when a service is created; the patches own the counts instead.
    os.environ.pop("MOTO_ECS_SERVICE_RUNNING", None)
    patch_ecs(max(args.rollout_describes, 0))
    run_tasks = patch_ecs_tasks()
    patch_scheduler()
    add_admin_routes(run_tasks)
    patch_application_autoscaling()
    # One log line per request would only fill the pipe the test harness reads errors from.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    print(f"moto {MOTO_VERSION} patched by Ferry on {args.host}:{args.port}", file=sys.stderr)
    moto_server.main(["-H", args.host, "-p", str(args.port)])


def exit_with_parent(parent: int) -> None:
    """Exits within a second of the parent process (once gone, this one is re-parented).

    The parent's pid is best given on the command line: a parent that died while Python was
    starting would otherwise go unnoticed.
    """

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


def import_moto():
    try:
        import moto
        import moto.server
    except ImportError as error:
        sys.exit(f"moto[server] is missing for {sys.executable} ({error}); run: {INSTALL_HINT}")
    if moto.__version__ != MOTO_VERSION:
        # The patches below replace moto internals and are only known to fit this version.
        sys.exit(f"moto {moto.__version__} found, the patches need {MOTO_VERSION}: {INSTALL_HINT}")
    return moto.server


# --------------------------------------------------------------------------------------------
# ECS
# --------------------------------------------------------------------------------------------


def patch_ecs(rollout_describes: int) -> None:
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.ecs.exceptions import ECSException, InvalidParameterException
    from moto.ecs.models import EC2ContainerServiceBackend, Service
    from moto.ecs.responses import EC2ContainerServiceResponse
    from moto.moto_api._internal import mock_random

    def not_active() -> Exception:
        return ECSException("ServiceNotActiveException", "Service was not ACTIVE.")

    def find_service(backend, cluster: str, name: str):
        """The service stored under this cluster and name (or ARN), whatever its status."""
        cluster_name = backend._get_cluster(cluster).name
        return backend.services.get(f"{cluster_name}:{name.split('/')[-1]}")

    def rollout_fails(backend, service) -> bool:
        task_definition = backend.describe_task_definition(service.task_definition)
        return any(
            FAIL_ROLLOUT_MARK in (container.get("image") or "")
            for container in task_definition.container_definitions
        )

    def sync_counts(service) -> None:
        """A service runs and waits for what its deployments run and wait for."""
        service.running_count = sum(d["runningCount"] for d in service.deployments)
        service.pending_count = sum(d["pendingCount"] for d in service.deployments)

    def start_deployment(backend, service) -> None:
        """Starts a PRIMARY deployment; the previous PRIMARY keeps its tasks as ACTIVE."""
        for deployment in service.deployments:
            if deployment["status"] == "PRIMARY":
                deployment["status"] = "ACTIVE"
        deployment_id = f"ecs-svc/{mock_random.randint(0, 32**12)}"
        now = utcnow()
        service.deployments.insert(
            0,
            {
                "id": deployment_id,
                "status": "PRIMARY",
                "taskDefinition": service.task_definition,
                "desiredCount": service.desired_count,
                "pendingCount": service.desired_count,
                "runningCount": 0,
                "failedTasks": 0,
                "createdAt": now,
                "updatedAt": now,
                "launchType": service.launch_type,
                "platformVersion": service.platform_version,
                "platformFamily": "EC2" if service.launch_type == "EC2" else "FARGATE",
                "networkConfiguration": service.network_configuration or None,
                "rolloutState": "IN_PROGRESS",
                "rolloutStateReason": f"ECS deployment {deployment_id} in progress.",
            },
        )
        fails = rollout_fails(backend, service)
        service._ferry_rollout = {"left": rollout_describes, "fails": fails}
        finish_if_due(service)

    def scale(service) -> None:
        """A new desiredCount changes the PRIMARY deployment; like ECS, no new deployment."""
        primary = service.deployments[0]
        primary["desiredCount"] = service.desired_count
        primary["updatedAt"] = utcnow()
        if primary["rolloutState"] == "FAILED":
            return  # its tasks do not start, whatever their number
        primary["pendingCount"] = max(service.desired_count - primary["runningCount"], 0)
        if getattr(service, "_ferry_rollout", None) is None:
            # Tasks start (or stop) over the next describes; rolloutState stays COMPLETED.
            service._ferry_rollout = {"left": rollout_describes, "fails": False}
            finish_if_due(service)

    def finish_if_due(service) -> None:
        rollout = getattr(service, "_ferry_rollout", None)
        if rollout is None or rollout["left"] > 0:
            sync_counts(service)
            return
        service._ferry_rollout = None
        primary = service.deployments[0]
        primary["updatedAt"] = utcnow()
        primary["pendingCount"] = 0
        if rollout["fails"]:
            # No rollback: the older deployments keep their tasks, as with rollback=false.
            primary["rolloutState"] = "FAILED"
            primary["rolloutStateReason"] = CIRCUIT_BREAKER_REASON
            primary["runningCount"] = 0
            primary["failedTasks"] = max(service.desired_count, 1)
        else:
            if primary["rolloutState"] == "IN_PROGRESS":
                primary["rolloutState"] = "COMPLETED"
                primary["rolloutStateReason"] = f"ECS deployment {primary['id']} completed."
            primary["runningCount"] = service.desired_count
            service.deployments = [primary]
        sync_counts(service)

    def advance(service) -> None:
        """One DescribeServices has seen the service."""
        rollout = getattr(service, "_ferry_rollout", None)
        if service.status == "ACTIVE" and rollout is not None:
            rollout["left"] -= 1
            finish_if_due(service)

    default_deployment_configuration = {
        "deploymentCircuitBreaker": {"enable": False, "rollback": False},
        "maximumPercent": 200,
        "minimumHealthyPercent": 100,
    }

    original_create = EC2ContainerServiceResponse.create_service

    def create_service(self):
        # ECS refuses a second ACTIVE service of that name, unless the request repeats the
        # clientToken that created it; moto silently replaced the service.
        cluster = self._get_param("cluster", "default")
        name = self._get_param("serviceName")
        token = self._get_param("clientToken")
        with LOCK:
            existing = find_service(self.ecs_backend, cluster, name)
            if existing is not None and existing.status == "ACTIVE":
                if token and token == getattr(existing, "_ferry_client_token", None):
                    return ActionResult({"service": existing})
                raise InvalidParameterException("Creation of service was not idempotent.")
            result = original_create(self)
            service = find_service(self.ecs_backend, cluster, name)
            service._ferry_client_token = token
            # moto drops deploymentConfiguration on create; ECS fills in its defaults.
            service.deployment_configuration = {
                **default_deployment_configuration,
                **(self._get_param("deploymentConfiguration") or {}),
            }
            service.deployments = []
            if service.deployment_controller.get("type", "ECS") == "ECS":
                start_deployment(self.ecs_backend, service)
            else:
                sync_counts(service)
            return result

    EC2ContainerServiceResponse.create_service = create_service

    original_describe = EC2ContainerServiceResponse.describe_services

    def describe_services(self):
        # Each DescribeServices that includes a service moves its rollout one step.
        with LOCK:
            cluster = self._get_param("cluster", "default")
            seen = set()
            for name in self._get_param("services", []):
                service = find_service(self.ecs_backend, cluster, name)
                if service is not None and id(service) not in seen:
                    seen.add(id(service))
                    advance(service)
            return original_describe(self)

    EC2ContainerServiceResponse.describe_services = describe_services

    def deployed(service):
        """What the tasks of a deployment run: changing it starts a new deployment."""
        return (service.task_definition, service.network_configuration, service.platform_version)

    original_update = EC2ContainerServiceBackend.update_service

    def update_service(self, props):
        with LOCK:
            service = find_service(self, props.get("cluster", "default"), props["service"])
            if service is None:
                return original_update(self, props)  # answers ServiceNotFoundException
            if service.status != "ACTIVE":
                raise not_active()
            if props.get("network_configuration") is not None:
                service._validate_network(props["network_configuration"])
            before = deployed(service)
            desired_before = service.desired_count
            configuration_before = getattr(service, "deployment_configuration", None) or {}
            task_definition = props.get("task_definition")
            force = props.get("force_new_deployment", False)
            configuration = props.get("deployment_configuration")
            original_update(self, props)
            if task_definition:
                # moto stores the string as given ("family:3"); ECS answers with the full ARN.
                service.task_definition = self.describe_task_definition(task_definition).arn
            if configuration is not None:
                # Fields left out keep their values instead of vanishing.
                service.deployment_configuration = {**configuration_before, **configuration}
            if service.deployment_controller.get("type", "ECS") == "ECS":
                if force or deployed(service) != before:
                    start_deployment(self, service)
                elif service.desired_count != desired_before:
                    scale(service)
            # moto set runningCount = desiredCount at once; the deployments say otherwise.
            sync_counts(service)
            return service

    EC2ContainerServiceBackend.update_service = update_service

    original_delete = EC2ContainerServiceBackend.delete_service

    def delete_service(self, cluster_name, service_name, force):
        # moto marks the service INACTIVE at once (ECS drains it first); an INACTIVE service
        # runs nothing. Deleting it again answers it unchanged, as ECS does.
        with LOCK:
            service = find_service(self, cluster_name, service_name)
            if service is not None and service.status != "ACTIVE":
                return service
            service = original_delete(self, cluster_name, service_name, force)
            service.desired_count = 0
            service._ferry_rollout = None
            for deployment in service.deployments:
                deployment["runningCount"] = 0
                deployment["pendingCount"] = 0
            sync_counts(service)
            return service

    EC2ContainerServiceBackend.delete_service = delete_service

    def validate_network(self, configuration):
        # moto looked the subnets and security groups up in its EC2 backend, which tests
        # without an EC2 client cannot fill, and answered 500 without securityGroups (ECS then
        # uses the VPC's default group). Only the shape of the IDs is checked here.
        check_awsvpc(configuration, InvalidParameterException)
        return configuration

    Service._validate_network = validate_network

    original_list = EC2ContainerServiceBackend.list_services

    def list_services(self, cluster_str, scheduling_strategy=None, launch_type=None):
        # ECS lists ACTIVE and DRAINING services only; moto also listed INACTIVE ones.
        arns = original_list(self, cluster_str, scheduling_strategy, launch_type=launch_type)
        cluster = self._get_cluster(cluster_str).name
        inactive = {
            service.arn
            for service in self.services.values()
            if service.cluster_name == cluster and service.status == "INACTIVE"
        }
        return [arn for arn in arns if arn not in inactive]

    EC2ContainerServiceBackend.list_services = list_services


def check_awsvpc(configuration, invalid) -> None:
    """Checks the shape of an ECS network configuration's IDs (subnets and security groups
    are not looked up: nothing here creates them); raises `invalid(message)`."""
    vpc = (configuration or {}).get("awsvpcConfiguration") or {}
    subnets = vpc.get("subnets") or []
    if not subnets:
        raise invalid("subnets can not be empty.")
    for subnet in subnets:
        if not subnet.startswith("subnet-"):
            raise invalid(
                f"Error retrieving subnet information for [{subnet}]: The subnet ID "
                f"'{subnet}' is malformed (ErrorCode: InvalidSubnetID.Malformed)"
            )
    for group in vpc.get("securityGroups") or []:
        if not group.startswith("sg-"):
            raise invalid(
                f"Error retrieving security group information for [{group}]: The security "
                f"group '{group}' is malformed (ErrorCode: InvalidGroupId.Malformed)"
            )


# --------------------------------------------------------------------------------------------
# ECS tasks (RunTask, DescribeTasks, ListTasks, StopTask)
# --------------------------------------------------------------------------------------------

# What a container's command does, the convention every Ferry fake shares: its words joined
# with spaces; "exit N" exits with N (mod 256, as a shell does), "sleep infinity" runs until
# stopped, anything else exits 0.
EXIT_COMMAND = re.compile(r"exit (\d+)")
RUNS_FOREVER = "sleep infinity"
# What a container that ECS stops gets: a shell or `sleep` as PID 1 ignores SIGTERM, so it is
# killed (SIGKILL) when the stop timeout ends: 128 + 9.
KILLED_EXIT_CODE = 137
DESCRIBE_TASKS_LIMIT = 100
# EventBridge Scheduler starts tasks with startedBy "chronos-schedule/NAME", cut to ECS's old
# 36-character limit (as seen on real tasks; not in AWS's documentation).
SCHEDULER_STARTED_BY = "chronos-schedule/"
STARTED_BY_LENGTH = 36


def command_exit(command) -> int | None:
    """The exit code of a container running `command` (a list of words); None: runs until
    stopped."""
    joined = " ".join(command or [])
    found = EXIT_COMMAND.search(joined)
    if found:
        return int(found.group(1)) % 256
    if RUNS_FOREVER in joined:
        return None
    return 0


class TaskContainer:
    """A container of a task, as DescribeTasks answers it (moto's own `Container` only knew
    the task definition's first container and always answered exitCode 0)."""

    def __init__(self, task, definition: dict, override: dict, attachment_id: str):
        self.container_arn = (
            task.task_arn.replace(":task/", ":container/", 1) + f"/{mock_uuid()}"
        )
        self.task_arn = task.task_arn
        self.name = definition.get("name")
        self.image = definition.get("image")
        self.runtime_id = f"{task.id}-{mock_uuid().int % 10**10:010d}"
        self.last_status = "PENDING"
        self.exit_code = None
        self.reason = None
        self.network_bindings = []
        self.network_interfaces = [
            {"attachmentId": attachment_id, "privateIpv4Address": task.private_ip}
        ]
        self.health_status = "UNKNOWN"
        self.cpu = str(definition.get("cpu", 0))
        if definition.get("memory") is not None:
            self.memory = str(definition["memory"])
        self.essential = definition.get("essential", True)
        command = override["command"] if "command" in override else definition.get("command")
        self._ferry_exit = command_exit(command)
        self._ferry_fails = FAIL_ROLLOUT_MARK in (self.image or "")


def mac_address(number: int) -> str:
    return ":".join(["0e"] + [f"{number >> (8 * i) & 0xFF:02x}" for i in range(5)])


def mock_uuid():
    from moto.moto_api._internal import mock_random

    return mock_random.uuid4()


def patch_ecs_tasks():
    """Patches RunTask, DescribeTasks, ListTasks and StopTask; returns `run_tasks(backend,
    request)`, which starts Fargate tasks from a RunTask request (the scheduler's target)."""
    from moto.core.responses import ActionResult
    from moto.core.utils import utcnow
    from moto.ecs.exceptions import ECSException, EcsClientException, InvalidParameterException
    from moto.ecs.models import Task
    from moto.ecs.responses import DESCRIBE_TASKS_TAGS, EC2ContainerServiceResponse
    from moto.moto_api._internal.managed_state_model import ManagedState

    fargate_providers = ("FARGATE", "FARGATE_SPOT")

    def on_fargate(cluster, request: dict) -> bool:
        """Whether the tasks run on Fargate (else moto's own RunTask places them on container
        instances)."""
        launch_type = request.get("launchType")
        strategy = request.get("capacityProviderStrategy")
        if launch_type or strategy:
            if launch_type:
                return launch_type == "FARGATE"
            return strategy[0].get("capacityProvider") in fargate_providers
        default = cluster.default_capacity_provider_strategy or []
        return bool(default) and default[0].get("capacityProvider") in fargate_providers

    def conflict(message: str, resource_ids: list[str]) -> Exception:
        error = ECSException("ConflictException", message)
        error.resource_ids = resource_ids
        return error

    def tokens(backend) -> dict:
        """RunTask client tokens per (cluster name, token): what the request asked and the
        tasks it started. Kept on the backend, so a moto reset forgets them."""
        if not hasattr(backend, "_ferry_run_tokens"):
            backend._ferry_run_tokens = {}
        return backend._ferry_run_tokens

    def path_of(containers) -> list[str]:
        """The states a task goes through (one per DescribeTasks) when nobody stops it."""
        if any(container._ferry_fails for container in containers):
            return ["PROVISIONING", "PENDING", "DEPROVISIONING", "STOPPED"]
        essential = [container for container in containers if container.essential]
        if all(container._ferry_exit is None for container in essential):
            return ["PROVISIONING", "PENDING", "RUNNING"]
        return ["PROVISIONING", "PENDING", "RUNNING", "DEPROVISIONING", "STOPPED"]

    def new_task(backend, cluster, definition, request: dict, tags: list, now):
        # Built here rather than by Task(), which looks subnets up in moto's EC2 backend and
        # gives the task one container, the task definition's first.
        task = Task.__new__(Task)
        task.id = mock_uuid().hex
        task.cluster_name = cluster.name
        task.cluster_arn = cluster.arn
        task.region_name = cluster.region_name
        task._account_id = backend.account_id
        task._backend = backend
        task.container_instance_arn = None
        task.resource_requirements = None
        task.desired_status = "RUNNING"
        task.task_definition_arn = definition.arn
        task.group = request.get("group") or f"family:{definition.family}"
        task.started_by = request.get("startedBy") or ""
        task.tags = [dict(tag) for tag in tags]
        task.launch_type = "FARGATE"
        strategy = request.get("capacityProviderStrategy")
        task.capacity_provider_name = strategy[0]["capacityProvider"] if strategy else None
        task.platform_version = request.get("platformVersion") or "1.4.0"
        task.platform_family = "Linux"
        task.availability_zone = f"{cluster.region_name}a"
        task.enable_execute_command = bool(request.get("enableExecuteCommand"))
        overrides = dict(request.get("overrides") or {})
        task.cpu = overrides.get("cpu") or definition.cpu
        task.memory = overrides.get("memory") or definition.memory
        task.ephemeral_storage = {"sizeInGiB": 20}
        task.created_at = now
        task.version = 1
        task.stopped_reason = None
        task.stop_code = None
        task.connectivity = task.connectivity_at = None
        task.pull_started_at = task.pull_stopped_at = task.started_at = None
        task.stopping_at = task.execution_stopped_at = task.stopped_at = None
        network = request.get("networkConfiguration")
        task.network_configuration = network
        attachment_id = str(mock_uuid())
        number = mock_uuid().int
        ip = task.private_ip = f"10.0.{number % 250 + 1}.{number // 250 % 250 + 2}"
        subnets = ((network or {}).get("awsvpcConfiguration") or {}).get("subnets") or []
        task.attachments = [
            {
                "id": attachment_id,
                "type": "ElasticNetworkInterface",
                "status": "PRECREATED",
                "details": [
                    {"name": "subnetId", "value": subnets[0] if subnets else ""},
                    {"name": "networkInterfaceId", "value": f"eni-{number % 16**17:017x}"},
                    {"name": "macAddress", "value": mac_address(number)},
                    {"name": "privateDnsName", "value": f"ip-{ip.replace('.', '-')}.ec2.internal"},
                    {"name": "privateIPv4Address", "value": ip},
                ],
            }
        ]
        by_name = {o.get("name"): o for o in overrides.get("containerOverrides") or []}
        task.containers = [
            TaskContainer(task, container, by_name.get(container.get("name"), {}), attachment_id)
            for container in definition.container_definitions
        ]
        # Every container appears in the overrides, as ECS answers them.
        overrides["containerOverrides"] = [
            by_name.get(container.name, {"name": container.name}) for container in task.containers
        ]
        overrides.setdefault("inferenceAcceleratorOverrides", [])
        task.overrides = overrides
        path = path_of(task.containers)
        ManagedState.__init__(task, model_name="ecs::task", transitions=list(zip(path, path[1:])))
        task._ferry_path = path
        task._ferry_reached = 0
        return task

    def stop_containers(task, killed: bool) -> None:
        for container in task.containers:
            if container.last_status == "STOPPED":
                continue
            container.last_status = "STOPPED"
            if task.started_at is None:
                # Never ran: no exit code.
                if container._ferry_fails:
                    container.reason = pull_error(container.image)
            elif killed or container._ferry_exit is None:
                container.exit_code = KILLED_EXIT_CODE
            else:
                container.exit_code = container._ferry_exit

    def pull_error(image: str) -> str:
        return (
            "CannotPullContainerError: pull image manifest has been retried 5 time(s): "
            f"failed to resolve ref {image}: not found"
        )

    def enter(task, state: str, now) -> None:
        """What happens to a task as it reaches `state`."""
        task.version += 1
        if state == "PENDING":
            task.attachments[0]["status"] = "ATTACHED"
            task.connectivity = "CONNECTED"
            task.connectivity_at = now
            task.pull_started_at = now
        elif state == "RUNNING":
            task.pull_stopped_at = now
            task.started_at = now
            for container in task.containers:
                container.last_status = "RUNNING"
        elif state in ("DEPROVISIONING", "STOPPED"):
            if task.stop_code is None:
                failed = next((c for c in task.containers if c._ferry_fails), None)
                if failed is not None:
                    task.stop_code = "TaskFailedToStart"
                    task.stopped_reason = pull_error(failed.image)
                else:
                    task.stop_code = "EssentialContainerExited"
                    task.stopped_reason = "Essential container in task exited"
            task.desired_status = "STOPPED"
            task.stopping_at = task.stopping_at or now
            task.execution_stopped_at = task.execution_stopped_at or now
            stop_containers(task, killed=task.stop_code == "UserInitiated")
            if state == "STOPPED":
                task.stopped_at = now
                task.attachments[0]["status"] = "DELETED"

    def sync(task) -> None:
        """Brings a task's fields up to the state moto's state manager has moved it to (one
        state per DescribeTasks that names it, by default)."""
        path = getattr(task, "_ferry_path", None)
        if path is None:
            return  # placed on a container instance by moto's own RunTask
        reached = path.index(task.status)
        now = utcnow()
        for state in path[task._ferry_reached + 1 : reached + 1]:
            enter(task, state, now)
        task._ferry_reached = max(reached, task._ferry_reached)

    def stop(task, reason: str | None) -> None:
        """StopTask: the task answers with desiredStatus STOPPED at once and stops over the next
        describes; like ECS, its tags are deleted."""
        sync(task)
        if task.desired_status == "STOPPED":
            return
        now = utcnow()
        task.desired_status = "STOPPED"
        task.stop_code = "UserInitiated"
        task.stopped_reason = reason or "Task stopped by user"
        task.stopping_at = now
        task.tags = []
        task.version += 1
        path = task._ferry_path[: task._ferry_reached + 1] + ["DEPROVISIONING", "STOPPED"]
        task._ferry_path = path
        task._transitions = list(zip(path, path[1:]))

    def run_tasks(backend, request: dict) -> list:
        """Starts the Fargate tasks a RunTask request asks for (no client token handling)."""
        cluster = backend._get_cluster(request.get("cluster") or "default")
        if not on_fargate(cluster, request):
            # The stand-in's own limit: only Ferry's launch type is modelled.
            raise InvalidParameterException("The moto stand-in runs Fargate tasks only.")
        if request.get("launchType") and request.get("capacityProviderStrategy"):
            raise InvalidParameterException(
                "Specify either Launch Type or Capacity Provider Strategy, but not both."
            )
        if request.get("propagateTags") == "SERVICE":
            # ECS documents an error here; the wording is the stand-in's.
            raise InvalidParameterException(
                "propagateTags SERVICE is only valid for tasks started by a service."
            )
        definition = backend.describe_task_definition(request.get("taskDefinition") or "")
        if definition.status != "ACTIVE":
            raise EcsClientException("TaskDefinition is inactive")
        if "FARGATE" not in definition.compatibilities:
            raise InvalidParameterException(
                "Task definition does not support launch_type FARGATE."
            )
        if definition.network_mode == "awsvpc":
            if not request.get("networkConfiguration"):
                raise InvalidParameterException(
                    "Network Configuration must be provided when networkMode 'awsvpc' is "
                    "specified."
                )
            check_awsvpc(request["networkConfiguration"], InvalidParameterException)
        tags = list(request.get("tags") or [])
        keys = {tag["key"] for tag in tags}
        if request.get("propagateTags") == "TASK_DEFINITION":
            tags += [tag for tag in definition.tags if tag["key"] not in keys]
        if request.get("enableECSManagedTags"):
            tags.append({"key": "aws:ecs:clusterName", "value": cluster.name})
        now = utcnow()
        count = int(request.get("count") or 1)
        started = [new_task(backend, cluster, definition, request, tags, now) for _ in range(count)]
        for task in started:
            backend.tasks.setdefault(cluster.name, {})[task.task_arn] = task
        return started

    def find_task(backend, cluster, reference: str):
        """The task of the cluster named by ARN or ID."""
        task_id = reference.split("/")[-1]
        for arn, task in backend.tasks.get(cluster.name, {}).items():
            if reference == arn or task_id == task.id:
                return task
        return None

    original_run = EC2ContainerServiceResponse.run_task

    def run_task(self):
        # moto's RunTask failed on Fargate (task memory summed from containers, subnets looked
        # up in EC2), kept no clientToken, and gave every task one container that exited 0.
        backend = self.ecs_backend
        request = json.loads(self.body or "{}")
        with LOCK:
            cluster = backend._get_cluster(request.get("cluster") or "default")
            if not on_fargate(cluster, request):
                return original_run(self)
            token = request.get("clientToken")
            asked = {k: v for k, v in request.items() if k not in ("clientToken", "cluster")}
            known = tokens(backend).get((cluster.name, token)) if token else None
            if known is not None:
                known_asked, arns = known
                if known_asked != asked:
                    raise conflict(
                        f"The clientToken {token} is already in use with a different RunTask "
                        "request.",
                        arns,
                    )
                started = [backend.tasks[cluster.name][arn] for arn in arns]
                for task in started:
                    sync(task)
            else:
                started = run_tasks(backend, request)
                if token:
                    tokens(backend)[(cluster.name, token)] = (
                        asked,
                        [task.task_arn for task in started],
                    )
            return ActionResult({"tasks": started, "failures": []})

    EC2ContainerServiceResponse.run_task = run_task

    def describe_tasks(self):
        # moto matched task IDs as substrings across every cluster and took any number of
        # them; ECS looks in the one cluster, reports the others MISSING, and takes 100.
        backend = self.ecs_backend
        references = self._get_param("tasks") or []
        if len(references) > DESCRIBE_TASKS_LIMIT:
            raise InvalidParameterException("taskIds can have at most 100 items.")
        if not references:
            raise InvalidParameterException("Tasks cannot be empty.")
        with LOCK:
            cluster = backend._get_cluster(self._get_param("cluster") or "default")
            found, failures, seen = [], [], set()
            for reference in references:
                task = find_task(backend, cluster, reference)
                if task is None:
                    arn = reference
                    if not reference.startswith("arn:"):
                        arn = cluster.arn.replace(":cluster/", ":task/", 1) + f"/{reference}"
                    failures.append({"arn": arn, "reason": "MISSING"})
                elif id(task) not in seen:
                    seen.add(id(task))
                    task.advance()
                    sync(task)
                    found.append(task)
        if "TAGS" in (self._get_param("include") or []):
            self._include_in_response(DESCRIBE_TASKS_TAGS)
        else:
            self._exclude_from_response(DESCRIBE_TASKS_TAGS)
        return ActionResult({"tasks": found, "failures": failures})

    EC2ContainerServiceResponse.describe_tasks = describe_tasks

    def list_tasks(self):
        # moto listed every task when desiredStatus was left out (ECS lists RUNNING ones) and
        # matched the cluster name as a substring of the cluster ARN.
        backend = self.ecs_backend
        desired = self._get_param("desiredStatus") or "RUNNING"
        family = self._get_param("family")
        started_by = self._get_param("startedBy")
        service = self._get_param("serviceName")
        launch_type = self._get_param("launchType")
        instance = self._get_param("containerInstance")
        with LOCK:
            cluster = backend._get_cluster(self._get_param("cluster") or "default")
            listed = []
            for task in backend.tasks.get(cluster.name, {}).values():
                sync(task)
                definition_family = task.task_definition_arn.split("/")[-1].rsplit(":", 1)[0]
                if (
                    task.desired_status == desired
                    and (not family or definition_family == family)
                    and (not started_by or task.started_by == started_by)
                    and (not service or task.group == f"service:{service}")
                    and (not launch_type or task.launch_type == launch_type)
                    and (
                        not instance
                        or (task.container_instance_arn or "").split("/")[-1]
                        == instance.split("/")[-1]
                    )
                ):
                    listed.append(task.task_arn)
        start = int(self._get_param("nextToken") or 0)
        end = start + (self._get_int_param("maxResults") or 100)
        result = {"taskArns": listed[start:end]}
        if end < len(listed):
            result["nextToken"] = str(end)
        return ActionResult(result)

    EC2ContainerServiceResponse.list_tasks = list_tasks

    original_stop = EC2ContainerServiceResponse.stop_task

    def stop_task(self):
        # moto marked the task STOPPED at once, with no stopCode; ECS answers desiredStatus
        # STOPPED, stopCode UserInitiated, and the task stops over the next describes.
        backend = self.ecs_backend
        with LOCK:
            cluster = backend._get_cluster(self._get_param("cluster") or "default")
            task = find_task(backend, cluster, self._get_param("task") or "")
            if task is None:
                raise InvalidParameterException("The referenced task was not found.")
            if getattr(task, "_ferry_path", None) is None:
                return original_stop(self)
            stop(task, self._get_param("reason"))
            return ActionResult({"task": task})

    EC2ContainerServiceResponse.stop_task = stop_task

    return run_tasks


# --------------------------------------------------------------------------------------------
# EventBridge Scheduler
# --------------------------------------------------------------------------------------------

CRON_FIELDS = 6
RATE_EXPRESSION = re.compile(r"rate\(([1-9][0-9]*) (minute|minutes|hour|hours|day|days)\)")
AT_EXPRESSION = re.compile(r"at\(([0-9T:-]+)\)")
MAX_WINDOW_MINUTES = 1440
MAX_TASK_COUNT = 10


def schedule_expression_error(expression: str) -> str | None:
    """Why EventBridge Scheduler refuses `expression` (at, rate or cron; the cron rules are
    those of EventBridge's cron reference), or None."""
    if expression.startswith("cron(") and expression.endswith(")"):
        fields = expression[len("cron(") : -1].split()
        if len(fields) != CRON_FIELDS:
            return f"a cron expression has {CRON_FIELDS} fields, not {len(fields)}"
        day_of_month, day_of_week = fields[2], fields[4]
        if (day_of_month == "?") == (day_of_week == "?"):
            return "one of day-of-month and day-of-week must be ?, and only one"
        return None
    if RATE_EXPRESSION.fullmatch(expression):
        return None
    at = AT_EXPRESSION.fullmatch(expression)
    if at:
        try:
            datetime.datetime.strptime(at.group(1), "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            return "an at expression is at(yyyy-mm-ddThh:mm:ss)"
        return None
    return "it is none of at(...), rate(...) and cron(...)"


def patch_scheduler():
    from moto.scheduler.exceptions import ScheduleExists, ValidationException
    from moto.scheduler.responses import EventBridgeSchedulerResponse

    # The model declares ConflictException with HTTP 409; moto answered 400.
    ScheduleExists.code = 409

    def name_of(response) -> str:
        return response.uri.split("?")[0].split("/")[-1]

    def validate(response) -> None:
        expression = response._get_param("ScheduleExpression") or ""
        why = schedule_expression_error(expression)
        if why:
            raise ValidationException(f"Invalid Schedule Expression {expression}: {why}.")
        timezone = response._get_param("ScheduleExpressionTimezone")
        if timezone and zoneinfo.available_timezones() and timezone not in known_timezones():
            raise ValidationException(f"Invalid ScheduleExpressionTimezone {timezone}.")
        window = response._get_param("FlexibleTimeWindow") or {}
        if window.get("Mode") == "FLEXIBLE":
            minutes = window.get("MaximumWindowInMinutes")
            if not minutes or not 1 <= minutes <= MAX_WINDOW_MINUTES:
                raise ValidationException(
                    "MaximumWindowInMinutes (1 to 1440) is required when Mode is FLEXIBLE."
                )
        ecs = (response._get_param("Target") or {}).get("EcsParameters") or {}
        count = ecs.get("TaskCount")
        if count is not None and not 1 <= count <= MAX_TASK_COUNT:
            raise ValidationException("TaskCount must be between 1 and 10.")

    def deleted_tokens(backend) -> dict:
        """The client token of the DeleteSchedule that deleted each (group, name)."""
        if not hasattr(backend, "_ferry_deleted"):
            backend._ferry_deleted = {}
        return backend._ferry_deleted

    original_create = EventBridgeSchedulerResponse.create_schedule

    def create_schedule(self):
        # moto ignored ClientToken (a retried CreateSchedule answered ConflictException),
        # answered 500 for a missing group, and left State and ActionAfterCompletion empty.
        backend = self.scheduler_backend
        name = name_of(self)
        token = self._get_param("ClientToken")
        with LOCK:
            group = backend.get_schedule_group(self._get_param("GroupName"))
            existing = group.schedules.get(name)
            if token and token == getattr(existing, "_ferry_client_token", None):
                return json.dumps({"ScheduleArn": existing.arn})
            validate(self)
            result = original_create(self)
            schedule = group.schedules[name]
            schedule._ferry_client_token = token
            schedule.state = schedule.state or "ENABLED"
            schedule.action_after_completion = schedule.action_after_completion or "NONE"
            deleted_tokens(backend).pop((group.name, name), None)
            return result

    EventBridgeSchedulerResponse.create_schedule = create_schedule

    original_update = EventBridgeSchedulerResponse.update_schedule

    def update_schedule(self):
        # UpdateSchedule replaces every field, a left-out one taking its default; moto left
        # State empty (not ENABLED) and kept the old ActionAfterCompletion.
        backend = self.scheduler_backend
        with LOCK:
            schedule = backend.get_schedule(self._get_param("GroupName"), name_of(self))
            validate(self)
            result = original_update(self)
            schedule.state = self._get_param("State") or "ENABLED"
            schedule.action_after_completion = self._get_param("ActionAfterCompletion") or "NONE"
            return result

    EventBridgeSchedulerResponse.update_schedule = update_schedule

    original_delete = EventBridgeSchedulerResponse.delete_schedule

    def delete_schedule(self):
        # A DeleteSchedule retried with its clientToken answers as the first one did.
        backend = self.scheduler_backend
        token = self._get_param("clientToken")
        with LOCK:
            key = (self._get_param("groupName") or "default", name_of(self))
            if token and deleted_tokens(backend).get(key) == token:
                return "{}"
            result = original_delete(self)
            if token:
                deleted_tokens(backend)[key] = token
            return result

    EventBridgeSchedulerResponse.delete_schedule = delete_schedule


def known_timezones() -> set:
    if not hasattr(known_timezones, "names"):
        known_timezones.names = zoneinfo.available_timezones() | {"UTC"}
    return known_timezones.names


def scheduler_run_task_request(schedule, ecs: dict, cluster: str) -> dict:
    """The RunTask request EventBridge Scheduler sends for a schedule's ECS target."""
    request = {
        "cluster": cluster,
        "taskDefinition": ecs["TaskDefinitionArn"],
        "count": ecs.get("TaskCount") or 1,
        "startedBy": (SCHEDULER_STARTED_BY + schedule.name)[:STARTED_BY_LENGTH],
    }
    renamed = {
        "LaunchType": "launchType",
        "CapacityProviderStrategy": "capacityProviderStrategy",
        "PlatformVersion": "platformVersion",
        "Group": "group",
        "EnableECSManagedTags": "enableECSManagedTags",
        "EnableExecuteCommand": "enableExecuteCommand",
        "PropagateTags": "propagateTags",
        "ReferenceId": "referenceId",
        "PlacementConstraints": "placementConstraints",
        "PlacementStrategy": "placementStrategy",
    }
    for field, parameter in renamed.items():
        if ecs.get(field) is not None:
            request[parameter] = ecs[field]
    vpc = (ecs.get("NetworkConfiguration") or {}).get("awsvpcConfiguration")
    if vpc:
        awsvpc = {"subnets": vpc.get("Subnets") or []}
        if vpc.get("SecurityGroups"):
            awsvpc["securityGroups"] = vpc["SecurityGroups"]
        if vpc.get("AssignPublicIp"):
            awsvpc["assignPublicIp"] = vpc["AssignPublicIp"]
        request["networkConfiguration"] = {"awsvpcConfiguration": awsvpc}
    tags = [{"key": k, "value": v} for tag in ecs.get("Tags") or [] for k, v in tag.items()]
    if tags:
        request["tags"] = tags
    return request


# --------------------------------------------------------------------------------------------
# Ferry's admin calls (moto-api style)
# --------------------------------------------------------------------------------------------


def add_admin_routes(run_tasks) -> None:
    """POST /moto-api/ferry/scheduler/fire {"name", "groupName"?, "region"?, "accountId"?}:
    invokes a schedule's target now, as EventBridge Scheduler would at its time."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.core.exceptions import JsonRESTError, ServiceException
    from moto.ecs.models import ecs_backends
    from moto.moto_api._internal import urls
    from moto.scheduler.models import scheduler_backends

    def answer(status: int, body: dict):
        return status, {"Content-Type": "application/json"}, json.dumps(body)

    def refused(status: int, code: str, message: str):
        return answer(status, {"__type": code, "message": message})

    def fire(request, full_url, headers):
        if request.method != "POST":
            return refused(405, "MethodNotAllowed", "POST the schedule to fire.")
        try:
            # As moto's own admin calls read it: the server has not consumed the body.
            length = int(headers.get("Content-Length") or 0)
            body = json.loads(request.environ["wsgi.input"].read(length) or b"{}")
        except ValueError:
            return refused(400, "BadRequest", "The body is not JSON.")
        name = body.get("name") if isinstance(body, dict) else None
        if not name:
            return refused(400, "BadRequest", 'Name the schedule: {"name": ..., "groupName": ...}.')
        group = body.get("groupName") or "default"
        account = body.get("accountId") or DEFAULT_ACCOUNT_ID
        region = body.get("region") or "us-east-1"
        with LOCK:
            backend = scheduler_backends[account][region]
            try:
                schedule = backend.get_schedule(group, name)
            except JsonRESTError as error:
                return refused(404, error.error_type, error.message)
            if schedule.state != "ENABLED":
                return refused(409, "ScheduleDisabled", f"Schedule {group}/{name} is DISABLED.")
            target = schedule.target or {}
            ecs = target.get("EcsParameters")
            cluster = re.fullmatch(r"arn:[^:]+:ecs:([^:]+):([0-9]+):cluster/(.+)", target["Arn"])
            if not ecs or not cluster:
                return refused(
                    400,
                    "UnsupportedTarget",
                    "Only ECS RunTask targets (a cluster ARN with EcsParameters) fire here.",
                )
            ecs_region, ecs_account, cluster_name = cluster.groups()
            run = scheduler_run_task_request(schedule, ecs, cluster_name)
            try:
                started = run_tasks(ecs_backends[ecs_account][ecs_region], run)
            except ServiceException as error:
                # EventBridge Scheduler would retry and then give up (or use the DLQ).
                return refused(424, error.code, f"RunTask refused: {error.message}")
            if (
                schedule.action_after_completion == "DELETE"
                and schedule.schedule_expression.startswith("at(")
            ):
                backend.delete_schedule(group, name)
            return answer(
                200,
                {"taskArns": [task.task_arn for task in started], "startedBy": run["startedBy"]},
            )

    urls.url_paths["{0}/moto-api/ferry/scheduler/fire"] = fire


# --------------------------------------------------------------------------------------------
# Application Auto Scaling
# --------------------------------------------------------------------------------------------


def patch_application_autoscaling() -> None:
    import json

    from moto.applicationautoscaling.models import ApplicationAutoscalingBackend
    from moto.applicationautoscaling.responses import ApplicationAutoScalingResponse, _build_policy

    def describe_scaling_policies(self):
        # moto ignored PolicyNames and matched ResourceId as a substring, so "service/c/web"
        # also answered the policies of "service/c/web-2".
        backend = self.applicationautoscaling_backend
        namespace = self._get_param("ServiceNamespace")
        resource_id = self._get_param("ResourceId")
        dimension = self._get_param("ScalableDimension")
        names = self._get_param("PolicyNames") or []
        policies = [
            policy
            for policy in backend.policies.values()
            if policy.service_namespace == namespace
            and (not resource_id or policy.resource_id == resource_id)
            and (not dimension or policy.scalable_dimension == dimension)
            and (not names or policy.policy_name in names)
        ]
        start = int(self._get_param("NextToken") or 0)
        end = start + (self._get_int_param("MaxResults") or 100)
        return json.dumps(
            {
                "ScalingPolicies": [_build_policy(policy) for policy in policies[start:end]],
                "NextToken": str(end) if end < len(policies) else None,
            }
        )

    ApplicationAutoScalingResponse.describe_scaling_policies = describe_scaling_policies

    original_deregister = ApplicationAutoscalingBackend.deregister_scalable_target

    def deregister_scalable_target(self, namespace, r_id, dimension):
        # Deregistering a target deletes its scaling policies too; moto kept them.
        original_deregister(self, namespace, r_id, dimension)
        for key, policy in list(self.policies.items()):
            if (policy.service_namespace, policy.resource_id, policy.scalable_dimension) == (
                namespace,
                r_id,
                dimension,
            ):
                policy.delete_alarms(self.account_id, self.region_name)
                del self.policies[key]

    ApplicationAutoscalingBackend.deregister_scalable_target = deregister_scalable_target


if __name__ == "__main__":
    main()
