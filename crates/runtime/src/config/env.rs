//! The environment layer: `SF2C_<SERVICE>_<KEY>` variables parsed into typed settings.

use std::fmt::Display;
use std::str::FromStr;

use super::ConfigError;

/// The environment as one service sees it: a prefix (`SF2C_VALIDATOR_`) and a lookup, which is
/// the process environment in production and a closure in tests.
pub struct Env<'a> {
    prefix: &'a str,
    lookup: &'a dyn Fn(&str) -> Option<String>,
}

impl<'a> Env<'a> {
    pub fn new(prefix: &'a str, lookup: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Env { prefix, lookup }
    }

    /// The full variable name of `key`, e.g. `SF2C_VALIDATOR_LISTEN` for `LISTEN`.
    pub fn var_name(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    /// The raw value of `key`'s variable, if set.
    pub fn raw(&self, key: &str) -> Option<String> {
        (self.lookup)(&self.var_name(key))
    }

    /// `key`'s value parsed by `parse`, whose error text becomes the [`ConfigError::Env`] detail.
    pub fn parse_with<T>(
        &self,
        key: &str,
        parse: impl FnOnce(&str) -> Result<T, String>,
    ) -> Result<Option<T>, ConfigError> {
        let Some(value) = self.raw(key) else {
            return Ok(None);
        };
        match parse(&value) {
            Ok(parsed) => Ok(Some(parsed)),
            Err(detail) => Err(ConfigError::Env {
                var: self.var_name(key),
                value,
                detail,
            }),
        }
    }

    /// `key`'s value parsed with [`FromStr`].
    pub fn value<T>(&self, key: &str) -> Result<Option<T>, ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        self.parse_with(key, |text| text.parse().map_err(|e: T::Err| e.to_string()))
    }

    /// Replaces `field` when `key`'s variable is set.
    pub fn set<T>(&self, key: &str, field: &mut T) -> Result<(), ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        if let Some(value) = self.value(key)? {
            *field = value;
        }
        Ok(())
    }

    /// Sets an optional `field` when `key`'s variable is set.
    pub fn set_some<T>(&self, key: &str, field: &mut Option<T>) -> Result<(), ConfigError>
    where
        T: FromStr,
        T::Err: Display,
    {
        if let Some(value) = self.value(key)? {
            *field = Some(value);
        }
        Ok(())
    }

    /// `key`'s value as a comma-separated list, items trimmed and empty ones dropped.
    pub fn list(&self, key: &str) -> Option<Vec<String>> {
        self.raw(key).map(|value| {
            value
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_string)
                .collect()
        })
    }

    /// Replaces a list `field` with `key`'s comma-separated items (trimmed, empty ones dropped).
    pub fn set_list(&self, key: &str, field: &mut Vec<String>) {
        if let Some(list) = self.list(key) {
            *field = list;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    fn vars(name: &str) -> Option<String> {
        match name {
            "SF2C_T_LISTEN" => Some("127.0.0.1:9000".into()),
            "SF2C_T_PORT" => Some("eighty".into()),
            "SF2C_T_LIST" => Some(" https://a:1/, ,https://b:2/ ".into()),
            _ => None,
        }
    }

    #[test]
    fn typed_values_and_lists() {
        let env = Env::new("SF2C_T_", &vars);
        let mut listen: SocketAddr = "127.0.0.1:1".parse().unwrap();
        env.set("LISTEN", &mut listen).unwrap();
        assert_eq!(listen.port(), 9000);
        let mut ops: Option<SocketAddr> = None;
        env.set_some("LISTEN", &mut ops).unwrap();
        assert_eq!(ops, Some(listen));
        let mut untouched = 7u16;
        env.set("ABSENT", &mut untouched).unwrap();
        assert_eq!(untouched, 7);
        let mut list = vec!["old".to_string()];
        env.set_list("LIST", &mut list);
        assert_eq!(list, ["https://a:1/", "https://b:2/"]);
    }

    #[test]
    fn a_bad_value_names_the_variable_and_keeps_the_field() {
        let env = Env::new("SF2C_T_", &vars);
        let mut port = 80u16;
        let err = env.set("PORT", &mut port).unwrap_err();
        match &err {
            ConfigError::Env { var, value, detail } => {
                assert_eq!((var.as_str(), value.as_str()), ("SF2C_T_PORT", "eighty"));
                assert!(detail.contains("invalid digit"), "{detail}");
            }
            other => panic!("expected Env, got {other:?}"),
        }
        assert_eq!(port, 80);
        let custom = env.parse_with("PORT", |_| Err::<u16, _>("expected a port".into()));
        assert!(custom.unwrap_err().to_string().contains("expected a port"));
    }
}
