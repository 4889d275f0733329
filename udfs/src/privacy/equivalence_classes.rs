//! One aggregate implementation for the re-identification risk measures
//! over equivalence classes (rows sharing every quasi-identifier value):
//! `k_anonymity` (class sizes) and `l_diversity` (distinct sensitive values
//! per class). Quasi-identifiers may be of any type and any number; rows are
//! keyed by Arrow's row format, and NULL is a value like any other (a NULL
//! postcode singles people out as well as a rare one).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Int64Array, ListArray, StructArray,
    UInt64Array,
};
use datafusion::arrow::buffer::OffsetBuffer;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef, Fields, UInt64Type};
use datafusion::arrow::row::{RowConverter, SortField};
use datafusion::common::{Result, ScalarValue, exec_err, internal_err, plan_err};
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::utils::format_state_name;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, Documentation, Signature, Volatility,
};

use crate::kernel::constant_argument;

/// Which measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClassMeasure {
    KAnonymity,
    LDiversity,
}

impl ClassMeasure {
    pub fn name(self) -> &'static str {
        match self {
            Self::KAnonymity => "k_anonymity",
            Self::LDiversity => "l_diversity",
        }
    }

    /// The threshold argument's name.
    fn threshold(self) -> &'static str {
        match self {
            Self::KAnonymity => "k",
            Self::LDiversity => "l",
        }
    }

    /// Arguments before the quasi-identifiers.
    fn leading(self) -> usize {
        match self {
            Self::KAnonymity => 1,
            Self::LDiversity => 2,
        }
    }

    fn usage(self) -> &'static str {
        match self {
            Self::KAnonymity => "k_anonymity(k, quasi_identifier [, ...])",
            Self::LDiversity => "l_diversity(l, sensitive, quasi_identifier [, ...])",
        }
    }

    fn documentation(self) -> &'static Documentation {
        match self {
            Self::KAnonymity => &super::k_anonymity::DOCUMENTATION,
            Self::LDiversity => &super::l_diversity::DOCUMENTATION,
        }
    }

    /// The result's fields.
    pub fn result_fields(self) -> Fields {
        let t = self.threshold();
        let int = |name: &str| Field::new(name, DataType::Int64, true);
        match self {
            Self::KAnonymity => Fields::from(vec![
                int(t),
                int("records"),
                int("classes"),
                int("smallest_class"),
                int("classes_below_k"),
                int("records_below_k"),
                Field::new("satisfied", DataType::Boolean, true),
            ]),
            Self::LDiversity => Fields::from(vec![
                int(t),
                int("records"),
                int("classes"),
                int("min_distinct"),
                int("classes_below_l"),
                int("records_below_l"),
                Field::new("satisfied", DataType::Boolean, true),
            ]),
        }
    }
}

/// SQL `k_anonymity` / `l_diversity`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct EquivalenceClassFunc {
    measure: ClassMeasure,
    signature: Signature,
}

impl EquivalenceClassFunc {
    pub fn new(measure: ClassMeasure) -> Self {
        Self {
            measure,
            signature: Signature::user_defined(Volatility::Immutable),
        }
    }
}

pub fn udaf(measure: ClassMeasure) -> AggregateUDF {
    AggregateUDF::new_from_impl(EquivalenceClassFunc::new(measure))
}

impl AggregateUDFImpl for EquivalenceClassFunc {
    fn name(&self) -> &str {
        self.measure.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        let name = self.measure.name();
        let leading = self.measure.leading();
        if arg_types.len() <= leading {
            return plan_err!(
                "{name} expects {}: at least one quasi-identifier column, got {} arguments",
                self.measure.usage(),
                arg_types.len()
            );
        }
        let threshold = &arg_types[0];
        if !(threshold.is_integer() || threshold.is_null()) {
            return plan_err!(
                "{name}: argument '{}' must be a whole number, got {threshold}",
                self.measure.threshold()
            );
        }
        let mut types = vec![DataType::Int64];
        types.extend(arg_types[1..].iter().map(|t| match t {
            DataType::Null => DataType::Utf8,
            t => t.clone(),
        }));
        Ok(types)
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Struct(self.measure.result_fields()))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        let list = |item: DataType| DataType::List(Arc::new(Field::new_list_field(item, true)));
        Ok(vec![
            Arc::new(Field::new(
                format_state_name(args.name, "classes"),
                list(DataType::Binary),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "counts"),
                list(DataType::UInt64),
                true,
            )),
            Arc::new(Field::new(
                format_state_name(args.name, "pairs"),
                list(DataType::Binary),
                true,
            )),
        ])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        let name = self.measure.name();
        let threshold = match constant_argument(name, self.measure.threshold(), &args, 0)? {
            ScalarValue::Int64(Some(v)) if v >= 1 => v,
            other => {
                return plan_err!(
                    "{name}: argument '{}' must be a whole number >= 1, got {other}",
                    self.measure.threshold()
                );
            }
        };
        let leading = self.measure.leading();
        let field_type = |i: usize| -> Result<DataType> {
            match args.expr_fields.get(i) {
                Some(f) => Ok(f.data_type().clone()),
                None => internal_err!("{name}: missing argument {i}"),
            }
        };
        let qi_fields = (leading..args.exprs.len())
            .map(|i| field_type(i).map(SortField::new))
            .collect::<Result<Vec<_>>>()?;
        let sensitive = match self.measure {
            ClassMeasure::KAnonymity => None,
            ClassMeasure::LDiversity => {
                Some(RowConverter::new(vec![SortField::new(field_type(1)?)])?)
            }
        };
        Ok(Box::new(ClassAccumulator {
            measure: self.measure,
            threshold,
            quasi_identifiers: RowConverter::new(qi_fields)?,
            sensitive,
            classes: HashMap::new(),
            bytes: 0,
        }))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(self.measure.documentation())
    }
}

#[derive(Debug, Default)]
struct Class {
    count: u64,
    /// Distinct sensitive values, row-encoded (l_diversity only).
    sensitive: HashSet<Box<[u8]>>,
}

#[derive(Debug)]
struct ClassAccumulator {
    measure: ClassMeasure,
    threshold: i64,
    quasi_identifiers: RowConverter,
    sensitive: Option<RowConverter>,
    classes: HashMap<Box<[u8]>, Class>,
    /// Bytes held by keys and sensitive values, for `size`.
    bytes: usize,
}

impl ClassAccumulator {
    fn class(&mut self, key: &[u8]) -> &mut Class {
        if !self.classes.contains_key(key) {
            self.bytes += key.len() + 64;
            self.classes.insert(key.into(), Class::default());
        }
        match self.classes.get_mut(key) {
            Some(class) => class,
            None => unreachable!("inserted above"),
        }
    }
}

fn one_row_list(values: ArrayRef) -> ScalarValue {
    let field = Arc::new(Field::new_list_field(values.data_type().clone(), true));
    let offsets = OffsetBuffer::from_lengths([values.len()]);
    ScalarValue::List(Arc::new(ListArray::new(field, offsets, values, None)))
}

impl Accumulator for ClassAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let leading = self.measure.leading();
        if values.len() <= leading {
            return internal_err!("{}: missing quasi-identifiers", self.measure.name());
        }
        let keys = self.quasi_identifiers.convert_columns(&values[leading..])?;
        let sensitive = match &self.sensitive {
            Some(converter) => Some(converter.convert_columns(&values[1..2])?),
            None => None,
        };
        for i in 0..keys.num_rows() {
            let key = keys.row(i);
            let value: Option<Box<[u8]>> = sensitive.as_ref().map(|s| s.row(i).as_ref().into());
            let class = self.class(key.as_ref());
            class.count += 1;
            if let Some(value) = value {
                let added = value.len();
                if class.sensitive.insert(value) {
                    self.bytes += added + 16;
                }
            }
        }
        Ok(())
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let keys = BinaryArray::from_iter_values(self.classes.keys());
        let counts = UInt64Array::from_iter_values(self.classes.values().map(|c| c.count));
        // A pair is the class key's length (u32 LE), the key, then one value.
        let pairs: Vec<Vec<u8>> = self
            .classes
            .iter()
            .flat_map(|(key, class)| {
                class.sensitive.iter().map(move |value| {
                    let mut pair = Vec::with_capacity(4 + key.len() + value.len());
                    pair.extend_from_slice(&(key.len() as u32).to_le_bytes());
                    pair.extend_from_slice(key);
                    pair.extend_from_slice(value);
                    pair
                })
            })
            .collect();
        let pairs = BinaryArray::from_iter_values(pairs);
        Ok(vec![
            one_row_list(Arc::new(keys)),
            one_row_list(Arc::new(counts)),
            one_row_list(Arc::new(pairs)),
        ])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let name = self.measure.name();
        let [keys, counts, pairs] = states else {
            return internal_err!("{name}: expected 3 state columns");
        };
        let (keys, counts, pairs) = (
            keys.as_list::<i32>(),
            counts.as_list::<i32>(),
            pairs.as_list::<i32>(),
        );
        for row in 0..keys.len() {
            if keys.is_null(row) {
                continue;
            }
            let row_keys = keys.value(row);
            let row_counts = counts.value(row);
            let (row_keys, row_counts) = (
                row_keys.as_binary::<i32>(),
                row_counts.as_primitive::<UInt64Type>(),
            );
            for (key, count) in row_keys.iter().zip(row_counts.iter()) {
                let (Some(key), Some(count)) = (key, count) else {
                    return exec_err!("{name}: corrupt state (NULL class)");
                };
                self.class(key).count += count;
            }
            if pairs.is_null(row) {
                continue;
            }
            let row_pairs = pairs.value(row);
            for pair in row_pairs.as_binary::<i32>().iter().flatten() {
                let Some(length) = pair
                    .get(..4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                else {
                    return exec_err!("{name}: corrupt state (short pair)");
                };
                let Some((key, value)) = pair
                    .get(4..)
                    .and_then(|rest| (rest.len() >= length).then(|| rest.split_at(length)))
                else {
                    return exec_err!("{name}: corrupt state (pair length)");
                };
                let added = value.len();
                if self.class(key).sensitive.insert(value.into()) {
                    self.bytes += added + 16;
                }
            }
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let threshold = self.threshold as u64;
        let records: u64 = self.classes.values().map(|c| c.count).sum();
        let measure = |c: &Class| match self.measure {
            ClassMeasure::KAnonymity => c.count,
            ClassMeasure::LDiversity => c.sensitive.len() as u64,
        };
        let smallest = self.classes.values().map(measure).min();
        let below: Vec<&Class> = self
            .classes
            .values()
            .filter(|c| measure(c) < threshold)
            .collect();
        let records_below: u64 = below.iter().map(|c| c.count).sum();
        let int =
            |v: Option<u64>| -> ArrayRef { Arc::new(Int64Array::from(vec![v.map(|v| v as i64)])) };
        let columns: Vec<ArrayRef> = vec![
            int(Some(threshold)),
            int(Some(records)),
            int(Some(self.classes.len() as u64)),
            int(smallest),
            int(Some(below.len() as u64)),
            int(Some(records_below)),
            // Vacuously true for no rows would hide a broken filter: NULL.
            Arc::new(BooleanArray::from(vec![smallest.map(|s| s >= threshold)])),
        ];
        let result = StructArray::try_new(self.measure.result_fields(), columns, None)?;
        Ok(ScalarValue::Struct(Arc::new(result)))
    }

    fn size(&self) -> usize {
        size_of_val(self) + self.bytes + self.quasi_identifiers.size()
    }
}
