//! rvsadm: ipvsadm 1.31's command language over rvsd's control socket (see
//! `rvs::adm`: parsing, the socket client, `-R`, output and exit statuses).

use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    let stdout = std::io::stdout();
    let stderr = std::io::stderr();
    let mut out = stdout.lock();
    let mut err = stderr.lock();
    let status = rvs::adm::run::main(
        &argv,
        &mut std::io::stdin().lock(),
        &mut rvs::adm::run::Io {
            out: &mut out,
            err: &mut err,
        },
    );
    let _ = out.flush();
    let _ = err.flush();
    ExitCode::from(status)
}
