//! Row storage for the model-fitting aggregates. A fit needs all its rows at
//! once (the optimiser makes many passes), so partial states are the rows
//! themselves, as one Float64 list per column: plain Arrow, which is what
//! Ballista ships between executors.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, Float64Array};
use datafusion::arrow::compute::{concat, filter};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::{as_float64_array, as_list_array};
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Result, ScalarValue, internal_err};
use datafusion::logical_expr::utils::format_state_name;

/// Columns of the rows an aggregate has seen.
#[derive(Debug)]
pub struct CollectedRows {
    pub columns: Vec<Vec<f64>>,
}

impl CollectedRows {
    pub fn new(width: usize) -> Self {
        Self {
            columns: vec![Vec::new(); width],
        }
    }

    pub fn len(&self) -> usize {
        self.columns.first().map_or(0, Vec::len)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The state fields: one `List<Float64>` per column.
    pub fn state_fields(name: &str, columns: &[&str]) -> Vec<FieldRef> {
        columns
            .iter()
            .map(|c| {
                Arc::new(Field::new(
                    format_state_name(name, c),
                    DataType::List(Arc::new(Field::new_list_field(DataType::Float64, true))),
                    true,
                ))
            })
            .collect()
    }

    /// Appends the rows of `values` (Float64 after coercion) where every
    /// column is non-NULL, after `check` accepts the row.
    pub fn append(
        &mut self,
        function: &str,
        values: &[ArrayRef],
        mut check: impl FnMut(&[f64]) -> Result<()>,
    ) -> Result<()> {
        expect_columns(function, "input", self.columns.len(), values.len())?;
        let arrays = values
            .iter()
            .map(|v| as_float64_array(v))
            .collect::<Result<Vec<_>>>()?;
        let mut row = vec![0.0; arrays.len()];
        if arrays.iter().all(|a| a.null_count() == 0) {
            // No NULLs (the usual case): copy whole columns, then check the
            // new rows; a rejected row ends the query, so drop the batch.
            let start = self.len();
            for (column, array) in self.columns.iter_mut().zip(&arrays) {
                column.extend_from_slice(array.values());
            }
            for i in start..self.len() {
                for (slot, column) in row.iter_mut().zip(&self.columns) {
                    *slot = column[i];
                }
                if let Err(e) = check(&row) {
                    self.columns.iter_mut().for_each(|c| c.truncate(start));
                    return Err(e);
                }
            }
            return Ok(());
        }
        for i in 0..arrays.first().map_or(0, |a| a.len()) {
            if arrays.iter().any(|a| a.is_null(i)) {
                continue;
            }
            for (slot, array) in row.iter_mut().zip(&arrays) {
                *slot = array.value(i);
            }
            check(&row)?;
            for (column, value) in self.columns.iter_mut().zip(&row) {
                column.push(*value);
            }
        }
        Ok(())
    }

    pub fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(self
            .columns
            .iter()
            .map(|c| {
                let values: ArrayRef = Arc::new(Float64Array::from(c.clone()));
                SingleRowListArrayBuilder::new(values).build_list_scalar()
            })
            .collect())
    }

    pub fn merge(&mut self, function: &str, states: &[ArrayRef]) -> Result<()> {
        expect_columns(function, "state", self.columns.len(), states.len())?;
        for (column, state) in self.columns.iter_mut().zip(states) {
            let lists = as_list_array(state)?;
            for i in 0..lists.len() {
                if lists.is_null(i) {
                    continue;
                }
                let values = lists.value(i);
                let values = as_float64_array(&values)?;
                if values.null_count() == 0 {
                    column.extend_from_slice(values.values());
                } else {
                    column.extend(values.iter().flatten());
                }
            }
        }
        Ok(())
    }

    pub fn size(&self) -> usize {
        size_of_val(self) + self.columns.iter().map(|c| c.capacity() * 8).sum::<usize>()
    }
}

/// Rows kept as the Arrow arrays they arrived in, for fits that read their
/// rows many times: copying every batch into growing vectors (and again at
/// each merge) cost more than the fit itself on the page faults of the
/// copies. The state is the same one Float64 list per column as
/// `CollectedRows`'.
#[derive(Debug)]
pub struct ArrowRows {
    columns: Vec<Vec<Float64Array>>,
    rows: usize,
}

impl ArrowRows {
    pub fn new(width: usize) -> Self {
        Self {
            columns: vec![Vec::new(); width],
            rows: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The chunks of one column, in the same order for every column.
    pub fn slices(&self, column: usize) -> Vec<&[f64]> {
        self.columns
            .get(column)
            .map_or_else(Vec::new, |c| c.iter().map(|a| &a.values()[..]).collect())
    }

    /// Keeps the rows of `values` (Float64 after coercion) where every
    /// column is non-NULL, after `check` accepts them (one slice per column).
    pub fn append(
        &mut self,
        function: &str,
        values: &[ArrayRef],
        check: impl FnOnce(&[&[f64]]) -> Result<()>,
    ) -> Result<()> {
        let mut arrays = self.float_arrays(function, values)?;
        if arrays.iter().any(|a| a.null_count() > 0) {
            let complete: BooleanArray = (0..arrays.first().map_or(0, Array::len))
                .map(|i| Some(arrays.iter().all(|a| a.is_valid(i))))
                .collect();
            for array in &mut arrays {
                *array = as_float64_array(&filter(array, &complete)?)?.clone();
            }
        }
        let slices: Vec<&[f64]> = arrays.iter().map(|a| &a.values()[..]).collect();
        check(&slices)?;
        self.push(arrays);
        Ok(())
    }

    pub fn state(&self) -> Result<Vec<ScalarValue>> {
        self.columns
            .iter()
            .map(|chunks| {
                let values: ArrayRef = match chunks.as_slice() {
                    [] => Arc::new(Float64Array::from(Vec::<f64>::new())),
                    [one] => Arc::new(one.clone()),
                    _ => concat(&chunks.iter().map(|a| a as &dyn Array).collect::<Vec<_>>())?,
                };
                Ok(SingleRowListArrayBuilder::new(values).build_list_scalar())
            })
            .collect()
    }

    pub fn merge(&mut self, function: &str, states: &[ArrayRef]) -> Result<()> {
        expect_columns(function, "state", self.columns.len(), states.len())?;
        let lists = states
            .iter()
            .map(|s| as_list_array(s))
            .collect::<Result<Vec<_>>>()?;
        for row in 0..lists.first().map_or(0, |l| l.len()) {
            if lists.iter().any(|l| l.is_null(row)) {
                continue;
            }
            let values: Vec<ArrayRef> = lists.iter().map(|l| l.value(row)).collect();
            let arrays = self.float_arrays(function, &values)?;
            if arrays
                .iter()
                .any(|a| a.null_count() > 0 || a.len() != arrays[0].len())
            {
                return internal_err!("{function}: a partial state with NULLs or uneven columns");
            }
            self.push(arrays);
        }
        Ok(())
    }

    pub fn size(&self) -> usize {
        size_of_val(self)
            + self
                .columns
                .iter()
                .flatten()
                .map(Array::get_array_memory_size)
                .sum::<usize>()
    }

    /// The rows copied into one vector per column, for computations that
    /// want them contiguous (and may reorder them).
    pub fn to_collected(&self) -> CollectedRows {
        let columns = self
            .columns
            .iter()
            .map(|chunks| {
                let mut column = Vec::with_capacity(self.rows);
                for chunk in chunks {
                    column.extend_from_slice(chunk.values());
                }
                column
            })
            .collect();
        CollectedRows { columns }
    }

    fn float_arrays(&self, function: &str, values: &[ArrayRef]) -> Result<Vec<Float64Array>> {
        expect_columns(function, "input", self.columns.len(), values.len())?;
        values
            .iter()
            .map(|v| Ok(as_float64_array(v)?.clone()))
            .collect()
    }

    fn push(&mut self, arrays: Vec<Float64Array>) {
        self.rows += arrays.first().map_or(0, Array::len);
        for (column, array) in self.columns.iter_mut().zip(arrays) {
            if !array.is_empty() {
                column.push(array);
            }
        }
    }
}

/// An internal error unless an aggregate got the columns it keeps.
fn expect_columns(function: &str, kind: &str, expected: usize, got: usize) -> Result<()> {
    if got != expected {
        return internal_err!("{function}: expected {expected} {kind} columns, got {got}");
    }
    Ok(())
}

/// Checks one row (all columns non-NULL) before it is kept.
pub type RowCheck = fn(&'static str, &[f64]) -> Result<()>;

/// The result of an aggregate over all its rows.
pub type RowsFinish = Box<dyn Fn(&mut CollectedRows) -> Result<ScalarValue> + Send + Sync>;

/// An accumulator that keeps its rows' first `width` columns (later
/// arguments are constants read when it was made) and computes its result
/// from them at the end. The rows are kept as they arrive (`ArrowRows`)
/// and copied into contiguous columns once, when the result is computed:
/// before, each batch was copied into growing vectors, copied again for
/// the partial state and again at the merge (monotonic_edges on 2M rows:
/// 65 ms of its 136 ms collecting).
pub struct RowsAccumulator {
    function: &'static str,
    rows: ArrowRows,
    check: RowCheck,
    finish: RowsFinish,
}

impl RowsAccumulator {
    pub fn new(function: &'static str, width: usize, check: RowCheck, finish: RowsFinish) -> Self {
        Self {
            function,
            rows: ArrowRows::new(width),
            check,
            finish,
        }
    }
}

impl std::fmt::Debug for RowsAccumulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RowsAccumulator")
            .field("function", &self.function)
            .field("rows", &self.rows.len())
            .finish()
    }
}

impl datafusion::logical_expr::Accumulator for RowsAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (function, check) = (self.function, self.check);
        let width = self.rows.columns.len().min(values.len());
        self.rows.append(function, &values[..width], |columns| {
            let mut row = vec![0.0; columns.len()];
            for i in 0..columns.first().map_or(0, |c| c.len()) {
                for (slot, column) in row.iter_mut().zip(columns) {
                    *slot = column[i];
                }
                check(function, &row)?;
            }
            Ok(())
        })
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.rows.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.rows.merge(self.function, states)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        (self.finish)(&mut self.rows.to_collected())
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.rows.size()
    }
}
