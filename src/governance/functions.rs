//! SQL functions that tell a query who runs it, and the stand-in for
//! functions an identity may not call.
//!
//! Each session registers its own instances holding the identity's values
//! (plain strings, so they serialize to Ballista). They fold to constants at
//! planning, so `region = current_user_attribute('region')` prunes Parquet
//! row groups like a literal would.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::DocSection;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, DocumentationBuilder, Expr, ScalarFunctionArgs, ScalarUDF,
    ScalarUDFImpl, Signature, TypeSignature, Volatility,
};

const DOC_SECTION: DocSection = DocSection {
    include: true,
    label: "Governance Functions",
    description: Some("Who is running the query: user, role, attributes and purpose."),
};

/// Which identity value a function returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityValue {
    User,
    Role,
    Purpose,
}

impl IdentityValue {
    fn name(self) -> &'static str {
        match self {
            Self::User => "current_user",
            Self::Role => "current_role",
            Self::Purpose => "current_purpose",
        }
    }
}

static USER_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    DocumentationBuilder::new_with_details(
        DOC_SECTION,
        "The user the session runs as: the policy user of `--user` (or of the Flight SQL login), the operating-system user (`$USER`, else `owner`) for the data owner and with `--role` alone. SQL's `CURRENT_USER`, with or without parentheses; `SESSION_USER` and `USER` are the same.",
        "current_user",
    )
    .with_sql_example("```sql\nSELECT current_user, current_role(), current_purpose();\n```")
    .build()
});

static ROLE_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    DocumentationBuilder::new_with_details(
        DOC_SECTION,
        "The policy role the session runs as; `owner` when no policy role applies.",
        "current_role()",
    )
    .with_sql_example("```sql\nSELECT current_role();\n```")
    .build()
});

static PURPOSE_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    DocumentationBuilder::new_with_details(
        DOC_SECTION,
        "The processing purpose the session declared (`--purpose`), or NULL.",
        "current_purpose()",
    )
    .with_sql_example("```sql\nSELECT current_purpose();\n```")
    .build()
});

static ATTRIBUTE_DOC: LazyLock<Documentation> = LazyLock::new(|| {
    DocumentationBuilder::new_with_details(
        DOC_SECTION,
        "An attribute of the current user from the policy file (for example region or team), or NULL if the user has none. Row filters use it: `region = current_user_attribute('region')`.",
        "current_user_attribute(name)",
    )
    .with_argument("name", "Attribute name, a constant string.")
    .with_sql_example("```sql\nSELECT current_user_attribute('region');\n```")
    .build()
});

/// `current_user()`, `current_role()`, `current_purpose()`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct IdentityFunction {
    which: IdentityValue,
    value: Option<String>,
    signature: Signature,
    aliases: Vec<String>,
}

impl IdentityFunction {
    pub fn udf(which: IdentityValue, value: Option<String>) -> ScalarUDF {
        ScalarUDF::new_from_impl(Self {
            which,
            value,
            signature: Signature::nullary(Volatility::Stable),
            // SQL's CURRENT_USER, SESSION_USER and USER take no parentheses.
            aliases: match which {
                IdentityValue::User => vec!["session_user".into(), "user".into()],
                _ => vec![],
            },
        })
    }
}

impl ScalarUDFImpl for IdentityFunction {
    fn name(&self) -> &str {
        self.which.name()
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn aliases(&self) -> &[String] {
        &self.aliases
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        Ok(ColumnarValue::Scalar(ScalarValue::Utf8(self.value.clone())))
    }

    fn simplify(&self, _args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        Ok(ExprSimplifyResult::Simplified(Expr::Literal(
            ScalarValue::Utf8(self.value.clone()),
            None,
        )))
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(match self.which {
            IdentityValue::User => &USER_DOC,
            IdentityValue::Role => &ROLE_DOC,
            IdentityValue::Purpose => &PURPOSE_DOC,
        })
    }
}

/// `current_user_attribute(name)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct UserAttribute {
    attributes: BTreeMap<String, String>,
    signature: Signature,
}

impl UserAttribute {
    pub fn udf(attributes: BTreeMap<String, String>) -> ScalarUDF {
        ScalarUDF::new_from_impl(Self {
            attributes,
            signature: Signature::string(1, Volatility::Stable),
        })
    }

    fn lookup(&self, name: Option<&str>) -> Option<String> {
        name.and_then(|n| self.attributes.get(n).cloned())
    }
}

impl ScalarUDFImpl for UserAttribute {
    fn name(&self) -> &str {
        "current_user_attribute"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Utf8)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let Some(arg) = args.args.first() else {
            return exec_err!("current_user_attribute: expected one argument 'name'");
        };
        match arg {
            ColumnarValue::Scalar(s) => Ok(ColumnarValue::Scalar(ScalarValue::Utf8(
                self.lookup(scalar_str(s).as_deref()),
            ))),
            ColumnarValue::Array(array) => {
                let names = datafusion::arrow::compute::cast(array, &DataType::Utf8)?;
                let names = datafusion::common::cast::as_string_array(&names)?;
                let values: StringArray = names.iter().map(|n| self.lookup(n)).collect();
                Ok(ColumnarValue::Array(Arc::new(values)))
            }
        }
    }

    fn simplify(&self, args: Vec<Expr>, _info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        match args.as_slice() {
            [Expr::Literal(s, _)] => Ok(ExprSimplifyResult::Simplified(Expr::Literal(
                ScalarValue::Utf8(self.lookup(scalar_str(s).as_deref())),
                None,
            ))),
            _ => Ok(ExprSimplifyResult::Original(args)),
        }
    }

    fn documentation(&self) -> Option<&Documentation> {
        Some(&ATTRIBUTE_DOC)
    }
}

fn scalar_str(value: &ScalarValue) -> Option<String> {
    match value {
        ScalarValue::Utf8(s) | ScalarValue::Utf8View(s) | ScalarValue::LargeUtf8(s) => s.clone(),
        _ => None,
    }
}

/// Stands in for a restricted function: any call is a planning error, so
/// nothing runs and the error names the role and who may call it.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct DeniedFunction {
    name: String,
    role: String,
    granted_to: Vec<String>,
    documentation: Option<Documentation>,
    signature: Signature,
}

impl DeniedFunction {
    pub fn udf(original: &ScalarUDF, role: &str, granted_to: Vec<String>) -> ScalarUDF {
        ScalarUDF::new_from_impl(Self {
            name: original.name().to_string(),
            role: role.to_string(),
            granted_to,
            documentation: original.documentation().cloned(),
            signature: Signature::new(TypeSignature::VariadicAny, Volatility::Volatile),
        })
    }
}

impl ScalarUDFImpl for DeniedFunction {
    fn name(&self) -> &str {
        &self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        let granted = if self.granted_to.is_empty() {
            "no role".to_string()
        } else {
            self.granted_to.join(", ")
        };
        plan_err!(
            "permission denied: role '{}' may not call {} (granted to: {granted})",
            self.role,
            self.name
        )
    }

    fn invoke_with_args(&self, _args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        exec_err!(
            "permission denied: role '{}' may not call {}",
            self.role,
            self.name
        )
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.documentation.as_ref()
    }
}
