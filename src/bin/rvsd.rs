//! rvsd: the appliance daemon. Brings up every configured port, one worker per
//! configured core, the management loop (`rvs::mgmt::Manager`) and the control socket
//! (`rvs::mgmt::control`, docs/CONTROL.md); stops cleanly on SIGINT/SIGTERM; SIGHUP
//! reloads the configuration file through the control channel.

use anyhow::Context;
use clap::Parser;
use rvs::config::Config;
use rvs::ctl::{Body, Request, Response};
use rvs::dataplane::{Counter, Runtime};
use rvs::mgmt::apply::Context as ApplyContext;
use rvs::mgmt::control::{call, CommandTx, Server};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

/// rvs director daemon.
#[derive(Parser, Debug)]
#[command(name = "rvsd", version = rvs::version::VERSION, about = "rvs: DPDK userspace L4 load balancer (LVS-style director)")]
struct Args {
    /// Configuration file to run with.
    #[arg(
        long,
        short = 'c',
        value_name = "FILE",
        conflicts_with = "check_config"
    )]
    config: Option<PathBuf>,
    /// Validate a configuration file without touching any device, then exit.
    #[arg(long, value_name = "FILE")]
    check_config: Option<PathBuf>,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(path) = args.check_config {
        return match Config::load(&path) {
            Ok(_) => {
                println!("{}: configuration OK", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("rvsd: {e}");
                ExitCode::from(2)
            }
        };
    }
    let Some(path) = args.config else {
        eprintln!("rvsd: --config FILE is required (or --check-config FILE)");
        return ExitCode::from(2);
    };
    let cfg = match Config::load(&path) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("rvsd: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&cfg);
    match run(&cfg, &path) {
        Ok(code) => code,
        Err(e) => {
            // One line naming the cause, for operators and for scripts (the log goes to
            // stderr too, so it is not logged a second time).
            eprintln!("rvsd: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn init_logging(cfg: &Config) {
    let mut b = env_logger::Builder::new();
    b.filter_level(cfg.log.level.filter());
    if let Ok(spec) = std::env::var("RUST_LOG") {
        b.parse_filters(&spec);
    }
    b.format_timestamp_millis().init();
}

/// SIGHUP reloads the configuration (as keepalived-style tooling expects): a thread
/// waits for HUP and sends a `Reload` request through the control channel, so the
/// reload is applied by the management loop like any other request, in order, and logs
/// its outcome. (Left at its default, HUP would kill rvsd without cleanup.)
fn reload_on_sighup(commands: CommandTx) -> anyhow::Result<()> {
    let mut hup = signal_hook::iterator::Signals::new([signal_hook::consts::SIGHUP])
        .context("installing the SIGHUP handler")?;
    std::thread::Builder::new()
        .name("sighup".into())
        .spawn(move || {
            for _ in hup.forever() {
                log::info!("SIGHUP: reloading the configuration");
                log_reload(&call(&commands, Request::Reload));
            }
        })
        .context("starting the SIGHUP thread")?;
    Ok(())
}

/// Starts the Prometheus endpoint (`[metrics] listen`); each scrape asks the management
/// loop for `List` and `Status` through the command channel (the HTTP thread never
/// touches the Manager). A scrape the loop cannot answer (rvsd stopping) gets 503.
fn start_metrics(
    addr: std::net::SocketAddr,
    commands: CommandTx,
) -> anyhow::Result<rvs::mgmt::metrics::Server> {
    let fetch = move || {
        let Some(Body::Services { services }) = call(&commands, Request::List { key: None }).body
        else {
            return None;
        };
        let Some(Body::Status(status)) = call(&commands, Request::Status).body else {
            return None;
        };
        Some((services, status))
    };
    Ok(rvs::mgmt::metrics::serve(addr, fetch)?)
}

/// Logs what a reload did: each change, or why nothing changed.
fn log_reload(r: &Response) {
    match (&r.body, &r.error) {
        (Some(Body::Reloaded { changes }), _) if changes.is_empty() => {
            log::info!("reload: configuration unchanged")
        }
        (Some(Body::Reloaded { changes }), _) => {
            log::info!("reload: {} change(s)", changes.len());
            for c in changes {
                log::info!("reload: {c}");
            }
        }
        (_, Some(e)) => log::error!("reload refused, running state kept: {}", e.message),
        _ => log::warn!("reload: unexpected answer {r:?}"),
    }
}

/// Refuses a `[cores]` entry that is not one of this process's usable cores
/// (`sched_getaffinity`, via `core_affinity::get_core_ids`): pinning to it would fail
/// and the thread would run anywhere while the log claimed the core. A start-up check,
/// not a `--check-config` one: the config module checks the file without looking at
/// the machine it runs on.
fn cores_exist(cfg: &Config) -> anyhow::Result<()> {
    let usable: Vec<usize> = core_affinity::get_core_ids()
        .context("cores: cannot read this process's CPU affinity")?
        .iter()
        .map(|c| c.id)
        .collect();
    let list = || {
        usable
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    for (i, &core) in cfg.cores.workers.iter().enumerate() {
        if !usable.contains(&core) {
            anyhow::bail!(
                "cores.workers[{i}]: core {core} is not usable on this machine (usable cores: {})",
                list()
            );
        }
    }
    let m = cfg.cores.management;
    if !usable.contains(&m) {
        anyhow::bail!(
            "cores.management: core {m} is not usable on this machine (usable cores: {})",
            list()
        );
    }
    Ok(())
}

fn run(cfg: &Config, config_path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let started = std::time::Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).context("installing signal handlers")?;
    }
    let (commands, requests) = rvs::mgmt::control::channel();
    reload_on_sighup(commands.clone())?;
    // Before any device or sysctl is touched; held until exit (the kernel drops it).
    let _locks = rvs::mgmt::lock::lock_ports(
        std::path::Path::new(rvs::mgmt::lock::LOCK_DIR),
        cfg.physical_ports(),
    )
    .map_err(anyhow::Error::msg)?;
    // Also before any device: a second rvsd on the same socket is refused here. Clients
    // that connect before the management loop runs wait for their responses.
    let metrics = match cfg.metrics.listen {
        Some(addr) => Some(start_metrics(addr, commands.clone())?),
        None => None,
    };
    let server = Server::start(&cfg.control, commands)?;
    let plan = rvs::mgmt::plan::plan(cfg);
    // Before pinning: afterwards this thread's affinity is the management core alone.
    cores_exist(cfg)?;
    if !core_affinity::set_for_current(core_affinity::CoreId {
        id: cfg.cores.management,
    }) {
        anyhow::bail!(
            "cores.management: could not pin the management thread to core {}",
            cfg.cores.management
        );
    }
    log::info!("rvsd {} starting", rvs::version::VERSION);
    let mut mgr = rvs::mgmt::services::manager(cfg).context("services")?;
    // The state file wins over the file's services at start (configs/README.md); one
    // that cannot be restored stops rvsd rather than run with a state nobody chose.
    if let Some(path) = &cfg.control.state_file {
        let built = rvs::mgmt::state::snapshot(&mgr);
        if rvs::mgmt::state::restore(&mut mgr, path)? {
            log::info!("restored the running state from {}", path.display());
            let diff = rvs::mgmt::state::differences(&built, &rvs::mgmt::state::snapshot(&mgr));
            if !diff.is_empty() {
                log::warn!(
                    "the state file {} differs from the configuration file {} and wins at \
                     start: {}; `rvsadm reload` (or SIGHUP) applies the configuration file",
                    path.display(),
                    config_path.display(),
                    diff.join("; ")
                );
            }
        }
    }
    let rt = Runtime::start(&plan, &mut mgr).context("start-up")?;
    log::info!(
        "rvsd running: {} port(s), {} worker(s)",
        plan.ports.len(),
        plan.worker_cores.len()
    );
    let ctx = ApplyContext {
        rt: Some(&rt),
        started,
        config_path: Some(config_path),
    };
    let failed = mgr.run(&ctx, &stop, &requests);
    log::info!("rvsd stopping");
    // The channel's end first: a client waiting for a response is answered
    // "rvsd is stopping", so stopping the server never waits on one.
    drop(requests);
    server.stop();
    drop(metrics);
    for c in Counter::ALL {
        let per = rt.counter_per_worker(*c);
        if per.iter().any(|&v| v != 0) {
            log::info!(
                "counter {} = {} (per worker {:?})",
                c.name(),
                per.iter().sum::<u64>(),
                per
            );
        }
    }
    for (name, s) in rt.port_stats() {
        log::info!(
            "port {name}: ipackets {} opackets {} imissed {} rx_nombuf {} oerrors {}",
            s.ipackets,
            s.opackets,
            s.imissed,
            s.rx_nombuf,
            s.oerrors
        );
    }
    mgr.log_stats();
    rt.stop();
    log::info!("rvsd stopped");
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
