//! NIST SP 800-38G FF1 format-preserving encryption over AES (the `fpe`
//! crate), shared by `tokenize_fpe` and `detokenize_fpe`. Characters of the
//! value that belong to the alphabet are encrypted as one numeral string;
//! the others (spaces, dashes) stay in place, so `4111-1111-1111-1111`
//! becomes another `dddd-dddd-dddd-dddd`.

use std::collections::HashMap;

use aes::{Aes128, Aes192, Aes256};
use datafusion::common::{Result, exec_err, plan_err};
use fpe::ff1::{FF1, FlexibleNumeralString, NumeralStringError};

use crate::checks::{luhn_check_digit, luhn_valid};

/// An alphabet by name, or a literal one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alphabet {
    numerals: Vec<char>,
    /// ASCII character -> numeral, `u16::MAX` for none.
    ascii: [u16; 128],
    other: HashMap<char, u16>,
    /// Keep a valid Luhn check digit (card numbers).
    pub luhn: bool,
}

impl Alphabet {
    pub fn parse(function: &str, spec: &str) -> Result<Self> {
        let (characters, luhn): (String, bool) = match spec {
            "digits" => ("0123456789".into(), false),
            "luhn" => ("0123456789".into(), true),
            "hex" => ("0123456789abcdef".into(), false),
            "lower" => (('a'..='z').collect(), false),
            "upper" => (('A'..='Z').collect(), false),
            "alpha" => (('A'..='Z').chain('a'..='z').collect(), false),
            "alnum" => (
                ('0'..='9').chain('A'..='Z').chain('a'..='z').collect(),
                false,
            ),
            literal => (literal.to_string(), false),
        };
        let numerals: Vec<char> = characters.chars().collect();
        let mut ascii = [u16::MAX; 128];
        let mut other = HashMap::new();
        for (i, &c) in numerals.iter().enumerate() {
            let Ok(numeral) = u16::try_from(i) else {
                return plan_err!("{function}: the alphabet has more than 65535 characters");
            };
            let fresh = if c.is_ascii() {
                std::mem::replace(&mut ascii[c as usize], numeral) == u16::MAX
            } else {
                other.insert(c, numeral).is_none()
            };
            if !fresh {
                return plan_err!("{function}: the alphabet repeats '{c}'");
            }
        }
        if numerals.len() < 2 {
            return plan_err!(
                "{function}: argument 'alphabet' must be 'digits', 'luhn', 'hex', 'lower', 'upper', \
                 'alpha', 'alnum' or at least two distinct characters, got '{spec}'"
            );
        }
        Ok(Self {
            numerals,
            ascii,
            other,
            luhn,
        })
    }

    pub fn radix(&self) -> u32 {
        self.numerals.len() as u32
    }

    fn numeral(&self, c: char) -> Option<u16> {
        if c.is_ascii() {
            Some(self.ascii[c as usize]).filter(|n| *n != u16::MAX)
        } else {
            self.other.get(&c).copied()
        }
    }
}

enum Cipher {
    Aes128(FF1<Aes128>),
    Aes192(FF1<Aes192>),
    Aes256(FF1<Aes256>),
}

/// FF1 under one key and alphabet.
pub struct FormatPreserving {
    function: &'static str,
    cipher: Cipher,
    alphabet: Alphabet,
    tweak: Vec<u8>,
}

impl FormatPreserving {
    pub fn new(
        function: &'static str,
        key: &[u8],
        alphabet: Alphabet,
        tweak: &[u8],
    ) -> Result<Self> {
        let radix = alphabet.radix();
        let cipher = match key.len() {
            16 => FF1::new(key, radix).map(Cipher::Aes128),
            24 => FF1::new(key, radix).map(Cipher::Aes192),
            32 => FF1::new(key, radix).map(Cipher::Aes256),
            n => {
                return plan_err!(
                    "{function}: the key has {n} bytes; FF1 needs an AES key of 16, 24 or 32 bytes"
                );
            }
        };
        match cipher {
            Ok(cipher) => Ok(Self {
                function,
                cipher,
                alphabet,
                tweak: tweak.to_vec(),
            }),
            Err(_) => plan_err!("{function}: FF1 does not support a radix of {radix}"),
        }
    }

    /// Appends `value` encrypted (`encrypt`) or decrypted.
    pub fn apply(&self, value: &str, encrypt: bool, out: &mut String) -> Result<()> {
        let function = self.function;
        let mut numerals: Vec<u16> = Vec::with_capacity(value.len());
        for c in value.chars() {
            if let Some(n) = self.alphabet.numeral(c) {
                numerals.push(n);
            }
        }
        // With Luhn, the check digit is recomputed rather than encrypted, so
        // the token is a valid-looking card number.
        let payload = if self.alphabet.luhn {
            let digits: Vec<u8> = numerals.iter().map(|&n| b'0' + n as u8).collect();
            if encrypt && !luhn_valid(&digits) {
                return exec_err!(
                    "{function}: alphabet 'luhn' needs card numbers whose last digit is a valid \
                     Luhn check (a value of {} digits is not); use 'digits' for other numbers",
                    digits.len()
                );
            }
            numerals.len().saturating_sub(1)
        } else {
            numerals.len()
        };
        let input = FlexibleNumeralString::from(numerals[..payload].to_vec());
        let result = match (&self.cipher, encrypt) {
            (Cipher::Aes128(c), true) => c.encrypt(&self.tweak, &input),
            (Cipher::Aes128(c), false) => c.decrypt(&self.tweak, &input),
            (Cipher::Aes192(c), true) => c.encrypt(&self.tweak, &input),
            (Cipher::Aes192(c), false) => c.decrypt(&self.tweak, &input),
            (Cipher::Aes256(c), true) => c.encrypt(&self.tweak, &input),
            (Cipher::Aes256(c), false) => c.decrypt(&self.tweak, &input),
        };
        let mut transformed: Vec<u16> = match result {
            Ok(ns) => ns.into(),
            Err(NumeralStringError::TooShort { ns_len, min_len }) => {
                return exec_err!(
                    "{function}: a value has {ns_len} characters of the alphabet; FF1 with radix {} \
                     needs at least {min_len} (NIST SP 800-38G: radix^length >= 1,000,000)",
                    self.alphabet.radix()
                );
            }
            Err(NumeralStringError::TooLong { ns_len, max_len }) => {
                return exec_err!(
                    "{function}: a value has {ns_len} characters of the alphabet; at most {max_len} are allowed"
                );
            }
            Err(NumeralStringError::InvalidForRadix(radix)) => {
                return exec_err!("{function}: numeral outside radix {radix}");
            }
        };
        if self.alphabet.luhn && !numerals.is_empty() {
            let digits: Vec<u8> = transformed.iter().map(|&n| b'0' + n as u8).collect();
            transformed.push(u16::from(luhn_check_digit(&digits)));
        }
        let mut next = transformed.into_iter();
        for c in value.chars() {
            if self.alphabet.numeral(c).is_some() {
                let n = next.next().unwrap_or_default();
                out.push(self.alphabet.numerals[usize::from(n)]);
            } else {
                out.push(c);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::privacy::keyring::decode_hex;

    const RADIX36: &str = "0123456789abcdefghijklmnopqrstuvwxyz";

    fn run(key: &str, alphabet: &str, tweak: &str, pt: &str, encrypt: bool) -> Result<String> {
        let fpe = FormatPreserving::new(
            "test",
            &decode_hex(key)?,
            Alphabet::parse("test", alphabet)?,
            &decode_hex(tweak)?,
        )?;
        let mut out = String::new();
        fpe.apply(pt, encrypt, &mut out)?;
        Ok(out)
    }

    #[test]
    fn nist_sp_800_38g_ff1_samples() -> Result<()> {
        // NIST's FF1 samples 1-9 (FF1samples.pdf): AES-128, -192, -256.
        let k128 = "2B7E151628AED2A6ABF7158809CF4F3C";
        let k192 = "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F";
        let k256 = "2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94";
        let t10 = "39383736353433323130";
        let t36 = "3737373770717273373737";
        let cases = [
            (k128, "digits", "", "0123456789", "2433477484"),
            (k128, "digits", t10, "0123456789", "6124200773"),
            (
                k128,
                RADIX36,
                t36,
                "0123456789abcdefghi",
                "a9tv40mll9kdu509eum",
            ),
            (k192, "digits", "", "0123456789", "2830668132"),
            (k192, "digits", t10, "0123456789", "2496655549"),
            (
                k192,
                RADIX36,
                t36,
                "0123456789abcdefghi",
                "xbj3kv35jrawxv32ysr",
            ),
            (k256, "digits", "", "0123456789", "6657667009"),
            (k256, "digits", t10, "0123456789", "1001623463"),
            (
                k256,
                RADIX36,
                t36,
                "0123456789abcdefghi",
                "xs8a0azh2avyalyzuwd",
            ),
        ];
        for (key, alphabet, tweak, plain, cipher) in cases {
            assert_eq!(run(key, alphabet, tweak, plain, true)?, cipher, "{plain}");
            assert_eq!(run(key, alphabet, tweak, cipher, false)?, plain, "{cipher}");
        }
        Ok(())
    }

    #[test]
    fn card_numbers_keep_layout_and_a_valid_luhn_digit() -> Result<()> {
        let key = "2B7E151628AED2A6ABF7158809CF4F3C";
        let token = run(key, "luhn", "", "4111-1111-1111-1111", true)?;
        assert_ne!(token, "4111-1111-1111-1111");
        assert_eq!(token.len(), 19);
        assert_eq!(token.as_bytes()[4], b'-');
        let digits: Vec<u8> = token.bytes().filter(u8::is_ascii_digit).collect();
        assert!(luhn_valid(&digits), "{token}");
        assert_eq!(run(key, "luhn", "", &token, false)?, "4111-1111-1111-1111");
        let short = run(key, "digits", "", "12345", true)
            .unwrap_err()
            .to_string();
        assert!(short.contains("needs at least 6"), "{short}");
        assert!(
            !short.contains("12345"),
            "errors never echo values: {short}"
        );
        Ok(())
    }
}
