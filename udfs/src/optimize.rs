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
}
