//! rvsd: the appliance daemon.
fn main() {
    println!("rvsd {}", rvs::version::VERSION);
}
