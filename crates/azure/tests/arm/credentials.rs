//! Tokens from the fake's Microsoft Entra endpoint: client secrets (and their rotation),
//! certificates, anonymous clients, and Secrets that are not right.

use ferry_api::CredentialsSource;
use ferry_azure::{Arm, arm_error_of};
use ferry_provider::ProviderError;
use serde_json::json;

use crate::support::{APPS_API, TENANT, anonymous, app_id, config, fake, settings};

fn secret_json(client_id: &str, secret: &str) -> Vec<u8> {
    json!({"tenantId": TENANT, "clientId": client_id, "clientSecret": secret,
           "subscriptionId": "ignored"})
    .to_string()
    .into_bytes()
}

#[tokio::test]
async fn a_client_secret_gets_tokens_from_the_endpoint_and_they_are_cached() {
    let fake = fake().await;
    let subscription = fake.subscription("arm-client-secret");
    subscription.require_tokens(true).await.unwrap();
    let client = "arm-client-secret-app";
    fake.set_client_secrets(TENANT, client, &["s3cret-one"])
        .await
        .unwrap();
    let arm = Arm::new(
        &config(fake, subscription.id(), CredentialsSource::Secret),
        Some(&secret_json(client, "s3cret-one")),
        &settings(),
    )
    .unwrap();
    let id = app_id(subscription.id(), "web");
    for _ in 0..3 {
        assert_eq!(arm.get(&id, APPS_API).await.unwrap(), None);
    }
    assert!(arm.check().await.is_ok());
    let calls = subscription.requests().await.unwrap();
    assert!(
        calls.iter().all(|c| c.client_id.as_deref() == Some(client)),
        "{calls:?}"
    );
    let tokens: Vec<_> = fake
        .requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.operation == "Token" && r.client_id.as_deref() == Some(client))
        .collect();
    assert_eq!(tokens.len(), 1, "one token, cached for the later calls");
    assert_eq!(tokens[0].path, format!("/{TENANT}/oauth2/v2.0/token"));
    assert_eq!(
        tokens[0].body["scope"],
        "https://management.azure.com/.default"
    );
}

#[tokio::test]
async fn a_rotated_secret_is_auth_until_the_client_is_rebuilt_with_the_new_one() {
    let fake = fake().await;
    let subscription = fake.subscription("arm-rotation");
    subscription.require_tokens(true).await.unwrap();
    let client = "arm-rotation-app";
    fake.set_client_secrets(TENANT, client, &["old-s3cret"])
        .await
        .unwrap();
    let config = config(fake, subscription.id(), CredentialsSource::Secret);
    let old = Arm::new(
        &config,
        Some(&secret_json(client, "old-s3cret")),
        &settings(),
    )
    .unwrap();
    let id = app_id(subscription.id(), "web");
    assert_eq!(old.get(&id, APPS_API).await.unwrap(), None);

    fake.set_client_secrets(TENANT, client, &["new-s3cret"])
        .await
        .unwrap();
    fake.expire_tokens(client).await.unwrap();

    // Resource Manager refuses the cached token; the client asks for a new one at once, and
    // Microsoft Entra ID refuses the old secret.
    let before = fake.requests().await.unwrap().len();
    let refused = old.get(&id, APPS_API).await.unwrap_err();
    match &refused {
        ProviderError::Auth(message) => {
            assert!(message.contains("AADSTS7000215"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let text = format!("{refused} {refused:?}");
    assert!(!text.contains("s3cret"), "{text}");
    assert!(!text.contains("eyJ"), "a token in {text}");
    let seen: Vec<_> = fake.requests().await.unwrap()[before..]
        .iter()
        .filter(|r| {
            r.client_id.as_deref() == Some(client)
                || r.subscription.as_deref() == Some(subscription.id())
        })
        .map(|r| (r.operation.clone(), r.status))
        .collect();
    assert_eq!(
        seen,
        [
            ("ContainerApps_Get".to_owned(), Some(401)),
            ("Token".to_owned(), Some(401))
        ]
    );

    let new = Arm::new(
        &config,
        Some(&secret_json(client, "new-s3cret")),
        &settings(),
    )
    .unwrap();
    assert_eq!(new.get(&id, APPS_API).await.unwrap(), None);
}

#[tokio::test]
async fn anonymous_clients_send_no_authorization_header() {
    let fake = fake().await;
    let subscription = fake.subscription("arm-anonymous");
    let arm = anonymous(fake, subscription.id());
    let id = app_id(subscription.id(), "web");
    assert_eq!(arm.get(&id, APPS_API).await.unwrap(), None);
    subscription.require_tokens(true).await.unwrap();
    let error = arm.get(&id, APPS_API).await.unwrap_err();
    assert!(matches!(error, ProviderError::Auth(_)), "{error:?}");
    let refusal = arm_error_of(&error).unwrap();
    assert_eq!(refusal.code, "AuthenticationFailed");
    assert!(
        refusal
            .message
            .contains("'Authorization' header is missing")
    );
    assert!(
        subscription
            .requests()
            .await
            .unwrap()
            .iter()
            .all(|r| r.client_id.is_none())
    );
    assert!(matches!(arm.check().await, Err(ProviderError::Auth(_))));
}

#[tokio::test]
async fn anonymous_needs_an_endpoint() {
    let fake = fake().await;
    let mut config = config(
        fake,
        fake.subscription("arm-anonymous-cloud").id(),
        CredentialsSource::Anonymous,
    );
    config.endpoint = None;
    let error = Arm::new(&config, None, &settings()).unwrap_err();
    assert!(error.is_terminal());
    assert!(
        error.to_string().contains("needs spec.azure.endpoint"),
        "{error}"
    );
}

#[tokio::test]
async fn a_secret_missing_a_field_names_it_and_not_the_secret() {
    let fake = fake().await;
    let config = config(
        fake,
        fake.subscription("arm-bad-secret").id(),
        CredentialsSource::Secret,
    );
    let bytes = json!({"tenantId": TENANT, "clientSecret": "hunter2-s3cret"}).to_string();
    let error = Arm::new(&config, Some(bytes.as_bytes()), &settings()).unwrap_err();
    match error {
        ProviderError::Auth(message) => {
            assert!(message.contains("`clientId`"), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    let error = Arm::new(&config, None, &settings()).unwrap_err();
    assert!(matches!(error, ProviderError::Auth(_)), "{error:?}");
}

#[tokio::test]
async fn a_certificate_sends_a_signed_assertion_and_no_secret() {
    let fake = fake().await;
    let subscription = fake.subscription("arm-certificate");
    subscription.require_tokens(true).await.unwrap();
    let client = "arm-certificate-app";
    fake.set_client_secrets(TENANT, client, &["unused"])
        .await
        .unwrap();
    let secret = json!({"tenantId": TENANT, "clientId": client,
        "clientCertificate": include_str!("../data/principal.pem")})
    .to_string();
    let arm = Arm::new(
        &config(fake, subscription.id(), CredentialsSource::Secret),
        Some(secret.as_bytes()),
        &settings(),
    )
    .unwrap();
    // The fake knows client secrets only, so Entra refuses: what matters is what was sent.
    let error = arm
        .get(&app_id(subscription.id(), "web"), APPS_API)
        .await
        .unwrap_err();
    assert!(matches!(error, ProviderError::Auth(_)), "{error:?}");
    let token = fake
        .requests()
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.operation == "Token" && r.client_id.as_deref() == Some(client))
        .unwrap();
    assert_eq!(
        token.body["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    let assertion = token.body["client_assertion"].as_str().unwrap();
    assert_eq!(assertion.split('.').count(), 3);
    assert!(token.body.get("client_secret").is_none());
}
