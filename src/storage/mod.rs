//! Object stores: local files (DataFusion's `LocalFileSystem`, with byte
//! ranges read by [`local_reads::LocalReads`]), and
//! `s3://bucket/...` (AWS or any S3-compatible endpoint) created on first use
//! from the usual AWS environment variables or the shared config files.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use datafusion::common::{Result, exec_datafusion_err, plan_err};
use datafusion::execution::object_store::{DefaultObjectStoreRegistry, ObjectStoreRegistry};
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use url::Url;

mod local_reads;
pub use local_reads::LocalReads;

/// The registry every session uses. Stores registered explicitly win; an
/// `s3://` URL without one gets a store built from the environment.
#[derive(Debug)]
pub struct FinsightObjectStoreRegistry {
    inner: DefaultObjectStoreRegistry,
    // Built stores are cached so a bucket's client (and its connection pool)
    // is made once per session, not once per query.
    s3_stores: RwLock<HashMap<String, Arc<dyn ObjectStore>>>,
}

impl Default for FinsightObjectStoreRegistry {
    fn default() -> Self {
        Self::new()
    }
}

impl FinsightObjectStoreRegistry {
    pub fn new() -> Self {
        let inner = DefaultObjectStoreRegistry::new();
        if let Ok(local) = Url::parse("file://") {
            inner.register_store(&local, Arc::new(LocalReads::new()));
        }
        Self {
            inner,
            s3_stores: RwLock::new(HashMap::new()),
        }
    }
}

impl ObjectStoreRegistry for FinsightObjectStoreRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.inner.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.inner.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        if let Ok(store) = self.inner.get_store(url) {
            return Ok(store);
        }
        match url.scheme() {
            "s3" | "s3a" => {
                let Some(bucket) = url.host_str() else {
                    return plan_err!("object store: expected s3://BUCKET/PATH, got '{url}'");
                };
                if let Some(store) = self
                    .s3_stores
                    .read()
                    .map_err(|_| exec_datafusion_err!("object store registry lock poisoned"))?
                    .get(bucket)
                {
                    return Ok(Arc::clone(store));
                }
                let store: Arc<dyn ObjectStore> =
                    Arc::new(s3_builder(bucket)?.build().map_err(|e| {
                        exec_datafusion_err!("object store: cannot configure s3://{bucket}: {e}")
                    })?);
                self.s3_stores
                    .write()
                    .map_err(|_| exec_datafusion_err!("object store registry lock poisoned"))?
                    .insert(bucket.to_string(), Arc::clone(&store));
                Ok(store)
            }
            scheme => plan_err!(
                "object store: no store for scheme '{scheme}' in '{url}'; finsight reads local \
                 paths, file:// and s3:// URLs"
            ),
        }
    }
}

/// Settings for an S3 bucket. Precedence, as in the AWS CLI: environment
/// variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
/// `AWS_REGION`, `AWS_ENDPOINT_URL`, ...), then the profile `AWS_PROFILE`
/// (default `default`) of `~/.aws/credentials` and `~/.aws/config`.
pub fn s3_builder(bucket: &str) -> Result<AmazonS3Builder> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    let profile = std::env::var("AWS_PROFILE").unwrap_or_else(|_| "default".to_string());
    let from_files = aws_profile_settings(&profile);
    let env_set = |names: &[&str]| {
        names
            .iter()
            .any(|n| std::env::var(n).is_ok_and(|v| !v.is_empty()))
    };
    let file_keys = [
        (
            &["AWS_ACCESS_KEY_ID"][..],
            "aws_access_key_id",
            AmazonS3ConfigKey::AccessKeyId,
        ),
        (
            &["AWS_SECRET_ACCESS_KEY"][..],
            "aws_secret_access_key",
            AmazonS3ConfigKey::SecretAccessKey,
        ),
        (
            &["AWS_SESSION_TOKEN"][..],
            "aws_session_token",
            AmazonS3ConfigKey::Token,
        ),
        (
            &["AWS_REGION", "AWS_DEFAULT_REGION"][..],
            "region",
            AmazonS3ConfigKey::Region,
        ),
        (
            &["AWS_ENDPOINT_URL", "AWS_ENDPOINT"][..],
            "endpoint_url",
            AmazonS3ConfigKey::Endpoint,
        ),
    ];
    for (env_names, file_key, config_key) in file_keys {
        if !env_set(env_names)
            && let Some(value) = from_files.get(file_key)
        {
            builder = builder.with_config(config_key, value);
        }
    }
    // A plain-http endpoint is a local S3-compatible server (MinIO, moto):
    // allow it instead of failing with an opaque TLS error.
    let endpoint = builder.get_config_value(&AmazonS3ConfigKey::Endpoint);
    let allow_http = endpoint
        .as_deref()
        .is_some_and(|e| e.starts_with("http://"));
    if builder
        .get_config_value(&AmazonS3ConfigKey::Region)
        .is_none()
    {
        builder = builder.with_region("us-east-1");
    }
    // The defaults retry for minutes; a wrong endpoint should fail in seconds
    // with the endpoint in the message.
    let retry = RetryConfig {
        backoff: BackoffConfig::default(),
        max_retries: 2,
        retry_timeout: Duration::from_secs(15),
    };
    // Client options replace the builder's, so `allow_http` is set here.
    let client = ClientOptions::new()
        .with_allow_http(allow_http)
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(120));
    Ok(builder.with_retry(retry).with_client_options(client))
}

/// Reads `aws_access_key_id`, `region`, ... for `profile` from the AWS shared
/// credentials and config files (INI). Missing files give no settings.
fn aws_profile_settings(profile: &str) -> HashMap<String, String> {
    let home = dirs::home_dir().unwrap_or_default();
    let path_or = |var: &str, default: &str| -> PathBuf {
        std::env::var_os(var).map_or_else(|| home.join(default), PathBuf::from)
    };
    let mut settings = HashMap::new();
    let credentials = path_or("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials");
    let config = path_or("AWS_CONFIG_FILE", ".aws/config");
    // In `config` a named profile is `[profile NAME]`; in `credentials`, `[NAME]`.
    let config_section = if profile == "default" {
        "default".to_string()
    } else {
        format!("profile {profile}")
    };
    for (path, section) in [(config, config_section), (credentials, profile.to_string())] {
        if let Ok(text) = std::fs::read_to_string(&path) {
            settings.extend(ini_section(&text, &section));
        }
    }
    settings
}

fn ini_section(text: &str, wanted: &str) -> HashMap<String, String> {
    let mut in_section = false;
    let mut values = HashMap::new();
    for line in text.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_section = name.trim() == wanted;
        } else if in_section && let Some((key, value)) = line.split_once('=') {
            values.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
        }
    }
    values
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ini_sections_are_read_by_name() {
        let text = "[default]\naws_access_key_id = A\n\n[profile risk]\nregion=eu-west-1\n# c\n";
        assert_eq!(
            ini_section(text, "default")
                .get("aws_access_key_id")
                .map(String::as_str),
            Some("A")
        );
        assert_eq!(
            ini_section(text, "profile risk")
                .get("region")
                .map(String::as_str),
            Some("eu-west-1")
        );
        assert!(ini_section(text, "other").is_empty());
    }
}
