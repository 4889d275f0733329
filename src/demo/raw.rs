//! `customers_raw`: the demo customers as a bank's source systems hold
//! them before cleaning, for `sql/data_cleaning.sql`. Each customer has one
//! record from core banking and, for about one in eight, more from the
//! online and branch systems, typed again: names misspelt, reordered or
//! spaced out, phone numbers, e-mails, IDs and birth dates in mixed
//! formats, a birth date mistyped, values missing, an income off by a factor of 100.
//! `true_customer_id` records whose record it is, so that deduplication
//! can be scored; a real source system has no such column, and the
//! cleaning script compares every other column but that one.
//!
//! Drawn from an RNG of its own, after the chunk's other tables, so adding
//! the table left every other generated value unchanged.

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::datatypes::{Date32Type, Float64Type, Int64Type};
use datafusion::error::Result;
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use super::tables::{self, Rows, Value};

/// Share of customers with a second record, and of those with a third.
const DUPLICATE_SHARE: f64 = 0.12;
const THIRD_RECORD_SHARE: f64 = 0.25;

/// The raw records of a chunk's `customers` batch.
pub(super) fn customers_raw(seed: u64, chunk: u64, customers: &RecordBatch) -> Result<RecordBatch> {
    use rand::SeedableRng;
    let mut rng = ChaCha8Rng::seed_from_u64(
        seed ^ chunk.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5241_575F_4355_5354,
    );
    let column = |name: &str| customers.column_by_name(name).cloned();
    let (Some(ids), Some(names), Some(births), Some(emails), Some(phones)) = (
        column("customer_id"),
        column("name"),
        column("birth_date"),
        column("email"),
        column("phone"),
    ) else {
        return Err(datafusion::error::DataFusionError::Internal(
            "demo: customers batch without its columns".into(),
        ));
    };
    let (Some(national_ids), Some(cities), Some(countries), Some(incomes)) = (
        column("national_id"),
        column("city"),
        column("country"),
        column("income"),
    ) else {
        return Err(datafusion::error::DataFusionError::Internal(
            "demo: customers batch without its columns".into(),
        ));
    };
    let ids = ids.as_primitive::<Int64Type>();
    let births = births.as_primitive::<Date32Type>();
    let incomes = incomes.as_primitive::<Float64Type>();
    let text = |a: &std::sync::Arc<dyn Array>, row: usize| -> Option<String> {
        let a = a.as_string::<i32>();
        a.is_valid(row).then(|| a.value(row).to_string())
    };
    let mut rows = Rows::new(&tables::customers_raw());
    for row in 0..customers.num_rows() {
        let customer = Customer {
            id: ids.value(row),
            name: text(&names, row).unwrap_or_default(),
            birth: NaiveDate::from_num_days_from_ce_opt(births.value(row) + 719_163),
            email: text(&emails, row),
            phone: text(&phones, row),
            national_id: text(&national_ids, row),
            city: text(&cities, row).unwrap_or_default(),
            cn: text(&countries, row).as_deref() == Some("CN"),
            income: incomes.is_valid(row).then(|| incomes.value(row)),
        };
        let records = if rng.random_bool(DUPLICATE_SHARE) {
            if rng.random_bool(THIRD_RECORD_SHARE) {
                3
            } else {
                2
            }
        } else {
            1
        };
        for k in 0..records {
            rows.push(customer.record(&mut rng, k));
        }
    }
    rows.finish()
}

struct Customer {
    id: i64,
    name: String,
    birth: Option<NaiveDate>,
    email: Option<String>,
    phone: Option<String>,
    national_id: Option<String>,
    city: String,
    cn: bool,
    income: Option<f64>,
}

/// `chance` of `f(value)`, else the value.
fn sometimes(
    rng: &mut ChaCha8Rng,
    chance: f64,
    value: String,
    f: impl FnOnce(&mut ChaCha8Rng, String) -> String,
) -> String {
    if rng.random_bool(chance) {
        f(rng, value)
    } else {
        value
    }
}

impl Customer {
    /// Record `k`: 0 from core banking, lightly formatted; 1 and 2 typed
    /// again elsewhere.
    fn record(&self, rng: &mut ChaCha8Rng, k: u64) -> Vec<Value> {
        let retyped = k > 0;
        let noise = if retyped { 1.0 } else { 0.25 };
        let source = match k {
            0 => "core_banking",
            1 => ["online", "branch"][rng.random_range(0..2)],
            _ => "call_centre",
        };
        let name = self.raw_name(rng, noise);
        let birth = self.birth.map(|b| {
            // A mistyped birth date now and then: day and month swapped, or a day off.
            let b = if retyped && rng.random_bool(0.04) {
                mistyped(rng, b)
            } else {
                b
            };
            self.raw_birth(rng, b, noise)
        });
        let missing = |rng: &mut ChaCha8Rng, share: f64| retyped && rng.random_bool(share);
        let phone = self
            .phone
            .clone()
            .filter(|_| !missing(rng, 0.15))
            .map(|p| self.raw_phone(rng, p, noise));
        let email = self
            .email
            .clone()
            .filter(|_| !missing(rng, 0.2))
            .map(|e| raw_email(rng, e, noise, self.cn));
        let national_id = self
            .national_id
            .clone()
            .filter(|_| !missing(rng, 0.3))
            .map(|id| self.raw_national_id(rng, id, noise));
        let income = self
            .income
            .filter(|_| !missing(rng, 0.3))
            .map(|v| if rng.random_bool(0.01) { v * 100.0 } else { v });
        // A scrambled id (a bijection of the 40-bit record number): source
        // systems number records their own way, and the order of the ids
        // says nothing about who is who.
        let raw_id = ((self.id * 4 + k as i64).wrapping_mul(0x9E37_79B1)) & ((1 << 40) - 1);
        vec![
            raw_id.into(),
            source.into(),
            name.into(),
            Value::Str(birth),
            Value::Str(phone),
            Value::Str(email),
            Value::Str(national_id),
            self.city.clone().into(),
            (if self.cn { "CN" } else { "GB" }).into(),
            Value::F64(income),
            self.id.into(),
        ]
    }

    fn raw_name(&self, rng: &mut ChaCha8Rng, noise: f64) -> String {
        let name = self.name.clone();
        if self.cn {
            // IME habits: spaces between the characters, full-width ones.
            let name = sometimes(rng, 0.4 * noise, name, |rng, n| {
                let gap = if rng.random_bool(0.5) {
                    " "
                } else {
                    "\u{3000}"
                };
                n.chars().map(String::from).collect::<Vec<_>>().join(gap)
            });
            sometimes(rng, 0.2 * noise, name, |_, n| format!(" {n} "))
        } else {
            let name = sometimes(rng, 0.5 * noise, name, |rng, n| typo(rng, &n));
            let name = sometimes(rng, 0.2 * noise, name, |_, n| match n.rsplit_once(' ') {
                Some((first, last)) => format!("{last}, {first}"),
                None => n,
            });
            let name = sometimes(rng, 0.2 * noise, name, |_, n| n.to_uppercase());
            sometimes(rng, 0.15 * noise, name, |_, n| n.replace(' ', "  "))
        }
    }

    fn raw_birth(&self, rng: &mut ChaCha8Rng, b: NaiveDate, noise: f64) -> String {
        if !rng.random_bool(0.6 * noise) {
            return b.format("%Y-%m-%d").to_string();
        }
        let cn_formats = ["%Y/%m/%d", "%Y%m%d", "CN", "%Y.%m.%d"];
        let gb_formats = ["%d/%m/%Y", "%d %b %Y", "%Y/%m/%d", "%d-%b-%Y"];
        let format = *if self.cn {
            &cn_formats[..]
        } else {
            &gb_formats[..]
        }
        .choose(rng)
        .unwrap_or(&"%Y-%m-%d");
        if format == "CN" {
            format!("{}年{}月{}日", b.year(), b.month(), b.day())
        } else {
            b.format(format).to_string()
        }
    }

    fn raw_phone(&self, rng: &mut ChaCha8Rng, e164: String, noise: f64) -> String {
        if !rng.random_bool(0.7 * noise) {
            return e164;
        }
        let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
        if self.cn {
            let national = digits(&e164[3..]);
            let (a, b, c) = (&national[..3], &national[3..7], &national[7..]);
            match rng.random_range(0..5) {
                0 => format!("{a} {b} {c}"),
                1 => format!("{a}-{b}-{c}"),
                2 => format!("+86 {a} {b} {c}"),
                3 => format!("0086{national}"),
                _ => national
                    .chars()
                    .map(|d| char::from_u32(d as u32 + 0xFEE0).unwrap_or(d))
                    .collect(),
            }
        } else {
            let national = digits(&e164[3..]);
            let (a, b) = (&national[..4], &national[4..]);
            match rng.random_range(0..4) {
                0 => format!("0{a} {b}"),
                1 => format!("+44 (0){a} {b}"),
                2 => format!("0{a}-{}-{}", &b[..3], &b[3..]),
                _ => format!("0044 {national}"),
            }
        }
    }

    fn raw_national_id(&self, rng: &mut ChaCha8Rng, id: String, noise: f64) -> String {
        if !rng.random_bool(0.5 * noise) {
            return id;
        }
        if self.cn {
            let born_1900s = &id[6..8] == "19";
            match rng.random_range(0..3) {
                // The 15-digit first-generation card, for those born in the 1900s.
                0 if born_1900s => format!("{}{}", &id[..6], &id[8..17]),
                1 => id.to_lowercase(),
                _ => format!("{} {} {}", &id[..6], &id[6..14], &id[14..]),
            }
        } else if rng.random_bool(0.5) {
            format!(
                "{} {} {} {} {}",
                &id[..2],
                &id[2..4],
                &id[4..6],
                &id[6..8],
                &id[8..]
            )
        } else {
            id.to_lowercase()
        }
    }
}

fn raw_email(rng: &mut ChaCha8Rng, email: String, noise: f64, cn: bool) -> String {
    if !rng.random_bool(0.5 * noise) {
        return email;
    }
    match rng.random_range(0..3) {
        0 => {
            // Capitalised as people write their names.
            let (local, domain) = email.split_once('@').unwrap_or((&email, ""));
            let local: String = local
                .split('.')
                .map(|part| {
                    let mut chars = part.chars();
                    chars
                        .next()
                        .map_or(String::new(), |c| c.to_uppercase().chain(chars).collect())
                })
                .collect::<Vec<_>>()
                .join(".");
            format!("{local}@{}", domain.to_uppercase())
        }
        1 if cn => email.replace('@', "＠"),
        _ => format!(" {email} "),
    }
}

fn mistyped(rng: &mut ChaCha8Rng, b: NaiveDate) -> NaiveDate {
    let swapped = NaiveDate::from_ymd_opt(b.year(), b.day(), b.month());
    match swapped {
        Some(s) if s != b && rng.random_bool(0.5) => s,
        _ => b.succ_opt().unwrap_or(b),
    }
}

/// One typing error: two letters swapped, one dropped or one doubled.
fn typo(rng: &mut ChaCha8Rng, name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    // Not the first letter of the name: people get that right.
    let letters: Vec<usize> = (1..chars.len())
        .filter(|&i| chars[i].is_alphabetic() && chars[i - 1].is_alphabetic())
        .collect();
    let Some(&at) = letters.choose(rng) else {
        return name.to_string();
    };
    let mut out = chars.clone();
    match rng.random_range(0..3) {
        0 if at + 1 < out.len() && out[at + 1].is_alphabetic() => out.swap(at, at + 1),
        1 => {
            out.remove(at);
        }
        _ => out.insert(at, chars[at]),
    }
    out.into_iter().collect()
}
