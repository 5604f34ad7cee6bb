//! One HTTP/1 exchange on a fresh connection, for talking to the stand-ins' own APIs (readiness,
//! admin and reset calls).
//!
//! moto closes every connection after answering, and admin calls are few, so a connection pool
//! would gain nothing; with nothing kept between calls, no call depends on a runtime that an
//! earlier test owned.

use std::io;

use bytes::Bytes;
use http::header::HOST;
use http::{HeaderValue, Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// Sends `request` to `authority` (`host:port`) and reads the whole answer.
pub async fn send(
    authority: &str,
    mut request: Request<Full<Bytes>>,
) -> io::Result<Response<Bytes>> {
    let host = HeaderValue::from_str(authority).map_err(io::Error::other)?;
    request.headers_mut().insert(HOST, host);
    let stream = TcpStream::connect(authority).await?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(io::Error::other)?;
    // The connection task ends when the exchange is over and `sender` is dropped.
    tokio::spawn(connection);
    let response = sender
        .send_request(request)
        .await
        .map_err(io::Error::other)?;
    let (parts, body) = response.into_parts();
    let body = body.collect().await.map_err(io::Error::other)?.to_bytes();
    Ok(Response::from_parts(parts, body))
}

/// Sends `body` (JSON, or nothing) with `method` to `path_and_query` at `authority`, and reads
/// the answer as [`json_or_text`], whatever its status: what the fakes' admin APIs take.
pub async fn send_json(
    authority: &str,
    method: http::Method,
    path_and_query: &str,
    body: Option<&serde_json::Value>,
) -> io::Result<(http::StatusCode, serde_json::Value)> {
    let body = body.map_or_else(Full::default, |body| {
        Full::new(Bytes::from(body.to_string()))
    });
    let request = Request::builder()
        .method(method)
        .uri(path_and_query)
        .body(body)
        .map_err(io::Error::other)?;
    let response = send(authority, request).await?;
    Ok((response.status(), json_or_text(response.body())))
}

/// An answer's body as JSON; as a JSON string when it is not JSON; null when it is empty.
pub fn json_or_text(body: &[u8]) -> serde_json::Value {
    if body.is_empty() {
        return serde_json::Value::Null;
    }
    serde_json::from_slice(body)
        .unwrap_or_else(|_| serde_json::Value::String(String::from_utf8_lossy(body).into_owned()))
}
