//! What every call carries, seen by a bare local HTTP server: Ferry's User-Agent, one
//! `x-ms-client-request-id` per call kept across its retries, the api-version.

use std::sync::{Arc, Mutex};

use ferry_api::CredentialsSource;
use ferry_azure::Arm;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

use crate::support::{config, fake, settings};

/// Answers 503 (`Retry-After: 0`) to every first request of a call id, then 200; records the
/// request heads.
async fn server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::<String>::new()));
    let recorded = heads.clone();
    tokio::spawn(async move {
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buffer = vec![0; 16384];
            let mut read = 0;
            while !String::from_utf8_lossy(&buffer[..read]).contains("\r\n\r\n") {
                let n = socket.read(&mut buffer[read..]).await.unwrap();
                if n == 0 {
                    break;
                }
                read += n;
            }
            let head = String::from_utf8_lossy(&buffer[..read]).to_lowercase();
            let first = {
                let mut heads = recorded.lock().unwrap();
                let id = request_id(&head);
                let first = heads.iter().all(|h| request_id(h) != id);
                heads.push(head);
                first
            };
            let (status, body) = if first {
                (
                    "503 Service Unavailable\r\nretry-after: 0",
                    r#"{"error":{"code":"ServiceUnavailable","message":"later"}}"#,
                )
            } else {
                ("200 OK", r#"{"id":"x"}"#)
            };
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
            socket.write_all(answer.as_bytes()).await.unwrap();
            socket.shutdown().await.ok();
        }
    });
    (endpoint, heads)
}

fn request_id(head: &str) -> Option<String> {
    head.lines()
        .find_map(|l| l.strip_prefix("x-ms-client-request-id:"))
        .map(|v| v.trim().to_owned())
}

#[tokio::test]
async fn calls_name_ferry_and_keep_one_request_id_across_retries() {
    let (endpoint, heads) = server().await;
    let fake = fake().await;
    let mut config = config(
        fake,
        fake.subscription("arm-headers").id(),
        CredentialsSource::Anonymous,
    );
    config.endpoint = Some(endpoint);
    let arm = Arm::new(&config, None, &settings()).unwrap();
    let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.App/containerApps/web";
    assert!(arm.get(id, "2026-01-01").await.unwrap().is_some());
    assert!(arm.get(id, "2026-01-01").await.unwrap().is_some());

    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 4, "two calls, each retried once");
    let ids: Vec<_> = heads.iter().map(|h| request_id(h).unwrap()).collect();
    assert_eq!(ids[0], ids[1]);
    assert_eq!(ids[2], ids[3]);
    assert_ne!(ids[0], ids[2]);
    for head in &heads {
        assert!(
            head.starts_with(&format!(
                "get {}?api-version=2026-01-01 http/1.1",
                id.to_lowercase()
            )),
            "{head}"
        );
        let agent = head
            .lines()
            .find_map(|l| l.strip_prefix("user-agent:"))
            .unwrap()
            .trim();
        assert!(
            agent.starts_with("ferry azsdk-rust-ferry-azure/"),
            "{agent}"
        );
        assert!(!head.contains("authorization:"), "{head}");
    }
}
