//! The monitor with the real [`Checker`] against real sockets: TCP listeners this test
//! opens and closes on 127.0.0.1 (kernel sockets, no lab traffic) and a MISC_CHECK
//! program, through the whole path: Monitor::poll submits, the checker's thread checks,
//! reports come back, Actions come out. Real time, short delay_loop; each wait is bounded.

use std::net::{Ipv4Addr, TcpListener};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rvs::config::{Check, ServiceHealth};
use rvs::lb::service::ServiceKey;
use rvs::mgmt::health::{
    Action, CheckSpec, Checker, MiscCheck, Monitor, ServiceTargets, Target, TcpCheck,
};

const SVC: ServiceKey = ServiceKey::Addr {
    proto: 6,
    vip: Ipv4Addr::new(203, 0, 113, 10),
    vport: 80,
};
const LO: Ipv4Addr = Ipv4Addr::LOCALHOST;

fn check(spec: CheckSpec) -> Arc<Check> {
    Arc::new(Check {
        spec: Arc::new(spec),
        connect_timeout: Duration::from_secs(2),
        retry: 1,
        delay_before_retry: Duration::from_millis(100),
        rise: 2,
        delay_loop: Duration::from_millis(200),
        warmup: Duration::ZERO,
    })
}

fn target(port: u16, weight: u32, check: Arc<Check>) -> Target {
    Target {
        addr: LO,
        port,
        weight,
        check: Some(check),
        inhibit_on_failure: false,
        notify_up: None,
        notify_down: None,
    }
}

/// A listener that accepts (and drops) what the checks open, until closed.
struct Server {
    listener: Option<TcpListener>,
    port: u16,
}

impl Server {
    fn open(port: u16) -> Server {
        let listener = TcpListener::bind((LO, port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        Server {
            listener: Some(listener),
            port,
        }
    }
    fn serve(&self) {
        if let Some(l) = &self.listener {
            while l.accept().is_ok() {}
        }
    }
    fn close(&mut self) {
        self.listener = None;
    }
}

/// Polls every 20 ms until `want` holds for the actions so far (returned), or panics
/// after `limit`.
fn until(
    m: &mut Monitor,
    checker: &Checker,
    servers: &[&Server],
    limit: Duration,
    want: impl Fn(&[Action]) -> bool,
) -> Vec<Action> {
    let start = Instant::now();
    let mut out = Vec::new();
    loop {
        for s in servers {
            s.serve();
        }
        m.poll(Instant::now(), checker, &mut out);
        if want(&out) {
            return out;
        }
        assert!(
            start.elapsed() < limit,
            "not within {limit:?}; actions so far: {out:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn tcp_servers_go_down_and_come_back() {
    let mut a = Server::open(0);
    let b = Server::open(0);
    let c = check(CheckSpec::Tcp(TcpCheck::default()));
    let checker = Checker::start().unwrap();
    let mut m = Monitor::new();
    let mut out = Vec::new();
    m.set_targets(
        vec![ServiceTargets {
            service: SVC,
            health: ServiceHealth::default(),
            reals: vec![target(a.port, 1, c.clone()), target(b.port, 1, c)],
        }],
        Instant::now(),
        &mut out,
    );
    assert!(out.is_empty());
    // Both answer: a few rounds of checks (0.7 s, delay_loop 0.2 s) change nothing.
    let settle = Instant::now() + Duration::from_millis(700);
    let mut out = Vec::new();
    while Instant::now() < settle {
        a.serve();
        b.serve();
        m.poll(Instant::now(), &checker, &mut out);
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(out.is_empty(), "{out:?}");
    assert!(m.status().iter().all(|d| d.up && d.last_check.is_some()));

    // A closes: refused, retried once, DOWN.
    let closed_at = Instant::now();
    a.close();
    let out = until(&mut m, &checker, &[&b], Duration::from_secs(10), |o| {
        !o.is_empty()
    });
    let took = closed_at.elapsed();
    match &out[..] {
        [Action::Down {
            service,
            addr,
            port,
            inhibit: false,
            reason,
        }] => {
            assert_eq!((*service, *addr, *port), (SVC, LO, a.port));
            assert!(
                reason.contains("refused") && reason.ends_with("(after 1 retry)"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    eprintln!("DOWN {took:?} after the close (delay_loop 0.2 s + retry 0.1 s)");
    let st = m.status();
    let da = st.iter().find(|d| d.port == a.port).unwrap();
    assert!(!da.up && !da.in_table && da.consecutive_failures >= 2);
    assert!(st.iter().find(|d| d.port == b.port).unwrap().up);

    // A reopens on the same port: two successes (rise 2), then UP at its weight.
    let a = Server::open(a.port);
    let out = until(&mut m, &checker, &[&a, &b], Duration::from_secs(10), |o| {
        !o.is_empty()
    });
    match &out[..] {
        [Action::Up {
            addr,
            port,
            weight,
            reason,
            ..
        }] => {
            assert_eq!((*addr, *port, *weight), (LO, a.port, 1));
            assert!(reason.contains("2 successful checks in a row"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn misc_dynamic_weight_through_the_checker() {
    let dir = std::env::temp_dir().join(format!("rvs-hm-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let code = dir.join("code");
    std::fs::write(&code, "5").unwrap();
    let c = check(CheckSpec::Misc(MiscCheck {
        misc_path: "/bin/sh".into(),
        misc_args: vec!["-c".into(), format!("exit $(cat {})", code.display())],
        misc_timeout: Some(5.0),
        misc_dynamic: true,
    }));
    let checker = Checker::start().unwrap();
    let mut m = Monitor::new();
    let mut out = Vec::new();
    let t = ServiceTargets {
        service: SVC,
        health: ServiceHealth::default(),
        reals: vec![target(8080, 9, c)],
    };
    m.set_targets(vec![t], Instant::now(), &mut out);
    let weight = |w| Action::Weight {
        service: SVC,
        addr: LO,
        port: 8080,
        weight: w,
    };
    let out = until(&mut m, &checker, &[], Duration::from_secs(10), |o| {
        !o.is_empty()
    });
    assert_eq!(out, [weight(3)], "exit 5: weight 3");
    std::fs::write(&code, "0").unwrap();
    let out = until(&mut m, &checker, &[], Duration::from_secs(10), |o| {
        !o.is_empty()
    });
    assert_eq!(out, [weight(9)], "exit 0: the configured weight");
    std::fs::write(&code, "1").unwrap();
    let out = until(&mut m, &checker, &[], Duration::from_secs(10), |o| {
        !o.is_empty()
    });
    assert!(
        matches!(&out[..], [Action::Down { port: 8080, .. }]),
        "{out:?}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
