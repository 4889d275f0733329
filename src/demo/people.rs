//! Identity attributes that look real and pass the checks that real ones
//! pass: Luhn-valid card numbers, mainland-China resident IDs with their ISO
//! 7064 check digit, UK National Insurance numbers, E.164 phone numbers.

use rand::Rng;
use rand::seq::IndexedRandom;

use super::reference::*;

/// Luhn check digit for `digits` (the number without its last digit).
pub(super) fn luhn_check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// A 16-digit card number on a UnionPay (CN) or Visa/Mastercard (GB) BIN.
pub(super) fn card_number(rng: &mut impl Rng, country: &str) -> String {
    let bin: &[u8] = match (country, rng.random_range(0..2)) {
        ("CN", _) => &[6, 2, 2, 8, 4, 8],
        (_, 0) => &[4, 5, 4, 3, 1, 3],
        _ => &[5, 3, 5, 5, 2, 2],
    };
    let mut digits: Vec<u8> = bin.to_vec();
    while digits.len() < 15 {
        digits.push(rng.random_range(0..10));
    }
    digits.push(luhn_check_digit(&digits));
    digits.iter().map(|d| char::from(b'0' + d)).collect()
}

/// GB/T 11643 (ISO 7064 MOD 11-2) check character of a resident ID.
pub(super) fn cn_id_check_char(first17: &[u8]) -> char {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(&d, w)| u32::from(d) * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

/// An 18-character resident ID: region code, birth date, sequence (odd for
/// men, even for women), check character.
pub(super) fn cn_resident_id(
    rng: &mut impl Rng,
    city: &str,
    birth: (i32, u32, u32),
    male: bool,
) -> String {
    let region = match city {
        "Beijing" => "110105",
        "Shanghai" => "310115",
        "Guangzhou" => "440106",
        "Shenzhen" => "440305",
        "Chengdu" => "510107",
        _ => "420106",
    };
    let mut sequence: u32 = rng.random_range(0..500) * 2;
    if male {
        sequence += 1;
    }
    let body = format!(
        "{region}{:04}{:02}{:02}{sequence:03}",
        birth.0, birth.1, birth.2
    );
    let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
    format!("{body}{}", cn_id_check_char(&digits))
}

/// A UK National Insurance number in a valid prefix range, e.g. `QQ123456C`
/// style but never the reserved `QQ`.
pub(super) fn uk_ni_number(rng: &mut impl Rng) -> String {
    const FIRST: &[u8] = b"ABCEGHJKLMNPRSTWXYZ";
    const SECOND: &[u8] = b"ABCEGHJKLMNPRSTWXYZ";
    let a = char::from(*FIRST.choose(rng).unwrap_or(&b'A'));
    let b = char::from(*SECOND.choose(rng).unwrap_or(&b'B'));
    let suffix = char::from(b"ABCD"[rng.random_range(0..4)]);
    format!("{a}{b}{:06}{suffix}", rng.random_range(0..1_000_000))
}

/// A UK IBAN with ISO 13616 check digits: `GBkk` + bank code + sort code +
/// 8-digit account number (the demo's account ids fill 10 digits, so the
/// sort code keeps its first four and the account its last ten).
pub(super) fn gb_iban(bank: &str, sort_code: u32, account: i64) -> String {
    let bban = format!("{bank}{:04}{account:010}", sort_code / 100);
    // Move "GB00" to the end, letters as 10..35, and take mod 97 digit by digit.
    let mut remainder: u32 = 0;
    for c in bban.chars().chain("GB00".chars()) {
        let value = c.to_digit(36).unwrap_or(0);
        remainder = if value >= 10 {
            (remainder * 100 + value) % 97
        } else {
            (remainder * 10 + value) % 97
        };
    }
    format!("GB{:02}{bban}", 98 - remainder)
}

/// E.164 mobile number in a range libphonenumber's metadata (9.0.42)
/// holds valid: `+86 1[3-9]x xxxx xxxx` or `+44 7xxx xxxxxx`. The draws
/// are those of layout 4; a draw that fell in an unassigned range (CN 140,
/// 160, 194...; GB 076x, 0770) is moved to an assigned one, so the other
/// generated values stayed the same.
pub(super) fn phone(rng: &mut impl Rng, country: &str) -> String {
    if country == "CN" {
        let second: i32 = rng.random_range(3..10);
        let rest: u64 = rng.random_range(0..1_000_000_000u64);
        let (third, tail) = (rest / 100_000_000, rest % 100_000_000);
        let third = match (second, third) {
            (4, t) if ![5, 7].contains(&t) => [5, 7][(t % 2) as usize],
            (6, t) if ![2, 5, 6, 7].contains(&t) => [2, 5, 6, 7][(t % 4) as usize],
            (5, 4) | (7, 4) => 5,
            (7, 9) => 8,
            (9, 4) => 5,
            (_, t) => t as i32,
        };
        format!("+861{second}{third}{tail:08}")
    } else {
        let mut rest: u64 = rng.random_range(0..1_000_000_000u64);
        if rest / 100_000_000 == 6 {
            rest += 200_000_000;
        }
        if rest / 10_000_000 == 70 {
            rest += 10_000_000;
        }
        format!("+447{rest:09}")
    }
}

/// (display name, ASCII form for the e-mail address).
pub(super) fn name(rng: &mut impl Rng, country: &str, male: bool) -> (String, String) {
    if country == "CN" {
        let (surname, surname_py) = CN_SURNAMES.choose(rng).copied().unwrap_or(("王", "wang"));
        let (given, given_py) = CN_GIVEN.choose(rng).copied().unwrap_or(("伟", "wei"));
        (
            format!("{surname}{given}"),
            format!("{given_py}.{surname_py}"),
        )
    } else {
        let firsts = if male { GB_FIRST_M } else { GB_FIRST_F };
        let first = firsts.choose(rng).copied().unwrap_or("Sam");
        let last = GB_SURNAMES.choose(rng).copied().unwrap_or("Smith");
        let ascii: String = format!("{first}.{last}")
            .to_lowercase()
            .chars()
            .filter_map(|c| match c {
                'ë' => Some('e'),
                'á' => Some('a'),
                'ü' => Some('u'),
                c if c.is_ascii_alphabetic() || c == '.' => Some(c),
                _ => None,
            })
            .collect();
        (format!("{first} {last}"), ascii)
    }
}

pub(super) fn email(
    rng: &mut impl Rng,
    ascii_name: &str,
    country: &str,
    customer_id: i64,
) -> String {
    let domains = if country == "CN" {
        EMAIL_DOMAINS_CN
    } else {
        EMAIL_DOMAINS_GB
    };
    let domain = domains.choose(rng).copied().unwrap_or("example.com");
    if domain == "qq.com" {
        // QQ mail addresses are QQ account numbers.
        return format!("{}@qq.com", 100_000 + customer_id * 7 % 9_000_000_000);
    }
    match rng.random_range(0..3) {
        0 => format!("{ascii_name}@{domain}"),
        1 => format!("{ascii_name}{}@{domain}", customer_id % 1000),
        _ => format!(
            "{}{}@{domain}",
            ascii_name.replace('.', "_"),
            rng.random_range(1..99)
        ),
    }
}

/// Street address and postcode in the local format.
pub(super) fn address(rng: &mut impl Rng, city: &str, country: &str) -> (String, String) {
    if country == "CN" {
        const DISTRICTS: &[&str] = &[
            "朝阳",
            "浦东新",
            "天河",
            "南山",
            "武侯",
            "江汉",
            "海淀",
            "徐汇",
        ];
        const ROADS: &[&str] = &["人民", "中山", "解放", "建设", "和平", "世纪", "长江"];
        let (city_cn, prefix) = match city {
            "Beijing" => ("北京", 100),
            "Shanghai" => ("上海", 200),
            "Guangzhou" => ("广州", 510),
            "Shenzhen" => ("深圳", 518),
            "Chengdu" => ("成都", 610),
            _ => ("武汉", 430),
        };
        let district = DISTRICTS.choose(rng).copied().unwrap_or("朝阳");
        let road = ROADS.choose(rng).copied().unwrap_or("人民");
        (
            format!(
                "{city_cn}市{district}区{road}路{}号",
                rng.random_range(1..400)
            ),
            format!("{prefix}{:03}", rng.random_range(0..1000)),
        )
    } else {
        const STREETS: &[&str] = &[
            "High Street",
            "Station Road",
            "Church Lane",
            "Victoria Road",
            "Park Avenue",
            "Mill Lane",
        ];
        let area = match city {
            "London" => ["SW1A", "E14", "N1", "SE10", "W2"][rng.random_range(0..5)],
            "Manchester" => ["M1", "M4", "M20"][rng.random_range(0..3)],
            "Birmingham" => ["B1", "B15", "B30"][rng.random_range(0..3)],
            "Bristol" => ["BS1", "BS8"][rng.random_range(0..2)],
            "Leeds" => ["LS1", "LS6"][rng.random_range(0..2)],
            _ => ["EH1", "EH3"][rng.random_range(0..2)],
        };
        let inward = format!(
            "{}{}{}",
            rng.random_range(1..10),
            char::from(b"ABDEFGHJLNPQRSTUWXYZ"[rng.random_range(0..20)]),
            char::from(b"ABDEFGHJLNPQRSTUWXYZ"[rng.random_range(0..20)])
        );
        let street = STREETS.choose(rng).copied().unwrap_or("High Street");
        (
            format!("{} {street}, {city}", rng.random_range(1..250)),
            format!("{area} {inward}"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn luhn_matches_a_known_test_card() {
        // 4111 1111 1111 1111 is the well-known Visa test number.
        let digits: Vec<u8> = "411111111111111".bytes().map(|b| b - b'0').collect();
        assert_eq!(luhn_check_digit(&digits), 1);
    }

    #[test]
    fn iban_check_digits_match_the_iso_13616_example() {
        // ISO 13616's example IBAN: GB82 WEST 1234 5698 7654 32.
        assert_eq!(
            gb_iban("WEST", 123_456, 5_698_765_432),
            "GB82WEST12345698765432"
        );
    }

    #[test]
    fn resident_id_check_matches_the_standard_example() {
        // GB 11643-1999's worked example: 11010519491231002X.
        let digits: Vec<u8> = "11010519491231002".bytes().map(|b| b - b'0').collect();
        assert_eq!(cn_id_check_char(&digits), 'X');
    }
}
