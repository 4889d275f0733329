//! Unconstrained minimisation for the model-fitting aggregates, on argmin's
//! L-BFGS with a More-Thuente line search.
//!
//! Models keep positive parameters on the log scale, so "unconstrained" is
//! enough. The cost and gradient come from one pass over the data, so the
//! last evaluation is cached: argmin asks for both at the same point.

use std::sync::Mutex;

use argmin::core::{CostFunction, Executor, Gradient, State, TerminationReason, TerminationStatus};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;

/// What the optimiser reports back; it goes into the fitted model's struct
/// so a user can see (and ASSERT) that a fit converged.
#[derive(Debug, Clone, PartialEq)]
pub struct Minimum {
    pub x: Vec<f64>,
    pub cost: f64,
    pub iterations: u64,
    pub converged: bool,
}

/// Evaluations without a relative improvement of the best cost by more
/// than [`STALL_IMPROVEMENT`] after which the search stops.
const STALL_EVALUATIONS: u64 = 40;
const STALL_IMPROVEMENT: f64 = 1e-15;

/// Evaluation budget per allowed iteration (line searches included).
const EVALUATIONS_PER_ITERATION: u64 = 20;

/// Gradient norm under which a fit counts as converged even when the line
/// search, not the gradient test, stopped the solver. Costs are per-row means,
/// so this does not depend on the number of rows.
const CONVERGED_GRADIENT_NORM: f64 = 1e-6;

type Evaluation = (Vec<f64>, f64, Vec<f64>);

struct Problem<'a, F> {
    cost_and_gradient: &'a F,
    last: Mutex<Option<Evaluation>>,
    /// The lowest-cost point evaluated, kept because argmin's own state is
    /// lost when a run ends in an error.
    best: &'a Mutex<Option<(Vec<f64>, f64)>>,
    /// Evaluations left: argmin's line searches have no iteration cap of
    /// their own, and a query must never spin forever.
    budget: std::sync::atomic::AtomicU64,
    /// Evaluations since the best cost last improved.
    stalled: std::sync::atomic::AtomicU64,
}

impl<F: Fn(&[f64], &mut [f64]) -> f64> Problem<'_, F> {
    fn evaluate(&self, x: &[f64]) -> Result<(f64, Vec<f64>), argmin::core::Error> {
        if let Ok(last) = self.last.lock()
            && let Some((at, cost, gradient)) = last.as_ref()
            && at.as_slice() == x
        {
            return Ok((*cost, gradient.clone()));
        }
        let left = self
            .budget
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        if left == 0 {
            return Err(argmin::core::Error::msg("evaluation budget exhausted"));
        }
        let mut gradient = vec![0.0; x.len()];
        let cost = (self.cost_and_gradient)(x, &mut gradient);
        let improved = if let Ok(mut best) = self.best.lock()
            && cost.is_finite()
            && best
                .as_ref()
                .is_none_or(|(_, b)| cost < *b - STALL_IMPROVEMENT * b.abs().max(1e-300))
        {
            *best = Some((x.to_vec(), cost));
            true
        } else {
            false
        };
        let stalled = if improved {
            self.stalled.store(0, std::sync::atomic::Ordering::Relaxed);
            0
        } else {
            self.stalled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                + 1
        };
        if stalled > STALL_EVALUATIONS {
            // At the optimum a line search can keep probing points that
            // cannot lower the cost in floating point; stop and let the
            // caller judge convergence by the gradient.
            return Err(argmin::core::Error::msg("no further progress"));
        }
        if let Ok(mut last) = self.last.lock() {
            *last = Some((x.to_vec(), cost, gradient.clone()));
        }
        Ok((cost, gradient))
    }
}

impl<F: Fn(&[f64], &mut [f64]) -> f64> CostFunction for Problem<'_, F> {
    type Param = Vec<f64>;
    type Output = f64;

    fn cost(&self, x: &Vec<f64>) -> Result<f64, argmin::core::Error> {
        Ok(self.evaluate(x)?.0)
    }
}

impl<F: Fn(&[f64], &mut [f64]) -> f64> Gradient for Problem<'_, F> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;

    fn gradient(&self, x: &Vec<f64>) -> Result<Vec<f64>, argmin::core::Error> {
        Ok(self.evaluate(x)?.1)
    }
}

/// Minimises `cost_and_gradient` (which returns the cost and writes the
/// gradient) from `x0`. Stops when the gradient norm is below `tol_grad`,
/// the cost no longer changes, or after `max_iterations`.
pub fn minimize(
    cost_and_gradient: impl Fn(&[f64], &mut [f64]) -> f64,
    x0: Vec<f64>,
    tol_grad: f64,
    max_iterations: u64,
) -> Result<Minimum, String> {
    let best = Mutex::new(None);
    let problem = Problem {
        cost_and_gradient: &cost_and_gradient,
        last: Mutex::new(None),
        best: &best,
        stalled: std::sync::atomic::AtomicU64::new(0),
        budget: std::sync::atomic::AtomicU64::new(
            max_iterations.saturating_mul(EVALUATIONS_PER_ITERATION),
        ),
    };
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(tol_grad)
        .and_then(|s| s.with_tolerance_cost(0.0))
        .map_err(|e| e.to_string())?;
    let run = Executor::new(problem, solver)
        .configure(|state| state.param(x0).max_iters(max_iterations))
        .timer(false)
        .run();
    let result = match run {
        Ok(result) => result,
        // Out of budget (or a line search that gave up): report the best
        // point seen, not converged, rather than nothing.
        Err(_) => {
            let Some((x, cost)) = best.lock().ok().and_then(|b| b.clone()) else {
                return Err("the optimiser found no point with a finite cost".to_string());
            };
            let mut gradient = vec![0.0; x.len()];
            cost_and_gradient(&x, &mut gradient);
            let converged = norm(&gradient) < CONVERGED_GRADIENT_NORM;
            return Ok(Minimum {
                x,
                cost,
                iterations: max_iterations,
                converged,
            });
        }
    };
    let state = result.state();
    let x = state
        .get_best_param()
        .cloned()
        .ok_or_else(|| "the optimiser returned no parameters".to_string())?;
    // At the optimum the line search may stop first because the cost cannot
    // fall further in floating point; a gradient this small is converged.
    let mut gradient = vec![0.0; x.len()];
    cost_and_gradient(&x, &mut gradient);
    let gradient_norm = norm(&gradient);
    let converged = matches!(
        state.get_termination_status(),
        TerminationStatus::Terminated(
            TerminationReason::SolverConverged | TerminationReason::TargetCostReached
        )
    ) || gradient_norm < CONVERGED_GRADIENT_NORM;
    Ok(Minimum {
        x,
        cost: state.get_best_cost(),
        iterations: state.get_iter(),
        converged,
    })
}

/// Newton steps allowed per iteration before the line search gives up:
/// halving 60 times shrinks any step below rounding.
const MAX_STEP_HALVINGS: u32 = 60;

/// Newton steps shorter than this, relative to the parameters, end the
/// search.
const MIN_RELATIVE_STEP: f64 = 1e-10;

/// Largest step, in each coordinate, of one Newton iteration. Parameters
/// live on the log scale, so this is a factor of e^5 ≈ 150 at most: it keeps
/// a step from a poor Hessian far from the optimum from overflowing `exp`.
const MAX_STEP: f64 = 5.0;

/// Minimises a smooth function of a few parameters by Newton's method with
/// the exact Hessian: Levenberg damping when the Hessian is not positive
/// definite, an Armijo backtracking line search, and a step cap.
///
/// `evaluate(x, gradient, hessian)` returns the cost and writes the gradient
/// and the row-major Hessian; one data pass yields all three, and near the
/// optimum Newton needs 3 or 4 passes where L-BFGS needs 30 or more, which
/// is what makes a million-customer fit take a fraction of a second. argmin's
/// own second-order solvers are not used: `TrustRegion` has no convergence
/// test and `NewtonCG`'s inner conjugate-gradient loop has no iteration cap,
/// and a query must never spin.
///
/// Converged when the largest gradient component is below `tol_grad`, or
/// when the Newton step or its predicted decrease falls below rounding and
/// the gradient norm is below 1e-6.
pub fn minimize_newton(
    evaluate: impl Fn(&[f64], &mut [f64], &mut [f64]) -> f64,
    x0: Vec<f64>,
    tol_grad: f64,
    max_iterations: u64,
) -> Result<Minimum, String> {
    let n = x0.len();
    let mut x = x0;
    let mut gradient = vec![0.0; n];
    let mut hessian = vec![0.0; n * n];
    let mut cost = evaluate(&x, &mut gradient, &mut hessian);
    if !cost.is_finite() {
        return Err("the cost is not finite at the starting point".to_string());
    }
    let (mut trial_gradient, mut trial_hessian) = (vec![0.0; n], vec![0.0; n * n]);
    for iteration in 0..max_iterations {
        if gradient.iter().all(|g| g.abs() < tol_grad) {
            return Ok(Minimum {
                x,
                cost,
                iterations: iteration,
                converged: true,
            });
        }
        let Some(mut step) = damped_newton_step(&gradient, &hessian) else {
            return Err("the Hessian is not finite".to_string());
        };
        let largest = step.iter().fold(0.0f64, |m, s| m.max(s.abs()));
        if largest > MAX_STEP {
            step.iter_mut().for_each(|s| *s *= MAX_STEP / largest);
        }
        // A step this small means x is at the optimum to working precision;
        // rounding in sums over many rows can keep the gradient just above
        // tol_grad, and Newton would otherwise repeat the same tiny step.
        let scale = x.iter().fold(1.0f64, |m, v| m.max(v.abs()));
        if largest <= MIN_RELATIVE_STEP * scale {
            return Ok(Minimum {
                converged: norm(&gradient) < CONVERGED_GRADIENT_NORM,
                x,
                cost,
                iterations: iteration,
            });
        }
        let slope: f64 = gradient.iter().zip(&step).map(|(g, s)| g * s).sum();
        if -slope <= 4.0 * f64::EPSILON * cost.abs().max(f64::MIN_POSITIVE) {
            // The quadratic model promises less than rounding of the cost.
            return Ok(Minimum {
                converged: norm(&gradient) < CONVERGED_GRADIENT_NORM,
                x,
                cost,
                iterations: iteration,
            });
        }
        let mut t = 1.0;
        let mut accepted = false;
        for _ in 0..MAX_STEP_HALVINGS {
            if t * largest.min(MAX_STEP) <= MIN_RELATIVE_STEP * scale {
                // The line search has shrunk the step to nothing: the cost
                // cannot be lowered in floating point along it.
                break;
            }
            let trial: Vec<f64> = x.iter().zip(&step).map(|(x, s)| x + t * s).collect();
            let trial_cost = evaluate(&trial, &mut trial_gradient, &mut trial_hessian);
            if trial_cost.is_finite() && trial_cost <= cost + 1e-4 * t * slope {
                x = trial;
                cost = trial_cost;
                std::mem::swap(&mut gradient, &mut trial_gradient);
                std::mem::swap(&mut hessian, &mut trial_hessian);
                accepted = true;
                break;
            }
            t /= 2.0;
        }
        if !accepted {
            // No step along a descent direction lowers the cost in floating
            // point: this is the optimum to working precision, or a failure
            // the gradient reveals.
            let converged = norm(&gradient) < CONVERGED_GRADIENT_NORM;
            return Ok(Minimum {
                x,
                cost,
                iterations: iteration,
                converged,
            });
        }
    }
    let converged = gradient.iter().all(|g| g.abs() < tol_grad);
    Ok(Minimum {
        x,
        cost,
        iterations: max_iterations,
        converged,
    })
}

/// Solves (H + λ·I) s = -g with the smallest λ >= 0, tried in powers of ten
/// relative to H's diagonal, that makes the matrix positive definite; far
/// from the optimum this bends the step towards steepest descent.
fn damped_newton_step(gradient: &[f64], hessian: &[f64]) -> Option<Vec<f64>> {
    let n = gradient.len();
    if !gradient.iter().chain(hessian).all(|v| v.is_finite()) {
        return None;
    }
    let scale = (0..n)
        .map(|i| hessian[i * n + i].abs())
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let mut damping = 0.0;
    for _ in 0..40 {
        let mut matrix = hessian.to_vec();
        for i in 0..n {
            matrix[i * n + i] += damping;
        }
        if let Some(l) = cholesky(&mut matrix, n) {
            let negative: Vec<f64> = gradient.iter().map(|g| -g).collect();
            return Some(cholesky_solve(l, n, &negative));
        }
        damping = if damping == 0.0 {
            1e-10 * scale
        } else {
            damping * 10.0
        };
    }
    // Not even a huge shift helps: plain steepest descent.
    Some(gradient.iter().map(|g| -g / scale).collect())
}

/// In-place Cholesky factor (lower triangle) of a symmetric row-major
/// matrix; None when it is not positive definite.
fn cholesky(a: &mut [f64], n: usize) -> Option<&[f64]> {
    for j in 0..n {
        let mut d = a[j * n + j];
        for k in 0..j {
            d -= a[j * n + k] * a[j * n + k];
        }
        if d.is_nan() || d <= 0.0 {
            return None;
        }
        let d = d.sqrt();
        a[j * n + j] = d;
        for i in j + 1..n {
            let mut v = a[i * n + j];
            for k in 0..j {
                v -= a[i * n + k] * a[j * n + k];
            }
            a[i * n + j] = v / d;
        }
    }
    Some(a)
}

fn cholesky_solve(l: &[f64], n: usize, b: &[f64]) -> Vec<f64> {
    let mut y = b.to_vec();
    for i in 0..n {
        for k in 0..i {
            y[i] -= l[i * n + k] * y[k];
        }
        y[i] /= l[i * n + i];
    }
    for i in (0..n).rev() {
        for k in i + 1..n {
            y[i] -= l[k * n + i] * y[k];
        }
        y[i] /= l[i * n + i];
    }
    y
}

fn norm(v: &[f64]) -> f64 {
    v.iter().map(|g| g * g).sum::<f64>().sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_minimum_of_the_rosenbrock_function() {
        let rosenbrock = |x: &[f64], g: &mut [f64]| {
            let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
            g[0] = -2.0 * a - 400.0 * x[0] * b;
            g[1] = 200.0 * b;
            a * a + 100.0 * b * b
        };
        let m = minimize(rosenbrock, vec![-1.2, 1.0], 1e-10, 1000).expect("minimize");
        assert!(m.converged, "{m:?}");
        assert!(
            (m.x[0] - 1.0).abs() < 1e-8 && (m.x[1] - 1.0).abs() < 1e-8,
            "{m:?}"
        );
    }

    #[test]
    fn newton_finds_the_minimum_of_the_rosenbrock_function() {
        // Indefinite Hessian along the way, so damping and backtracking are
        // both exercised.
        let rosenbrock = |x: &[f64], g: &mut [f64], h: &mut [f64]| {
            let (a, b) = (1.0 - x[0], x[1] - x[0] * x[0]);
            g[0] = -2.0 * a - 400.0 * x[0] * b;
            g[1] = 200.0 * b;
            h[0] = 2.0 - 400.0 * b + 800.0 * x[0] * x[0];
            h[1] = -400.0 * x[0];
            h[2] = h[1];
            h[3] = 200.0;
            a * a + 100.0 * b * b
        };
        let m = minimize_newton(rosenbrock, vec![-1.2, 1.0], 1e-10, 200).expect("minimize");
        assert!(m.converged, "{m:?}");
        assert!(m.iterations < 40, "{m:?}");
        assert!(
            (m.x[0] - 1.0).abs() < 1e-8 && (m.x[1] - 1.0).abs() < 1e-8,
            "{m:?}"
        );
        let flat_nan = |_: &[f64], _: &mut [f64], _: &mut [f64]| f64::NAN;
        assert!(minimize_newton(flat_nan, vec![0.0], 1e-10, 10).is_err());
    }
}
