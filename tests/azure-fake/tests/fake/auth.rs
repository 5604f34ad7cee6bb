//! Microsoft Entra ID's token endpoint and bearer tokens on Resource Manager calls: required,
//! expired, and secrets rotated.

use azure_fake::{Answer, AzureFake};
use http::{Method, StatusCode};

use crate::support::{GROUP, fake, refusal};

const TENANT: &str = "11111111-2222-3333-4444-555555555555";

async fn token(fake: &AzureFake, client_id: &str, secret: &str) -> Answer {
    let form = format!(
        "grant_type=client_credentials&client_id={client_id}&client_secret={secret}\
         &scope=https%3A%2F%2Fmanagement.azure.com%2F.default"
    );
    fake.send_raw_with(
        Method::POST,
        &format!("/{TENANT}/oauth2/v2.0/token"),
        &[("content-type", "application/x-www-form-urlencoded")],
        Some(form.into_bytes()),
    )
    .await
    .unwrap()
}

async fn get_with(fake: &AzureFake, url: &str, bearer: Option<&str>) -> Answer {
    let header = bearer.map(|token| format!("Bearer {token}"));
    let headers: Vec<(&str, &str)> = header
        .as_deref()
        .map(|value| ("authorization", value))
        .into_iter()
        .collect();
    fake.send_raw_with(Method::GET, url, &headers, None)
        .await
        .unwrap()
}

#[tokio::test]
async fn calls_need_no_token_unless_the_subscription_requires_one() {
    let fake = fake().await;
    let subscription = fake.subscription("anonymous");
    let url = subscription.container_app_url(GROUP, "web");
    assert_eq!(
        get_with(fake, &url, None).await.status,
        StatusCode::NOT_FOUND
    );

    subscription.require_tokens(true).await.unwrap();

    let answer = get_with(fake, &url, None).await;
    assert_eq!(
        refusal(&answer, StatusCode::UNAUTHORIZED).code,
        "AuthenticationFailed"
    );
    assert!(
        answer
            .header("www-authenticate")
            .unwrap()
            .starts_with("Bearer ")
    );
    let answer = get_with(fake, &url, Some("made-up")).await;
    assert_eq!(
        refusal(&answer, StatusCode::UNAUTHORIZED).code,
        "InvalidAuthenticationToken"
    );
}

#[tokio::test]
async fn rotated_secrets_refuse_the_old_one_while_issued_tokens_last_until_they_expire() {
    let fake = fake().await;
    let subscription = fake.subscription("rotation");
    subscription.require_tokens(true).await.unwrap();
    let client = "rotation-client";
    fake.set_client_secrets(TENANT, client, &["old-secret"])
        .await
        .unwrap();
    let url = subscription.container_app_url(GROUP, "web");

    let issued = token(fake, client, "old-secret").await;
    assert_eq!(issued.status, StatusCode::OK, "{issued:?}");
    assert_eq!(issued.body["token_type"], "Bearer");
    assert!(issued.body["expires_in"].as_u64().unwrap() > 0);
    let old_token = issued.body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(
        get_with(fake, &url, Some(&old_token)).await.status,
        StatusCode::NOT_FOUND
    );

    fake.set_client_secrets(TENANT, client, &["new-secret"])
        .await
        .unwrap();
    let refused = token(fake, client, "old-secret").await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert_eq!(refused.body["error"], "invalid_client");
    assert!(
        refused.body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215")
    );
    assert_eq!(
        get_with(fake, &url, Some(&old_token)).await.status,
        StatusCode::NOT_FOUND,
        "a token already issued still works"
    );

    assert_eq!(fake.expire_tokens(client).await.unwrap(), 1);
    let expired = get_with(fake, &url, Some(&old_token)).await;
    assert_eq!(
        refusal(&expired, StatusCode::UNAUTHORIZED).code,
        "ExpiredAuthenticationToken"
    );
    let renewed = token(fake, client, "new-secret").await;
    let new_token = renewed.body["access_token"].as_str().unwrap();
    assert_eq!(
        get_with(fake, &url, Some(new_token)).await.status,
        StatusCode::NOT_FOUND
    );

    let clients: Vec<_> = subscription
        .requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.status, r.client_id))
        .collect();
    let who = Some(client.to_owned());
    assert_eq!(
        clients,
        [
            (Some(404), who.clone()),
            (Some(404), who.clone()),
            (Some(401), None),
            (Some(404), who)
        ]
    );
    let tokens: Vec<_> = fake
        .requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.operation == "Token" && r.client_id.as_deref() == Some(client))
        .map(|r| r.status)
        .collect();
    assert_eq!(tokens, [Some(200), Some(401), Some(200)]);
}

#[tokio::test]
async fn unknown_clients_and_wrong_scopes_get_no_token() {
    let fake = fake().await;
    let unknown = token(fake, "nobody", "x").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.body["error"], "unauthorized_client");

    fake.set_client_secrets(TENANT, "scoped-client", &["s"])
        .await
        .unwrap();
    let answer = fake
        .send_raw_with(
            Method::POST,
            &format!("/{TENANT}/oauth2/v2.0/token"),
            &[("content-type", "application/x-www-form-urlencoded")],
            Some(
                b"grant_type=client_credentials&client_id=scoped-client&client_secret=s\
                  &scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"
                    .to_vec(),
            ),
        )
        .await
        .unwrap();
    assert_eq!(answer.body["error"], "invalid_scope");
}

#[tokio::test]
async fn resource_groups_answer_a_cheap_authenticated_read() {
    let fake = fake().await;
    let subscription = fake.subscription("resource-group-read");
    let url = format!(
        "/subscriptions/{}/resourcegroups/{GROUP}?api-version=2021-04-01",
        subscription.id()
    );
    let answer = get_with(fake, &url, None).await;
    assert_eq!(answer.status, StatusCode::OK, "{answer:?}");
    assert_eq!(answer.body["name"], GROUP);
    assert_eq!(answer.body["type"], "Microsoft.Resources/resourceGroups");
    assert_eq!(answer.body["location"], "westeurope");
    assert_eq!(answer.body["properties"]["provisioningState"], "Succeeded");

    let wrong_version = url.replace("2021-04-01", "2026-01-01");
    assert_eq!(
        refusal(
            &get_with(fake, &wrong_version, None).await,
            StatusCode::BAD_REQUEST
        )
        .code,
        "NoRegisteredProviderFound"
    );

    subscription.require_tokens(true).await.unwrap();
    assert_eq!(
        refusal(&get_with(fake, &url, None).await, StatusCode::UNAUTHORIZED).code,
        "AuthenticationFailed"
    );
    let calls = subscription.calls().await.unwrap();
    assert_eq!(calls.get("ResourceGroups_Get"), Some(&3));
}
