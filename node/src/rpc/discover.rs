//! `rpc.discover`: the OpenRPC document of the methods the module
//! registers, built once from the module's own method list and the
//! descriptions in [`merit_api::method::ALL`] (whose param names the
//! handlers read their params by).
//!
//! The document and the module must agree: a registered method without a
//! description, or a description of a method the module does not register,
//! is an error, and the module is not built.

use std::collections::BTreeSet;

use merit_api::method::{self, Method, Need, Param, Returns, Schema};
use serde_json::{Map, Value, json};

/// The version of the OpenRPC specification the document follows.
pub const OPENRPC_VERSION: &str = "1.2.6";
/// The JSON Schema of an OpenRPC document, which `rpc.discover`'s result
/// refers to, as the specification's own examples do.
const OPENRPC_SCHEMA: &str =
    "https://raw.githubusercontent.com/open-rpc/meta-schema/master/schema.json";

/// Why the module and the descriptions disagree.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DiscoveryError {
    #[error("{method} is registered but has no description in merit_api::method::ALL")]
    Undescribed { method: String },
    #[error("{method} is described in merit_api::method::ALL but not registered")]
    Unregistered { method: &'static str },
}

/// The OpenRPC document of the methods `registered`, in name order.
pub fn document<'a>(
    registered: impl IntoIterator<Item = &'a str>,
) -> Result<Value, DiscoveryError> {
    let registered: BTreeSet<&str> = registered.into_iter().collect();
    if let Some(m) = method::ALL.iter().find(|m| !registered.contains(m.name)) {
        return Err(DiscoveryError::Unregistered { method: m.name });
    }
    let methods = registered
        .iter()
        .map(|name| {
            method::describe(name)
                .map(describe)
                .ok_or_else(|| DiscoveryError::Undescribed {
                    method: (*name).to_string(),
                })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({
        "openrpc": OPENRPC_VERSION,
        "info": {
            "title": "Merit JSON-RPC",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "The methods of a Merit node, over HTTP and WebSocket on one port. \
                Params are positional; amounts are decimal strings in token units. \
                docs/rpc.md describes every answer and error.",
        },
        "methods": methods,
    }))
}

fn describe(m: &Method) -> Value {
    json!({
        "name": m.name,
        "summary": m.summary,
        "paramStructure": "by-position",
        "params": m.params.iter().map(param).collect::<Vec<_>>(),
        "result": result(&m.result),
    })
}

/// A param as an OpenRPC content descriptor.
fn param(p: &Param) -> Value {
    json!({
        "name": p.name,
        "summary": p.summary,
        "required": p.need == Need::Required,
        "schema": schema(&p.schema),
    })
}

fn result(r: &Returns) -> Value {
    json!({
        "name": r.name,
        "summary": r.summary,
        "schema": schema(&r.schema),
    })
}

/// The JSON Schema of a [`Schema`].
fn schema(s: &Schema) -> Value {
    match s {
        Schema::String => json!({"type": "string"}),
        Schema::Integer => json!({"type": "integer", "minimum": 0}),
        Schema::Boolean => json!({"type": "boolean"}),
        Schema::Object => json!({"type": "object"}),
        Schema::ObjectOrNull => json!({"type": ["object", "null"]}),
        Schema::Options(fields) => {
            let properties: Map<String, Value> = fields
                .iter()
                .map(|f| {
                    let mut field = schema(&f.schema);
                    if let Value::Object(o) = &mut field {
                        o.insert("description".into(), f.summary.into());
                    }
                    (f.name.to_string(), field)
                })
                .collect();
            let required: Vec<&str> = fields
                .iter()
                .filter(|f| f.need == Need::Required)
                .map(|f| f.name)
                .collect();
            let mut options = json!({
                "type": "object",
                "properties": properties,
                "additionalProperties": false,
            });
            if !required.is_empty() {
                options["required"] = json!(required);
            }
            options
        }
        Schema::Array => json!({"type": "array"}),
        Schema::Strings => json!({"type": "array", "items": {"type": "string"}}),
        Schema::HeightOrLatest => json!({
            "oneOf": [{"type": "integer", "minimum": 0}, {"const": merit_api::params::LATEST}],
        }),
        Schema::OneOf(words) => json!({"type": "string", "enum": words}),
        Schema::SubscriptionId => json!({"type": ["integer", "string"]}),
        Schema::OpenRpc => json!({"$ref": OPENRPC_SCHEMA}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described() -> Vec<&'static str> {
        method::ALL.iter().map(|m| m.name).collect()
    }

    #[test]
    fn a_registered_method_without_a_description_is_an_error() {
        let mut names = described();
        names.push("merit_noDescription");
        assert_eq!(
            document(names),
            Err(DiscoveryError::Undescribed {
                method: "merit_noDescription".into()
            })
        );
    }

    #[test]
    fn a_described_method_that_is_not_registered_is_an_error() {
        let names = described().into_iter().filter(|n| *n != method::FIND_PATHS);
        assert_eq!(
            document(names),
            Err(DiscoveryError::Unregistered {
                method: method::FIND_PATHS
            })
        );
    }

    #[test]
    fn the_document_gives_each_method_its_params_in_order_and_what_it_needs() {
        let doc = document(described()).expect("every described method is registered");
        assert_eq!(doc["openrpc"], OPENRPC_VERSION);
        let methods = doc["methods"].as_array().expect("methods");
        let names: Vec<&str> = methods.iter().filter_map(|m| m["name"].as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(names, sorted, "in name order");
        assert_eq!(names.len(), method::ALL.len());
        let book = methods
            .iter()
            .find(|m| m["name"] == method::GET_ORDER_BOOK)
            .expect("merit_getOrderBook");
        assert_eq!(
            book["params"],
            json!([
                {"name": "sell", "required": true, "schema": {"type": "string"},
                 "summary": "the symbol the offers sell"},
                {"name": "buy", "required": true, "schema": {"type": "string"},
                 "summary": "the symbol the offers buy"},
                {"name": "limit", "required": false, "schema": {"type": "integer", "minimum": 0},
                 "summary": "1 to 100 offers per side, 100 by default"},
            ])
        );
        let statement = methods
            .iter()
            .find(|m| m["name"] == method::GET_STATEMENT)
            .expect("merit_getStatement");
        let options = &statement["params"][1]["schema"];
        assert_eq!(options["required"], json!(["from_ms", "to_ms"]));
        assert_eq!(options["additionalProperties"], false);
        assert_eq!(
            options["properties"]["token"],
            json!({"type": "string", "description": "only this token"})
        );
        // The address is given for one topic only: not required.
        let subscribe = methods
            .iter()
            .find(|m| m["name"] == method::SUBSCRIBE)
            .expect("merit_subscribe");
        assert_eq!(subscribe["params"][1]["name"], "address");
        assert_eq!(subscribe["params"][1]["required"], false);
        assert_eq!(
            subscribe["params"][0]["schema"]["enum"],
            json!([method::TOPIC_NEW_BLOCKS, method::TOPIC_ACCOUNT])
        );
    }
}
