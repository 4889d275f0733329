//! `haversine_km(lat1, lon1, lat2, lon2)`: great-circle distance in km.

use std::sync::LazyLock;

use datafusion::arrow::array::{Array, ArrayRef, Float64Array, Float64Builder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_float64_array;
use datafusion::common::types::{NativeType, logical_float64};
use datafusion::common::utils::take_function_args;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::scalar_doc_sections::DOC_SECTION_MATH;
use datafusion::logical_expr::{
    Coercion, ColumnarValue, Documentation, ScalarFunctionArgs, ScalarUDFImpl, Signature,
    TypeSignatureClass, Volatility,
};

/// Mean Earth radius (IUGG), the value the `haversine` Python package and
/// most fraud and branch-network tools use.
pub const EARTH_RADIUS_KM: f64 = 6371.0088;

/// SQL `haversine_km`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct HaversineKmFunc {
    signature: Signature,
}

impl Default for HaversineKmFunc {
    fn default() -> Self {
        Self::new()
    }
}

impl HaversineKmFunc {
    pub fn new() -> Self {
        let float64 = Coercion::new_implicit(
            TypeSignatureClass::Native(logical_float64()),
            vec![TypeSignatureClass::Numeric],
            NativeType::Float64,
        );
        Self {
            signature: Signature::coercible(vec![float64; 4], Volatility::Immutable),
        }
    }
}

impl ScalarUDFImpl for HaversineKmFunc {
    fn name(&self) -> &str {
        "haversine_km"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Float64)
    }

    fn is_strict(&self) -> bool {
        true
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let number_rows = args.number_rows;
        let [lat1, lon1, lat2, lon2] = take_function_args(self.name(), args.args)?;
        let all_scalar = [&lat1, &lon1, &lat2, &lon2]
            .iter()
            .all(|a| matches!(a, ColumnarValue::Scalar(_)));
        let arrays = ColumnarValue::values_to_arrays(&[lat1, lon1, lat2, lon2])?;
        let distances = haversine_km(
            as_float64_array(&arrays[0])?,
            as_float64_array(&arrays[1])?,
            as_float64_array(&arrays[2])?,
            as_float64_array(&arrays[3])?,
        )?;
        if all_scalar {
            return Ok(ColumnarValue::Scalar(ScalarValue::try_from_array(
                &distances, 0,
            )?));
        }
        debug_assert_eq!(distances.len(), number_rows);
        Ok(ColumnarValue::Array(distances))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&DOCUMENTATION)
    }
}

/// Distance between (lat1, lon1) and (lat2, lon2), in degrees, on a sphere of
/// radius [`EARTH_RADIUS_KM`]. NULL where any input is NULL or a latitude is
/// outside [-90, 90] (a data error that must not look like a distance).
fn haversine_km(
    lat1: &Float64Array,
    lon1: &Float64Array,
    lat2: &Float64Array,
    lon2: &Float64Array,
) -> Result<ArrayRef> {
    let mut out = Float64Builder::with_capacity(lat1.len());
    let no_nulls = [lat1, lon1, lat2, lon2].iter().all(|a| a.null_count() == 0);
    for i in 0..lat1.len() {
        if !no_nulls && [lat1, lon1, lat2, lon2].iter().any(|a| a.is_null(i)) {
            out.append_null();
            continue;
        }
        let (a, b) = (lat1.value(i), lat2.value(i));
        if !(-90.0..=90.0).contains(&a) || !(-90.0..=90.0).contains(&b) {
            out.append_null();
            continue;
        }
        out.append_value(distance(a, lon1.value(i), b, lon2.value(i)));
    }
    Ok(std::sync::Arc::new(out.finish()))
}

#[inline]
fn distance(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (phi1, phi2) = (lat1.to_radians(), lat2.to_radians());
    let d_phi = phi2 - phi1;
    let d_lambda = (lon2 - lon1).to_radians();
    let h = (d_phi / 2.0).sin().powi(2) + phi1.cos() * phi2.cos() * (d_lambda / 2.0).sin().powi(2);
    // min(1) guards asin against rounding just above 1 for antipodal points.
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

static DOCUMENTATION: LazyLock<Documentation> = LazyLock::new(|| {
    Documentation::builder(
        DOC_SECTION_MATH,
        "Great-circle distance in kilometres between two points given in decimal degrees, \
         by the haversine formula on a sphere of mean Earth radius 6371.0088 km. Returns NULL \
         when any argument is NULL or a latitude is outside [-90, 90]. Used for geo-velocity \
         fraud rules (impossible travel) and nearest-branch assignment.",
        "haversine_km(lat1, lon1, lat2, lon2)",
    )
    .with_sql_example(
        r#"```sql
> SELECT round(haversine_km(45.7597, 4.8422, 48.8567, 2.3508), 3) AS lyon_paris_km;
+---------------+
| lyon_paris_km |
+---------------+
| 392.217       |
+---------------+
```"#,
    )
    .with_argument("lat1", "Latitude of the first point, in degrees.")
    .with_argument("lon1", "Longitude of the first point, in degrees.")
    .with_argument("lat2", "Latitude of the second point, in degrees.")
    .with_argument("lon2", "Longitude of the second point, in degrees.")
    .build()
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lyon_to_paris_matches_the_haversine_package() {
        // The `haversine` package's README: haversine(lyon, paris) == 392.2172595594006 km.
        let d = distance(45.7597, 4.8422, 48.8567, 2.3508);
        assert!((d - 392.217_259_559_400_6).abs() < 1e-9, "{d}");
    }

    #[test]
    fn nulls_and_invalid_latitudes_give_null() -> Result<()> {
        let lat1 = Float64Array::from(vec![Some(0.0), None, Some(91.0)]);
        let lon1 = Float64Array::from(vec![Some(0.0), Some(0.0), Some(0.0)]);
        let lat2 = Float64Array::from(vec![Some(0.0), Some(1.0), Some(0.0)]);
        let lon2 = Float64Array::from(vec![Some(180.0), Some(1.0), Some(0.0)]);
        let d = haversine_km(&lat1, &lon1, &lat2, &lon2)?;
        let d = as_float64_array(&d)?;
        // Half the circumference for antipodal points on the equator.
        assert!((d.value(0) - std::f64::consts::PI * EARTH_RADIUS_KM).abs() < 1e-9);
        assert!(d.is_null(1) && d.is_null(2));
        Ok(())
    }
}
