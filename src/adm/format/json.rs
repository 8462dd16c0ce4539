//! `--json`: rvs's own machine-readable form of every listing. One JSON document on one
//! line: `{"version":"1.0","<kind>":<payload>}` where `version` is the control protocol's
//! version ([`crate::ctl::PROTOCOL_VERSION`]: the same major/minor rules) and the payload
//! is the control protocol's view, serialized as on the wire (schema in docs/CONTROL.md,
//! "rvsadm --json"). Kinds: `services` (a list of ServiceView, in the listing's order:
//! ipvsadm's sort unless `--nosort`), `conns` (ConnView list), `timeouts` (TimeoutsView),
//! `status` (StatusView), `vips` (VipView list), `rules` (MarkRuleView list).

use crate::ctl::proto::version_string;
use serde::Serialize;

/// The JSON document for `payload` under `kind`, with a trailing newline. Serializing
/// the views cannot fail (plain data, string keys); should it ever, the error is reported
/// inside the document rather than by a panic.
pub fn json<T: Serialize + ?Sized>(kind: &str, payload: &T) -> String {
    let body = serde_json::to_string(payload)
        .unwrap_or_else(|e| serde_json::json!({ "error": e.to_string() }).to_string());
    let kind = serde_json::to_string(kind).unwrap_or_else(|_| "\"?\"".into());
    let version = serde_json::to_string(&version_string()).unwrap_or_default();
    format!("{{\"version\":{version},{kind}:{body}}}\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::views::TimeoutsView;

    #[test]
    fn one_line_version_first() {
        let t = TimeoutsView {
            tcp: 900,
            tcpfin: 120,
            udp: 300,
        };
        let text = json("timeouts", &t);
        assert_eq!(
            text,
            "{\"version\":\"1.0\",\"timeouts\":{\"tcp\":900,\"tcpfin\":120,\"udp\":300}}\n"
        );
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let back: TimeoutsView = serde_json::from_value(v["timeouts"].clone()).unwrap();
        assert_eq!(back, t);
    }
}
