//! rvsadm: the admin CLI (ipvsadm's language).
fn main() {
    println!("rvsadm {}", rvs::version::VERSION);
}
