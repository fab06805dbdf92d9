//! Which Entra ID credential signs byok-upload's requests, chosen with `--credential`.
//!
//! `auto` picks one credential from what is configured, deterministically and without probing
//! the network, and says which: a client secret or certificate from the environment, then
//! workload identity, then the Azure CLI's login. Managed identity is never guessed (probing the
//! instance metadata endpoint from a workstation is slow and misleading): ask for it by name.
//! Secrets are read into the SDK's `Secret`, whose Debug and Display never show them.
use std::sync::Arc;

use azure_core::credentials::{Secret, TokenCredential};
use azure_identity::{
    AzureCliCredential, ClientAssertionCredential, ClientSecretCredential,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
    WorkloadIdentityCredential,
};

use crate::client_certificate::{CertificateAssertion, CertificateError};

pub const AZURE_TENANT_ID: &str = "AZURE_TENANT_ID";
pub const AZURE_CLIENT_ID: &str = "AZURE_CLIENT_ID";
pub const AZURE_CLIENT_SECRET: &str = "AZURE_CLIENT_SECRET";
pub const AZURE_CLIENT_CERTIFICATE_PATH: &str = "AZURE_CLIENT_CERTIFICATE_PATH";
pub const AZURE_CLIENT_CERTIFICATE_PASSWORD: &str = "AZURE_CLIENT_CERTIFICATE_PASSWORD";
pub const AZURE_FEDERATED_TOKEN_FILE: &str = "AZURE_FEDERATED_TOKEN_FILE";

/// The `--credential` choices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CredentialKind {
    /// Client secret, then client certificate (from the environment), then workload identity,
    /// then the Azure CLI
    Auto,
    /// The account logged in with `az login`
    AzureCli,
    /// AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_SECRET
    ClientSecret,
    /// AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_CLIENT_CERTIFICATE_PATH (PEM: key and certificate)
    ClientCertificate,
    /// The machine's managed identity (user-assigned when AZURE_CLIENT_ID is set)
    ManagedIdentity,
    /// AZURE_TENANT_ID, AZURE_CLIENT_ID and AZURE_FEDERATED_TOKEN_FILE (e.g. AKS)
    WorkloadIdentity,
}

/// Why no credential could be made.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    #[error(
        "--credential {kind} needs the environment variable {var}: set it, or choose another --credential"
    )]
    Missing {
        kind: &'static str,
        var: &'static str,
    },
    #[error(
        "{AZURE_CLIENT_CERTIFICATE_PASSWORD} is set, but only unencrypted PEM certificates are supported: convert with `openssl pkcs12 -in cert.pfx -out cert.pem -nodes` onto protected storage and unset the password"
    )]
    CertificatePassword,
    #[error(transparent)]
    Certificate(#[from] CertificateError),
    #[error("could not set up the {kind} credential: {detail}; check its settings")]
    Sdk { kind: &'static str, detail: String },
}

/// A ready credential and a line telling the operator which one it is (no secrets).
pub struct Chosen {
    pub credential: Arc<dyn TokenCredential>,
    pub description: String,
}

impl std::fmt::Debug for Chosen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chosen")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// Resolves `auto` from the environment and builds the credential.
pub fn choose(
    kind: CredentialKind,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Chosen, CredentialError> {
    build(resolve(kind, env), env)
}

/// The credential `auto` stands for, given the environment.
pub fn resolve(kind: CredentialKind, env: &dyn Fn(&str) -> Option<String>) -> CredentialKind {
    if kind != CredentialKind::Auto {
        return kind;
    }
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    if set(AZURE_CLIENT_SECRET) {
        CredentialKind::ClientSecret
    } else if set(AZURE_CLIENT_CERTIFICATE_PATH) {
        CredentialKind::ClientCertificate
    } else if set(AZURE_FEDERATED_TOKEN_FILE) {
        CredentialKind::WorkloadIdentity
    } else {
        CredentialKind::AzureCli
    }
}

fn build(
    kind: CredentialKind,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Chosen, CredentialError> {
    let name = kind_name(kind);
    let required = |var: &'static str| {
        env(var)
            .filter(|v| !v.is_empty())
            .ok_or(CredentialError::Missing { kind: name, var })
    };
    let sdk = |e: azure_core::Error| CredentialError::Sdk {
        kind: name,
        detail: e.to_string(),
    };
    let (credential, description): (Arc<dyn TokenCredential>, String) = match kind {
        CredentialKind::Auto | CredentialKind::AzureCli => (
            AzureCliCredential::new(None).map_err(sdk)?,
            "Azure CLI (the account of `az login`)".to_owned(),
        ),
        CredentialKind::ClientSecret => {
            let tenant = required(AZURE_TENANT_ID)?;
            let client = required(AZURE_CLIENT_ID)?;
            let secret = Secret::new(required(AZURE_CLIENT_SECRET)?);
            let credential =
                ClientSecretCredential::new(&tenant, client.clone(), secret, None).map_err(sdk)?;
            (
                credential,
                format!("client secret for application {client} in tenant {tenant}"),
            )
        }
        CredentialKind::ClientCertificate => {
            let tenant = required(AZURE_TENANT_ID)?;
            let client = required(AZURE_CLIENT_ID)?;
            let path = required(AZURE_CLIENT_CERTIFICATE_PATH)?;
            if env(AZURE_CLIENT_CERTIFICATE_PASSWORD).is_some_and(|v| !v.is_empty()) {
                return Err(CredentialError::CertificatePassword);
            }
            let authority = env("AZURE_AUTHORITY_HOST");
            let assertion = CertificateAssertion::load(
                std::path::Path::new(&path),
                &tenant,
                &client,
                authority.as_deref(),
            )?;
            let thumbprint = assertion.thumbprint_hex();
            let credential =
                ClientAssertionCredential::new(tenant.clone(), client.clone(), assertion, None)
                    .map_err(sdk)?;
            (
                credential,
                format!(
                    "client certificate (SHA-1 thumbprint {thumbprint}) for application {client} in tenant {tenant}"
                ),
            )
        }
        CredentialKind::ManagedIdentity => {
            let client = env(AZURE_CLIENT_ID).filter(|v| !v.is_empty());
            let options = ManagedIdentityCredentialOptions {
                user_assigned_id: client.clone().map(UserAssignedId::ClientId),
                ..Default::default()
            };
            let description = match &client {
                Some(id) => format!("user-assigned managed identity {id}"),
                None => "system-assigned managed identity".to_owned(),
            };
            (
                ManagedIdentityCredential::new(Some(options)).map_err(sdk)?,
                description,
            )
        }
        CredentialKind::WorkloadIdentity => {
            let client = required(AZURE_CLIENT_ID)?;
            required(AZURE_TENANT_ID)?;
            required(AZURE_FEDERATED_TOKEN_FILE)?;
            (
                WorkloadIdentityCredential::new(None).map_err(sdk)?,
                format!("workload identity for application {client}"),
            )
        }
    };
    Ok(Chosen {
        credential,
        description,
    })
}

fn kind_name(kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::Auto => "auto",
        CredentialKind::AzureCli => "azure-cli",
        CredentialKind::ClientSecret => "client-secret",
        CredentialKind::ClientCertificate => "client-certificate",
        CredentialKind::ManagedIdentity => "managed-identity",
        CredentialKind::WorkloadIdentity => "workload-identity",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| (*v).to_owned())
        }
    }

    #[test]
    fn auto_order() {
        use CredentialKind::*;
        let all = env_of(&[
            (AZURE_CLIENT_SECRET, "s"),
            (AZURE_CLIENT_CERTIFICATE_PATH, "c.pem"),
            (AZURE_FEDERATED_TOKEN_FILE, "t"),
        ]);
        assert_eq!(resolve(Auto, &all), ClientSecret);
        let cert = env_of(&[
            (AZURE_CLIENT_SECRET, ""),
            (AZURE_CLIENT_CERTIFICATE_PATH, "c.pem"),
        ]);
        assert_eq!(resolve(Auto, &cert), ClientCertificate);
        let wi = env_of(&[(AZURE_FEDERATED_TOKEN_FILE, "t")]);
        assert_eq!(resolve(Auto, &wi), WorkloadIdentity);
        assert_eq!(resolve(Auto, &env_of(&[])), AzureCli);
        assert_eq!(resolve(ManagedIdentity, &all), ManagedIdentity);
    }

    #[test]
    fn missing_settings_are_named_and_secrets_never_shown() {
        let env = env_of(&[(AZURE_TENANT_ID, "t"), (AZURE_CLIENT_SECRET, "hunter2")]);
        let err = choose(CredentialKind::ClientSecret, &env).expect_err("no client id");
        assert!(err.to_string().contains(AZURE_CLIENT_ID), "{err}");
        let env = env_of(&[
            (AZURE_TENANT_ID, "tenant-1"),
            (AZURE_CLIENT_ID, "app-1"),
            (AZURE_CLIENT_SECRET, "hunter2"),
        ]);
        let chosen = choose(CredentialKind::Auto, &env).expect("client secret");
        assert!(chosen.description.contains("app-1"));
        assert!(!chosen.description.contains("hunter2"));
        assert!(!format!("{chosen:?}").contains("hunter2"));
    }

    #[test]
    fn encrypted_certificates_are_refused() {
        let env = env_of(&[
            (AZURE_TENANT_ID, "t"),
            (AZURE_CLIENT_ID, "c"),
            (AZURE_CLIENT_CERTIFICATE_PATH, "/nonexistent.pem"),
            (AZURE_CLIENT_CERTIFICATE_PASSWORD, "pw"),
        ]);
        let err = choose(CredentialKind::ClientCertificate, &env).expect_err("password");
        assert!(err.to_string().contains("openssl pkcs12"), "{err}");
    }
}
