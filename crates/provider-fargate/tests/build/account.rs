//! Account settings a service cannot run without, and the errors that say where to give them.

use ferry_provider_fargate::build::{self, AccountError};

use crate::common::{bare_provider_config, desired, provider_config, simple};

/// The error `build::requests` gives for `spec` under a ProviderConfig `bare` that has only a
/// region and a cluster.
fn error(spec: &str) -> AccountError {
    build::requests(&desired(spec), &bare_provider_config(), "bare").unwrap_err()
}

#[test]
fn no_subnets_anywhere_names_both_places_to_give_them() {
    let e = error(&simple("", ""));
    assert!(
        matches!(e, AccountError::Missing { field: "subnets", ref config, .. } if config == "bare"),
        "{e:?}"
    );
    let message = e.to_string();
    for part in [
        "spec.fargate.subnets",
        "ProviderConfig bare",
        "spec.fargate.defaults.subnets",
    ] {
        assert!(message.contains(part), "{part:?} not in {message:?}");
    }
}

#[test]
fn subnets_from_either_place_are_enough() {
    let own = build::requests(
        &desired(&simple("", "fargate: {subnets: [subnet-0aaa]}")),
        &bare_provider_config(),
        "bare",
    )
    .unwrap();
    assert_eq!(own.account.subnets, ["subnet-0aaa"]);
    assert_eq!(own.account.region, "eu-west-1");
    assert_eq!(own.account.cluster, "bare");
    assert_eq!(own.account.execution_role_arn, None);

    let config =
        provider_config("{region: eu-west-1, cluster: bare, defaults: {subnets: [subnet-0bbb]}}");
    let defaults = build::requests(&desired(&simple("", "")), &config, "bare").unwrap();
    assert_eq!(defaults.account.subnets, ["subnet-0bbb"]);
}

#[test]
fn secrets_or_a_log_group_need_an_execution_role() {
    let cases = [
        (
            "a secret",
            "{provider: fargate, containers: [{name: app, image: 'ghcr.io/acme/hello:1', \
              port: 8080, env: [{name: TOKEN, secret: {name: token}}]}], \
              fargate: {subnets: [subnet-0aaa], secrets: [{name: token, \
                arn: 'arn:aws:ssm:eu-west-1:123456789012:parameter/shop/token'}]}}"
                .to_owned(),
        ),
        (
            "a log group",
            simple(
                "",
                "fargate: {subnets: [subnet-0aaa], logGroup: /shop/hello}",
            ),
        ),
    ];
    for (case, spec) in cases {
        let e = error(&spec);
        assert!(
            matches!(
                e,
                AccountError::Missing {
                    field: "executionRoleArn",
                    ..
                }
            ),
            "{case}: {e:?}"
        );
        let message = e.to_string();
        for part in [
            "spec.fargate.executionRoleArn",
            "ProviderConfig bare",
            "IAM role ARN",
        ] {
            assert!(
                message.contains(part),
                "{case}: {part:?} not in {message:?}"
            );
        }
    }
}

#[test]
fn an_execution_role_from_either_place_is_enough() {
    let spec = simple(
        "",
        "fargate: {subnets: [subnet-0aaa], logGroup: /shop/hello, \
                   executionRoleArn: 'arn:aws:iam::123456789012:role/shop-exec'}",
    );
    let p = build::requests(&desired(&spec), &bare_provider_config(), "bare").unwrap();
    assert_eq!(
        p.task_definition.execution_role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/shop-exec")
    );

    let config = provider_config(
        "{region: eu-west-1, cluster: bare, \
          defaults: {executionRoleArn: 'arn:aws:iam::123456789012:role/default-exec'}}",
    );
    let spec = simple(
        "",
        "fargate: {subnets: [subnet-0aaa], logGroup: /shop/hello}",
    );
    let p = build::requests(&desired(&spec), &config, "bare").unwrap();
    assert_eq!(
        p.task_definition.execution_role_arn.as_deref(),
        Some("arn:aws:iam::123456789012:role/default-exec")
    );
}
