//! `label=KEY[=VALUE]` filters against an object's labels, as every
//! `--filter label=` of Docker's reads them.

use std::collections::BTreeMap;

/// Does `labels` carry `key` (with `value`, when one is given)?
pub fn has(labels: &BTreeMap<String, String>, key: &str, value: Option<&str>) -> bool {
    match (labels.get(key), value) {
        (Some(_), None) => true,
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_alone_or_with_its_value() {
        let l = BTreeMap::from([("tier".to_string(), "web".to_string())]);
        assert!(has(&l, "tier", None));
        assert!(has(&l, "tier", Some("web")));
        assert!(!has(&l, "tier", Some("db")));
        assert!(!has(&l, "env", None));
    }
}
