//! The positional params of one call, read one by one. Every failure is a
//! -32602 whose `data.reason` names the param: jsonrpsee's own param
//! parsing (`Params::one`, `Params::sequence`), whose errors carry the
//! decoder's message as a bare string, is not used.

use jsonrpsee::types::{ErrorObjectOwned, Params};
use merit_api::method::{self, Need, Param};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::{bad_params, internal};

/// The params of one call, and the names the method gives them.
#[derive(Debug)]
pub(super) struct Args {
    method: &'static str,
    names: &'static [Param],
    values: std::vec::IntoIter<Value>,
    next: usize,
}

impl Args {
    /// Reads the params of a call to `method`, by the params
    /// [`method::ALL`] gives it (the same the discovery document lists).
    pub(super) fn new(method: &'static str, params: &Params<'_>) -> Result<Args, ErrorObjectOwned> {
        let described = method::describe(method)
            .ok_or_else(|| internal(format!("{method} is not described")))?;
        Args::with(method, described.params, params)
    }

    /// Reads the params of a call to `method`, which takes the params
    /// `names` in that order (the last ones may be optional): another form
    /// of the method than [`method::ALL`] describes. Refuses params that
    /// are not an array, and more params than `names`.
    pub(super) fn with(
        method: &'static str,
        names: &'static [Param],
        params: &Params<'_>,
    ) -> Result<Args, ErrorObjectOwned> {
        let values = match params.as_str() {
            None => Vec::new(),
            Some(json) => match serde_json::from_str::<Value>(json) {
                Ok(Value::Array(values)) => values,
                Ok(Value::Null) => Vec::new(),
                Ok(_) => {
                    return Err(bad_params(format!(
                        "params must be an array: {}",
                        signature(method, names)
                    )));
                }
                Err(e) => return Err(bad_params(format!("params are not JSON: {e}"))),
            },
        };
        if names.is_empty() && !values.is_empty() {
            return Err(bad_params(format!(
                "{method} takes no params, got {}",
                values.len()
            )));
        }
        if values.len() > names.len() {
            return Err(bad_params(format!(
                "{} params given, at most {}: {}",
                values.len(),
                names.len(),
                signature(method, names)
            )));
        }
        Ok(Args {
            method,
            names,
            values: values.into_iter(),
            next: 0,
        })
    }

    /// The next param's name and value, if given. Asserts (in debug
    /// builds) that the method's description does not say the param is
    /// `never`: a handler reads a param as its description says.
    fn take(&mut self, never: Need) -> (&'static str, Option<Value>) {
        let param = self.names.get(self.next);
        debug_assert!(
            param.is_some_and(|p| p.need != never),
            "{} reads param {} as its description does not say: {param:?}",
            self.method,
            self.next
        );
        self.next += 1;
        (param.map_or("param", |p| p.name), self.values.next())
    }

    /// The next param, which must be given.
    pub(super) fn required<T: DeserializeOwned>(&mut self) -> Result<T, ErrorObjectOwned> {
        match self.take(Need::Optional) {
            (name, None) => Err(bad_params(format!(
                "{name} is missing: {}",
                signature(self.method, self.names)
            ))),
            (name, Some(value)) => {
                serde_json::from_value(value).map_err(|e| bad_params(format!("{name}: {e}")))
            }
        }
    }

    /// The next param; `None` when it is not given or `null`.
    pub(super) fn optional<T: DeserializeOwned>(&mut self) -> Result<Option<T>, ErrorObjectOwned> {
        match self.take(Need::Required) {
            (_, None | Some(Value::Null)) => Ok(None),
            (name, Some(value)) => serde_json::from_value(value)
                .map(Some)
                .map_err(|e| bad_params(format!("{name}: {e}"))),
        }
    }
}

/// How a method is called, for reasons: `merit_getHistory(address, cursor, limit)`.
fn signature(method: &str, names: &[Param]) -> String {
    let names: Vec<&str> = names.iter().map(|p| p.name).collect();
    format!("{method}({})", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use merit_api::InvalidParamsData;

    fn reason(e: ErrorObjectOwned) -> String {
        assert_eq!(e.code(), merit_api::error::INVALID_PARAMS);
        let data: InvalidParamsData =
            serde_json::from_str(e.data().expect("data").get()).expect("{reason}");
        assert_eq!(
            e.message(),
            format!("{}{}", merit_api::error::INVALID_PARAMS_PREFIX, data.reason)
        );
        data.reason
    }

    const NAMES: &[Param] = &[
        Param::required("address", method::Schema::String, "an address"),
        Param::optional("limit", method::Schema::Integer, "a limit"),
    ];

    fn args(json: Option<&str>) -> Result<Args, ErrorObjectOwned> {
        Args::with("m", NAMES, &Params::new(json))
    }

    #[test]
    fn every_failure_names_the_param_in_a_reason() {
        let mut a = args(Some(r#"["x", 5]"#)).unwrap();
        assert_eq!(a.required::<String>().unwrap(), "x");
        assert_eq!(a.optional::<u64>().unwrap(), Some(5));
        let mut a = args(Some("[]")).unwrap();
        assert_eq!(
            reason(a.required::<String>().unwrap_err()),
            "address is missing: m(address, limit)"
        );
        let mut a = args(None).unwrap();
        assert_eq!(
            reason(a.required::<String>().unwrap_err()),
            "address is missing: m(address, limit)"
        );
        let mut a = args(Some("[7]")).unwrap();
        assert_eq!(
            reason(a.required::<String>().unwrap_err()),
            "address: invalid type: integer `7`, expected a string"
        );
        let mut a = args(Some(r#"["x", null]"#)).unwrap();
        a.required::<String>().unwrap();
        assert_eq!(a.optional::<u64>().unwrap(), None);
        let mut a = args(Some(r#"["x", "y"]"#)).unwrap();
        a.required::<String>().unwrap();
        assert_eq!(
            reason(a.optional::<u64>().unwrap_err()),
            "limit: invalid type: string \"y\", expected u64"
        );
        assert_eq!(
            reason(args(Some(r#"["x", 1, 2]"#)).unwrap_err()),
            "3 params given, at most 2: m(address, limit)"
        );
        assert_eq!(
            reason(args(Some(r#"{"address": "x"}"#)).unwrap_err()),
            "params must be an array: m(address, limit)"
        );
        assert_eq!(
            reason(Args::with("n", &[], &Params::new(Some("[1]"))).unwrap_err()),
            "n takes no params, got 1"
        );
        assert_eq!(
            reason(Args::new(method::STATUS, &Params::new(Some("[1]"))).unwrap_err()),
            "merit_status takes no params, got 1"
        );
        let mut a = Args::new(method::GET_ORDER_BOOK, &Params::new(Some("[]"))).unwrap();
        assert_eq!(
            reason(a.required::<String>().unwrap_err()),
            "sell is missing: merit_getOrderBook(sell, buy, limit)",
            "the names are the method's description's"
        );
        let e = Args::new("merit_undescribed", &Params::new(None)).unwrap_err();
        assert_eq!(e.code(), merit_api::error::INTERNAL);
        let deep = format!("{}{}", "[".repeat(1_000), "]".repeat(1_000));
        assert!(reason(args(Some(&deep)).unwrap_err()).starts_with("params are not JSON"));
    }

    /// A handler that reads an optional param as required, or a required
    /// one as optional, contradicts the discovery document: the first
    /// call that does so fails in tests.
    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "m reads param 1 as its description does not say")]
    fn a_handler_reads_its_params_as_described() {
        let mut a = args(Some(r#"["x", 5]"#)).unwrap();
        a.required::<String>().unwrap();
        let _ = a.required::<u64>();
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "m reads param 2 as its description does not say")]
    fn a_handler_reads_no_param_its_description_leaves_out() {
        let mut a = args(Some(r#"["x"]"#)).unwrap();
        a.required::<String>().unwrap();
        let _ = a.optional::<u64>();
        let _ = a.optional::<u64>();
    }
}
