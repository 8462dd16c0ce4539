//! `--json`: rvs's own machine-readable form of every listing. One JSON document on one
//! line: `{"version":"1.0","<kind>":<payload>}` where `version` is the control protocol's
//! version ([`crate::ctl::PROTOCOL_VERSION`]: the same major/minor rules) and the payload
//! is the control protocol's view, serialized as on the wire (schema in docs/CONTROL.md,
//! "rvsadm --json"). Kinds: `services` (a list of ServiceView, always in ipvsadm's sorted
//! order), `conns` (ConnView list), `timeouts` (TimeoutsView), `status` (StatusView),
//! `vips` (VipView list), `rules` (MarkRuleView list), `daemons` (always an empty list:
//! [`NoDaemons`]).

use super::sort::listing_order;
use crate::ctl::proto::version_string;
use crate::ctl::views::{ConnView, MarkRuleView, ServiceView, StatusView, TimeoutsView, VipView};

/// A view `--json` prints, and the name of its member in the document.
pub trait JsonDoc {
    /// The member name (`services`, `conns`...).
    const KIND: &'static str;
    /// The payload as a JSON value.
    fn payload(&self) -> serde_json::Result<serde_json::Value>;
}

macro_rules! json_list {
    ($t:ty, $kind:literal) => {
        impl JsonDoc for [$t] {
            const KIND: &'static str = $kind;
            fn payload(&self) -> serde_json::Result<serde_json::Value> {
                serde_json::to_value(self)
            }
        }
        impl JsonDoc for Vec<$t> {
            const KIND: &'static str = $kind;
            fn payload(&self) -> serde_json::Result<serde_json::Value> {
                self.as_slice().payload()
            }
        }
    };
}

json_list!(ConnView, "conns");
json_list!(VipView, "vips");
json_list!(MarkRuleView, "rules");

impl JsonDoc for [ServiceView] {
    const KIND: &'static str = "services";
    /// Services and their dests in ipvsadm's order, as the text listing prints them.
    fn payload(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::to_value(listing_order(self, true))
    }
}

impl JsonDoc for Vec<ServiceView> {
    const KIND: &'static str = "services";
    fn payload(&self) -> serde_json::Result<serde_json::Value> {
        self.as_slice().payload()
    }
}

impl JsonDoc for TimeoutsView {
    const KIND: &'static str = "timeouts";
    fn payload(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::to_value(self)
    }
}

impl JsonDoc for StatusView {
    const KIND: &'static str = "status";
    fn payload(&self) -> serde_json::Result<serde_json::Value> {
        serde_json::to_value(self)
    }
}

/// `-L --daemon`'s listing: rvs runs no connection sync daemon, so the list is empty.
/// The text form prints nothing (ipvsadm with none running); `--json` still prints a
/// document, `{"version":..,"daemons":[]}`, so a reader always gets JSON.
pub struct NoDaemons;

impl JsonDoc for NoDaemons {
    const KIND: &'static str = "daemons";
    fn payload(&self) -> serde_json::Result<serde_json::Value> {
        Ok(serde_json::Value::Array(Vec::new()))
    }
}

/// The JSON document of `v`, with a trailing newline. Serializing the views cannot fail
/// (plain data, string keys); should it ever, the error is reported inside the document
/// (`{"version":..,"error":".."}`) rather than by a panic.
pub fn json<T: JsonDoc + ?Sized>(v: &T) -> String {
    let version = serde_json::Value::String(version_string());
    let (kind, payload) = match v.payload() {
        Ok(p) => (T::KIND, p),
        Err(e) => ("error", serde_json::Value::String(e.to_string())),
    };
    // Built by hand so `version` comes first (serde_json's map sorts its keys).
    format!(
        "{{\"version\":{version},{}:{payload}}}\n",
        serde_json::Value::String(kind.to_string())
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adm::format::services::tests::{dst, sample, svc, tcp};
    use crate::ctl::views::MethodView;
    use std::collections::BTreeMap;

    fn member<T: serde::de::DeserializeOwned>(text: &str, kind: &str) -> T {
        assert!(text.ends_with("}\n") && !text.trim_end().contains('\n'));
        assert!(text.starts_with("{\"version\":\"1.0\","), "{text}");
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v.as_object().unwrap().len(), 2, "{text}");
        serde_json::from_value(v[kind].clone()).unwrap()
    }

    #[test]
    fn no_daemons_is_an_empty_list() {
        assert_eq!(json(&NoDaemons), "{\"version\":\"1.0\",\"daemons\":[]}\n");
    }

    #[test]
    fn every_kind_is_one_line_version_first_and_reads_back() {
        let t = TimeoutsView {
            tcp: 900,
            tcpfin: 120,
            udp: 300,
        };
        assert_eq!(
            json(&t),
            "{\"version\":\"1.0\",\"timeouts\":{\"tcp\":900,\"tcpfin\":120,\"udp\":300}}\n"
        );
        assert_eq!(member::<TimeoutsView>(&json(&t), "timeouts"), t);

        // Services: ipvsadm's order, whatever order rvsd sent.
        let mut list = sample();
        list.push(svc(tcp("192.0.2.1", 22), "rr"));
        list[3].dests = vec![dst("192.0.2.9", 22, MethodView::Dr, 1)];
        let back: Vec<ServiceView> = member(&json(&list), "services");
        assert_eq!(back, listing_order(&list, true));
        assert_eq!(back[0].spec.key, tcp("192.0.2.1", 22));
        let slice: &[ServiceView] = &list;
        assert_eq!(json(slice), json(&list));

        let conns = vec![ConnView {
            protocol: "TCP".into(),
            client_addr: "198.51.100.2".parse().unwrap(),
            client_port: 40800,
            vaddr: "203.0.113.1".parse().unwrap(),
            vport: 80,
            daddr: "192.0.2.2".parse().unwrap(),
            dport: 80,
            state: "ESTABLISHED".into(),
            expires_secs: 899,
            template: false,
        }];
        assert_eq!(member::<Vec<ConnView>>(&json(&conns), "conns"), conns);

        let vips = vec![VipView {
            addr: "203.0.113.10".parse().unwrap(),
            port: "lan".into(),
        }];
        assert_eq!(member::<Vec<VipView>>(&json(&vips), "vips"), vips);

        let rules = vec![MarkRuleView {
            mark: 1,
            protocol: None,
            vip: "203.0.113.0/24".into(),
            ports: Some("80".into()),
        }];
        assert_eq!(member::<Vec<MarkRuleView>>(&json(&rules), "rules"), rules);

        let status = StatusView {
            version: "0.1.0 (git abc)".into(),
            uptime_secs: 7,
            ports: vec![],
            workers: vec![],
            drops: BTreeMap::new(),
            conns: 0,
            max_conns: 1024,
            services: 0,
            config_file: "/etc/rvs/rvs.toml".into(),
            health: vec![],
        };
        assert_eq!(member::<StatusView>(&json(&status), "status"), status);
    }
}
