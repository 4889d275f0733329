//! `pseudonymize(value, key_name [, format])`: a keyed HMAC-SHA-256 pseudonym
//! (RFC 2104). The same value and key always give the same pseudonym, so
//! pseudonymized tables still join; without the key it cannot be reversed
//! or recomputed from a guess, unlike a plain hash of a phone number.

use std::sync::LazyLock;

use base64::Engine;
use datafusion::common::{Result, plan_err};
use datafusion::logical_expr::Documentation;
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_HASHING;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// How the 32-byte MAC is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PseudonymFormat {
    /// 64 lower-case hex digits.
    Hex,
    /// 43 characters of unpadded base64url (RFC 4648 section 5).
    Base64Url,
}

impl PseudonymFormat {
    pub fn parse(function: &str, text: &str) -> Result<Self> {
        match text.to_ascii_lowercase().as_str() {
            "hex" => Ok(Self::Hex),
            "base64url" | "base64" => Ok(Self::Base64Url),
            _ => plan_err!(
                "{function}: argument 'format' must be 'hex' or 'base64url', got '{text}'"
            ),
        }
    }
}

/// A keyed pseudonymizer. The key's inner and outer pads are hashed once
/// here; each value then costs two SHA-256 compressions for short inputs.
#[derive(Clone)]
pub struct Pseudonymizer {
    mac: HmacSha256,
    format: PseudonymFormat,
}

impl Pseudonymizer {
    pub fn new(key: &[u8], format: PseudonymFormat) -> Self {
        // HMAC accepts keys of any length (RFC 2104 section 3): keys longer
        // than a block are hashed, so `new_from_slice` cannot fail.
        let mac = <HmacSha256 as hmac::digest::KeyInit>::new_from_slice(key)
            .unwrap_or_else(|_| <HmacSha256 as hmac::digest::KeyInit>::new(&Default::default()));
        Self { mac, format }
    }

    /// The raw 32-byte MAC of `message`.
    pub fn mac(&self, message: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(message);
        mac.finalize().into_bytes().into()
    }

    /// Appends the pseudonym of `value`.
    pub fn pseudonymize(&self, value: &[u8], out: &mut String) {
        let mac = self.mac(value);
        match self.format {
            PseudonymFormat::Hex => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                for b in mac {
                    out.push(char::from(HEX[usize::from(b >> 4)]));
                    out.push(char::from(HEX[usize::from(b & 15)]));
                }
            }
            PseudonymFormat::Base64Url => {
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode_string(mac, out);
            }
        }
    }
}

pub static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_HASHING,
        "Pseudonymizes a value with HMAC-SHA-256 under a named key from the keyring: \
         deterministic (joins across tables keep working), irreversible, and not recomputable \
         by someone who guesses the value but lacks the key. The key is named, never written: \
         keys come from the keyring file (--keyring, FINSIGHT_KEYRING) or FINSIGHT_KEY_<NAME> \
         variables. 'name' uses the key's highest version, 'name@2' a given one, so a rotated \
         key can still reproduce old pseudonyms. `format` is 'hex' (default, 64 characters) or \
         'base64url' (43). Integers are pseudonymized as their decimal text. NULL gives NULL.",
        "pseudonymize(value, key_name [, format])",
    )
    .with_sql_example(
        r#"```sql
> SELECT length(pseudonymize('alice@example.com', 'demo_pii')) AS hex_chars,
         pseudonymize('alice@example.com', 'demo_pii') = pseudonymize('alice@example.com', 'demo_pii@1') AS same_version;
+-----------+--------------+
| hex_chars | same_version |
+-----------+--------------+
| 64        | true         |
+-----------+--------------+
```"#,
    )
    .with_argument("value", "The value to pseudonymize (string or integer).")
    .with_argument("key_name", "A keyring key name, 'name' or 'name@version' (a constant).")
    .with_argument("format", "'hex' (default) or 'base64url'.")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::keyring::decode_hex;

    fn hex_mac(key: &[u8], message: &[u8]) -> String {
        let mut out = String::new();
        Pseudonymizer::new(key, PseudonymFormat::Hex).pseudonymize(message, &mut out);
        out
    }

    #[test]
    fn rfc_4231_hmac_sha256_test_vectors() -> Result<()> {
        // RFC 4231 section 4, test cases 1, 2, 3, 4, 6 and 7 (5 truncates).
        let long_key = vec![0xaa; 131];
        let cases: [(Vec<u8>, Vec<u8>, &str); 6] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
            ),
            (
                decode_hex("0102030405060708090a0b0c0d0e0f10111213141516171819")?,
                vec![0xcd; 50],
                "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
            ),
            (
                long_key.clone(),
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
            ),
            (
                long_key,
                b"This is a test using a larger than block-size key and a larger than \
                  block-size data. The key needs to be hashed before being used by the HMAC \
                  algorithm."
                    .to_vec(),
                "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
            ),
        ];
        for (key, message, expected) in cases {
            assert_eq!(hex_mac(&key, &message), expected);
        }
        Ok(())
    }

    #[test]
    fn base64url_is_the_same_mac_unpadded() {
        let mut out = String::new();
        Pseudonymizer::new(&[0x0b; 20], PseudonymFormat::Base64Url)
            .pseudonymize(b"Hi There", &mut out);
        // The hex above in base64url: 43 characters, no '=' '+' '/'.
        assert_eq!(out, "sDRMYdjbOFNcqK_OrwvxK4gdwgDJgz2nJuk3bC4yz_c");
    }
}
