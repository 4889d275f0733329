//! Property tests: a masked, pseudonymized or tokenized value never
//! contains the part of the raw value it is meant to hide, for arbitrary
//! inputs (proptest), and tokens round-trip.

use proptest::prelude::*;
use unicode_segmentation::UnicodeSegmentation;

use super::format_preserving::{Alphabet, FormatPreserving};
use super::mask::{MASK_CHAR, mask_middle};
use super::mask_card_pan::mask_card_pan;
use super::mask_email::mask_email;
use super::mask_name::mask_name;
use super::mask_national_id::{IdScheme, mask_national_id};
use super::mask_phone::mask_phone;
use super::pseudonymize::{PseudonymFormat, Pseudonymizer};

type MaskFn = fn(&str, &mut String);

fn run(f: impl FnOnce(&mut String)) -> String {
    let mut out = String::new();
    f(&mut out);
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn mask_hides_every_middle_grapheme(value in "\\PC{0,24}", first in 0usize..4, last in 0usize..4) {
        let masked = run(|out| mask_middle(&value, first, last, MASK_CHAR, out));
        let raw: Vec<&str> = value.graphemes(true).collect();
        let out: Vec<&str> = masked.graphemes(true).collect();
        prop_assert_eq!(raw.len(), out.len());
        let n = raw.len();
        for (i, g) in out.iter().enumerate() {
            let visible = first + last < n && (i < first || i >= n - last);
            if !visible {
                prop_assert_eq!(*g, "*");
            }
        }
    }

    #[test]
    fn email_local_part_beyond_first_character_never_survives(
        local in "[a-z0-9._%+-]{2,20}", domain in "[a-z]{1,10}\\.[a-z]{2,4}"
    ) {
        let email = format!("{local}@{domain}");
        let masked = run(|out| mask_email(&email, out));
        let expected_local = format!("{}{}", &local[..1], "*".repeat(local.len() - 1));
        prop_assert_eq!(masked, format!("{expected_local}@{domain}"));
    }

    #[test]
    fn card_pan_middle_digits_never_survive(digits in "[0-9]{13,19}", keep in 0usize..7) {
        let masked = run(|out| mask_card_pan(&digits, keep, out));
        let n = digits.len();
        for (i, (m, d)) in masked.chars().zip(digits.chars()).enumerate() {
            if i < keep || i >= n - 4 {
                prop_assert_eq!(m, d);
            } else {
                prop_assert_eq!(m, '*');
            }
        }
    }

    #[test]
    fn phone_shows_at_most_four_digits(phone in "\\+?[0-9 ()-]{0,20}") {
        let masked = run(|out| mask_phone(&phone, out));
        prop_assert!(masked.chars().filter(char::is_ascii_digit).count() <= 4);
        prop_assert_eq!(masked.chars().count(), phone.chars().count());
    }

    #[test]
    fn national_ids_never_show_more_than_ten_characters(id in "[0-9A-Z]{0,20}") {
        let masked = run(|out| mask_national_id(&id, IdScheme::Auto, out));
        let shown = masked.chars().filter(|c| *c != '*').count();
        prop_assert!(shown <= 10, "{} -> {}", id, masked);
        prop_assert!(id.len() < 8 || shown < id.len());
    }

    #[test]
    fn names_never_show_more_than_one_character_per_part(name in "[\\p{Han}A-Za-z]{1,8}( [\\p{Han}A-Za-z]{1,8}){0,3}") {
        let masked = run(|out| mask_name(&name, out));
        for (raw, part) in name.split(' ').zip(masked.split(' ')) {
            let visible = part.graphemes(true).filter(|g| *g != "*").count();
            prop_assert!(visible <= 1 && (raw.graphemes(true).count() > 1 || visible == 0));
        }
    }

    #[test]
    fn masks_are_idempotent(value in "[0-9A-Za-z@.+ *-]{0,24}|\\PC{0,12}") {
        use super::mask_address::mask_address;
        use super::mask_iban::mask_iban;
        let masks: [(&str, MaskFn); 7] = [
            ("email", mask_email),
            ("phone", mask_phone),
            ("card", |v, out| mask_card_pan(v, 6, out)),
            ("iban", mask_iban),
            ("name", mask_name),
            ("national_id", |v, out| mask_national_id(v, IdScheme::Auto, out)),
            ("address", mask_address),
        ];
        for (name, mask) in masks {
            let once = run(|out| mask(&value, out));
            let twice = run(|out| mask(&once, out));
            prop_assert_eq!(&once, &twice, "{} of {:?}", name, value);
        }
    }

    #[test]
    fn pseudonyms_do_not_contain_the_value(value in "\\PC{6,40}") {
        let pseudonymizer = Pseudonymizer::new(&[7u8; 32], PseudonymFormat::Hex);
        let pseudonym = run(|out| pseudonymizer.pseudonymize(value.as_bytes(), out));
        prop_assert_eq!(pseudonym.len(), 64);
        prop_assert!(!pseudonym.contains(value.as_str()));
    }

    #[test]
    fn tokens_keep_their_format_and_round_trip(digits in "[0-9]{6,24}") {
        let fpe = FormatPreserving::new("test", &[9u8; 16], Alphabet::parse("test", "digits").unwrap_or_else(|e| panic!("{e}")), &[])
            .unwrap_or_else(|e| panic!("{e}"));
        let token = run(|out| fpe.apply(&digits, true, out).unwrap_or_else(|e| panic!("{e}")));
        prop_assert_eq!(token.len(), digits.len());
        prop_assert!(token.bytes().all(|b| b.is_ascii_digit()));
        let back = run(|out| fpe.apply(&token, false, out).unwrap_or_else(|e| panic!("{e}")));
        prop_assert_eq!(back, digits);
    }
}
