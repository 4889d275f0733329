//! Parquet scans: smaller shared pieces of work ([`split_into_morsels`]), and
//! the next row group read while this one is decoded.
//!
//! Prefetching, why: DataFusion's Parquet stream asks for a row group's column chunks
//! only when it has decoded the previous row group, and waits for them, so
//! a partition's core is idle while its bytes are read. On 2 cores with 2
//! partitions, `SELECT count(*), max(customer_id), max(ts), sum(amount)`
//! over the scale-10 transactions used 0.48 s of CPU in 0.33 s (73% of two
//! cores), and ran in 0.28 s with 3 partitions, whose third stream decodes
//! while another waits. Here, once a row group's whole column chunks have
//! been read, the same columns of the next row group in the file range are
//! read by a background task, and handed over when the decoder asks for
//! exactly those ranges.
//!
//! A prediction that turns out wrong (the next row group was pruned, or the
//! decoder asks for pages rather than whole chunks) costs one read of one
//! row group's projected columns; after two wrong predictions a file's
//! reader stops prefetching. At most one row group's projected column
//! chunks per scanned file are held outside the memory pool.

use std::ops::Range;
use std::sync::Arc;

use bytes::Bytes;
use datafusion::common::Result;
use datafusion::config::ConfigOptions;
use datafusion::datasource::listing::{FileRange, PartitionedFile};
use datafusion::datasource::physical_plan::FileGroup;
use datafusion::datasource::physical_plan::parquet::{
    DefaultParquetFileReaderFactory, ParquetFileReaderFactory,
};
use datafusion::datasource::physical_plan::{FileScanConfig, FileScanConfigBuilder, ParquetSource};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::parquet::arrow::arrow_reader::ArrowReaderOptions;
use datafusion::parquet::arrow::async_reader::AsyncFileReader;
use datafusion::parquet::errors::ParquetError;
use datafusion::parquet::file::metadata::ParquetMetaData;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::{Count, ExecutionPlanMetricsSet, MetricBuilder};
use futures::FutureExt;
use futures::future::BoxFuture;
use object_store::ObjectStore;
use object_store::path::Path;
use tokio::task::JoinHandle;

use super::EngineOptions;

/// Wrong predictions after which a file's reader stops prefetching.
const MAX_MISSES: usize = 2;

/// Gives every Parquet scan smaller pieces of work to share (see
/// [`split_into_morsels`]) and a [`PrefetchingReaderFactory`] around the
/// reader factory it has (DataFusion's metadata-caching one, or its default).
#[derive(Debug)]
pub struct ParquetScanRule {
    runtime: Arc<RuntimeEnv>,
}

impl ParquetScanRule {
    pub fn new(runtime: Arc<RuntimeEnv>) -> Self {
        Self { runtime }
    }

    fn replacement(
        &self,
        node: &Arc<dyn ExecutionPlan>,
        options: &EngineOptions,
        work_stealing: bool,
    ) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        let Some(exec) = node.downcast_ref::<DataSourceExec>() else {
            return Ok(None);
        };
        let Some(config) = exec.data_source().downcast_ref::<FileScanConfig>() else {
            return Ok(None);
        };
        let Some(parquet) = config.file_source().downcast_ref::<ParquetSource>() else {
            return Ok(None);
        };
        let mut builder = FileScanConfigBuilder::from(config.clone());
        let mut changed = false;
        if options.scan_morsels
            && work_stealing
            && config.output_ordering.is_empty()
            && config.limit.is_none()
            && let Some(groups) = split_into_morsels(&config.file_groups)
        {
            builder = builder.with_file_groups(groups);
            changed = true;
        }
        let wrapped = parquet
            .parquet_file_reader_factory()
            .is_some_and(is_prefetching);
        if options.prefetch_row_groups && !wrapped {
            let store = self.runtime.object_store(&config.object_store_url)?;
            let inner = match parquet.parquet_file_reader_factory() {
                Some(existing) => Arc::clone(existing),
                None => Arc::new(DefaultParquetFileReaderFactory::new(Arc::clone(&store))) as _,
            };
            let source = parquet.clone().with_parquet_file_reader_factory(Arc::new(
                PrefetchingReaderFactory { inner, store },
            ));
            builder = builder.with_source(Arc::new(source));
            changed = true;
        }
        Ok(changed.then(|| DataSourceExec::from_data_source(builder.build()) as _))
    }
}

/// A piece of a scan is at least this large (smaller ones cost more in
/// opening and pruning than they gain in balance).
const MIN_MORSEL_BYTES: u64 = 32 * 1024 * 1024;
/// Pieces per partition.
const MORSELS_PER_PARTITION: u64 = 8;

/// The same file groups with each file range cut into equal pieces of at
/// least `total / (groups * 8)` bytes and 32 MiB (under twice that), or None
/// when no range is large enough to cut.
///
/// Why: DataFusion's partitions share one queue of unopened file ranges
/// (work stealing), but its ranges are as large as a partition's share. On
/// the scale-10 transactions (3 files, 2 partitions) the queue held ranges of
/// 20, 8, 12 and 16M rows: one partition took 20M, the other 8 + 12, and
/// whichever was first free took the last 16M alone (20.2M vs 36.0M rows
/// read; the other core idle for a third of the scan). With pieces of an
/// eighth of a partition's share, the partitions finish within one piece of
/// each other. A group keeps its files and their order, so statistics and
/// any partitioning by file stay as they were.
pub fn split_into_morsels(groups: &[FileGroup]) -> Option<Vec<FileGroup>> {
    let total: u64 = groups
        .iter()
        .flat_map(FileGroup::iter)
        .map(|f| {
            let (start, end) = f.range();
            end.saturating_sub(start)
        })
        .sum();
    let morsel =
        (total / (groups.len() as u64 * MORSELS_PER_PARTITION).max(1)).max(MIN_MORSEL_BYTES);
    let mut changed = false;
    let split = groups
        .iter()
        .map(|group| {
            let mut files = Vec::with_capacity(group.len());
            for file in group.iter() {
                let (start, end) = file.range();
                let length = end.saturating_sub(start);
                // Rounded down, so no piece is below the minimum size.
                let pieces = length / morsel;
                if pieces < 2 {
                    files.push(file.clone());
                    continue;
                }
                changed = true;
                for piece in 0..pieces {
                    let mut part = file.clone();
                    part.range = Some(FileRange {
                        start: (start + length * piece / pieces) as i64,
                        end: (start + length * (piece + 1) / pieces) as i64,
                    });
                    files.push(part);
                }
            }
            let mut new = FileGroup::new(files);
            if let Some(statistics) = group.file_statistics(None) {
                new = new.with_statistics(Arc::new(statistics.clone()));
            }
            new
        })
        .collect();
    changed.then_some(split)
}

/// Whether a factory is already ours, so a plan optimized twice is not
/// wrapped twice. The trait has no `as_any`; our `Debug` names the type.
fn is_prefetching(factory: &Arc<dyn ParquetFileReaderFactory>) -> bool {
    format!("{factory:?}").starts_with("PrefetchingReaderFactory")
}

impl PhysicalOptimizerRule for ParquetScanRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let options = super::options(config);
        if !options.prefetch_row_groups && !options.scan_morsels {
            return Ok(plan);
        }
        let work_stealing = config.execution.enable_file_stream_work_stealing;
        super::replace_physical_nodes(plan, |node| self.replacement(node, &options, work_stealing))
    }

    fn name(&self) -> &str {
        "finsight_parquet_scan"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Wraps another factory's readers in [`PrefetchingReader`]s.
#[derive(Debug)]
pub struct PrefetchingReaderFactory {
    inner: Arc<dyn ParquetFileReaderFactory>,
    store: Arc<dyn ObjectStore>,
}

impl ParquetFileReaderFactory for PrefetchingReaderFactory {
    fn create_reader(
        &self,
        partition_index: usize,
        partitioned_file: PartitionedFile,
        metadata_size_hint: Option<usize>,
        metrics: &ExecutionPlanMetricsSet,
    ) -> Result<Box<dyn AsyncFileReader + Send>> {
        let location = partitioned_file.object_meta.location.clone();
        let range = partitioned_file.range.clone();
        let inner = self.inner.create_reader(
            partition_index,
            partitioned_file,
            metadata_size_hint,
            metrics,
        )?;
        Ok(Box::new(PrefetchingReader {
            inner,
            store: Arc::clone(&self.store),
            location,
            range,
            metadata: None,
            pending: None,
            misses: 0,
            bytes_prefetched: MetricBuilder::new(metrics)
                .counter("bytes_prefetched", partition_index),
            prefetch_misses: MetricBuilder::new(metrics)
                .counter("prefetch_misses", partition_index),
        }))
    }
}

/// A read started ahead of the decoder's request.
struct Pending {
    row_group: usize,
    ranges: Vec<Range<u64>>,
    task: JoinHandle<object_store::Result<Vec<Bytes>>>,
}

/// See the module documentation.
pub struct PrefetchingReader {
    inner: Box<dyn AsyncFileReader + Send>,
    store: Arc<dyn ObjectStore>,
    location: Path,
    range: Option<FileRange>,
    metadata: Option<Arc<ParquetMetaData>>,
    pending: Option<Pending>,
    misses: usize,
    bytes_prefetched: Count,
    prefetch_misses: Count,
}

impl Drop for PrefetchingReader {
    fn drop(&mut self) {
        if let Some(pending) = self.pending.take() {
            pending.task.abort();
        }
    }
}

/// The columns of row group `row_group` whose whole chunks `ranges` are;
/// None when they are pages, lie in another row group or repeat.
fn whole_column_chunks(
    metadata: &ParquetMetaData,
    row_group: usize,
    ranges: &[Range<u64>],
) -> Option<Vec<usize>> {
    let chunks = metadata.row_groups().get(row_group)?.columns();
    let mut columns = Vec::with_capacity(ranges.len());
    for range in ranges {
        let column = chunks.iter().position(|chunk| {
            let (start, length) = chunk.byte_range();
            start == range.start && start + length == range.end
        })?;
        if columns.contains(&column) {
            return None;
        }
        columns.push(column);
    }
    (!columns.is_empty()).then_some(columns)
}

/// The row group holding byte `offset` of the file.
fn row_group_of(metadata: &ParquetMetaData, offset: u64) -> Option<usize> {
    metadata.row_groups().iter().position(|row_group| {
        row_group.columns().iter().any(|chunk| {
            let (start, length) = chunk.byte_range();
            (start..start + length).contains(&offset)
        })
    })
}

/// The same columns' chunks in the row group after `row_group`, if that row
/// group starts inside `file_range` (DataFusion's rule for which file range
/// scans a row group).
fn next_row_group_ranges(
    metadata: &ParquetMetaData,
    row_group: usize,
    columns: &[usize],
    file_range: Option<&FileRange>,
) -> Option<Vec<Range<u64>>> {
    let next = metadata.row_groups().get(row_group + 1)?;
    let first = next.columns().first()?;
    let offset = first
        .dictionary_page_offset()
        .unwrap_or_else(|| first.data_page_offset());
    if file_range.is_some_and(|r| !r.contains(offset)) {
        return None;
    }
    columns
        .iter()
        .map(|&column| {
            let (start, length) = next.columns().get(column)?.byte_range();
            Some(start..start + length)
        })
        .collect()
}

impl PrefetchingReader {
    /// After `ranges` (row group `row_group`, these columns) were read,
    /// starts reading the next row group's.
    fn prefetch_after(&mut self, row_group: usize, columns: &[usize]) {
        let Some(metadata) = &self.metadata else {
            return;
        };
        if columns.is_empty() {
            return;
        }
        let Some(ranges) = next_row_group_ranges(metadata, row_group, columns, self.range.as_ref())
        else {
            return;
        };
        let store = Arc::clone(&self.store);
        let location = self.location.clone();
        let wanted = ranges.clone();
        let task = tokio::spawn(async move { store.get_ranges(&location, &wanted).await });
        self.pending = Some(Pending {
            row_group: row_group + 1,
            ranges,
            task,
        });
    }

    async fn read(&mut self, ranges: Vec<Range<u64>>) -> Result<Vec<Bytes>, ParquetError> {
        if self.metadata.is_none() && self.misses < MAX_MISSES {
            // A reader made after the metadata was loaded (DataFusion
            // replaces the reader after reading bloom filters) gets it from
            // the factory's cache; a file it cannot describe is not prefetched.
            match self.inner.get_metadata(None).await {
                Ok(metadata) => self.metadata = Some(metadata),
                Err(_) => self.misses = MAX_MISSES,
            }
        }
        let metadata = self.metadata.as_deref();
        let current = ranges
            .first()
            .zip(metadata)
            .and_then(|(r, m)| row_group_of(m, r.start));
        let chunks = current
            .zip(metadata)
            .and_then(|(g, m)| Some((g, whole_column_chunks(m, g, &ranges)?)));
        if let Some(pending) = self.pending.take() {
            if pending.ranges == ranges {
                if let Ok(Ok(data)) = pending.task.await {
                    let total: u64 = ranges.iter().map(|r| r.end - r.start).sum();
                    self.bytes_prefetched.add(total as usize);
                    self.prefetch_after(
                        pending.row_group,
                        &chunks.map(|c| c.1).unwrap_or_default(),
                    );
                    return Ok(data);
                }
                // A failed prefetch is retried by the reader, whose error
                // (with its file name) is the one the user sees.
            } else if current.is_some_and(|g| g < pending.row_group) {
                // The rest of the current row group (columns read after the
                // filter's): the prefetch is still for the row group to come.
                self.pending = Some(pending);
            } else {
                pending.task.abort();
                self.misses += 1;
                self.prefetch_misses.add(1);
            }
        }
        let data = self.inner.get_byte_ranges(ranges).await?;
        if self.pending.is_none()
            && self.misses < MAX_MISSES
            && let Some((row_group, columns)) = chunks
        {
            self.prefetch_after(row_group, &columns);
        }
        Ok(data)
    }
}

impl AsyncFileReader for PrefetchingReader {
    fn get_bytes(&mut self, range: Range<u64>) -> BoxFuture<'_, Result<Bytes, ParquetError>> {
        self.inner.get_bytes(range)
    }

    fn get_byte_ranges(
        &mut self,
        ranges: Vec<Range<u64>>,
    ) -> BoxFuture<'_, Result<Vec<Bytes>, ParquetError>> {
        self.read(ranges).boxed()
    }

    fn get_metadata<'a>(
        &'a mut self,
        options: Option<&'a ArrowReaderOptions>,
    ) -> BoxFuture<'a, Result<Arc<ParquetMetaData>, ParquetError>> {
        async move {
            let metadata = self.inner.get_metadata(options).await?;
            self.metadata = Some(Arc::clone(&metadata));
            Ok(metadata)
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use datafusion::common::Statistics;
    use datafusion::prelude::SessionContext;
    use object_store::ObjectMeta;

    use super::*;
    use crate::engine::test_support::{exec, session};

    fn file(name: &str, size: u64, range: Option<(i64, i64)>) -> PartitionedFile {
        let mut file = PartitionedFile::from(ObjectMeta {
            location: Path::from(name),
            last_modified: chrono::Utc::now(),
            size,
            e_tag: None,
            version: None,
        });
        file.range = range.map(|(start, end)| FileRange { start, end });
        file
    }

    #[test]
    fn morsels_cover_each_range_exactly_in_order() {
        const MIB: u64 = 1024 * 1024;
        let groups = vec![
            FileGroup::new(vec![
                file("a", 432 * MIB, None),
                file("b", 432 * MIB, Some((0, 168 * MIB as i64))),
            ])
            .with_statistics(Arc::new(Statistics::new_unknown(&arrow_schema()))),
            FileGroup::new(vec![
                file("b", 432 * MIB, Some((168 * MIB as i64, 432 * MIB as i64))),
                file("c", 3 * MIB, None),
            ]),
        ];
        let split = split_into_morsels(&groups).expect("large ranges are cut");
        assert_eq!(split.len(), 2);
        // 432 + 168 + 264 + 3 = 867 MiB over 2 partitions x 8 pieces: a
        // piece is 54.2 MiB or more (under twice that), so a -> 7, b's first
        // range -> 3, its second -> 4, and c (3 MiB) stays whole.
        for (before, after) in groups.iter().zip(&split) {
            let mut pieces = after.iter().peekable();
            for original in before.iter() {
                let (start, end) = original.range();
                let mut covered = start;
                while let Some(piece) = pieces.next_if(|p| {
                    p.object_meta.location == original.object_meta.location
                        && p.range().0 == covered
                }) {
                    let (s, e) = piece.range();
                    assert!(
                        e > s && (e - s >= 54 * MIB && e - s < 109 * MIB) || e - s == 3 * MIB,
                        "{s}..{e}"
                    );
                    covered = e;
                    if covered == end {
                        break;
                    }
                }
                assert_eq!(
                    covered, end,
                    "{} covered to its end",
                    original.object_meta.location
                );
            }
            assert!(pieces.next().is_none());
        }
        assert_eq!(split[0].len(), 7 + 3);
        assert_eq!(split[1].len(), 4 + 1);
        assert!(split[0].file_statistics(None).is_some());
        assert_eq!(
            split[1].iter().last().map(|f| f.range()),
            Some((0, 3 * MIB))
        );
        // Files smaller than two pieces of the 32 MiB minimum are left alone.
        let small = vec![FileGroup::new(vec![file("s", 63 * MIB, None)])];
        assert!(split_into_morsels(&small).is_none());
    }

    fn arrow_schema() -> datafusion::arrow::datatypes::Schema {
        datafusion::arrow::datatypes::Schema::empty()
    }

    /// A Parquet file of 40,000 rows in row groups of 1,000, and a session.
    async fn scan_session(dir: &std::path::Path, on: bool) -> (SessionContext, String) {
        let ctx = session(&[
            format!("SET finsight.prefetch_row_groups = {on}"),
            format!("SET finsight.scan_morsels = {on}"),
        ])
        .await;
        let path = dir.join("rows.parquet").display().to_string();
        if !dir.join("rows.parquet").exists() {
            exec(
                &ctx,
                &format!(
                    "COPY (SELECT value AS id, value % 97 AS k, CAST(value * 7 % 1000 AS DOUBLE) AS v, \
                     'name ' || CAST(value % 13 AS VARCHAR) AS name FROM generate_series(0, 39999)) \
                     TO '{path}' STORED AS PARQUET \
                     OPTIONS ('format.max_row_group_size' '1000', 'format.bloom_filter_on_write' 'true')"
                ),
            )
            .await;
        }
        (ctx, path)
    }

    fn counter(text: &str, name: &str) -> usize {
        text.split(&format!("{name}="))
            .skip(1)
            .filter_map(|rest| {
                let number: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_digit() || *c == '.')
                    .collect();
                let scale = if rest[number.len()..].starts_with(" K") {
                    1_000.0
                } else if rest[number.len()..].starts_with(" M") {
                    1_000_000.0
                } else {
                    1.0
                };
                number.parse::<f64>().ok().map(|n| (n * scale) as usize)
            })
            .sum()
    }

    #[tokio::test]
    async fn prefetched_scans_match_plain_scans() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (on, path) = scan_session(dir.path(), true).await;
        let (off, _) = scan_session(dir.path(), false).await;
        let queries = [
            "SELECT count(*), sum(id), sum(v), min(name), max(k) FROM '{p}'",
            // Pushed-down filters: the decoder reads the filter's column,
            // then pages of the others (not whole chunks).
            "SELECT k, count(*), sum(v) FROM '{p}' WHERE id % 10 = 3 GROUP BY k ORDER BY k",
            "SELECT count(*), sum(v) FROM '{p}' WHERE id BETWEEN 12345 AND 23456",
            // Row groups pruned by statistics and bloom filters.
            "SELECT id, v FROM '{p}' WHERE id IN (5, 17005, 39999) ORDER BY id",
            "SELECT count(*) FROM '{p}' WHERE name = 'name 4'",
            "SELECT id FROM '{p}' ORDER BY id DESC LIMIT 3",
        ];
        for query in queries {
            let sql = query.replace("{p}", &path);
            assert_eq!(exec(&on, &sql).await, exec(&off, &sql).await, "{sql}");
        }
        let analyze = |ctx: SessionContext, sql: String| async move {
            exec(&ctx, &format!("EXPLAIN ANALYZE {sql}")).await
        };
        let full = format!("SELECT sum(id), sum(v) FROM '{path}'");
        let text = analyze(on.clone(), full.clone()).await;
        // 40 row groups: every one after the first of each reader prefetched.
        assert!(counter(&text, "bytes_prefetched") > 0, "{text}");
        assert_eq!(counter(&text, "prefetch_misses"), 0, "{text}");
        let text = analyze(off, full).await;
        assert_eq!(counter(&text, "bytes_prefetched"), 0, "{text}");
        // Wrong predictions stop after two per reader.
        let sparse = format!("SELECT count(*) FROM '{path}' WHERE id IN (5, 17005, 39999)");
        let text = analyze(on, sparse).await;
        assert!(counter(&text, "prefetch_misses") <= 2 * 2, "{text}");
    }
}
