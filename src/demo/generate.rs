//! Row generators. Each chunk of customers is generated from its own seeded
//! RNG, so the data are identical whatever the thread count or chunk order.

use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::RecordBatch;
use datafusion::error::Result;
use rand::Rng;
use rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Gamma, LogNormal, Normal, Pareto, Poisson, StudentT};

use super::people;
use super::reference::*;
use super::tables::{self, Rows, Value, date, opt_date, opt_ts, ts};

pub(super) const MICROS_PER_DAY: i64 = 86_400_000_000;

/// The observation window of the synthetic bank.
pub(super) fn window() -> (i32, i32) {
    (epoch_day(2023, 1, 1), epoch_day(2025, 6, 30))
}

pub(super) fn epoch_day(y: i32, m: u32, d: u32) -> i32 {
    let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    NaiveDate::from_ymd_opt(y, m, d)
        .map(|date| (date - epoch).num_days() as i32)
        .unwrap_or_default()
}

fn ymd(day: i32) -> (i32, u32, u32) {
    let date = NaiveDate::from_ymd_opt(1970, 1, 1)
        .and_then(|e| e.checked_add_signed(chrono::Duration::days(i64::from(day))))
        .unwrap_or_default();
    (date.year(), date.month(), date.day())
}

/// Relative spending activity of a day: December peak, January lull,
/// busier Fridays and Saturdays, quieter Sundays.
fn seasonality(day: i32) -> f64 {
    let (_, month, _) = ymd(day);
    let monthly = [
        0.85, 0.9, 1.0, 1.0, 1.02, 1.05, 1.08, 1.06, 1.0, 1.0, 1.12, 1.35,
    ][month as usize - 1];
    // 1970-01-01 was a Thursday.
    let weekday = [1.0, 1.2, 1.25, 0.8, 0.9, 0.95, 1.0][day.rem_euclid(7) as usize];
    monthly * weekday
}
const MAX_SEASONALITY: f64 = 1.35 * 1.25;

/// Share of card spending by hour of day (local time).
const HOURLY: [f64; 24] = [
    0.4, 0.2, 0.1, 0.1, 0.1, 0.2, 0.6, 1.5, 2.5, 3.0, 3.5, 4.2, 5.0, 4.5, 4.0, 4.0, 4.3, 5.0, 5.5,
    5.0, 4.0, 3.0, 2.0, 1.0,
];

fn pick_weighted(rng: &mut impl Rng, weights: impl Iterator<Item = f64> + Clone) -> usize {
    let total: f64 = weights.clone().sum();
    let mut target = rng.random::<f64>() * total;
    let mut last = 0;
    for (i, w) in weights.enumerate() {
        last = i;
        if target < w {
            return i;
        }
        target -= w;
    }
    last
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Distributions, built once per chunk.
struct Dists {
    age: Beta<f64>,
    rate: Gamma<f64>,
    amount_tail: Pareto<f64>,
    amount_body: LogNormal<f64>,
    standard_normal: Normal<f64>,
    dti: Beta<f64>,
}

impl Dists {
    fn new() -> Result<Self> {
        let err = |e: String| {
            datafusion::error::DataFusionError::Internal(format!("demo distribution: {e}"))
        };
        Ok(Self {
            age: Beta::new(2.0, 3.2).map_err(|e| err(e.to_string()))?,
            // Purchase rates vary across customers as a gamma (BG/NBD's
            // assumption); mean 0.075/day is about 55 transactions a customer
            // over the window.
            rate: Gamma::new(1.1, 0.068).map_err(|e| err(e.to_string()))?,
            amount_tail: Pareto::new(1.0, 2.4).map_err(|e| err(e.to_string()))?,
            amount_body: LogNormal::new(-0.35, 0.55).map_err(|e| err(e.to_string()))?,
            standard_normal: Normal::new(0.0, 1.0).map_err(|e| err(e.to_string()))?,
            dti: Beta::new(2.0, 5.0).map_err(|e| err(e.to_string()))?,
        })
    }
}

/// Everything generated for one chunk of customers.
pub(super) struct Chunk {
    pub tables: Vec<(&'static str, RecordBatch)>,
    pub transactions: usize,
}

/// One customer's fixed attributes, needed by several tables.
struct Customer {
    id: i64,
    city: &'static City,
    male: bool,
    birth: i32,
    segment: &'static str,
    income: f64,
    signup: i32,
    closed: Option<i32>,
    current_account: i64,
    card_account: Option<i64>,
}

pub(super) fn generate_chunk(seed: u64, chunk: u64, first_id: i64, count: i64) -> Result<Chunk> {
    use rand::SeedableRng;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ chunk.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    let d = Dists::new()?;
    let (start, end) = window();
    let mut customers = Rows::new(&tables::customers());
    let mut accounts = Rows::new(&tables::accounts());
    let mut transactions = Rows::new(&tables::transactions());
    let mut events = Rows::new(&tables::app_events());
    let mut loans = Rows::new(&tables::loans());
    let mut consents = Rows::new(&tables::consents());
    let mut responses = Rows::new(&tables::campaign_responses());
    let mut positions = Rows::new(&tables::positions());
    let mut transaction_count = 0;

    for id in first_id..first_id + count {
        let c = customer(&mut rng, &d, id, start, end, &mut customers, &mut accounts);
        transaction_count += customer_transactions(&mut rng, &d, &c, start, end, &mut transactions);
        customer_events(&mut rng, &c, start, end, &mut events);
        customer_loan(&mut rng, &d, &c, start, end, &mut loans);
        customer_consents(&mut rng, &c, end, &mut consents);
        customer_campaigns(&mut rng, &c, start, &mut responses);
        customer_positions(&mut rng, &c, start, &mut positions);
    }
    let customers = customers.finish()?;
    let customers_raw = super::raw::customers_raw(seed, chunk, &customers)?;
    Ok(Chunk {
        tables: vec![
            ("customers", customers),
            ("customers_raw", customers_raw),
            ("accounts", accounts.finish()?),
            ("transactions", transactions.finish()?),
            ("app_events", events.finish()?),
            ("loans", loans.finish()?),
            ("consents", consents.finish()?),
            ("campaign_responses", responses.finish()?),
            ("positions", positions.finish()?),
        ],
        transactions: transaction_count,
    })
}

fn customer(
    rng: &mut ChaCha8Rng,
    d: &Dists,
    id: i64,
    start: i32,
    end: i32,
    customers: &mut Rows,
    accounts: &mut Rows,
) -> Customer {
    let city = &CITIES[pick_weighted(rng, CITIES.iter().map(|c| c.weight))];
    let male = rng.random_bool(0.5);
    let age_years = 18.0 + 70.0 * d.age.sample(rng);
    let birth = start - (age_years * 365.25) as i32 - rng.random_range(0..365);
    let young = age_years < 30.0;
    let segment_index = pick_weighted(
        rng,
        SEGMENTS.iter().map(|(name, share, _)| match *name {
            "emerging" if young => share * 4.0,
            "emerging" => share * 0.2,
            "private" if young => share * 0.1,
            _ => *share,
        }),
    );
    let (segment, _, median_income) = SEGMENTS[segment_index];
    let income = round2(median_income * (0.45 * d.standard_normal.sample(rng)).exp());
    let signup = if rng.random_bool(0.7) {
        start - rng.random_range(1..4_000)
    } else {
        start + rng.random_range(0..(end - start - 30))
    };
    // About a fifth of customers leave during the window.
    let closed = rng
        .random_bool(0.22)
        .then(|| {
            let earliest = signup.max(start) + 60;
            (earliest < end - 1).then(|| rng.random_range(earliest..end))
        })
        .flatten();
    let (name, ascii) = people::name(rng, city.country, male);
    let (address, postcode) = people::address(rng, city.name, city.country);
    let email = rng
        .random_bool(0.97)
        .then(|| people::email(rng, &ascii, city.country, id));
    let phone = rng
        .random_bool(0.98)
        .then(|| people::phone(rng, city.country));
    let national_id = if city.country == "CN" {
        people::cn_resident_id(rng, city.name, ymd(birth), male)
    } else {
        people::uk_ni_number(rng)
    };
    let card = people::card_number(rng, city.country);
    customers.push(vec![
        id.into(),
        name.into(),
        (if male { "M" } else { "F" }).into(),
        date(birth),
        email.into(),
        phone.into(),
        card.into(),
        national_id.into(),
        address.into(),
        postcode.into(),
        city.name.into(),
        city.region.into(),
        city.country.into(),
        Value::F64(rng.random_bool(0.95).then_some(income)),
        segment.into(),
        date(signup),
        (if closed.is_some() { "closed" } else { "active" }).into(),
        opt_date(closed),
        Value::I32(Some(risk_tolerance(id, segment, age_years))),
    ]);

    let currency = if city.country == "CN" { "CNY" } else { "GBP" };
    let wealth = income / 30_000.0;
    let current_account = id * 10 + 1;
    let mut push_account =
        |rng: &mut ChaCha8Rng, k: i64, kind: &str, balance: f64, limit: Option<f64>| {
            let open = signup + if k == 1 { 0 } else { rng.random_range(0..900) };
            let iban =
                (city.country == "GB" && kind != "credit_card" && kind != "mortgage").then(|| {
                    // Layout 2 drew the check digits at random; the draw stays
                    // so the rest of the generated data is unchanged.
                    let _unused_draw: i32 = rng.random_range(10..99);
                    people::gb_iban("NWBK", 601_600, id * 10 + k)
                });
            accounts.push(vec![
                (id * 10 + k).into(),
                id.into(),
                kind.into(),
                currency.into(),
                date(open),
                opt_date(closed),
                round2(balance).into(),
                Value::F64(limit),
                iban.into(),
            ]);
        };
    let balance = 1_500.0 * wealth * (0.8 * d.standard_normal.sample(rng)).exp();
    push_account(rng, 1, "current", balance, None);
    if rng.random_bool(0.5) {
        let balance = 8_000.0 * wealth * (1.0 * d.standard_normal.sample(rng)).exp();
        push_account(rng, 2, "savings", balance, None);
    }
    let card_account = rng.random_bool(0.55).then(|| {
        let limit = (2_000.0 * wealth.max(0.3)).round();
        let balance = -limit * rng.random::<f64>() * 0.4;
        push_account(rng, 3, "credit_card", balance, Some(limit));
        id * 10 + 3
    });
    if age_years > 28.0 && rng.random_bool(if segment == "mass" { 0.08 } else { 0.25 }) {
        let balance = -150_000.0 * wealth.sqrt() * (0.3 * d.standard_normal.sample(rng)).exp();
        push_account(rng, 4, "mortgage", balance, None);
    }
    Customer {
        id,
        city,
        male,
        birth,
        segment,
        income,
        signup,
        closed,
        current_account,
        card_account,
    }
}

/// Risk tolerance on the 1-7 scale of product risk levels (SRRI), as a
/// suitability questionnaire would record it: higher for wealthier segments,
/// lower near and in retirement. Derived from the id rather than drawn, so
/// adding it left every other generated value unchanged.
fn risk_tolerance(id: i64, segment: &str, age_years: f64) -> i32 {
    let base = match segment {
        "private" => 6,
        "affluent" => 5,
        "emerging" => 4,
        _ => 3,
    };
    let age = if age_years >= 65.0 {
        -2
    } else if age_years >= 50.0 {
        -1
    } else {
        0
    };
    let jitter = (id.wrapping_mul(7919).rem_euclid(3)) as i32 - 1;
    (base + age + jitter).clamp(1, 7)
}

/// The investment products (the market-data instruments) with their risk
/// level: the SRRI band of their annual volatility (CESR/10-673: below 0.5%
/// is 1, then 2%, 5%, 10%, 15%, 25%, and 7 above).
pub(super) fn products() -> Result<RecordBatch> {
    let mut rows = Rows::new(&tables::products());
    for (symbol, asset_class, _, volatility, _) in INSTRUMENTS {
        let level = [0.005, 0.02, 0.05, 0.10, 0.15, 0.25]
            .iter()
            .filter(|band| *volatility >= **band)
            .count() as i32
            + 1;
        rows.push(vec![
            (*symbol).into(),
            (*asset_class).into(),
            (*volatility).into(),
            Value::I32(Some(level)),
        ]);
    }
    rows.finish()
}

/// Active days of a customer within the window.
fn active_span(c: &Customer, start: i32, end: i32) -> (i32, i32) {
    (c.signup.max(start), c.closed.unwrap_or(end).min(end))
}

fn random_time(rng: &mut ChaCha8Rng, from: i32, to: i32) -> i64 {
    // Rejection sampling gives the seasonal day profile exactly.
    let day = loop {
        let day = rng.random_range(from..to.max(from + 1));
        if rng.random::<f64>() * MAX_SEASONALITY < seasonality(day) {
            break day;
        }
    };
    let hour = pick_weighted(rng, HOURLY.iter().copied()) as i64;
    i64::from(day) * MICROS_PER_DAY + hour * 3_600_000_000 + rng.random_range(0..3_600_000_000i64)
}

fn customer_transactions(
    rng: &mut ChaCha8Rng,
    d: &Dists,
    c: &Customer,
    start: i32,
    end: i32,
    out: &mut Rows,
) -> usize {
    let (from, to) = active_span(c, start, end);
    if to <= from {
        return 0;
    }
    let segment_factor = match c.segment {
        "affluent" => 1.3,
        "private" => 1.5,
        "emerging" => 0.9,
        _ => 1.0,
    };
    let rate = d.rate.sample(rng) * segment_factor;
    let expected = rate * f64::from(to - from);
    let n = if expected > 0.0 {
        Poisson::new(expected).map_or(0.0, |p| p.sample(rng)) as usize
    } else {
        0
    }
    .min(6_000);
    // (timestamp, category, fraud location) per transaction
    let mut rows: Vec<(i64, usize, Option<usize>)> = (0..n)
        .map(|_| {
            let category = pick_weighted(rng, MERCHANT_CATEGORIES.iter().map(|m| m.2));
            (random_time(rng, from, to), category, None)
        })
        .collect();
    // About 6% of customers suffer one card-fraud episode: a burst of
    // purchases within hours, often far from home.
    if rng.random_bool(0.06) {
        let t0 = random_time(rng, from, to);
        let location = rng.random_range(0..FRAUD_LOCATIONS.len());
        for _ in 0..rng.random_range(2..8) {
            let category = *FRAUD_CATEGORIES.choose(rng).unwrap_or(&4);
            rows.push((
                t0 + rng.random_range(0..3 * 3_600_000_000i64),
                category,
                Some(location),
            ));
        }
    }
    rows.sort_unstable_by_key(|r| r.0);
    // Domestic trips of 2-8 days: in-person purchases then happen in the
    // trip's city, so geo-velocity rules meet realistic legitimate travel.
    let domestic: Vec<&City> = CITIES
        .iter()
        .filter(|x| x.country == c.city.country && !std::ptr::eq(*x, c.city))
        .collect();
    let trip_count = Poisson::new(0.8).map_or(0.0, |p| p.sample(rng)) as usize;
    let trips: Vec<(i64, i64, &City)> = (0..trip_count)
        .filter_map(|_| {
            let city = domestic.choose(rng).copied()?;
            let begin = random_time(rng, from, to);
            Some((begin, begin + rng.random_range(2..9) * MICROS_PER_DAY, city))
        })
        .collect();
    let wealth = (c.income / 30_000.0).powf(0.3);
    let currency = if c.city.country == "CN" { "CNY" } else { "GBP" };
    let city_index = CITIES
        .iter()
        .position(|x| std::ptr::eq(x, c.city))
        .unwrap_or(0) as i64;
    for (k, (t, category, fraud)) in rows.iter().enumerate() {
        let (name, mcc, _, typical, online) = MERCHANT_CATEGORIES[*category];
        let is_fraud = fraud.is_some();
        let mut amount = typical * d.amount_body.sample(rng) * d.amount_tail.sample(rng) * wealth;
        if is_fraud {
            amount *= 2.5;
        }
        let amount = round2(amount.clamp(0.5, 50_000.0));
        let channel = match (name, online, is_fraud) {
            ("cash_withdrawal", _, _) => "atm",
            (_, true, _) | (_, _, true) if rng.random_bool(0.75) => "online",
            (_, true, _) => "mobile",
            _ => "pos",
        };
        let card_paid = channel != "atm" || c.card_account.is_none();
        let account = match c.card_account {
            Some(card) if card_paid && rng.random_bool(0.45) => card,
            _ => c.current_account,
        };
        let (city, country, lat, lon) = match (fraud, channel) {
            (Some(i), "pos" | "atm") => {
                let (city, country, lat, lon) = FRAUD_LOCATIONS[*i];
                (Some(city), country, Some(lat), Some(lon))
            }
            (Some(i), _) => (None, FRAUD_LOCATIONS[*i].1, None, None),
            (None, "online" | "mobile") => (None, c.city.country, None, None),
            (None, _) => {
                let place = trips
                    .iter()
                    .find(|(begin, end, _)| (*begin..*end).contains(t))
                    .map_or(c.city, |trip| trip.2);
                let jitter = |rng: &mut ChaCha8Rng| 0.04 * d.standard_normal.sample(rng);
                (
                    Some(place.name),
                    place.country,
                    Some(place.lat + jitter(rng)),
                    Some(place.lon + jitter(rng)),
                )
            }
        };
        let merchant_id =
            (*category as i64) * 100_000 + city_index * 1_000 + rng.random_range(0..400);
        out.push(vec![
            (c.id * 10_000 + k as i64).into(),
            c.id.into(),
            account.into(),
            Value::I64((channel != "atm" || account != c.current_account).then_some(account)),
            ts(*t),
            amount.into(),
            currency.into(),
            merchant_id.into(),
            name.into(),
            mcc.into(),
            channel.into(),
            Value::Str(city.map(str::to_string)),
            country.into(),
            lat.map(|v| (v * 10_000.0).round() / 10_000.0).into(),
            lon.map(|v| (v * 10_000.0).round() / 10_000.0).into(),
            is_fraud.into(),
        ]);
    }
    rows.len()
}

fn customer_events(rng: &mut ChaCha8Rng, c: &Customer, start: i32, end: i32, out: &mut Rows) {
    let (from, to) = active_span(c, start, end);
    if to <= from {
        return;
    }
    let age = f64::from(start - c.birth) / 365.25;
    let sessions_per_day = if age < 35.0 {
        0.012
    } else if age < 60.0 {
        0.007
    } else {
        0.003
    };
    let sessions = Poisson::new(sessions_per_day * f64::from(to - from) + 0.01)
        .map_or(0.0, |p| p.sample(rng)) as i64;
    let platform = ["ios", "android", "web"][pick_weighted(rng, [0.4, 0.4, 0.2].into_iter())];
    let ip = if c.city.country == "CN" {
        format!(
            "117.{}.{}.{}",
            rng.random_range(0..255),
            rng.random_range(0..255),
            rng.random_range(1..255)
        )
    } else {
        format!(
            "81.{}.{}.{}",
            rng.random_range(0..255),
            rng.random_range(0..255),
            rng.random_range(1..255)
        )
    };
    let mut times: Vec<i64> = (0..sessions).map(|_| random_time(rng, from, to)).collect();
    times.sort_unstable();
    let mut event_number = 0;
    for (s, t0) in times.into_iter().enumerate() {
        let session_id = c.id * 1_000 + s as i64;
        let mut t = t0;
        let mut emit = |t: i64, kind: &str, n: &mut i64| {
            out.push(vec![
                (c.id * 10_000 + *n).into(),
                c.id.into(),
                session_id.into(),
                ts(t),
                kind.into(),
                platform.into(),
                ip.clone().into(),
            ]);
            *n += 1;
        };
        emit(t, "login", &mut event_number);
        for _ in 0..rng.random_range(1..5) {
            t += rng.random_range(5_000_000..180_000_000);
            let kind = APP_EVENTS.choose(rng).copied().unwrap_or("view_balance");
            emit(t, kind, &mut event_number);
        }
        if event_number >= 9_990 {
            break;
        }
    }
}

fn customer_loan(
    rng: &mut ChaCha8Rng,
    d: &Dists,
    c: &Customer,
    start: i32,
    end: i32,
    out: &mut Rows,
) {
    let (from, to) = active_span(c, start, end);
    let p = match c.segment {
        "mass" | "emerging" => 0.24,
        _ => 0.12,
    };
    if to <= from + 1 || !rng.random_bool(p) {
        return;
    }
    let applied = rng.random_range(from..to);
    let age = (f64::from(applied - c.birth) / 365.25) as i32;
    let income = (c.income * (0.15 * d.standard_normal.sample(rng)).exp()).round();
    let dti = 0.9 * d.dti.sample(rng);
    let history = ((age - 18).max(0) * 12 * rng.random_range(20..100) / 100).max(3);
    let risky = rng.random_bool(0.15);
    let delinquencies =
        Poisson::new(if risky { 1.6 } else { 0.25 }).map_or(0.0, |p| p.sample(rng)) as i32;
    let employment = rng.random_range(0..=(age - 18).clamp(0, 40));
    let home = ["rent", "mortgage", "own"][pick_weighted(rng, [0.45, 0.4, 0.15].into_iter())];
    let purpose = LOAN_PURPOSES.choose(rng).copied().unwrap_or("car");
    let amount = (income * (0.1 + 0.5 * rng.random::<f64>()) / 100.0).round() * 100.0;
    let term = [12, 24, 36, 48, 60][rng.random_range(0..5)];
    // The true default risk, known to the generator only.
    let observable = -2.9 + 3.2 * dti + 0.55 * f64::from(delinquencies)
        - 0.004 * f64::from(history)
        - 0.45 * (income.max(5_000.0) / 30_000.0).ln()
        + if purpose == "debt_consolidation" {
            0.35
        } else {
            0.0
        }
        + if home == "rent" { 0.2 } else { 0.0 }
        - 0.02 * f64::from(employment);
    let hidden = 0.9 * d.standard_normal.sample(rng);
    let defaulted = rng.random_bool(sigmoid(observable + hidden).clamp(0.0, 1.0));
    // The bank's model sees the observable part with noise, and, as an
    // intentional defect for fairness audits, overstates women's risk.
    let bias = if c.male { 0.0 } else { 0.35 };
    let score = sigmoid(observable + 0.4 * d.standard_normal.sample(rng) + bias);
    let rate = round2(3.5 + 18.0 * score + rng.random::<f64>());
    out.push(vec![
        (c.id * 10 + 1).into(),
        c.id.into(),
        date(applied),
        amount.into(),
        Value::I32(Some(term)),
        rate.into(),
        purpose.into(),
        income.into(),
        ((dti * 1000.0).round() / 1000.0).into(),
        Value::I32(Some(history)),
        Value::I32(Some(delinquencies)),
        Value::I32(Some(employment)),
        home.into(),
        Value::I32(Some(age)),
        (if c.male { "M" } else { "F" }).into(),
        ((score * 1e6).round() / 1e6).into(),
        (score < 0.25).into(),
        defaulted.into(),
    ]);
}

fn customer_consents(rng: &mut ChaCha8Rng, c: &Customer, end: i32, out: &mut Rows) {
    for (k, (purpose, share)) in CONSENT_PURPOSES.iter().enumerate() {
        if !rng.random_bool(*share) {
            continue;
        }
        let granted_day = c.signup
            + if rng.random_bool(0.7) {
                0
            } else {
                rng.random_range(1..700)
            };
        if granted_day >= end {
            continue;
        }
        let granted = i64::from(granted_day) * MICROS_PER_DAY + rng.random_range(0..MICROS_PER_DAY);
        let withdrawn = (rng.random_bool(0.15) || c.closed.is_some())
            .then(|| {
                let last = c.closed.unwrap_or(end);
                (last > granted_day + 1).then(|| {
                    i64::from(rng.random_range(granted_day + 1..=last)) * MICROS_PER_DAY
                        + rng.random_range(0..MICROS_PER_DAY)
                })
            })
            .flatten();
        let channel = ["app", "web", "branch", "paper"]
            [pick_weighted(rng, [0.5, 0.3, 0.15, 0.05].into_iter())];
        out.push(vec![
            (c.id * 10 + k as i64).into(),
            c.id.into(),
            (*purpose).into(),
            ts(granted),
            opt_ts(withdrawn),
            channel.into(),
        ]);
    }
}

pub(super) fn campaign_start(month_offset: u32) -> i32 {
    let (start, _) = window();
    start + (f64::from(month_offset) * 30.44) as i32
}

fn customer_campaigns(rng: &mut ChaCha8Rng, c: &Customer, start: i32, out: &mut Rows) {
    let age = f64::from(start - c.birth) / 365.25;
    for (i, (_, _, month, _, base, uplift)) in CAMPAIGNS.iter().enumerate() {
        let day = campaign_start(*month);
        let active = c.signup <= day && c.closed.is_none_or(|closed| closed > day);
        if !active || !rng.random_bool(0.18) {
            continue;
        }
        let treated = rng.random_bool(0.5);
        // Uplift is heterogeneous: larger for affluent and younger customers,
        // so uplift-by-decile analyses have something to find.
        let responsiveness = match c.segment {
            "affluent" | "private" => 1.6,
            "emerging" => 1.2,
            _ => 0.8,
        } * if age < 35.0 { 1.3 } else { 0.9 };
        let p = base * responsiveness
            + if treated {
                uplift * responsiveness
            } else {
                0.0
            };
        let responded = rng.random_bool(p.clamp(0.0, 1.0));
        let contacted = treated.then(|| {
            i64::from(day + rng.random_range(0..14)) * MICROS_PER_DAY
                + rng.random_range(0..MICROS_PER_DAY)
        });
        let value = responded
            .then(|| round2(150.0 * (c.income / 30_000.0).sqrt() * rng.random_range(0.3..3.0)));
        out.push(vec![
            Value::I32(Some(i as i32 + 1)),
            c.id.into(),
            (if treated { "treatment" } else { "control" }).into(),
            opt_ts(contacted),
            responded.into(),
            value.into(),
        ]);
    }
}

fn customer_positions(rng: &mut ChaCha8Rng, c: &Customer, start: i32, out: &mut Rows) {
    let p = match c.segment {
        "private" => 0.6,
        "affluent" => 0.2,
        _ => 0.03,
    };
    if !rng.random_bool(p) {
        return;
    }
    let budget = c.income * rng.random_range(0.2..1.5);
    let holdings = rng.random_range(2..8);
    let home_equities: &[usize] = if c.city.country == "CN" {
        &[8, 9, 10, 11, 12, 13]
    } else {
        &[2, 3, 4, 5, 6, 7]
    };
    for k in 0..holdings {
        let index = if k < 2 {
            *home_equities.choose(rng).unwrap_or(&0)
        } else {
            rng.random_range(0..INSTRUMENTS.len())
        };
        let (symbol, _, price, _, _) = INSTRUMENTS[index];
        let quantity = (budget / f64::from(holdings) / price).max(1.0).round();
        out.push(vec![
            c.id.into(),
            c.id.into(),
            symbol.into(),
            quantity.into(),
            date(c.signup.max(start - 400) + rng.random_range(0..200)),
        ]);
    }
}

/// Daily closes on weekdays: one market factor with fat tails (Student t,
/// 4 degrees of freedom) plus idiosyncratic noise per instrument.
pub(super) fn market_prices(seed: u64) -> Result<RecordBatch> {
    use rand::SeedableRng;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4D41_524B_4554);
    let (start, end) = window();
    let t = StudentT::new(4.0)
        .map_err(|e| datafusion::error::DataFusionError::Internal(e.to_string()))?;
    let normal = Normal::new(0.0, 1.0)
        .map_err(|e| datafusion::error::DataFusionError::Internal(e.to_string()))?;
    let mut prices: Vec<f64> = INSTRUMENTS.iter().map(|i| i.2).collect();
    let mut rows = Rows::new(&tables::market_prices());
    let market_vol = 0.16 / 252f64.sqrt();
    for day in start..=end {
        // 1970-01-01 was a Thursday: day % 7 == 2 is Saturday, 3 Sunday.
        if matches!(day.rem_euclid(7), 2 | 3) {
            continue;
        }
        // Student t(4) has variance 2; scale it to unit variance.
        let market = 0.0003 + market_vol * t.sample(&mut rng) / 2f64.sqrt();
        for (i, (symbol, class, _, vol, beta)) in INSTRUMENTS.iter().enumerate() {
            let daily_vol = vol / 252f64.sqrt();
            let systematic = beta * (market - 0.0003);
            let idio_vol = (daily_vol.powi(2) - (beta * market_vol).powi(2))
                .max(1e-8)
                .sqrt();
            let r = systematic + idio_vol * normal.sample(&mut rng) + 0.0001;
            prices[i] *= r.exp();
            let volume =
                (1e6 * (0.5 * normal.sample(&mut rng)).exp() * (1.0 + 20.0 * r.abs())) as i64;
            rows.push(vec![
                date(day),
                (*symbol).into(),
                (*class).into(),
                ((prices[i] * 1e4).round() / 1e4).into(),
                volume.into(),
            ]);
        }
    }
    rows.finish()
}

pub(super) fn campaigns() -> Result<RecordBatch> {
    let mut rows = Rows::new(&tables::campaigns());
    for (i, (name, channel, month, cost, _, _)) in CAMPAIGNS.iter().enumerate() {
        let start = campaign_start(*month);
        rows.push(vec![
            Value::I32(Some(i as i32 + 1)),
            (*name).into(),
            (*channel).into(),
            date(start),
            date(start + 28),
            (*cost).into(),
            (5_000.0 + 1_000.0 * i as f64).into(),
        ]);
    }
    rows.finish()
}

pub(super) fn branches(seed: u64) -> Result<RecordBatch> {
    use rand::SeedableRng;
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x4252_414E_4348);
    let mut rows = Rows::new(&tables::branches());
    let mut id = 1;
    for city in CITIES {
        let count = (city.weight * 0.8).ceil() as i32;
        for k in 0..count {
            let kind = if k == 0 {
                "flagship"
            } else if rng.random_bool(0.25) {
                "kiosk"
            } else {
                "standard"
            };
            rows.push(vec![
                Value::I32(Some(id)),
                format!(
                    "{} {}",
                    city.name,
                    [
                        "Central", "North", "South", "East", "West", "Park", "Station", "Market"
                    ][k as usize % 8]
                )
                .into(),
                kind.into(),
                city.name.into(),
                city.region.into(),
                city.country.into(),
                (((city.lat + 0.06 * (rng.random::<f64>() - 0.5)) * 1e4).round() / 1e4).into(),
                (((city.lon + 0.08 * (rng.random::<f64>() - 0.5)) * 1e4).round() / 1e4).into(),
                date(epoch_day(1990, 1, 1) + rng.random_range(0..12_000)),
                Value::I32(Some(
                    match kind {
                        "flagship" => 40,
                        "kiosk" => 3,
                        _ => 12,
                    } + rng.random_range(0..8),
                )),
            ]);
            id += 1;
        }
    }
    rows.finish()
}
