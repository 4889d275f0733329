//! Group indices for grouping keys that take few distinct values, for
//! [`super::RunPartialAggregateExec`] when its input is not clustered.
//!
//! Why: bank reports group by segment, region, product, channel or
//! merchant category, columns of a handful to a few thousand values. A hash
//! aggregate hashes every row's keys and compares them with the group's
//! stored keys column by column; on strings (Utf8View) that was 38% of the
//! CPU of spend per segment and merchant category over 56M transactions.
//! Here each key column maps its values to small codes through a table
//! keyed by the value itself as a 16-byte word (a primitive's bytes, or a
//! string's whole Arrow view when it has at most 12 bytes); a longer string
//! is looked up by its length and first four bytes, then its bytes are
//! compared with the stored value's. The codes of a row's columns, packed
//! into one word, give its group. The aggregates are then updated through
//! DataFusion's own `GroupsAccumulator`s, so states and results are theirs.
//!
//! A column with more than [`MAX_COLUMN_VALUES`] values or more than
//! [`MAX_GROUPS`] groups makes [`GroupCoder::group_indices`] give up; the
//! operator then emits what it holds and hands the rest of its input to
//! DataFusion's hash aggregate.

use std::collections::HashMap;

use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, GenericByteArray, GenericByteViewArray, UInt32Array,
};
use datafusion::arrow::compute::{concat, take};
use datafusion::arrow::datatypes::{ByteArrayType, ByteViewType, DataType};
use datafusion::common::Result;

/// Values per key column; codes are packed 16 bits per column.
pub(super) const MAX_COLUMN_VALUES: usize = 1 << 16;
/// Key columns whose codes fit in one packed word.
pub(super) const MAX_COLUMNS: usize = 4;
/// Groups held before giving the input to the hash table.
pub(super) const MAX_GROUPS: usize = 1 << 16;

/// Whether a key column of this type can be coded.
pub(super) fn codable(data_type: &DataType) -> bool {
    use DataType::*;
    match data_type {
        Boolean | Utf8 | LargeUtf8 | Binary | LargeBinary | Utf8View | BinaryView => true,
        // Equal values are equal bytes: integers, temporal types, decimals.
        // Floats are not (-0.0 and 0.0, NaNs), and keep the hash table.
        Float16 | Float32 | Float64 => false,
        other => other.is_primitive() && other.primitive_width().is_some_and(|w| w <= 16),
    }
}

const EMPTY: u32 = u32::MAX;
/// Views remembered per batch.
const BATCH_VIEWS: usize = 512;

/// Open addressing from 128-bit keys to codes: a handful to thousands of
/// entries, probed once per row, so it must stay small and branch-light.
struct CodeTable {
    keys: Vec<u128>,
    codes: Vec<u32>,
    shift: u32,
    len: usize,
}

impl CodeTable {
    fn new() -> Self {
        Self::with_bits(8)
    }

    fn with_bits(bits: u32) -> Self {
        Self {
            keys: vec![0; 1 << bits],
            codes: vec![EMPTY; 1 << bits],
            shift: 64 - bits,
            len: 0,
        }
    }

    #[inline]
    fn slot(&self, key: u128) -> usize {
        let folded = (key as u64) ^ ((key >> 64) as u64).rotate_left(29);
        (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    #[inline]
    fn get(&self, key: u128) -> Option<u32> {
        let mask = self.codes.len() - 1;
        let mut slot = self.slot(key);
        loop {
            let code = self.codes[slot];
            if code == EMPTY {
                return None;
            }
            if self.keys[slot] == key {
                return Some(code);
            }
            slot = (slot + 1) & mask;
        }
    }

    /// Empties the table, keeping its size.
    fn clear(&mut self) {
        if self.len > 0 {
            self.codes.fill(EMPTY);
            self.len = 0;
        }
    }

    /// Adds a key known to be absent.
    fn insert(&mut self, key: u128, code: u32) {
        // At most an eighth full: a lookup then nearly always ends at its
        // first slot, a branch the CPU predicts.
        if (self.len + 1) * 8 > self.codes.len() {
            let mut bigger = Self::with_bits(64 - self.shift + 1);
            for (key, code) in self.keys.iter().zip(&self.codes) {
                if *code != EMPTY {
                    bigger.insert(*key, *code);
                }
            }
            *self = bigger;
        }
        let mask = self.codes.len() - 1;
        let mut slot = self.slot(key);
        while self.codes[slot] != EMPTY {
            slot = (slot + 1) & mask;
        }
        self.keys[slot] = key;
        self.codes[slot] = code;
        self.len += 1;
    }
}

/// The codes of one key column's values.
struct ColumnCoder {
    /// Primitives and booleans by their bytes; strings of at most 12 bytes
    /// by their whole view (length and bytes, as Arrow lays them out).
    exact: CodeTable,
    /// Longer strings by length and first four bytes (the low half of the
    /// view): the first such string's code; `long` holds every one.
    prefixes: CodeTable,
    long: HashMap<Vec<u8>, u32>,
    /// Per code, the bytes of a long string `prefixes` points to (to
    /// confirm a prefix match); empty for other codes.
    long_bytes: Vec<Vec<u8>>,
    /// A view array's codes by whole view, for the current batch only (a
    /// long string's view points into the batch's buffers). Parquet
    /// dictionary pages decode into views of one buffer, so a long string
    /// repeats its view and skips the byte comparison.
    batch_views: CodeTable,
    null_code: Option<u32>,
    /// Distinct values, in code order, in pieces (one per batch that
    /// brought new ones).
    values: Vec<ArrayRef>,
    count: usize,
}

/// Why coding stopped: the key domain is not small after all.
pub(super) struct TooManyValues;

impl ColumnCoder {
    fn new() -> Self {
        Self {
            exact: CodeTable::new(),
            prefixes: CodeTable::new(),
            long: HashMap::new(),
            long_bytes: Vec::new(),
            batch_views: CodeTable::new(),
            null_code: None,
            values: Vec::new(),
            count: 0,
        }
    }

    /// Appends each row's code to `codes`; rows bringing a new value get the
    /// next code, and their values are kept.
    fn code(
        &mut self,
        array: &ArrayRef,
        codes: &mut Vec<u32>,
    ) -> Result<Result<(), TooManyValues>> {
        let mut new_rows = Vec::new();
        let outcome = match array.data_type() {
            DataType::Utf8View => self.code_views(array.as_string_view(), codes, &mut new_rows),
            DataType::BinaryView => self.code_views(array.as_binary_view(), codes, &mut new_rows),
            DataType::Utf8 => self.code_bytes(array.as_string::<i32>(), codes, &mut new_rows),
            DataType::LargeUtf8 => self.code_bytes(array.as_string::<i64>(), codes, &mut new_rows),
            DataType::Binary => self.code_bytes(array.as_binary::<i32>(), codes, &mut new_rows),
            DataType::LargeBinary => {
                self.code_bytes(array.as_binary::<i64>(), codes, &mut new_rows)
            }
            DataType::Boolean => {
                let booleans = array.as_boolean();
                self.code_each(array, codes, &mut new_rows, |i| booleans.value(i) as u128)
            }
            _ => self.code_primitive(array, codes, &mut new_rows),
        };
        if !new_rows.is_empty() {
            let rows = UInt32Array::from(new_rows);
            let mut piece = take(array.as_ref(), &rows, None)?;
            // A view array's few new values would otherwise keep the
            // batch's whole string buffers alive.
            match piece.data_type() {
                DataType::Utf8View => piece = std::sync::Arc::new(piece.as_string_view().gc()),
                DataType::BinaryView => piece = std::sync::Arc::new(piece.as_binary_view().gc()),
                _ => {}
            }
            self.values.push(piece);
        }
        Ok(outcome)
    }

    fn next_code(&mut self, row: usize, new_rows: &mut Vec<u32>) -> Result<u32, TooManyValues> {
        if self.count >= MAX_COLUMN_VALUES {
            return Err(TooManyValues);
        }
        new_rows.push(row as u32);
        self.count += 1;
        Ok((self.count - 1) as u32)
    }

    fn null(&mut self, row: usize, new_rows: &mut Vec<u32>) -> Result<u32, TooManyValues> {
        match self.null_code {
            Some(code) => Ok(code),
            None => {
                let code = self.next_code(row, new_rows)?;
                self.null_code = Some(code);
                Ok(code)
            }
        }
    }

    /// Codes values known by an exact 128-bit key.
    fn code_each(
        &mut self,
        array: &ArrayRef,
        codes: &mut Vec<u32>,
        new_rows: &mut Vec<u32>,
        key: impl Fn(usize) -> u128,
    ) -> Result<(), TooManyValues> {
        let nulls = array.logical_nulls();
        for row in 0..array.len() {
            if nulls.as_ref().is_some_and(|n| n.is_null(row)) {
                codes.push(self.null(row, new_rows)?);
                continue;
            }
            let code = self.exact_code(key(row), row, new_rows)?;
            codes.push(code);
        }
        Ok(())
    }

    fn code_primitive(
        &mut self,
        array: &ArrayRef,
        codes: &mut Vec<u32>,
        new_rows: &mut Vec<u32>,
    ) -> Result<(), TooManyValues> {
        let data = array.to_data();
        let width = array.data_type().primitive_width().unwrap_or(0);
        let Some(buffer) = data.buffers().first() else {
            return Err(TooManyValues);
        };
        let start = data.offset() * width;
        let bytes = &buffer.as_slice()[start..start + array.len() * width];
        macro_rules! by_width {
            ($w:literal, $t:ty) => {
                self.code_each(array, codes, new_rows, |i| {
                    let mut word = [0u8; $w];
                    word.copy_from_slice(&bytes[i * $w..(i + 1) * $w]);
                    <$t>::from_le_bytes(word) as u128
                })
            };
        }
        match width {
            1 => by_width!(1, u8),
            2 => by_width!(2, u16),
            4 => by_width!(4, u32),
            8 => by_width!(8, u64),
            16 => by_width!(16, u128),
            _ => Err(TooManyValues),
        }
    }

    fn code_views<T: ByteViewType>(
        &mut self,
        array: &GenericByteViewArray<T>,
        codes: &mut Vec<u32>,
        new_rows: &mut Vec<u32>,
    ) -> Result<(), TooManyValues> {
        let views = array.views();
        let nulls = array.logical_nulls();
        self.batch_views.clear();
        for (row, view) in views.iter().enumerate() {
            if nulls.as_ref().is_some_and(|n| n.is_null(row)) {
                codes.push(self.null(row, new_rows)?);
                continue;
            }
            if let Some(code) = self.batch_views.get(*view) {
                codes.push(code);
                continue;
            }
            let code = self.string_code(*view, || array.value(row).as_ref(), row, new_rows)?;
            // Bounded: views that do not repeat (strings copied row by row)
            // would fill it for nothing.
            if self.batch_views.len < BATCH_VIEWS {
                self.batch_views.insert(*view, code);
            }
            codes.push(code);
        }
        Ok(())
    }

    fn code_bytes<T: ByteArrayType>(
        &mut self,
        array: &GenericByteArray<T>,
        codes: &mut Vec<u32>,
        new_rows: &mut Vec<u32>,
    ) -> Result<(), TooManyValues> {
        let nulls = array.logical_nulls();
        for row in 0..array.len() {
            if nulls.as_ref().is_some_and(|n| n.is_null(row)) {
                codes.push(self.null(row, new_rows)?);
                continue;
            }
            let value: &[u8] = array.value(row).as_ref();
            // The view Arrow would make: length and bytes, or length and
            // first four bytes.
            let view = datafusion::arrow::array::make_view(value, 0, 0);
            codes.push(self.string_code(view, || value, row, new_rows)?);
        }
        Ok(())
    }

    /// The code of the value whose exact 128-bit key is `key`.
    #[inline]
    fn exact_code(
        &mut self,
        key: u128,
        row: usize,
        new_rows: &mut Vec<u32>,
    ) -> Result<u32, TooManyValues> {
        if let Some(code) = self.exact.get(key) {
            return Ok(code);
        }
        let code = self.next_code(row, new_rows)?;
        self.exact.insert(key, code);
        Ok(code)
    }

    /// The code of a string by its view: the whole view up to 12 bytes,
    /// else `value`'s bytes (read only then).
    #[inline]
    fn string_code<'a>(
        &mut self,
        view: u128,
        value: impl FnOnce() -> &'a [u8],
        row: usize,
        new_rows: &mut Vec<u32>,
    ) -> Result<u32, TooManyValues> {
        if (view as u32) <= 12 {
            self.exact_code(view, row, new_rows)
        } else {
            self.long_code(view as u64, value(), row, new_rows)
        }
    }

    /// A string over 12 bytes: `prefix` is its length and first 4 bytes.
    #[inline]
    fn long_code(
        &mut self,
        prefix: u64,
        value: &[u8],
        row: usize,
        new_rows: &mut Vec<u32>,
    ) -> Result<u32, TooManyValues> {
        if let Some(code) = self.prefixes.get(prefix as u128)
            && self
                .long_bytes
                .get(code as usize)
                .is_some_and(|b| b.as_slice() == value)
        {
            return Ok(code);
        }
        if let Some(code) = self.long.get(value) {
            return Ok(*code);
        }
        let code = self.next_code(row, new_rows)?;
        self.long.insert(value.to_vec(), code);
        if self.prefixes.get(prefix as u128).is_none() {
            self.prefixes.insert(prefix as u128, code);
            self.long_bytes.resize(code as usize + 1, Vec::new());
            self.long_bytes[code as usize] = value.to_vec();
        }
        Ok(code)
    }

    /// Every value, in code order.
    fn values(&mut self) -> Result<ArrayRef> {
        if self.values.len() > 1 {
            let pieces: Vec<&dyn Array> = self.values.iter().map(|p| p.as_ref()).collect();
            let all = concat(&pieces)?;
            self.values = vec![all];
        }
        match self.values.first() {
            Some(values) => Ok(std::sync::Arc::clone(values)),
            None => datafusion::common::internal_err!("group codes: no values yet"),
        }
    }
}

/// Bits of packed codes below which groups are found by direct indexing.
const DENSE_BITS: u32 = 16;

/// Groups of rows by the codes of their key columns.
pub(super) struct GroupCoder {
    columns: Vec<ColumnCoder>,
    /// Per column, the bits its codes take in `dense` (0: not dense yet).
    bits: Vec<u32>,
    /// Group by packed codes (`bits` per column) while they fit in
    /// [`DENSE_BITS`]: no hashing or probing per row.
    dense: Vec<u32>,
    /// Packed codes (16 bits per column) to group beyond that.
    groups: CodeTable,
    /// Per column, each group's code.
    group_codes: Vec<Vec<u32>>,
    scratch: Vec<Vec<u32>>,
}

impl GroupCoder {
    pub(super) fn new(columns: usize) -> Self {
        Self {
            columns: (0..columns).map(|_| ColumnCoder::new()).collect(),
            bits: vec![0; columns],
            dense: Vec::new(),
            groups: CodeTable::new(),
            group_codes: vec![Vec::new(); columns],
            scratch: vec![Vec::new(); columns],
        }
    }

    pub(super) fn group_count(&self) -> usize {
        self.group_codes.first().map_or(0, Vec::len)
    }

    /// Sets `indices` to each row's group. On `Err(TooManyValues)` the
    /// groups before this batch are intact (their codes and values), and
    /// the coder must not be used again.
    pub(super) fn group_indices(
        &mut self,
        keys: &[ArrayRef],
        indices: &mut Vec<usize>,
    ) -> Result<Result<(), TooManyValues>> {
        indices.clear();
        for ((column, key), codes) in self.columns.iter_mut().zip(keys).zip(&mut self.scratch) {
            codes.clear();
            if let Err(e) = column.code(key, codes)? {
                return Ok(Err(e));
            }
        }
        if let [codes] = self.scratch.as_slice() {
            // One column: the code is the group.
            let known = self.group_codes[0].len() as u32;
            indices.extend(codes.iter().map(|c| *c as usize));
            // At most MAX_COLUMN_VALUES (= MAX_GROUPS) codes.
            let values = self.columns[0].count as u32;
            self.group_codes[0].extend(known..values);
            return Ok(Ok(()));
        }
        let rows = keys.first().map_or(0, |k| k.len());
        if self.fit_dense() {
            let bits = self.bits.clone();
            for row in 0..rows {
                let mut slot = 0usize;
                for (codes, bits) in self.scratch.iter().zip(&bits) {
                    slot = (slot << bits) | codes[row] as usize;
                }
                let mut group = self.dense[slot];
                if group == EMPTY {
                    group = self.group_count() as u32;
                    for (codes, group_codes) in self.scratch.iter().zip(&mut self.group_codes) {
                        group_codes.push(codes[row]);
                    }
                    self.dense[slot] = group;
                }
                indices.push(group as usize);
            }
            return Ok(Ok(()));
        }
        for row in 0..rows {
            let mut packed = 0u128;
            for codes in &self.scratch {
                packed = (packed << 16) | codes[row] as u128;
            }
            let group = match self.groups.get(packed) {
                Some(group) => group,
                None => {
                    let group = self.group_count();
                    if group >= MAX_GROUPS {
                        return Ok(Err(TooManyValues));
                    }
                    for (codes, group_codes) in self.scratch.iter().zip(&mut self.group_codes) {
                        group_codes.push(codes[row]);
                    }
                    self.groups.insert(packed, group as u32);
                    group as u32
                }
            };
            indices.push(group as usize);
        }
        Ok(Ok(()))
    }

    /// Whether the columns' codes, with room for this batch's, pack into
    /// [`DENSE_BITS`]; lays the dense table out again when a column needs
    /// more bits.
    fn fit_dense(&mut self) -> bool {
        let needed: Vec<u32> = self
            .columns
            .iter()
            .map(|c| usize::BITS - c.count.saturating_sub(1).leading_zeros())
            .map(|b| b.max(1))
            .collect();
        if needed.iter().sum::<u32>() > DENSE_BITS {
            if !self.dense.is_empty() {
                // Leaving the dense layout: the hash table takes every group.
                self.dense = Vec::new();
                for group in 0..self.group_count() {
                    let mut packed = 0u128;
                    for group_codes in &self.group_codes {
                        packed = (packed << 16) | group_codes[group] as u128;
                    }
                    self.groups.insert(packed, group as u32);
                }
            }
            return false;
        }
        if needed.iter().zip(&self.bits).any(|(n, b)| n > b) {
            self.bits = needed;
            self.dense = vec![EMPTY; 1 << self.bits.iter().sum::<u32>()];
            for group in 0..self.group_count() {
                let mut slot = 0usize;
                for (group_codes, bits) in self.group_codes.iter().zip(&self.bits) {
                    slot = (slot << bits) | group_codes[group] as usize;
                }
                self.dense[slot] = group as u32;
            }
        }
        true
    }

    /// The key columns of the first `groups` groups.
    pub(super) fn keys(&mut self, groups: usize) -> Result<Vec<ArrayRef>> {
        let mut keys = Vec::with_capacity(self.columns.len());
        for (column, group_codes) in self.columns.iter_mut().zip(&self.group_codes) {
            let values = column.values()?;
            let codes = UInt32Array::from(group_codes[..groups].to_vec());
            keys.push(take(values.as_ref(), &codes, None)?);
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    //! The coder's groups against the keys themselves: two rows share a
    //! group exactly when their keys are equal (NULL equal to NULL), the
    //! emitted keys are each group's key, and too many values stop it.

    use std::collections::HashMap;
    use std::sync::Arc;

    use datafusion::arrow::array::{
        ArrayRef, BooleanArray, Date32Array, Decimal128Array, Int64Array, LargeStringArray,
        StringArray, StringViewArray,
    };
    use datafusion::arrow::util::display::array_value_to_string;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;

    fn key_text(keys: &[ArrayRef], row: usize) -> Vec<String> {
        keys.iter()
            .map(|k| match k.is_null(row) {
                true => "<null>".to_string(),
                false => array_value_to_string(k, row).expect("display"),
            })
            .collect()
    }

    /// Codes `batches` and checks the groups against the keys' text.
    fn check(batches: &[Vec<ArrayRef>]) -> usize {
        let mut coder = GroupCoder::new(batches[0].len());
        let mut seen: HashMap<Vec<String>, usize> = HashMap::new();
        let mut indices = Vec::new();
        for keys in batches {
            assert!(
                coder
                    .group_indices(keys, &mut indices)
                    .expect("code")
                    .is_ok()
            );
            assert_eq!(indices.len(), keys[0].len());
            for (row, group) in indices.iter().enumerate() {
                let text = key_text(keys, row);
                let known = *seen.entry(text.clone()).or_insert(*group);
                assert_eq!(known, *group, "row {row} {text:?}");
            }
        }
        let groups = coder.group_count();
        assert_eq!(groups, seen.len());
        let emitted = coder.keys(groups).expect("keys");
        for (text, group) in &seen {
            assert_eq!(&key_text(&emitted, *group), text);
        }
        groups
    }

    fn words(rng: &mut ChaCha8Rng, rows: usize, nulls: bool) -> Vec<Option<String>> {
        // Short and long strings, long ones sharing length and first four
        // bytes (the prefix table's collisions).
        let choices = [
            "mass",
            "affluent",
            "",
            "exactly12chr",
            "cash_withdrawal",
            "cash_withdrawaX",
            "cash_deposit_atm",
            "online_retail",
            "entertainment",
        ];
        (0..rows)
            .map(|_| match nulls && rng.random_range(0..20) == 0 {
                true => None,
                false => Some(choices[rng.random_range(0..choices.len())].to_string()),
            })
            .collect()
    }

    #[test]
    fn groups_follow_key_equality_for_every_column_type() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let mut batches = Vec::new();
        for _ in 0..4 {
            let rows = 3000;
            let text = words(&mut rng, rows, true);
            let view: ArrayRef = Arc::new(StringViewArray::from(text.clone()));
            let plain: ArrayRef = Arc::new(StringArray::from(words(&mut rng, rows, false)));
            let large: ArrayRef = Arc::new(LargeStringArray::from(text));
            let ints: ArrayRef = Arc::new(Int64Array::from_iter(
                (0..rows).map(|_| Some(rng.random_range(-3i64..3) * (1 << 40))),
            ));
            batches.push(vec![view, plain, large, ints]);
        }
        assert!(check(&batches) > 100);
        // One column: the code is the group.
        let one: Vec<Vec<ArrayRef>> = batches.iter().map(|b| vec![Arc::clone(&b[0])]).collect();
        assert_eq!(check(&one), 10);
        let mut typed = Vec::new();
        for _ in 0..3 {
            let rows = 2000;
            let flags: ArrayRef =
                Arc::new(BooleanArray::from_iter((0..rows).map(|_| {
                    [None, Some(true), Some(false)][rng.random_range(0..3)]
                })));
            let dates: ArrayRef = Arc::new(Date32Array::from_iter(
                (0..rows).map(|_| Some(rng.random_range(20000..20030))),
            ));
            let amounts: ArrayRef = Arc::new(
                Decimal128Array::from_iter((0..rows).map(|_| Some(rng.random_range(0i128..5))))
                    .with_precision_and_scale(20, 2)
                    .expect("decimal"),
            );
            typed.push(vec![flags, dates, amounts]);
        }
        assert_eq!(check(&typed), 3 * 30 * 5);
    }

    #[test]
    fn a_sliced_view_array_keeps_its_rows() {
        let array: ArrayRef = Arc::new(StringViewArray::from(vec![
            "aaaaaaaaaaaaaaaaaaaa",
            "bbbbbbbbbbbbbbbbbbbb",
            "aaaaaaaaaaaaaaaaaaaa",
            "short",
        ]));
        let ints: ArrayRef = Arc::new(Int64Array::from(vec![1, 2, 3, 4]));
        assert_eq!(check(&[vec![array.slice(1, 3), ints.slice(1, 3)]]), 3);
        assert_eq!(
            check(&[vec![array.slice(1, 3)], vec![array.slice(0, 2)]]),
            3
        );
    }

    #[test]
    fn wide_domains_leave_the_dense_table_then_give_up() {
        // 300 x 300 codes need 18 bits: the hash table of packed codes.
        let (a, b): (Vec<i64>, Vec<i64>) = (0..60_000).map(|i| (i % 300, (i / 300) % 300)).unzip();
        let small: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(
                a[..1000].iter().map(|v| v % 10).collect::<Vec<_>>(),
            )),
            Arc::new(Int64Array::from(b[..1000].to_vec())),
        ];
        let wide: Vec<ArrayRef> = vec![
            Arc::new(Int64Array::from(a.clone())),
            Arc::new(Int64Array::from(b.clone())),
        ];
        assert_eq!(check(&[small, wide]), 60_000);

        let mut coder = GroupCoder::new(1);
        let mut indices = Vec::new();
        let few: ArrayRef = Arc::new(Int64Array::from_iter_values((0..10_000).map(|i| i % 5)));
        assert!(
            coder
                .group_indices(&[few], &mut indices)
                .expect("code")
                .is_ok()
        );
        let many: ArrayRef = Arc::new(Int64Array::from_iter_values(
            0..(MAX_COLUMN_VALUES as i64 + 1),
        ));
        assert!(
            coder
                .group_indices(&[many], &mut indices)
                .expect("code")
                .is_err()
        );
        // The groups from before the failed batch are still whole.
        let keys = coder.keys(5).expect("keys");
        assert_eq!(keys[0].len(), 5);
    }
}
