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
    fn ln_beta_matches_gamma_identity() {
        // B(2, 3) = 1! 2! / 4! = 1/12.
        assert!((ln_beta(2.0, 3.0) - (1.0f64 / 12.0).ln()).abs() < 1e-14);
        assert!(ln_beta(0.0, 1.0).is_nan());
    }
}
