//! The keyring: named, versioned secret keys for `pseudonymize`,
//! `tokenize_fpe`/`detokenize_fpe` and Parquet encryption. Keys are loaded at
//! start-up from a keyring file or the environment, so they never appear in
//! SQL text, query plans, logs or error messages; SQL names them only.
//!
//! A key is named `name@version` (`customer@2`); `name` alone means its
//! highest version, so rotating a key is adding `name@3` to the keyring, and
//! data pseudonymized under an older version stays reproducible by naming it.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use base64::Engine;
use datafusion::common::{DataFusionError, Result, plan_err};

/// Environment variables `FINSIGHT_KEY_<NAME>` or `FINSIGHT_KEY_<NAME>_V<N>`
/// hold keys in the same `hex:`/`base64:` form as the file.
pub const KEY_ENV_PREFIX: &str = "FINSIGHT_KEY_";

/// Shortest key accepted: 128 bits.
pub const MIN_KEY_BYTES: usize = 16;

/// One key's material. Debug never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({} bytes)", self.0.len())
    }
}

/// A resolved key: its full versioned name and material.
#[derive(Debug, Clone, Copy)]
pub struct Key<'a> {
    pub name: &'a str,
    pub version: u32,
    pub secret: &'a Secret,
}

impl Key<'_> {
    /// `name@version`, as written into key metadata.
    pub fn versioned_name(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }
}

/// Named, versioned keys. Equality compares the material; hashing and
/// `Debug` use the names only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Keyring {
    /// name -> version -> secret.
    keys: BTreeMap<String, BTreeMap<u32, Secret>>,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

impl std::hash::Hash for Keyring {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        for name in self.names() {
            name.hash(state);
        }
    }
}

impl Keyring {
    pub fn empty() -> Self {
        Self::default()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Every `name@version`, sorted.
    pub fn names(&self) -> Vec<String> {
        self.keys
            .iter()
            .flat_map(|(name, versions)| versions.keys().map(move |v| format!("{name}@{v}")))
            .collect()
    }

    /// Adds a key; `name` may carry `@version` (default 1).
    pub fn insert(&mut self, name: &str, secret: Vec<u8>) -> Result<()> {
        let (name, version) = split_name(name)?;
        let Some(version) = version else {
            return self.insert_version(name, 1, secret);
        };
        self.insert_version(name, version, secret)
    }

    fn insert_version(&mut self, name: &str, version: u32, secret: Vec<u8>) -> Result<()> {
        if secret.len() < MIN_KEY_BYTES {
            return plan_err!(
                "keyring: key '{name}@{version}' has {} bytes; at least {MIN_KEY_BYTES} (128 bits) are required",
                secret.len()
            );
        }
        self.keys
            .entry(name.to_string())
            .or_default()
            .insert(version, Secret(secret));
        Ok(())
    }

    /// The key `name` (highest version) or `name@version`.
    pub fn get(&self, function: &str, wanted: &str) -> Result<Key<'_>> {
        let (name, version) = split_name(wanted)?;
        let found = self.keys.get_key_value(name).and_then(|(name, versions)| {
            let (version, secret) = match version {
                Some(v) => versions.get_key_value(&v)?,
                None => versions.iter().next_back()?,
            };
            Some(Key {
                name,
                version: *version,
                secret,
            })
        });
        match found {
            Some(key) => Ok(key),
            None if self.is_empty() => plan_err!(
                "{function}: key '{wanted}' not found: the keyring is empty (start finsight with \
                 --keyring FILE, FINSIGHT_KEYRING or FINSIGHT_KEY_<NAME> variables)"
            ),
            None => plan_err!(
                "{function}: key '{wanted}' not found in the keyring (it has {})",
                self.names().join(", ")
            ),
        }
    }

    /// Parses a keyring file: one `name[@version] = hex:<hex>` or
    /// `name[@version] = base64:<base64>` per line; `#` starts a comment.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let mut keyring = Self::empty();
        for (number, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let at = |e: DataFusionError| {
                DataFusionError::Plan(format!("{origin}:{}: {}", number + 1, e.strip_backtrace()))
            };
            let Some((name, value)) = line.split_once('=') else {
                return Err(at(DataFusionError::Plan(
                    "expected `name = hex:...` or `name = base64:...`".into(),
                )));
            };
            let secret = decode_secret(value.trim()).map_err(at)?;
            keyring.insert(name.trim(), secret).map_err(at)?;
        }
        Ok(keyring)
    }

    /// Reads a keyring file (see [`Keyring::parse`]).
    pub fn from_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            DataFusionError::Plan(format!("keyring: cannot read {}: {e}", path.display()))
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Adds the keys of `FINSIGHT_KEY_<NAME>[_V<N>]` variables from `vars`.
    pub fn extend_from_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<()> {
        for (variable, value) in vars {
            let Some(rest) = variable.strip_prefix(KEY_ENV_PREFIX) else {
                continue;
            };
            let rest = rest.to_ascii_lowercase();
            let name = match rest.rsplit_once("_v") {
                Some((name, version))
                    if !version.is_empty() && version.bytes().all(|b| b.is_ascii_digit()) =>
                {
                    format!("{name}@{version}")
                }
                _ => rest,
            };
            let secret = decode_secret(value.trim()).map_err(|e| {
                DataFusionError::Plan(format!("keyring: {variable}: {}", e.strip_backtrace()))
            })?;
            self.insert(&name, secret)?;
        }
        Ok(())
    }
}

fn split_name(text: &str) -> Result<(&str, Option<u32>)> {
    let (name, version) = match text.split_once('@') {
        Some((name, version)) => match version.parse::<u32>() {
            Ok(v) => (name, Some(v)),
            Err(_) => {
                return plan_err!(
                    "keyring: key name '{text}': the version after '@' must be a whole number"
                );
            }
        },
        None => (text, None),
    };
    let valid = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if !valid {
        return plan_err!(
            "keyring: key name '{text}' must be letters, digits, '_', '-' or '.', optionally followed by @version"
        );
    }
    Ok((name, version))
}

fn decode_secret(value: &str) -> Result<Vec<u8>> {
    if let Some(hex) = value.strip_prefix("hex:") {
        decode_hex(hex.trim())
    } else if let Some(b64) = value.strip_prefix("base64:") {
        base64::engine::general_purpose::STANDARD
            .decode(b64.trim())
            .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(b64.trim()))
            .map_err(|_| DataFusionError::Plan("key is not valid base64".into()))
    } else {
        plan_err!("key must start with 'hex:' or 'base64:'")
    }
}

/// Lower- or upper-case hex to bytes.
pub fn decode_hex(hex: &str) -> Result<Vec<u8>> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    };
    let bytes = hex.as_bytes();
    if !bytes.len().is_multiple_of(2) {
        return plan_err!("key is not valid hex (odd number of digits)");
    }
    bytes
        .chunks(2)
        .map(|pair| match (digit(pair[0]), digit(pair[1])) {
            (Some(h), Some(l)) => Ok(h << 4 | l),
            _ => plan_err!("key is not valid hex"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_resolve_to_the_highest_version_unless_one_is_named() -> Result<()> {
        let keyring = Keyring::parse(
            "# test keys\n\
             customer@1 = hex:000102030405060708090a0b0c0d0e0f\n\
             customer@2 = base64:EBESExQVFhcYGRobHB0eHw==  # rotated\n",
            "test",
        )?;
        assert_eq!(keyring.get("f", "customer")?.version, 2);
        assert_eq!(keyring.get("f", "customer@1")?.secret.bytes()[1], 1);
        assert_eq!(keyring.get("f", "customer@2")?.secret.bytes()[0], 0x10);
        let missing = keyring
            .get("pseudonymize", "other")
            .unwrap_err()
            .to_string();
        assert!(
            missing.contains("pseudonymize: key 'other' not found"),
            "{missing}"
        );
        // Debug shows names, never material.
        assert_eq!(format!("{keyring:?}"), r#"{"customer@1", "customer@2"}"#);
        Ok(())
    }

    #[test]
    fn bad_lines_name_file_and_line_and_short_keys_are_refused() {
        let error = Keyring::parse("a = hex:00\n", "keys.txt")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("keys.txt:1:") && error.contains("at least 16"),
            "{error}"
        );
        let error = Keyring::parse("\nb = 1234\n", "k").unwrap_err().to_string();
        assert!(error.contains("k:2:") && error.contains("hex:"), "{error}");
    }

    #[test]
    fn environment_variables_carry_versions() -> Result<()> {
        let mut keyring = Keyring::empty();
        keyring.extend_from_env([
            (
                "FINSIGHT_KEY_CARD_V3".to_string(),
                "hex:00112233445566778899aabbccddeeff".to_string(),
            ),
            ("PATH".to_string(), "/usr/bin".to_string()),
        ])?;
        assert_eq!(keyring.names(), vec!["card@3".to_string()]);
        Ok(())
    }
}
