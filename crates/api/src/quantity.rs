//! A Kubernetes resource quantity as users write it (`"250m"`, `"0.5"`, `"512Mi"`, or `2`).

use std::borrow::Cow;
use std::fmt;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// The quantity grammar of the Kubernetes API server (`resource.Quantity`), as kubebuilder
/// publishes it for CRDs. It only checks the spelling; Ferry's validation checks the amount.
pub const QUANTITY_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

/// A resource quantity, kept exactly as written.
///
/// Like the API server's int-or-string quantities it accepts a string or a whole number
/// (`cpu: 2`); a YAML float (`cpu: 0.5`) is refused by the API server, so it is refused here too,
/// with a hint to quote it. Parsing the amount is `ferry_core`'s job.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Quantity(pub String);

impl Quantity {
    /// The quantity as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Quantity {
    fn from(s: &str) -> Self {
        Self(s.to_owned())
    }
}

impl Serialize for Quantity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct QuantityVisitor;

        impl Visitor<'_> for QuantityVisitor {
            type Value = Quantity;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a quantity: a string such as \"250m\" or \"512Mi\", or a whole number")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity(v.to_owned()))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Quantity, E> {
                Err(E::custom(format_args!(
                    "a quantity must be a string or a whole number, as the Kubernetes API server \
                     requires; write it in quotes: \"{v}\""
                )))
            }
        }

        deserializer.deserialize_any(QuantityVisitor)
    }
}

impl JsonSchema for Quantity {
    fn schema_name() -> Cow<'static, str> {
        "Quantity".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        // No `anyOf`: the API server supplies integer-or-string itself for
        // `x-kubernetes-int-or-string`, and kube's structural rewrite would empty an explicit one.
        json_schema!({
            "pattern": QUANTITY_PATTERN,
            "x-kubernetes-int-or-string": true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_strings_and_whole_numbers() {
        let q: Quantity = serde_json::from_str("\"250m\"").unwrap();
        assert_eq!(q.as_str(), "250m");
        let q: Quantity = serde_json::from_str("2").unwrap();
        assert_eq!(q.as_str(), "2");
    }

    #[test]
    fn refuses_floats_with_a_hint_to_quote_them() {
        let err = serde_json::from_str::<Quantity>("0.5")
            .unwrap_err()
            .to_string();
        assert!(err.contains("\"0.5\""), "{err}");
    }

    #[test]
    fn serializes_as_the_string_written() {
        assert_eq!(
            serde_json::to_string(&Quantity::from("1Gi")).unwrap(),
            "\"1Gi\""
        );
    }
}
