//! A client for a stand-in's fault endpoint (`/standin/faults`, see [`crate::faults::admin`]),
//! for tests that reach the stand-in only through its URL or a kubeconfig: one started as a
//! process, or one another part of the test process owns.
//!
//! It speaks plain HTTP/1.1, one connection per call, as the stand-in serves it.

use std::path::Path;

use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

use crate::faults::{Counts, Matcher, RequestInfo, Rule, RuleId, RuleState};

/// Why a call to the fault endpoint failed.
#[derive(Debug, thiserror::Error)]
pub enum RemoteError {
    /// The URL is not `http://HOST:PORT`.
    #[error("{0:?} is not an http://HOST:PORT URL (the stand-in serves plain HTTP)")]
    Url(String),
    /// The kubeconfig could not be read or names no server.
    #[error("kubeconfig {0}: {1}")]
    Kubeconfig(String, String),
    /// The connection failed.
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    /// The endpoint refused the call (a real cluster has no such endpoint: 404).
    #[error("{method} {path}: {code}: {message}")]
    Refused {
        /// The method.
        method: &'static str,
        /// The path.
        path: String,
        /// The HTTP status code.
        code: u16,
        /// The answer's message.
        message: String,
    },
    /// The answer was not what the endpoint sends.
    #[error("{0}: unexpected answer: {1}")]
    Answer(String, String),
}

/// The fault endpoint of a stand-in at some address.
#[derive(Clone, Debug)]
pub struct Remote {
    /// `HOST:PORT`.
    authority: String,
}

impl Remote {
    /// The stand-in at `url` (`http://127.0.0.1:PORT`, as [`crate::StandIn::url`] gives it).
    pub fn new(url: &str) -> Result<Self, RemoteError> {
        let authority = url
            .strip_prefix("http://")
            .map(|rest| rest.split('/').next().unwrap_or_default())
            .filter(|a| a.contains(':'))
            .ok_or_else(|| RemoteError::Url(url.to_owned()))?;
        Ok(Self {
            authority: authority.to_owned(),
        })
    }

    /// The stand-in at `addr`.
    pub fn at(addr: std::net::SocketAddr) -> Self {
        Self {
            authority: addr.to_string(),
        }
    }

    /// The stand-in the current context of the kubeconfig at `path` points at.
    pub fn from_kubeconfig(path: &Path) -> Result<Self, RemoteError> {
        let error = |m: String| RemoteError::Kubeconfig(path.display().to_string(), m);
        let text = std::fs::read_to_string(path).map_err(|e| error(e.to_string()))?;
        let config: Value = serde_saphyr::from_str(&text).map_err(|e| error(e.to_string()))?;
        let named = |list: &str, name: &str| {
            config[list]
                .as_array()
                .and_then(|items| items.iter().find(|i| i["name"] == name))
                .cloned()
        };
        let cluster = config["current-context"]
            .as_str()
            .and_then(|c| named("contexts", c))
            .and_then(|c| c["context"]["cluster"].as_str().map(str::to_owned))
            .and_then(|c| named("clusters", &c))
            .or_else(|| config["clusters"].get(0).cloned())
            .ok_or_else(|| error("no cluster".into()))?;
        let server = cluster["cluster"]["server"]
            .as_str()
            .ok_or_else(|| error("the cluster has no server".into()))?;
        Self::new(server)
    }

    /// Adds a rule; see [`crate::faults::Faults::add`].
    pub async fn add(&self, rule: &Rule) -> Result<RuleId, RemoteError> {
        let body = serde_json::to_value(rule).unwrap_or_default();
        let answer: Value = self.call("POST", "", Some(&body)).await?;
        answer["id"]
            .as_u64()
            .ok_or_else(|| RemoteError::Answer("POST /standin/faults".into(), answer.to_string()))
    }

    /// Removes a rule; false when there is none by that number.
    pub async fn remove(&self, id: RuleId) -> Result<bool, RemoteError> {
        match self.call::<Value>("DELETE", &id.to_string(), None).await {
            Ok(_) => Ok(true),
            Err(RemoteError::Refused { code: 404, .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Removes every rule; returns how many there were.
    pub async fn clear(&self) -> Result<usize, RemoteError> {
        let answer: Value = self.call("DELETE", "", None).await?;
        Ok(usize::try_from(answer["removed"].as_u64().unwrap_or(0)).unwrap_or(usize::MAX))
    }

    /// The rules in force.
    pub async fn rules(&self) -> Result<Vec<RuleState>, RemoteError> {
        let answer: Value = self.call("GET", "", None).await?;
        serde_json::from_value(answer["rules"].clone())
            .map_err(|e| RemoteError::Answer("GET /standin/faults".into(), e.to_string()))
    }

    /// The faults injected so far, by kind.
    pub async fn counts(&self) -> Result<Counts, RemoteError> {
        self.call("GET", "counts", None).await
    }

    /// The open watches `matcher` names.
    pub async fn open_watches(&self, matcher: &Matcher) -> Result<Vec<RequestInfo>, RemoteError> {
        let answer: Value = self.call("GET", "", None).await?;
        let watches: Vec<RequestInfo> = serde_json::from_value(answer["openWatches"].clone())
            .map_err(|e| RemoteError::Answer("GET /standin/faults".into(), e.to_string()))?;
        Ok(watches.into_iter().filter(|w| matcher.matches(w)).collect())
    }

    /// Drops the open watches `matcher` names; returns how many.
    pub async fn drop_watches(&self, matcher: &Matcher) -> Result<usize, RemoteError> {
        self.on_watches("drop", "dropped", matcher).await
    }

    /// Expires the open watches `matcher` names; returns how many.
    pub async fn expire_watches(&self, matcher: &Matcher) -> Result<usize, RemoteError> {
        self.on_watches("expire", "expired", matcher).await
    }

    async fn on_watches(
        &self,
        action: &str,
        field: &str,
        matcher: &Matcher,
    ) -> Result<usize, RemoteError> {
        let body = serde_json::to_value(matcher).unwrap_or_default();
        let answer: Value = self
            .call("POST", &format!("watches/{action}"), Some(&body))
            .await?;
        Ok(usize::try_from(answer[field].as_u64().unwrap_or(0)).unwrap_or(usize::MAX))
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: &'static str,
        rest: &str,
        body: Option<&Value>,
    ) -> Result<T, RemoteError> {
        let path = if rest.is_empty() {
            "/standin/faults".to_owned()
        } else {
            format!("/standin/faults/{rest}")
        };
        let what = format!("{method} http://{}{path}", self.authority);
        let io = |e| RemoteError::Io(what.clone(), e);
        let body = body.map(Value::to_string).unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.authority,
            body.len()
        );
        let mut stream = TcpStream::connect(&self.authority).await.map_err(io)?;
        stream.write_all(request.as_bytes()).await.map_err(io)?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.map_err(io)?;
        let (code, body) = split_response(&answer)
            .ok_or_else(|| RemoteError::Answer(what.clone(), "not HTTP".into()))?;
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| RemoteError::Answer(what.clone(), e.to_string()))?;
        if !(200..300).contains(&code) {
            return Err(RemoteError::Refused {
                method,
                path,
                code,
                message: value["message"].as_str().unwrap_or_default().to_owned(),
            });
        }
        serde_json::from_value(value).map_err(|e| RemoteError::Answer(what, e.to_string()))
    }
}

/// The status code and body of an HTTP/1.1 answer with a `Content-Length` (or none, ending
/// with the connection).
fn split_response(answer: &[u8]) -> Option<(u16, &[u8])> {
    let end = answer.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&answer[..end]).ok()?;
    let code = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((code, &answer[end + 4..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_kubeconfigs_name_the_stand_in() {
        assert_eq!(
            Remote::new("http://127.0.0.1:4321").unwrap().authority,
            "127.0.0.1:4321"
        );
        assert!(Remote::new("https://127.0.0.1:4321").is_err());
        assert!(Remote::new("http://localhost").is_err());
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kubeconfig");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster:\n    server: http://127.0.0.1:1\n- name: kube-standin\n  cluster:\n    server: http://127.0.0.1:5555\ncontexts:\n- name: kube-standin\n  context:\n    cluster: kube-standin\ncurrent-context: kube-standin\n",
        )
        .unwrap();
        assert_eq!(
            Remote::from_kubeconfig(&path).unwrap().authority,
            "127.0.0.1:5555"
        );
    }

    #[test]
    fn answers_split_into_code_and_body() {
        let answer = b"HTTP/1.1 201 Created\r\ncontent-length: 8\r\n\r\n{\"id\":1}";
        assert_eq!(split_response(answer), Some((201, &b"{\"id\":1}"[..])));
        assert_eq!(split_response(b"garbage"), None);
    }
}
