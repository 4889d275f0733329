//! Check-digit validation shared by the masks, tokenization, PII
//! discovery and cleaning: Luhn (ISO/IEC 7812 card numbers), ISO 13616 IBAN mod-97, and
//! the ISO 7064 MOD 11-2 check character of mainland-China resident IDs
//! (GB 11643-1999).

/// True when the ASCII digits of `digits` pass the Luhn check.
pub fn luhn_valid(digits: &[u8]) -> bool {
    !digits.is_empty() && luhn_sum(digits).is_multiple_of(10)
}

/// The Luhn check digit to append to `payload` (ASCII digits).
pub fn luhn_check_digit(payload: &[u8]) -> u8 {
    // Append a zero: its position makes the payload's weights those of a
    // full number, and the sum's shortfall to a multiple of 10 is the digit.
    let sum = luhn_sum_with_trailing_zero(payload);
    ((10 - sum % 10) % 10) as u8
}

fn luhn_sum(digits: &[u8]) -> u32 {
    digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum()
}

fn luhn_sum_with_trailing_zero(payload: &[u8]) -> u32 {
    payload
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d - b'0');
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum()
}

/// True when `compact` (no spaces) is an IBAN: two letters, two check
/// digits, 11 to 30 alphanumerics, and the ISO 7064 mod-97 remainder 1.
pub fn iban_valid(compact: &[u8]) -> bool {
    if !(15..=34).contains(&compact.len())
        || !compact[..2].iter().all(u8::is_ascii_uppercase)
        || !compact[2..4].iter().all(u8::is_ascii_digit)
        || !compact[4..]
            .iter()
            .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return false;
    }
    let mut remainder: u32 = 0;
    for &b in compact[4..].iter().chain(&compact[..4]) {
        if b.is_ascii_digit() {
            remainder = (remainder * 10 + u32::from(b - b'0')) % 97;
        } else {
            let value = u32::from(b - b'A') + 10;
            remainder = (remainder * 100 + value) % 97;
        }
    }
    remainder == 1
}

/// True when `id` is an 18-character mainland-China resident ID whose last
/// character is the ISO 7064 MOD 11-2 check of the first 17 digits.
pub fn cn_resident_id_valid(id: &[u8]) -> bool {
    if id.len() != 18 || !id[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    id[17].to_ascii_uppercase() == cn_resident_id_check_char(&id[..17])
}

/// The ISO 7064 MOD 11-2 check character of the first 17 digits (ASCII).
pub fn cn_resident_id_check_char(first17: &[u8]) -> u8 {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d.wrapping_sub(b'0')) * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

/// True when the 8 ASCII digits are a calendar date YYYYMMDD (Gregorian).
pub fn is_yyyymmdd(digits: &[u8]) -> bool {
    if digits.len() != 8 || !digits.iter().all(u8::is_ascii_digit) {
        return false;
    }
    let number = |r: std::ops::Range<usize>| {
        digits[r]
            .iter()
            .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'))
    };
    let (year, month, day) = (number(0..4), number(4..6), number(6..8));
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_examples_pass_and_altered_ones_fail() {
        // Visa's test card and ISO 13616's example IBANs.
        assert!(luhn_valid(b"4111111111111111"));
        assert!(!luhn_valid(b"4111111111111112"));
        assert_eq!(luhn_check_digit(b"411111111111111"), 1);
        assert_eq!(luhn_check_digit(b"7992739871"), 3);
        assert!(iban_valid(b"GB82WEST12345698765432"));
        assert!(iban_valid(b"DE89370400440532013000"));
        assert!(!iban_valid(b"GB82WEST12345698765433"));
        // GB 11643-1999's worked example.
        assert!(cn_resident_id_valid(b"11010519491231002X"));
        assert!(cn_resident_id_valid(b"11010519491231002x"));
        assert!(!cn_resident_id_valid(b"110105194912310021"));
    }
}
