//! `rvsadm -h` and `rvsadm -v`. The help text is ipvsadm 1.31's `usage_exit` text
//! byte for byte (program name as typed, as ipvsadm prints `argv[0]`), then a section
//! for rvs's own commands. The version line is ipvsadm's own line, unchanged, followed
//! on the same line by rvsadm's version and the control protocol's: scripts that read
//! `ipvsadm -v` (`v1.31` as the second word, `IPVS v1.2.1` inside the parentheses) read
//! rvsadm the same way.

use crate::ctl::proto::version_string;

/// ipvsadm's version words (`IPVSADM_VERSION`).
pub const IPVSADM_VERSION: &str = "v1.31 2019/12/24";

/// The IPVS version ipvsadm 1.31 was compiled with (`IP_VS_VERSION_CODE` 0x010201),
/// which rvsd implements the semantics of; `-L` prints it in its first line too.
pub const IPVS_VERSION: &str = "1.2.1";

/// ipvsadm's `-v` line: `ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)`.
pub fn ipvsadm_version_line() -> String {
    format!("ipvsadm {IPVSADM_VERSION} (compiled with popt and IPVS v{IPVS_VERSION})")
}

/// `rvsadm -v`: ipvsadm's line, then ` rvsadm <version> (control protocol <major.minor>)`.
pub fn version_text() -> String {
    format!(
        "{} rvsadm {} (control protocol {})\n",
        ipvsadm_version_line(),
        crate::version::VERSION,
        version_string()
    )
}

/// `rvsadm -h`: ipvsadm 1.31's usage with `prog` for its program name, then rvs's own
/// commands.
pub fn usage_text(prog: &str) -> String {
    let p = prog;
    let mut s = format!("{}\n", ipvsadm_version_line());
    s += &format!(
        "Usage:\n\
         \x20 {p} -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]\n\
         \x20 {p} -D virtual-service\n\
         \x20 {p} -C\n\
         \x20 {p} -R\n\
         \x20 {p} -S [-n]\n\
         \x20 {p} -a|e virtual-service -r server-address [options]\n\
         \x20 {p} -d virtual-service -r server-address\n\
         \x20 {p} -L|l [virtual-service] [options]\n\
         \x20 {p} -Z [virtual-service]\n\
         \x20 {p} --set tcp tcpfin udp\n\
         \x20 {p} --start-daemon {{master|backup}} [daemon-options]\n\
         \x20 {p} --stop-daemon {{master|backup}}\n\
         \x20 {p} -h\n\n"
    );
    s += "Commands:\n\
          Either long or short options are allowed.\n\
          \x20 --add-service     -A        add virtual service with options\n\
          \x20 --edit-service    -E        edit virtual service with options\n\
          \x20 --delete-service  -D        delete virtual service\n\
          \x20 --clear           -C        clear the whole table\n\
          \x20 --restore         -R        restore rules from stdin\n\
          \x20 --save            -S        save rules to stdout\n\
          \x20 --add-server      -a        add real server with options\n\
          \x20 --edit-server     -e        edit real server with options\n\
          \x20 --delete-server   -d        delete real server\n\
          \x20 --list            -L|-l     list the table\n\
          \x20 --zero            -Z        zero counters in a service or all services\n\
          \x20 --set tcp tcpfin udp        set connection timeout values\n\
          \x20 --start-daemon              start connection sync daemon\n\
          \x20 --stop-daemon               stop connection sync daemon\n\
          \x20 --help            -h        display this help message\n\n";
    s += "virtual-service:\n\
          \x20 --tcp-service|-t  service-address   service-address is host[:port]\n\
          \x20 --udp-service|-u  service-address   service-address is host[:port]\n\
          \x20 --sctp-service    service-address   service-address is host[:port]\n\
          \x20 --fwmark-service|-f fwmark          fwmark is an integer greater than zero\n\
          \n";
    s += "Options:\n\
          \x20 --ipv6         -6                   fwmark entry uses IPv6\n\
          \x20 --scheduler    -s scheduler         one of rr|wrr|lc|wlc|lblc|lblcr|dh|sh|sed|nq|fo|ovf|mh,\n\
          \x20                                     the default scheduler is wlc.\n\
          \x20 --pe            engine              alternate persistence engine may be sip,\n\
          \x20                                     not set by default.\n\
          \x20 --persistent   -p [timeout]         persistent service\n\
          \x20 --netmask      -M netmask           persistent granularity mask\n\
          \x20 --real-server  -r server-address    server-address is host (and port)\n\
          \x20 --gatewaying   -g                   gatewaying (direct routing) (default)\n\
          \x20 --ipip         -i                   ipip encapsulation (tunneling)\n\
          \x20 --masquerading -m                   masquerading (NAT)\n\
          \x20 --tun-type      type                one of ipip|gue|gre,\n\
          \x20                                     the default tunnel type is ipip.\n\
          \x20 --tun-port      port                tunnel destination port\n\
          \x20 --tun-nocsum                        tunnel encapsulation without checksum\n\
          \x20 --tun-csum                          tunnel encapsulation with checksum\n\
          \x20 --tun-remcsum                       tunnel encapsulation with remote checksum\n\
          \x20 --weight       -w weight            capacity of real server\n\
          \x20 --u-threshold  -x uthreshold        upper threshold of connections\n\
          \x20 --l-threshold  -y lthreshold        lower threshold of connections\n\
          \x20 --connection   -c                   output of current IPVS connections\n\
          \x20 --timeout                           output of timeout (tcp tcpfin udp)\n\
          \x20 --daemon                            output of daemon information\n\
          \x20 --stats                             output of statistics information\n\
          \x20 --rate                              output of rate information\n\
          \x20 --exact                             expand numbers (display exact values)\n\
          \x20 --thresholds                        output of thresholds information\n\
          \x20 --persistent-conn                   output of persistent connection info\n\
          \x20 --tun-info                          output of tunnel information\n\
          \x20 --nosort                            disable sorting output of service/server entries\n\
          \x20 --sort                              does nothing, for backwards compatibility\n\
          \x20 --ops          -o                   one-packet scheduling\n\
          \x20 --numeric      -n                   numeric output of addresses and ports\n\
          \x20 --sched-flags  -b flags             scheduler flags (comma-separated)\n";
    s += "Daemon Options:\n\
          \x20 --syncid sid                        syncid for connection sync (default=255)\n\
          \x20 --sync-maxlen length                Max sync message length (default=1472)\n\
          \x20 --mcast-interface interface         multicast interface for connection sync\n\
          \x20 --mcast-group address               IPv4/IPv6 group (default=224.0.0.81)\n\
          \x20 --mcast-port port                   UDP port (default=8848)\n\
          \x20 --mcast-ttl ttl                     Multicast TTL (default=1)\n";
    s += &format!(
        "\n\
         rvs commands (not in ipvsadm):\n\
         \x20 {p} status [--json]                              ports, workers, drops, table fill, uptime\n\
         \x20 {p} reload                                       re-read rvsd's configuration file (as SIGHUP)\n\
         \x20 {p} vip add|del ADDR [--port NAME]               add or remove a VIP (ARP, gratuitous ARP)\n\
         \x20 {p} vip list [--json]                            list the VIPs and their ports\n\
         \x20 {p} mark add|del MARK --vip NET [--protocol tcp|udp] [--ports P[-Q]]\n\
         \x20                                                     add or remove a firewall-mark rule\n\
         \x20 {p} mark list [--json]                           list the mark rules in match order\n\
         \x20 {p} check set -t|-u VIP:PORT|-f MARK [-r ADDR[:PORT]] --file CHECK.toml\n\
         \x20                                                     set a service's (or a real server's) health check\n\
         \x20 {p} check del -t|-u VIP:PORT|-f MARK [-r ADDR[:PORT]]\n\
         \x20                                                     remove it (a real server then has the service's)\n\
         \x20 {p} import-keepalived [--base BASE.toml] [-o OUT] FILE\n\
         \x20                                                     keepalived.conf's virtual servers as rvs TOML\n\
         rvs options:\n\
         \x20 --json                              -L listings (also -c, --timeout) as JSON\n\
         \x20 --socket PATH                       rvsd's control socket (anywhere on the line;\n\
         \x20                                     else $RVS_SOCKET, else /run/rvs/rvsd.sock)\n"
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_keeps_ipvsadm_words_in_place() {
        let v = version_text();
        let words: Vec<&str> = v.split_whitespace().collect();
        assert_eq!(
            &words[..8],
            [
                "ipvsadm",
                "v1.31",
                "2019/12/24",
                "(compiled",
                "with",
                "popt",
                "and",
                "IPVS"
            ]
        );
        assert_eq!(words[8], "v1.2.1)");
        assert!(v.contains(" rvsadm 0.1.0 (git "), "{v}");
        assert!(v.ends_with("(control protocol 1.0)\n"), "{v}");
    }

    #[test]
    fn help_is_ipvsadm_text_with_the_program_name() {
        let h = usage_text("/sbin/rvsadm");
        assert!(h.starts_with(
            "ipvsadm v1.31 2019/12/24 (compiled with popt and IPVS v1.2.1)\nUsage:\n  /sbin/rvsadm -A|E virtual-service [-s scheduler]"
        ));
        assert!(h.contains(
            "  --help            -h        display this help message\n\nvirtual-service:\n"
        ));
        assert!(h.contains("  --sched-flags  -b flags             scheduler flags (comma-separated)\nDaemon Options:\n"));
        assert!(h.contains(
            "  --mcast-ttl ttl                     Multicast TTL (default=1)\n\nrvs commands"
        ));
        assert!(h.contains("/sbin/rvsadm status [--json]"));
    }
}
