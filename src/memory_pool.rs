//! The memory pool behind `--memory-limit` and the server's per-query limit.
//!
//! It is DataFusion's `FairSpillPool` (each consumer that can spill gets an
//! equal share of what consumers that cannot spill leave), with one
//! exception: a final or single-stage hash aggregate past its share may
//! borrow memory that no consumer holds, as long as a quarter of the pool
//! stays free for the consumers that cannot spill (join build sides).
//!
//! Why only final aggregates: the fair share divides the pool by every
//! consumer registered, most of them idle or small, so a DISTINCT over tens
//! of millions of keys spills although the process uses half the limit. A
//! final aggregate that spills sorts its whole state to disk and merges it
//! back (bgnbd_summary at scale 10: 8 spills, 9.9-12.2 s; borrowing, no
//! spill, 5.1-7.1 s and 2.2 GiB peak under a 4 GiB limit). A partial
//! aggregate does not spill but emits early, and a bigger table only slows
//! it (portfolio_var: 6.6 -> 8.3 s of CPU when it borrowed); a sort given
//! more memory merges more runs at once (fraud_velocity 9.7 -> 22.7 s when
//! every spilling consumer borrowed).

use std::fmt;
use std::sync::{Mutex, MutexGuard};

use datafusion::common::{DataFusionError, Result, resources_datafusion_err};
use datafusion::execution::memory_pool::{
    MemoryConsumer, MemoryLimit, MemoryPool, MemoryReservation, human_readable_size,
};

/// Consumer-name prefixes of DataFusion's final and single-stage hash
/// aggregate streams (`enable_migration_aggregate`, DataFusion's default):
/// the consumers allowed to borrow. The test
/// `final_aggregates_borrow_and_do_not_spill` fails if DataFusion renames them.
const BORROWERS: &[&str] = &["FinalHashAggregateStream[", "SingleHashAggregateStream["];

/// The part of the pool borrowing never takes (1/4).
const KEEP_FREE_DIVISOR: usize = 4;

/// See the module documentation.
#[derive(Debug)]
pub struct AggregateBorrowingPool {
    pool_size: usize,
    state: Mutex<PoolState>,
}

#[derive(Debug, Default)]
struct PoolState {
    /// Registered consumers that can spill.
    num_spill: usize,
    /// Bytes held by consumers that can spill.
    spillable: usize,
    /// Bytes held by consumers that cannot spill.
    unspillable: usize,
}

impl AggregateBorrowingPool {
    pub fn new(pool_size: usize) -> Self {
        Self {
            pool_size,
            state: Mutex::new(PoolState::default()),
        }
    }

    fn state(&self) -> MutexGuard<'_, PoolState> {
        // The state is plain counters: a panic elsewhere cannot leave them torn.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes the locked state, so that errors raised under the lock can
    /// describe the pool without locking it again.
    fn describe(&self, state: &PoolState) -> String {
        format!(
            "memory limit {}, {} reserved, {} consumers that can spill",
            human_readable_size(self.pool_size),
            human_readable_size(state.spillable + state.unspillable),
            state.num_spill
        )
    }

    /// The error for a reservation that may not grow; `limit` says why.
    fn insufficient(
        &self,
        state: &PoolState,
        reservation: &MemoryReservation,
        additional: usize,
        limit: &str,
    ) -> DataFusionError {
        resources_datafusion_err!(
            "Failed to allocate additional {} for {} with {} already allocated: {limit} ({})",
            human_readable_size(additional),
            reservation.consumer().name(),
            human_readable_size(reservation.size()),
            self.describe(state)
        )
    }

    fn may_borrow(consumer: &MemoryConsumer) -> bool {
        BORROWERS.iter().any(|p| consumer.name().starts_with(p))
    }
}

impl MemoryPool for AggregateBorrowingPool {
    fn name(&self) -> &str {
        "aggregate-borrowing fair spill pool"
    }

    fn register(&self, consumer: &MemoryConsumer) {
        if consumer.can_spill() {
            self.state().num_spill += 1;
        }
    }

    fn unregister(&self, consumer: &MemoryConsumer) {
        if consumer.can_spill() {
            let mut state = self.state();
            state.num_spill = state.num_spill.saturating_sub(1);
        }
    }

    fn grow(&self, reservation: &MemoryReservation, additional: usize) {
        let mut state = self.state();
        if reservation.consumer().can_spill() {
            state.spillable += additional;
        } else {
            state.unspillable += additional;
        }
    }

    fn shrink(&self, reservation: &MemoryReservation, shrink: usize) {
        let mut state = self.state();
        if reservation.consumer().can_spill() {
            state.spillable = state.spillable.saturating_sub(shrink);
        } else {
            state.unspillable = state.unspillable.saturating_sub(shrink);
        }
    }

    fn try_grow(&self, reservation: &MemoryReservation, additional: usize) -> Result<()> {
        let mut state = self.state();
        let used = state.spillable + state.unspillable;
        let consumer = reservation.consumer();
        if consumer.can_spill() {
            let spill_available = self.pool_size.saturating_sub(state.unspillable);
            let share = spill_available / state.num_spill.max(1);
            let within_share = reservation.size() + additional <= share;
            let keep_free = self.pool_size / KEEP_FREE_DIVISOR;
            let borrow =
                Self::may_borrow(consumer) && used + additional + keep_free <= self.pool_size;
            if !(within_share || borrow) {
                let limit = format!(
                    "its fair share of the pool is {}",
                    human_readable_size(share)
                );
                return Err(self.insufficient(&state, reservation, additional, &limit));
            }
            state.spillable += additional;
        } else {
            let available = self.pool_size.saturating_sub(used);
            if additional > available {
                let limit = format!("{} remain available", human_readable_size(available));
                return Err(self.insufficient(&state, reservation, additional, &limit));
            }
            state.unspillable += additional;
        }
        Ok(())
    }

    fn reserved(&self) -> usize {
        let state = self.state();
        state.spillable + state.unspillable
    }

    fn memory_limit(&self) -> MemoryLimit {
        MemoryLimit::Finite(self.pool_size)
    }
}

impl fmt::Display for AggregateBorrowingPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let description = self.describe(&self.state());
        f.write_str(&description)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::execution::memory_pool::FairSpillPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::physical_plan::collect;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::*;

    const MIB: usize = 1024 * 1024;

    fn consumer(pool: &Arc<dyn MemoryPool>, name: &str, can_spill: bool) -> MemoryReservation {
        MemoryConsumer::new(name)
            .with_can_spill(can_spill)
            .register(pool)
    }

    #[test]
    fn spilling_consumers_get_an_equal_share_and_final_aggregates_borrow_idle_memory() {
        let pool: Arc<dyn MemoryPool> = Arc::new(AggregateBorrowingPool::new(100 * MIB));
        let sort = consumer(&pool, "ExternalSorter[0]", true);
        let partial = consumer(&pool, "PartialHashAggregateStream[0]", true);
        let fin = consumer(&pool, "FinalHashAggregateStream[0]", true);
        let _idle = consumer(&pool, "RepartitionExec[0]", true);

        // Four spilling consumers: a share is 25 MiB.
        sort.try_grow(25 * MIB).expect("within the share");
        assert!(sort.try_grow(1).is_err(), "a sort never borrows");
        partial.try_grow(25 * MIB).expect("within the share");
        assert!(
            partial.try_grow(1).is_err(),
            "a partial aggregate never borrows"
        );

        // 50 MiB held; the final aggregate may grow until 75 MiB are held.
        fin.try_grow(25 * MIB).expect("within the share");
        assert!(
            fin.try_grow(1).is_err(),
            "75 MiB held: a quarter stays free"
        );
        sort.shrink(10 * MIB);
        fin.try_grow(10 * MIB)
            .expect("borrows what the sort released");
        assert!(fin.try_grow(1).is_err());
        assert_eq!(pool.reserved(), 75 * MIB);

        // Consumers that cannot spill take what is left, never more.
        let build = consumer(&pool, "HashJoinInput", false);
        build.try_grow(25 * MIB).expect("the free quarter");
        assert!(build.try_grow(1).is_err(), "the pool is full");
        let message = build.try_grow(MIB).unwrap_err().to_string();
        assert!(message.contains("HashJoinInput"), "{message}");
    }

    #[test]
    fn consumers_that_cannot_spill_shrink_every_share() {
        let pool: Arc<dyn MemoryPool> = Arc::new(AggregateBorrowingPool::new(100 * MIB));
        let build = consumer(&pool, "HashJoinInput", false);
        let sort = consumer(&pool, "ExternalSorter[0]", true);
        let _other = consumer(&pool, "ExternalSorter[1]", true);
        build.try_grow(60 * MIB).expect("free pool");
        sort.try_grow(20 * MIB).expect("(100 - 60) / 2");
        assert!(sort.try_grow(1).is_err());
        drop(build);
        sort.try_grow(30 * MIB)
            .expect("the build side was released: 100 / 2");
    }

    /// Runs a DISTINCT over 400,000 keys in two partitions under `pool`;
    /// returns its rows and how often any operator spilled.
    async fn distinct_under(pool: Arc<dyn MemoryPool>) -> (usize, usize) {
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(pool)
            .build_arc()
            .expect("runtime");
        let config = SessionConfig::new().with_target_partitions(2);
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        let sql = "SELECT DISTINCT v % 400000 AS k, (v % 400000) % 3 AS j \
                   FROM generate_series(1, 1200000) AS t(v)";
        let plan = ctx
            .sql(sql)
            .await
            .expect("plan")
            .create_physical_plan()
            .await
            .expect("physical plan");
        let batches = collect(Arc::clone(&plan), ctx.task_ctx())
            .await
            .expect("run");
        let rows = batches.iter().map(|b| b.num_rows()).sum();
        let mut spills = 0;
        let mut stack = vec![plan];
        while let Some(node) = stack.pop() {
            if let Some(metrics) = node.metrics() {
                spills += metrics.spill_count().unwrap_or(0);
            }
            stack.extend(node.children().into_iter().cloned());
        }
        (rows, spills)
    }

    #[tokio::test]
    async fn final_aggregates_borrow_and_do_not_spill() {
        // 400,000 groups of two Int64 keys: about 30 MiB of aggregate state,
        // above a fair share of 64 MiB divided among the plan's consumers.
        let limit = 64 * MIB;
        let (fair_rows, fair_spills) = distinct_under(Arc::new(FairSpillPool::new(limit))).await;
        let (rows, spills) = distinct_under(Arc::new(AggregateBorrowingPool::new(limit))).await;
        assert_eq!(fair_rows, 400_000);
        assert_eq!(rows, 400_000);
        assert!(
            fair_spills > 0,
            "the fair pool should make this aggregate spill"
        );
        assert_eq!(spills, 0, "the final aggregate should borrow instead");
    }
}
