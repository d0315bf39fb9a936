//! The positional params of one call, read one by one. Every failure is a
//! -32602 whose `data.reason` names the param: jsonrpsee's own param
//! parsing (`Params::one`, `Params::sequence`), whose errors carry the
//! decoder's message as a bare string, is not used.

use jsonrpsee::types::{ErrorObjectOwned, Params};
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::bad_params;

/// The params of one call, and the names the method gives them.
#[derive(Debug)]
pub(super) struct Args {
    method: &'static str,
    names: &'static [&'static str],
    values: std::vec::IntoIter<Value>,
    next: usize,
}

impl Args {
    /// Reads the params of a call to `method`, which takes the params
    /// `names` in that order (the last ones may be optional). Refuses
    /// params that are not an array, and more params than `names`.
    pub(super) fn new(
        method: &'static str,
        names: &'static [&'static str],
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

    /// The next param's name and value, if given.
    fn take(&mut self) -> (&'static str, Option<Value>) {
        let name = self.names.get(self.next).copied().unwrap_or("param");
        self.next += 1;
        (name, self.values.next())
    }

    /// The next param, which must be given.
    pub(super) fn required<T: DeserializeOwned>(&mut self) -> Result<T, ErrorObjectOwned> {
        match self.take() {
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
        match self.take() {
            (_, None | Some(Value::Null)) => Ok(None),
            (name, Some(value)) => serde_json::from_value(value)
                .map(Some)
                .map_err(|e| bad_params(format!("{name}: {e}"))),
        }
    }
}

/// How a method is called, for reasons: `merit_getHistory(address, cursor, limit)`.
fn signature(method: &str, names: &[&str]) -> String {
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

    const NAMES: &[&str] = &["address", "limit"];

    fn args(json: Option<&str>) -> Result<Args, ErrorObjectOwned> {
        Args::new("m", NAMES, &Params::new(json))
    }

    #[test]
    fn every_failure_names_the_param_in_a_reason() {
        let mut a = args(Some(r#"["x", 5]"#)).unwrap();
        assert_eq!(a.required::<String>().unwrap(), "x");
        assert_eq!(a.optional::<u64>().unwrap(), Some(5));
        assert_eq!(a.optional::<u64>().unwrap(), None, "nothing is left");
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
            reason(Args::new("n", &[], &Params::new(Some("[1]"))).unwrap_err()),
            "n takes no params, got 1"
        );
        let deep = format!("{}{}", "[".repeat(1_000), "]".repeat(1_000));
        assert!(reason(args(Some(&deep)).unwrap_err()).starts_with("params are not JSON"));
    }
}
