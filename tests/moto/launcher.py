#!/usr/bin/env python3
"""moto server for Ferry's tests, patched where Ferry depends on ECS behaving like ECS.

    python3 launcher.py --host 127.0.0.1 --port PORT [--rollout-describes K] [--parent-pid PID]

moto 5.2.5 is patched in memory (nothing on disk changes); every patch is listed in README.md.
The server exits by itself when the process that started it dies, so a killed test binary
never leaves it behind.
"""

import argparse
import logging
import os
import sys
import threading
import time

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
        vpc = configuration.get("awsvpcConfiguration") or {}
        subnets = vpc.get("subnets") or []
        if not subnets:
            raise InvalidParameterException("subnets can not be empty.")
        for subnet in subnets:
            if not subnet.startswith("subnet-"):
                raise InvalidParameterException(
                    f"Error retrieving subnet information for [{subnet}]: The subnet ID "
                    f"'{subnet}' is malformed (ErrorCode: InvalidSubnetID.Malformed)"
                )
        for group in vpc.get("securityGroups") or []:
            if not group.startswith("sg-"):
                raise InvalidParameterException(
                    f"Error retrieving security group information for [{group}]: The security "
                    f"group '{group}' is malformed (ErrorCode: InvalidGroupId.Malformed)"
                )
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
