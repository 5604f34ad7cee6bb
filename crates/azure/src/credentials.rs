//! Where ARM tokens come from: AKS Workload Identity or the managed identity
//! (`InjectedIdentity`), a service principal's secret or certificate from a Kubernetes Secret
//! (`Secret`), or nothing (`Anonymous`, for fakes).
//!
//! The credential types are azure_identity's: they cache tokens until five minutes before they
//! expire. The one exception is the certificate: azure_identity's `ClientCertificateCredential`
//! needs openssl and a PKCS#12 file, so Ferry signs the client assertion itself (RS256 with
//! ring, from PEM) and hands it to azure_identity's `ClientAssertionCredential`.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use azure_core::credentials::{AccessToken, Secret, TokenCredential, TokenRequestOptions};
use azure_core::http::{ClientMethodOptions, ClientOptions};
use azure_identity::{
    ClientAssertion, ClientAssertionCredential, ClientAssertionCredentialOptions,
    ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential,
    WorkloadIdentityCredentialOptions,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use serde_json::{Value, json};

/// Builds a credential afresh.
type Factory = Box<dyn Fn() -> Result<Arc<dyn TokenCredential>, String> + Send + Sync>;

/// A credential that can be rebuilt, with an empty token cache, when Resource Manager refuses
/// its token (401): azure_identity keeps a token until five minutes before it expires whatever
/// ARM says of it, and drops none on request.
pub(crate) struct Renewable {
    factory: Factory,
    current: RwLock<Arc<dyn TokenCredential>>,
}

impl fmt::Debug for Renewable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Renewable").finish_non_exhaustive()
    }
}

impl Renewable {
    pub(crate) fn new(factory: Factory) -> Result<Renewable, String> {
        let current = RwLock::new(factory()?);
        Ok(Renewable { factory, current })
    }

    /// Forgets the cached token: the next call asks for a new one.
    pub(crate) fn renew(&self) {
        if let Ok(fresh) = (self.factory)() {
            *self.current.write().unwrap_or_else(PoisonError::into_inner) = fresh;
        }
    }
}

#[async_trait::async_trait]
impl TokenCredential for Renewable {
    async fn get_token(
        &self,
        scopes: &[&str],
        options: Option<TokenRequestOptions<'_>>,
    ) -> azure_core::Result<AccessToken> {
        let current = self
            .current
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        current.get_token(scopes, options).await
    }
}

/// What a credentials Secret holds, as `az ad sp create-for-rbac --sdk-auth` prints it (other
/// fields are ignored).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct ServicePrincipal {
    pub(crate) tenant_id: String,
    pub(crate) client_id: String,
    pub(crate) proof: Proof,
}

/// How a service principal proves who it is.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Proof {
    ClientSecret(String),
    Certificate {
        pem: String,
        password: Option<String>,
    },
}

impl fmt::Debug for ServicePrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let proof = match self.proof {
            Proof::ClientSecret(_) => "clientSecret",
            Proof::Certificate { .. } => "clientCertificate",
        };
        f.debug_struct("ServicePrincipal")
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("proof", &proof)
            .finish()
    }
}

impl ServicePrincipal {
    /// Reads the Secret's JSON. Errors name the field, never a value.
    pub(crate) fn parse(bytes: &[u8]) -> Result<ServicePrincipal, String> {
        let value: Value = serde_json::from_slice(bytes).map_err(|error| {
            // serde_json's syntax errors carry a position, never the text.
            format!(
                "the credentials Secret is not JSON (line {}, column {}); it needs tenantId, \
                 clientId and clientSecret or clientCertificate",
                error.line(),
                error.column()
            )
        })?;
        if !value.is_object() {
            return Err(
                "the credentials Secret's JSON is not an object with tenantId, clientId \
                        and clientSecret or clientCertificate"
                    .into(),
            );
        }
        let field = |name: &str| -> Result<Option<String>, String> {
            match value.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) if text.trim().is_empty() => Ok(None),
                Some(Value::String(text)) => Ok(Some(text.clone())),
                Some(_) => Err(format!(
                    "the credentials Secret's field `{name}` is not a string"
                )),
            }
        };
        let required = |name: &str| -> Result<String, String> {
            field(name)?.ok_or_else(|| {
                format!("the credentials Secret's JSON has no `{name}` (or it is empty)")
            })
        };
        let tenant_id = required("tenantId")?;
        let client_id = required("clientId")?;
        let proof = match (field("clientSecret")?, field("clientCertificate")?) {
            (Some(secret), None) => Proof::ClientSecret(secret),
            (None, Some(pem)) => Proof::Certificate {
                pem,
                password: field("clientCertificatePassword")?,
            },
            (Some(_), Some(_)) => {
                return Err("the credentials Secret's JSON has both `clientSecret` and \
                            `clientCertificate`: keep one"
                    .into());
            }
            (None, None) => {
                return Err(
                    "the credentials Secret's JSON has neither `clientSecret` nor \
                            `clientCertificate`"
                        .into(),
                );
            }
        };
        Ok(ServicePrincipal {
            tenant_id,
            client_id,
            proof,
        })
    }

    /// The token credential, asking `authority` (`https://login.microsoftonline.com` or the
    /// endpoint's host) for tokens through `options`.
    pub(crate) fn credential(
        &self,
        authority: &str,
        options: ClientOptions,
    ) -> Result<Arc<dyn TokenCredential>, String> {
        match &self.proof {
            Proof::ClientSecret(secret) => {
                let credential = ClientSecretCredential::new(
                    &self.tenant_id,
                    self.client_id.clone(),
                    Secret::new(secret.clone()),
                    Some(ClientSecretCredentialOptions {
                        client_options: options,
                    }),
                )
                .map_err(|e| format!("the client secret credential: {}", e.kind()))?;
                Ok(credential)
            }
            Proof::Certificate { pem, password } => {
                let audience = format!(
                    "{}/{}/oauth2/v2.0/token",
                    authority.trim_end_matches('/'),
                    self.tenant_id
                );
                let assertion =
                    CertificateAssertion::new(&self.client_id, audience, pem, password.as_deref())?;
                let credential = ClientAssertionCredential::new(
                    self.tenant_id.clone(),
                    self.client_id.clone(),
                    assertion,
                    Some(ClientAssertionCredentialOptions {
                        client_options: options,
                    }),
                )
                .map_err(|e| format!("the client certificate credential: {e}"))?;
                Ok(credential)
            }
        }
    }
}

/// The credential of the pod Ferry runs in: AKS Workload Identity when its webhook injected
/// `AZURE_CLIENT_ID`, `AZURE_TENANT_ID` and `AZURE_FEDERATED_TOKEN_FILE`, else the managed
/// identity (user-assigned by `AZURE_CLIENT_ID` when that alone is set).
pub(crate) fn injected(options: ClientOptions) -> Result<Arc<dyn TokenCredential>, String> {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let client_id = var("AZURE_CLIENT_ID");
    if client_id.is_some()
        && var("AZURE_TENANT_ID").is_some()
        && var("AZURE_FEDERATED_TOKEN_FILE").is_some()
    {
        let credential = WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
            credential_options: ClientAssertionCredentialOptions {
                client_options: options,
            },
            ..WorkloadIdentityCredentialOptions::default()
        }))
        .map_err(|e| format!("AKS Workload Identity: {e}"))?;
        return Ok(credential);
    }
    let credential = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
        user_assigned_id: client_id.map(UserAssignedId::ClientId),
        client_options: options,
    }))
    .map_err(|e| format!("the managed identity: {e}"))?;
    Ok(credential)
}

/// Signs client assertions (JWTs) with a certificate's RSA key: what Microsoft Entra ID takes
/// in place of a client secret.
struct CertificateAssertion {
    client_id: String,
    audience: String,
    key: RsaKeyPair,
    thumbprint: String,
}

impl fmt::Debug for CertificateAssertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateAssertion")
            .field("client_id", &self.client_id)
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

/// PEM sections of a text: (label, DER).
fn pem_sections(text: &str) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut sections = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let after = &rest[start..];
        let label_end = after[11..]
            .find("-----")
            .ok_or("clientCertificate: a PEM header is not closed")?;
        let label = after[11..11 + label_end].to_owned();
        let footer = format!("-----END {label}-----");
        let end = after
            .find(&footer)
            .ok_or_else(|| format!("clientCertificate: the PEM section {label} has no end"))?;
        let block = &after[..end + footer.len()];
        let (_, der) = pkcs8::der::pem::decode_vec(block.as_bytes())
            .map_err(|_| format!("clientCertificate: the PEM section {label} is not valid"))?;
        sections.push((label, der));
        rest = &after[end + footer.len()..];
    }
    Ok(sections)
}

impl CertificateAssertion {
    fn new(
        client_id: &str,
        audience: String,
        pem: &str,
        password: Option<&str>,
    ) -> Result<CertificateAssertion, String> {
        let sections = pem_sections(pem)?;
        let certificate = sections
            .iter()
            .find(|(label, _)| label == "CERTIFICATE")
            .map(|(_, der)| der)
            .ok_or("clientCertificate has no CERTIFICATE section (PEM with the certificate and its private key)")?;
        let key = sections
            .iter()
            .find_map(|(label, der)| match label.as_str() {
                "PRIVATE KEY" => Some(RsaKeyPair::from_pkcs8(der).map_err(|e| e.to_string())),
                "RSA PRIVATE KEY" => Some(RsaKeyPair::from_der(der).map_err(|e| e.to_string())),
                "ENCRYPTED PRIVATE KEY" => Some(decrypt(der, password).and_then(|plain| {
                    RsaKeyPair::from_pkcs8(&plain).map_err(|e| e.to_string())
                })),
                _ => None,
            })
            .ok_or("clientCertificate has no private key section (PRIVATE KEY, RSA PRIVATE KEY or ENCRYPTED PRIVATE KEY)")?
            .map_err(|e| format!("clientCertificate's private key cannot sign (an RSA key of 2048 bits or more is needed): {e}"))?;
        let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, certificate);
        Ok(CertificateAssertion {
            client_id: client_id.to_owned(),
            audience,
            key,
            thumbprint: URL_SAFE_NO_PAD.encode(digest.as_ref()),
        })
    }

    /// A signed assertion valid for ten minutes from `now` (seconds since the epoch).
    fn sign(&self, now: u64, id: &str) -> Result<String, String> {
        let header = json!({"alg": "RS256", "typ": "JWT", "x5t": self.thumbprint});
        let claims = json!({
            "aud": self.audience, "iss": self.client_id, "sub": self.client_id,
            "jti": id, "nbf": now, "iat": now, "exp": now + 600,
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "signing the client assertion failed".to_owned())?;
        Ok(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        ))
    }
}

fn decrypt(der: &[u8], password: Option<&str>) -> Result<Vec<u8>, String> {
    let password = password.ok_or(
        "clientCertificate's private key is encrypted but the Secret has no `clientCertificatePassword`",
    )?;
    let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der)
        .map_err(|_| "clientCertificate's ENCRYPTED PRIVATE KEY is not PKCS#8".to_owned())?;
    let plain = info.decrypt(password).map_err(|_| {
        "clientCertificate's private key cannot be decrypted with `clientCertificatePassword`"
            .to_owned()
    })?;
    Ok(plain.as_bytes().to_vec())
}

#[async_trait::async_trait]
impl ClientAssertion for CertificateAssertion {
    async fn secret(
        &self,
        _options: Option<ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let id = uuid::Uuid::new_v4().to_string();
        self.sign(now, &id).map_err(|message| {
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, message)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_secret_principal_is_read() {
        let principal = ServicePrincipal::parse(
            br#"{"tenantId": "t", "clientId": "c", "clientSecret": "s3cr3t", "subscriptionId": "x"}"#,
        )
        .unwrap();
        assert_eq!(principal.tenant_id, "t");
        assert_eq!(principal.client_id, "c");
        assert!(principal.proof == Proof::ClientSecret("s3cr3t".into()));
        assert!(!format!("{principal:?}").contains("s3cr3t"));
    }

    #[test]
    fn errors_name_the_field_and_never_the_secret() {
        let cases: [(&[u8], &str); 7] = [
            (br#"{"clientId": "c", "clientSecret": "s3cr3t"}"#, "`tenantId`"),
            (br#"{"tenantId": "t", "clientSecret": "s3cr3t"}"#, "`clientId`"),
            (br#"{"tenantId": "t", "clientId": "", "clientSecret": "s3cr3t"}"#, "`clientId`"),
            (br#"{"tenantId": "t", "clientId": "c"}"#, "neither `clientSecret` nor `clientCertificate`"),
            (br#"{"tenantId": "t", "clientId": "c", "clientSecret": 5}"#, "`clientSecret` is not a string"),
            (br#"{"tenantId": "t", "clientId": "c", "clientSecret": "s3cr3t", "clientCertificate": "p"}"#, "both"),
            (br#"{"tenantId": "t", "clientId": "c", "clientSecret": "s3cr3t""#, "not JSON"),
        ];
        for (bytes, expected) in cases {
            let error = ServicePrincipal::parse(bytes).unwrap_err();
            assert!(error.contains(expected), "{error}");
            assert!(!error.contains("s3cr3t"), "{error}");
        }
    }

    #[test]
    fn a_certificate_without_a_key_is_refused_by_name() {
        let principal = ServicePrincipal::parse(
            br#"{"tenantId": "t", "clientId": "c", "clientCertificate": "not pem"}"#,
        )
        .unwrap();
        let error = principal
            .credential(
                "https://login.microsoftonline.com",
                ClientOptions::default(),
            )
            .err()
            .unwrap();
        assert!(error.contains("CERTIFICATE"), "{error}");
    }

    const PRINCIPAL: &str = include_str!("../tests/data/principal.pem");
    const PRINCIPAL_ENCRYPTED: &str = include_str!("../tests/data/principal-encrypted.pem");
    const PUBLIC_KEY: &[u8] = include_bytes!("../tests/data/public-pkcs1.der");

    fn decode(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[test]
    fn certificate_assertions_are_signed_jwts_naming_the_certificate() {
        let assertion = CertificateAssertion::new(
            "client",
            "https://login.example/t/oauth2/v2.0/token".into(),
            PRINCIPAL,
            None,
        )
        .unwrap();
        let jwt = assertion.sign(1_000, "id-1").unwrap();
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = decode(parts[0]);
        assert_eq!(header["alg"], "RS256");
        let sections = pem_sections(PRINCIPAL).unwrap();
        let certificate = &sections.iter().find(|(l, _)| l == "CERTIFICATE").unwrap().1;
        let thumbprint = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, certificate);
        assert_eq!(header["x5t"], URL_SAFE_NO_PAD.encode(thumbprint.as_ref()));
        let claims = decode(parts[1]);
        assert_eq!(claims["aud"], "https://login.example/t/oauth2/v2.0/token");
        assert_eq!(claims["iss"], "client");
        assert_eq!(claims["sub"], "client");
        assert_eq!(claims["jti"], "id-1");
        assert_eq!(claims["nbf"], 1_000);
        assert_eq!(claims["exp"], 1_600);
        let signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            PUBLIC_KEY,
        )
        .verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &signature)
        .unwrap();
        assert!(!format!("{assertion:?}").contains("PRIVATE"));
    }

    #[test]
    fn encrypted_keys_need_their_password() {
        let audience = || "https://login.example/t/oauth2/v2.0/token".to_owned();
        let signed =
            CertificateAssertion::new("c", audience(), PRINCIPAL_ENCRYPTED, Some("test-password"))
                .unwrap()
                .sign(1, "x")
                .unwrap();
        let plain = CertificateAssertion::new("c", audience(), PRINCIPAL, None)
            .unwrap()
            .sign(1, "x")
            .unwrap();
        assert_eq!(
            signed, plain,
            "the same key signs the same bytes (PKCS#1 v1.5 is deterministic)"
        );

        let missing =
            CertificateAssertion::new("c", audience(), PRINCIPAL_ENCRYPTED, None).unwrap_err();
        assert!(missing.contains("`clientCertificatePassword`"), "{missing}");
        let wrong = CertificateAssertion::new("c", audience(), PRINCIPAL_ENCRYPTED, Some("nope"))
            .unwrap_err();
        assert!(wrong.contains("cannot be decrypted"), "{wrong}");
        assert!(!wrong.contains("nope"), "{wrong}");
    }
}
