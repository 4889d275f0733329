//! Special functions the customer models need beyond `statrs`: the Gauss
//! hypergeometric function and a total (non-panicking) log-beta.

use statrs::function::gamma::ln_gamma;

/// ln B(a, b) for a, b > 0 (NaN otherwise; `statrs::ln_beta` panics instead).
#[inline]
pub fn ln_beta(a: f64, b: f64) -> f64 {
    if a > 0.0 && b > 0.0 {
        ln_gamma(a) + ln_gamma(b) - ln_gamma(a + b)
    } else {
        f64::NAN
    }
}

/// The trigamma function ψ'(x) for x > 0 (NaN otherwise), which `statrs`
/// lacks: Newton fits need the second derivative of ln Γ. The recurrence
/// ψ'(x) = ψ'(x+1) + 1/x² lifts x to at least 10, where the asymptotic series
/// (Abramowitz and Stegun 6.4.12) is accurate to machine precision.
pub fn trigamma(x: f64) -> f64 {
    if x.is_nan() || x <= 0.0 || !x.is_finite() {
        return f64::NAN;
    }
    let shift = if x < 10.0 { (10.0 - x).ceil() } else { 0.0 };
    let y = x + shift;
    let z = 1.0 / (y * y);
    // 1/y + 1/(2y²) + Σ B_2k / y^(2k+1), k = 1..8.
    let series = z
        * (1.0 / 6.0
            + z * (-1.0 / 30.0
                + z * (1.0 / 42.0
                    + z * (-1.0 / 30.0
                        + z * (5.0 / 66.0
                            + z * (-691.0 / 2730.0 + z * (7.0 / 6.0 + z * (-3617.0 / 510.0))))))));
    let mut sum = series / y + z / 2.0 + 1.0 / y;
    // The recurrence terms, smallest first, for the last bit of accuracy.
    let mut k = shift;
    while k > 0.0 {
        k -= 1.0;
        sum += 1.0 / ((x + k) * (x + k));
    }
    sum
}

/// Terms summed before giving up on a series; 2F1 at z = 0.99999 needs about
/// 4 million, which is far beyond any horizon a CLV model is asked for.
const MAX_TERMS: usize = 5_000_000;

/// Gauss hypergeometric 2F1(a, b; c; z) for 0 <= z < 1 by its power series,
/// NaN when the series does not converge within [`MAX_TERMS`].
///
/// Callers use Euler's transformation, 2F1(a,b;c;z) = (1-z)^(c-a-b)
/// 2F1(c-a,c-b;c;z), to keep `a` and `b` small, so the terms never grow
/// large before they decay.
pub fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    if !(0.0..1.0).contains(&z) || c <= 0.0 && c.fract() == 0.0 {
        return f64::NAN;
    }
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 0..MAX_TERMS {
        let n = n as f64;
        term *= (a + n) * (b + n) / ((c + n) * (n + 1.0)) * z;
        sum += term;
        if term.abs() <= 1e-17 * sum.abs() {
            return sum;
        }
    }
    f64::NAN
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hyp2f1_matches_closed_forms() {
        // 2F1(1,1;2;z) = -ln(1-z)/z and 2F1(a,b;b;z) = (1-z)^-a.
        for z in [0.0001f64, 0.3, 0.9, 0.999] {
            let expected = -(1.0 - z).ln() / z;
            assert!(
                (hyp2f1(1.0, 1.0, 2.0, z) - expected).abs() < 1e-12 * expected,
                "{z}"
            );
            let expected = (1.0 - z).powf(-0.7);
            assert!(
                (hyp2f1(0.7, 2.5, 2.5, z) - expected).abs() < 1e-12 * expected,
                "{z}"
            );
        }
        assert!(hyp2f1(1.0, 1.0, 2.0, 1.0).is_nan());
    }

    #[test]
    fn trigamma_matches_closed_forms_and_the_derivative_of_digamma() {
        let pi2 = std::f64::consts::PI * std::f64::consts::PI;
        // ψ'(1) = π²/6, ψ'(1/2) = π²/2, ψ'(n+1) = π²/6 - Σ_{k<=n} 1/k².
        assert!((trigamma(1.0) - pi2 / 6.0).abs() < 1e-15);
        assert!((trigamma(0.5) - pi2 / 2.0).abs() < 1e-14);
        let tail: f64 = (1..=24).map(|k| 1.0 / (k * k) as f64).sum();
        assert!((trigamma(25.0) - (pi2 / 6.0 - tail)).abs() < 1e-16);
        for x in [0.01, 0.243, 3.7, 12.5, 1e4] {
            let h = 1e-5 * x;
            let numeric = (statrs::function::gamma::digamma(x + h)
                - statrs::function::gamma::digamma(x - h))
                / (2.0 * h);
            let exact = trigamma(x);
            assert!(
                (numeric - exact).abs() < 1e-7 * exact,
                "{x}: {numeric} vs {exact}"
            );
        }
        assert!(trigamma(0.0).is_nan() && trigamma(-1.0).is_nan());
    }

    #[test]
    fn ln_beta_matches_gamma_identity() {
        // B(2, 3) = 1! 2! / 4! = 1/12.
        assert!((ln_beta(2.0, 3.0) - (1.0f64 / 12.0).ln()).abs() < 1e-14);
        assert!(ln_beta(0.0, 1.0).is_nan());
    }
}
