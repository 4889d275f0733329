//! Fixed reference lists of the synthetic bank: cities, names, merchant
//! categories, products. Changing them changes every generated dataset.

/// A city the bank serves: where customers live and branches stand.
pub(super) struct City {
    pub name: &'static str,
    pub country: &'static str,
    pub region: &'static str,
    pub lat: f64,
    pub lon: f64,
    /// Relative share of customers.
    pub weight: f64,
}

/// Two markets: mainland China (PIPL) and the UK (UK GDPR), so masking,
/// consent and erasure can be shown under both regimes.
pub(super) const CITIES: &[City] = &[
    City {
        name: "Beijing",
        country: "CN",
        region: "north",
        lat: 39.9042,
        lon: 116.4074,
        weight: 9.0,
    },
    City {
        name: "Shanghai",
        country: "CN",
        region: "east",
        lat: 31.2304,
        lon: 121.4737,
        weight: 10.0,
    },
    City {
        name: "Guangzhou",
        country: "CN",
        region: "south",
        lat: 23.1291,
        lon: 113.2644,
        weight: 6.0,
    },
    City {
        name: "Shenzhen",
        country: "CN",
        region: "south",
        lat: 22.5431,
        lon: 114.0579,
        weight: 6.0,
    },
    City {
        name: "Chengdu",
        country: "CN",
        region: "west",
        lat: 30.5728,
        lon: 104.0668,
        weight: 4.0,
    },
    City {
        name: "Wuhan",
        country: "CN",
        region: "central",
        lat: 30.5928,
        lon: 114.3055,
        weight: 4.0,
    },
    City {
        name: "London",
        country: "GB",
        region: "south",
        lat: 51.5072,
        lon: -0.1276,
        weight: 9.0,
    },
    City {
        name: "Manchester",
        country: "GB",
        region: "north",
        lat: 53.4808,
        lon: -2.2426,
        weight: 4.0,
    },
    City {
        name: "Birmingham",
        country: "GB",
        region: "central",
        lat: 52.4862,
        lon: -1.8904,
        weight: 3.0,
    },
    City {
        name: "Bristol",
        country: "GB",
        region: "west",
        lat: 51.4545,
        lon: -2.5879,
        weight: 2.0,
    },
    City {
        name: "Leeds",
        country: "GB",
        region: "east",
        lat: 53.8008,
        lon: -1.5491,
        weight: 2.0,
    },
    City {
        name: "Edinburgh",
        country: "GB",
        region: "north",
        lat: 55.9533,
        lon: -3.1883,
        weight: 2.0,
    },
];

/// Places where stolen cards are typically used: far from every home city.
pub(super) const FRAUD_LOCATIONS: &[(&str, &str, f64, f64)] = &[
    ("Lagos", "NG", 6.5244, 3.3792),
    ("Sao Paulo", "BR", -23.5505, -46.6333),
    ("Bucharest", "RO", 44.4268, 26.1025),
    ("Manila", "PH", 14.5995, 120.9842),
    ("Miami", "US", 25.7617, -80.1918),
];

pub(super) const CN_SURNAMES: &[(&str, &str)] = &[
    ("王", "wang"),
    ("李", "li"),
    ("张", "zhang"),
    ("刘", "liu"),
    ("陈", "chen"),
    ("杨", "yang"),
    ("黄", "huang"),
    ("赵", "zhao"),
    ("吴", "wu"),
    ("周", "zhou"),
    ("徐", "xu"),
    ("孙", "sun"),
    ("马", "ma"),
    ("朱", "zhu"),
    ("胡", "hu"),
    ("郭", "guo"),
    ("何", "he"),
    ("林", "lin"),
    ("罗", "luo"),
    ("高", "gao"),
    ("欧阳", "ouyang"),
    ("司马", "sima"),
];

pub(super) const CN_GIVEN: &[(&str, &str)] = &[
    ("伟", "wei"),
    ("芳", "fang"),
    ("娜", "na"),
    ("敏", "min"),
    ("静", "jing"),
    ("丽", "li"),
    ("强", "qiang"),
    ("磊", "lei"),
    ("军", "jun"),
    ("洋", "yang"),
    ("勇", "yong"),
    ("艳", "yan"),
    ("杰", "jie"),
    ("娟", "juan"),
    ("涛", "tao"),
    ("明", "ming"),
    ("超", "chao"),
    ("秀英", "xiuying"),
    ("桂英", "guiying"),
    ("建华", "jianhua"),
    ("志强", "zhiqiang"),
    ("三丰", "sanfeng"),
    ("晓明", "xiaoming"),
    ("丹", "dan"),
];

pub(super) const GB_FIRST_F: &[&str] = &[
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Emily",
    "Sophie",
    "Grace",
    "Mia",
    "Poppy",
    "Ella",
    "Lily",
    "Evie",
    "Chloe",
    "Jessica",
    "Charlotte",
    "Sarah",
    "Hannah",
    "Zoe",
    "Aisha",
    "Priya",
    "Zoë",
    "Siobhán",
];

pub(super) const GB_FIRST_M: &[&str] = &[
    "Oliver", "George", "Harry", "Jack", "Jacob", "Noah", "Charlie", "Thomas", "Oscar", "William",
    "James", "Leo", "Alfie", "Henry", "Joshua", "Daniel", "Samuel", "Mohammed", "Arjun", "Seán",
];

pub(super) const GB_SURNAMES: &[&str] = &[
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
    "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards", "Hughes",
    "Green", "Hall", "Khan", "Patel", "O'Brien", "Müller", "Nowak",
];

pub(super) const EMAIL_DOMAINS_CN: &[&str] =
    &["qq.com", "163.com", "126.com", "sina.com", "gmail.com"];
pub(super) const EMAIL_DOMAINS_GB: &[&str] = &[
    "gmail.com",
    "outlook.com",
    "yahoo.co.uk",
    "btinternet.com",
    "icloud.com",
];

/// Customer segments with their share and median annual income (in GBP
/// equivalent) — income drives spend, product holding and loan risk.
pub(super) const SEGMENTS: &[(&str, f64, f64)] = &[
    ("mass", 0.62, 28_000.0),
    ("emerging", 0.16, 22_000.0),
    ("affluent", 0.18, 75_000.0),
    ("private", 0.04, 260_000.0),
];

/// Merchant categories: (name, ISO 18245 MCC, share of transactions,
/// typical amount, usual channel is online).
pub(super) const MERCHANT_CATEGORIES: &[(&str, i32, f64, f64, bool)] = &[
    ("grocery", 5411, 0.24, 28.0, false),
    ("restaurants", 5812, 0.14, 22.0, false),
    ("fuel", 5541, 0.07, 45.0, false),
    ("transport", 4111, 0.08, 6.0, false),
    ("online_retail", 5999, 0.12, 40.0, true),
    ("apparel", 5651, 0.06, 55.0, false),
    ("electronics", 5732, 0.03, 160.0, true),
    ("travel", 4722, 0.02, 420.0, true),
    ("utilities", 4900, 0.05, 75.0, true),
    ("health", 5912, 0.04, 25.0, false),
    ("entertainment", 7832, 0.05, 18.0, true),
    ("cash_withdrawal", 6011, 0.07, 90.0, false),
    ("jewelry", 5944, 0.01, 380.0, false),
    ("education", 8299, 0.02, 210.0, true),
];

/// Categories fraudsters favour: resellable goods and travel.
pub(super) const FRAUD_CATEGORIES: &[usize] = &[6, 7, 12, 4];

pub(super) const LOAN_PURPOSES: &[&str] = &[
    "car",
    "home_improvement",
    "debt_consolidation",
    "education",
    "business",
    "holiday",
];

pub(super) const CONSENT_PURPOSES: &[(&str, f64)] = &[
    ("marketing", 0.55),
    ("analytics", 0.75),
    ("research", 0.35),
    ("third_party_sharing", 0.20),
];

/// Marketing campaigns: (name, channel, start month offset, cost per contact,
/// base response rate, uplift for treated customers).
pub(super) const CAMPAIGNS: &[(&str, &str, u32, f64, f64, f64)] = &[
    ("Spring cashback", "email", 2, 0.05, 0.020, 0.010),
    ("Premium card upgrade", "app_push", 5, 0.02, 0.030, 0.018),
    ("Savings bonus rate", "email", 8, 0.05, 0.025, 0.012),
    ("Black Friday rewards", "sms", 10, 0.08, 0.040, 0.022),
    ("Travel insurance", "app_push", 14, 0.02, 0.015, 0.006),
    ("Mortgage review", "call_centre", 17, 2.50, 0.010, 0.015),
    ("Investment starter", "email", 20, 0.05, 0.012, 0.009),
    ("Loyalty points x2", "app_push", 23, 0.02, 0.050, 0.020),
];

pub(super) const APP_EVENTS: &[&str] = &[
    "view_balance",
    "view_transactions",
    "transfer",
    "pay_bill",
    "view_offer",
    "click_offer",
    "update_profile",
    "chat_support",
    "card_freeze",
];

/// Instruments for market data: (symbol, asset class, start price, annual
/// volatility, beta to the market factor).
pub(super) const INSTRUMENTS: &[(&str, &str, f64, f64, f64)] = &[
    ("AAPL", "equity", 130.0, 0.28, 1.2),
    ("MSFT", "equity", 240.0, 0.26, 1.1),
    ("HSBA", "equity", 5.2, 0.24, 0.9),
    ("BARC", "equity", 1.6, 0.33, 1.3),
    ("LLOY", "equity", 0.45, 0.30, 1.2),
    ("VOD", "equity", 1.1, 0.27, 0.8),
    ("SHEL", "equity", 23.0, 0.25, 0.9),
    ("AZN", "equity", 105.0, 0.22, 0.6),
    ("600519", "equity", 1750.0, 0.30, 0.9),
    ("601398", "equity", 4.6, 0.18, 0.6),
    ("000001", "equity", 12.0, 0.32, 1.1),
    ("601318", "equity", 48.0, 0.29, 1.0),
    ("0700", "equity", 330.0, 0.38, 1.3),
    ("9988", "equity", 95.0, 0.42, 1.4),
    ("GILT10", "bond", 100.0, 0.08, -0.1),
    ("UST10", "bond", 100.0, 0.07, -0.1),
    ("CGB10", "bond", 100.0, 0.04, 0.0),
    ("GOLD", "commodity", 1800.0, 0.15, 0.1),
    ("BRENT", "commodity", 82.0, 0.35, 0.5),
    ("GBPUSD", "fx", 1.21, 0.08, 0.2),
    ("USDCNY", "fx", 6.9, 0.04, -0.1),
    ("EURGBP", "fx", 0.88, 0.06, 0.0),
];
