//! The HTTP client under azure_core's pipeline: reqwest on rustls with ring (the TLS stack the
//! rest of Ferry uses), and plain HTTP for a test endpoint.
//!
//! azure_core refuses to send a bearer token anywhere but `https://` (its
//! `BearerTokenAuthorizationPolicy`), and azure_identity takes only an `https://` authority host.
//! The fake Resource Manager speaks plain HTTP. So with an `http://HOST:PORT` endpoint the
//! pipeline is given `https://HOST:PORT`, and this transport, the last step of the pipeline,
//! sends what is addressed there over plain HTTP. Nothing else is ever downgraded.

use std::time::Duration;

use async_trait::async_trait;
use azure_core::http::{AsyncRawResponse, HttpClient, Request, Url};

/// The endpoint that is plain HTTP on the wire and `https://` to the pipeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct PlainHttp {
    host: String,
    /// The port the pipeline sees (`https://HOST[:PORT]`).
    tls_port: u16,
    /// The port on the wire (`http://HOST[:PORT]`).
    plain_port: u16,
}

impl PlainHttp {
    /// For an `http://` endpoint: the endpoint as the pipeline sees it, and the downgrade.
    pub(crate) fn for_endpoint(endpoint: &Url) -> Option<(Url, PlainHttp)> {
        if endpoint.scheme() != "http" {
            return None;
        }
        let host = endpoint.host_str()?.to_owned();
        let plain_port = endpoint.port_or_known_default()?;
        let mut seen = endpoint.clone();
        seen.set_scheme("https").ok()?;
        seen.set_port(Some(plain_port)).ok()?;
        let tls_port = seen.port_or_known_default()?;
        Some((
            seen,
            PlainHttp {
                host,
                tls_port,
                plain_port,
            },
        ))
    }

    /// `url` as the pipeline addresses it: an `http://` URL of the endpoint (ARM hands out
    /// absolute operation URLs built from the request's host) becomes `https://`.
    pub(crate) fn to_pipeline(&self, url: &Url) -> Url {
        let mut seen = url.clone();
        if url.scheme() == "http"
            && url.host_str() == Some(self.host.as_str())
            && url.port_or_known_default() == Some(self.plain_port)
            && seen.set_scheme("https").is_ok()
            && seen.set_port(Some(self.tls_port)).is_ok()
        {
            return seen;
        }
        url.clone()
    }

    fn to_wire(&self, url: &Url) -> Option<Url> {
        if url.scheme() != "https"
            || url.host_str() != Some(self.host.as_str())
            || url.port_or_known_default() != Some(self.tls_port)
        {
            return None;
        }
        let mut wire = url.clone();
        wire.set_scheme("http").ok()?;
        wire.set_port(Some(self.plain_port)).ok()?;
        Some(wire)
    }
}

/// reqwest, with the plain-HTTP downgrade for a test endpoint.
#[derive(Debug)]
pub(crate) struct Wire {
    client: reqwest::Client,
    plain: Option<PlainHttp>,
}

impl Wire {
    pub(crate) fn new(plain: Option<PlainHttp>, connect_timeout: Duration) -> Result<Wire, String> {
        // reqwest is built without a crypto provider of its own (its `rustls` feature would bring
        // aws-lc): ring, as for kube and the Google crates. A provider already installed stays.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .connect_timeout(connect_timeout)
            // ARM never redirects; following one would carry the token elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("the HTTP client: {e}"))?;
        Ok(Wire { client, plain })
    }
}

#[async_trait]
impl HttpClient for Wire {
    async fn execute_request(&self, request: &Request) -> azure_core::Result<AsyncRawResponse> {
        if let Some(wire) = self.plain.as_ref().and_then(|p| p.to_wire(request.url())) {
            let mut downgraded = request.clone();
            *downgraded.url_mut() = wire;
            return self.client.execute_request(&downgraded).await;
        }
        self.client.execute_request(request).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn only_the_endpoint_goes_over_plain_http() {
        let (seen, plain) = PlainHttp::for_endpoint(&url("http://127.0.0.1:8099")).unwrap();
        assert_eq!(seen.as_str(), "https://127.0.0.1:8099/");
        assert_eq!(
            plain.to_wire(&url("https://127.0.0.1:8099/subscriptions/s?api-version=1")),
            Some(url("http://127.0.0.1:8099/subscriptions/s?api-version=1"))
        );
        assert_eq!(plain.to_wire(&url("https://127.0.0.1:8100/x")), None);
        assert_eq!(plain.to_wire(&url("https://management.azure.com/x")), None);
        assert_eq!(
            plain.to_pipeline(&url("http://127.0.0.1:8099/op?api-version=1")),
            url("https://127.0.0.1:8099/op?api-version=1")
        );
        assert_eq!(
            plain.to_pipeline(&url("http://elsewhere:8099/op")),
            url("http://elsewhere:8099/op")
        );
    }

    #[test]
    fn default_ports_survive_the_round_trip() {
        let (seen, plain) = PlainHttp::for_endpoint(&url("http://fake.example")).unwrap();
        assert_eq!(seen.as_str(), "https://fake.example:80/");
        assert_eq!(
            plain.to_wire(&url("https://fake.example:80/a")),
            Some(url("http://fake.example/a"))
        );
        assert_eq!(
            PlainHttp::for_endpoint(&url("https://management.azure.com")),
            None
        );
    }
}
