//! The figures of one run: medians over the measured windows, the ratio to the io-fwd
//! baseline, and the markdown table / JSON the bench prints.

use super::accounting::Accounts;
use super::scenarios::LoopKind;
use super::Args;

/// The median of one figure over the windows.
pub fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// What one scenario measured (medians over the windows).
pub struct Measured {
    pub name: &'static str,
    pub about: &'static str,
    pub workers: usize,
    /// Ring ports (the baseline must have as many).
    pub ports: usize,
    /// Distinct flows the generator offered traffic from.
    pub flows: u64,
    /// The packet accounting (checked before this is built).
    pub accounts: Accounts,
    pub kind: LoopKind,
    /// Packets per second per worker, in millions.
    pub mpps_per_worker: f64,
    /// Sum over workers.
    pub mpps_total: f64,
    /// Busy TSC cycles per received packet.
    pub cycles_per_pkt: f64,
    /// The same in nanoseconds.
    pub ns_per_pkt: f64,
    /// Share of wall time the workers spent in loops that moved packets (low: the
    /// generator could not keep up, so Mpps understates the loop; cycles/packet holds).
    pub busy_share: f64,
    /// Share of wall time the workers were actually running (the rest, other processes
    /// had their core); `None` without /proc schedstat.
    pub on_cpu_share: Option<f64>,
    /// Packets per second of CPU time the workers actually got, in millions: Mpps per
    /// worker as if it had its core to itself (idle polling included).
    pub mpps_per_cpu_sec: Option<f64>,
    /// Totals over the whole scenario (warm-up included), for sanity.
    pub rx_pkts: u64,
    pub tx_pkts: u64,
    /// Packets forwarded (routed, NAT in/out, DR, TUN).
    pub forwarded: u64,
    pub drops: u64,
}

/// cycles/packet of this row over the io-fwd row of the same run with the same worker
/// count and the same port count (a 1-port loop and a 2-port loop move packets at
/// different costs, so only like divides like).
pub fn ratio(r: &Measured, all: &[Measured]) -> Option<f64> {
    let base = all
        .iter()
        .find(|b| b.kind == LoopKind::IoFwd && b.workers == r.workers && b.ports == r.ports)?;
    (base.cycles_per_pkt > 0.0).then(|| r.cycles_per_pkt / base.cycles_per_pkt)
}

pub fn markdown(results: &[Measured], tsc_hz: u64, cores: usize, args: &Args) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "Medians of {} windows of {:.1} s after {:.1} s warm-up; 60-byte frames (64 on the wire); \
         TSC {:.3} GHz; {} core(s) online, generator on core 0.\n\n",
        args.runs,
        args.secs,
        args.warmup_secs,
        tsc_hz as f64 / 1e9,
        cores
    ));
    s.push_str("| scenario | workers | ports | flows | Mpps/worker | Mpps total | cycles/pkt | ns/pkt | x io-fwd | busy | on-CPU | Mpps/CPU-s | offered | drops |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in results {
        let x = ratio(r, results).map_or("-".to_string(), |x| format!("{x:.2}"));
        s.push_str(&format!(
            "| {} | {} | {} | {} | {:.2} | {:.2} | {:.0} | {:.1} | {} | {:.0}% | {} | {} | {} | {} |\n",
            r.name,
            r.workers,
            r.ports,
            r.flows,
            r.mpps_per_worker,
            r.mpps_total,
            r.cycles_per_pkt,
            r.ns_per_pkt,
            x,
            r.busy_share * 100.0,
            r.on_cpu_share
                .map_or("-".to_string(), |x| format!("{:.0}%", x * 100.0)),
            r.mpps_per_cpu_sec
                .map_or("-".to_string(), |x| format!("{x:.2}")),
            r.accounts.offered,
            r.drops
        ));
    }
    s.push('\n');
    for r in results {
        s.push_str(&format!("- `{}`: {}\n", r.name, r.about));
    }
    s
}

pub fn json(results: &[Measured], tsc_hz: u64) -> String {
    let rows: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "{{\"name\":\"{}\",\"workers\":{},\"ports\":{},\"flows\":{},\"mpps_per_worker\":{:.4},\"mpps_total\":{:.4},\
                 \"cycles_per_pkt\":{:.2},\"ns_per_pkt\":{:.3},\"ratio_to_io_fwd\":{},\
                 \"busy_share\":{:.4},\"on_cpu_share\":{},\"mpps_per_cpu_sec\":{},\"rx_pkts\":{},\"tx_pkts\":{},\"forwarded\":{},\"drops\":{},\
                 \"offered\":{},\"generated\":{},\"delivered\":{},\"local\":{},\"queued\":{},\"drop_tx_full\":{}}}",
                r.name,
                r.workers,
                r.ports,
                r.flows,
                r.mpps_per_worker,
                r.mpps_total,
                r.cycles_per_pkt,
                r.ns_per_pkt,
                ratio(r, results).map_or("null".to_string(), |x| format!("{x:.4}")),
                r.busy_share,
                r.on_cpu_share
                    .map_or("null".to_string(), |x| format!("{x:.4}")),
                r.mpps_per_cpu_sec
                    .map_or("null".to_string(), |x| format!("{x:.4}")),
                r.rx_pkts,
                r.tx_pkts,
                r.forwarded,
                r.drops,
                r.accounts.offered,
                r.accounts.generated,
                r.accounts.delivered,
                r.accounts.local,
                r.accounts.queued,
                r.accounts.drop_tx_full
            )
        })
        .collect();
    format!(
        "{{\"tsc_hz\":{tsc_hz},\"scenarios\":[{}]}}\n",
        rows.join(",")
    )
}
