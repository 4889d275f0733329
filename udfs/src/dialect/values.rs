//! The values an ordered-set aggregate has seen, of any type, kept as Arrow
//! arrays; the partial state is one list of them (plain Arrow, as Ballista
//! ships between executors).

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::compute::{concat, filter, is_not_null};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::as_list_array;
use datafusion::common::utils::SingleRowListArrayBuilder;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::Accumulator;
use datafusion::logical_expr::utils::format_state_name;

#[derive(Debug)]
pub struct Values {
    pub data_type: DataType,
    arrays: Vec<ArrayRef>,
}

impl Values {
    pub fn new(data_type: DataType) -> Self {
        Self {
            data_type,
            arrays: Vec::new(),
        }
    }

    pub fn state_fields(name: &str, function: &str, data_type: &DataType) -> Vec<FieldRef> {
        vec![Arc::new(Field::new(
            format_state_name(name, function),
            DataType::List(Arc::new(Field::new_list_field(data_type.clone(), true))),
            true,
        ))]
    }

    /// Keeps the non-NULL values of `values`.
    pub fn append(&mut self, values: &ArrayRef) -> Result<()> {
        if values.null_count() == values.len() {
            return Ok(());
        }
        let kept = if values.null_count() > 0 {
            filter(values, &is_not_null(values)?)?
        } else {
            Arc::clone(values)
        };
        self.arrays.push(kept);
        Ok(())
    }

    /// Every value seen, as one array.
    pub fn all(&self) -> Result<ArrayRef> {
        if self.arrays.is_empty() {
            return Ok(datafusion::arrow::array::new_empty_array(&self.data_type));
        }
        let parts: Vec<&dyn Array> = self.arrays.iter().map(|a| a.as_ref()).collect();
        Ok(concat(&parts)?)
    }

    pub fn state(&self) -> Result<Vec<ScalarValue>> {
        let list = SingleRowListArrayBuilder::new(self.all()?).build_list_scalar();
        Ok(vec![list])
    }

    pub fn merge(&mut self, states: &[ArrayRef]) -> Result<()> {
        let lists = as_list_array(&states[0])?;
        for list in lists.iter().flatten() {
            self.append(&list)?;
        }
        Ok(())
    }

    pub fn size(&self) -> usize {
        size_of_val(self)
            + self
                .arrays
                .iter()
                .map(|a| a.get_array_memory_size())
                .sum::<usize>()
    }
}

/// An aggregate over all of a group's values: `finish` computes the result
/// from them once the group is complete.
pub struct ValuesAccumulator<F> {
    values: Values,
    finish: F,
}

impl<F> ValuesAccumulator<F>
where
    F: Fn(&ArrayRef) -> Result<ScalarValue> + Send + Sync + 'static,
{
    pub fn new(data_type: DataType, finish: F) -> Self {
        Self {
            values: Values::new(data_type),
            finish,
        }
    }
}

impl<F> std::fmt::Debug for ValuesAccumulator<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValuesAccumulator")
            .field("values", &self.values)
            .finish()
    }
}

impl<F> Accumulator for ValuesAccumulator<F>
where
    F: Fn(&ArrayRef) -> Result<ScalarValue> + Send + Sync + 'static,
{
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.values.append(&values[0])
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        self.values.state()
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.values.merge(states)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        (self.finish)(&self.values.all()?)
    }

    fn size(&self) -> usize {
        self.values.size()
    }
}
