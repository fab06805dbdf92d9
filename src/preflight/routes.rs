//! The kernel's routing tables as /proc shows them to this process (its network namespace):
//! IPv4 from /proc/net/route (the main table), IPv6 from /proc/net/ipv6_route (every table),
//! and which DNS resolvers of /etc/resolv.conf a route off the machine covers. Text in, routes
//! out: the files are read by `network`.
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const RTF_UP: u32 = 0x0001;
const RTF_GATEWAY: u32 = 0x0002;
const RTF_REJECT: u32 = 0x0200;

/// A usable route through an interface other than loopback: a way off the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub dest: IpAddr,
    pub prefix: u8,
    pub gateway: Option<IpAddr>,
    pub iface: String,
}

impl Route {
    pub fn is_default(&self) -> bool {
        self.prefix == 0
    }

    pub fn covers(&self, addr: IpAddr) -> bool {
        match (self.dest, addr) {
            (IpAddr::V4(d), IpAddr::V4(a)) => prefix_eq(&d.octets(), &a.octets(), self.prefix),
            (IpAddr::V6(d), IpAddr::V6(a)) => prefix_eq(&d.octets(), &a.octets(), self.prefix),
            _ => false,
        }
    }
}

impl std::fmt::Display for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.is_default() {
            let family = if self.dest.is_ipv4() { "IPv4" } else { "IPv6" };
            write!(f, "default {family}")?;
        } else {
            write!(f, "{}/{}", self.dest, self.prefix)?;
        }
        if let Some(gw) = self.gateway {
            write!(f, " via {gw}")?;
        }
        write!(f, " dev {}", self.iface)
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let bits = usize::from(prefix).min(a.len() * 8);
    let (whole, rest) = (bits / 8, bits % 8);
    if a[..whole] != b[..whole] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[whole] & mask == b[whole] & mask
}

/// Routes off the machine in /proc/net/route. Refuses a text that does not look like it.
pub fn parse_v4(text: &str) -> Result<Vec<Route>, String> {
    // A namespace whose main table was never made (loopback down, nothing configured) reads
    // as an empty file, without the header.
    if text.is_empty() {
        return Ok(Vec::new());
    }
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or("").split_whitespace().collect();
    if header.get(..4) != Some(&["Iface", "Destination", "Gateway", "Flags"][..])
        || header.get(7) != Some(&"Mask")
    {
        return Err("/proc/net/route does not have the kernel's header".into());
    }
    let mut routes = Vec::new();
    for (n, line) in (2..).zip(lines) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let bad = || format!("/proc/net/route line {n} is not a route");
        if f.len() < 8 {
            return Err(bad());
        }
        let word = |s: &str| u32::from_str_radix(s, 16).map_err(|_| bad());
        let (dest, gateway, flags, mask) = (word(f[1])?, word(f[2])?, word(f[3])?, word(f[7])?);
        if f[0] == "lo" || flags & RTF_UP == 0 || flags & RTF_REJECT != 0 {
            continue;
        }
        // The kernel prints the network-order address as a host-order number.
        let addr = |w: u32| Ipv4Addr::from(w.to_ne_bytes());
        let mask_bits = u32::from_be_bytes(mask.to_ne_bytes());
        if mask_bits.leading_ones() != mask_bits.count_ones() {
            return Err(bad());
        }
        routes.push(Route {
            dest: IpAddr::V4(addr(dest)),
            prefix: mask_bits.count_ones() as u8,
            gateway: (flags & RTF_GATEWAY != 0).then(|| IpAddr::V4(addr(gateway))),
            iface: f[0].to_owned(),
        });
    }
    Ok(routes)
}

/// Routes off the machine in /proc/net/ipv6_route (no header; ten fields a line).
pub fn parse_v6(text: &str) -> Result<Vec<Route>, String> {
    let mut routes = Vec::new();
    for (n, line) in (1..).zip(text.lines()) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let bad = || format!("/proc/net/ipv6_route line {n} is not a route");
        if f.len() != 10 {
            return Err(bad());
        }
        let addr = |s: &str| -> Result<Ipv6Addr, String> {
            u128::from_str_radix(s, 16)
                .ok()
                .filter(|_| s.len() == 32)
                .map(Ipv6Addr::from)
                .ok_or_else(bad)
        };
        let dest = addr(f[0])?;
        let prefix = u8::from_str_radix(f[1], 16).map_err(|_| bad())?;
        let next_hop = addr(f[4])?;
        let flags = u32::from_str_radix(f[8], 16).map_err(|_| bad())?;
        if prefix > 128 {
            return Err(bad());
        }
        if f[9] == "lo" || flags & RTF_UP == 0 || flags & RTF_REJECT != 0 {
            continue;
        }
        routes.push(Route {
            dest: IpAddr::V6(dest),
            prefix,
            gateway: (flags & RTF_GATEWAY != 0).then_some(IpAddr::V6(next_hop)),
            iface: f[9].to_owned(),
        });
    }
    Ok(routes)
}

/// The `nameserver` addresses of a resolv.conf (an IPv6 zone, `%eth0`, is dropped).
pub fn resolvers(text: &str) -> Result<Vec<IpAddr>, String> {
    let mut found = Vec::new();
    for (n, line) in (1..).zip(text.lines()) {
        let line = line.split(['#', ';']).next().unwrap_or("");
        let mut words = line.split_whitespace();
        if words.next() != Some("nameserver") {
            continue;
        }
        let addr = words.next().unwrap_or("");
        let addr = addr.split('%').next().unwrap_or(addr);
        found.push(
            addr.parse()
                .map_err(|_| format!("resolv.conf line {n}: \"{addr}\" is not an IP address"))?,
        );
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    // /proc/net/route of a machine with eth0 up (little-endian host), lo and a rejected route.
    const V4: &str = "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n\
eth0\t00000000\t010200C0\t0003\t0\t0\t0\t00000000\t0\t0\t0\n\
eth0\t000200C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n\
lo\t0000007F\t00000000\t0001\t0\t0\t0\t000000FF\t0\t0\t0\n\
eth1\t0000000A\t00000000\t0201\t0\t0\t0\t000000FF\t0\t0\t0\n";

    const V6: &str = "\
fe800000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 20010db8000000000000000000000001 00000400 00000001 00000000 00000003     eth0
00000000000000000000000000000000 00 00000000000000000000000000000000 00 00000000000000000000000000000000 ffffffff 00000001 00000000 00200200       lo
00000000000000000000000000000001 80 00000000000000000000000000000000 00 00000000000000000000000000000000 00000000 00000002 00000000 80200001       lo
";

    #[test]
    fn ipv4_default_and_link_routes_are_found_loopback_and_reject_routes_are_not() {
        if cfg!(target_endian = "big") {
            return; // the sample is a little-endian host's
        }
        let routes = parse_v4(V4).expect("parses");
        assert_eq!(routes.len(), 2, "{routes:?}");
        assert!(routes[0].is_default());
        assert_eq!(routes[0].to_string(), "default IPv4 via 192.0.2.1 dev eth0");
        assert_eq!(routes[1].to_string(), "192.0.2.0/24 dev eth0");
        assert!(routes[1].covers("192.0.2.53".parse().expect("ip")));
        assert!(!routes[1].covers("192.0.3.53".parse().expect("ip")));
        assert!(routes[0].covers("10.255.255.53".parse().expect("ip")));
    }

    #[test]
    fn ipv6_default_route_is_found_and_lo_unreachable_routes_are_not() {
        let routes = parse_v6(V6).expect("parses");
        assert_eq!(routes.len(), 2, "{routes:?}");
        assert_eq!(routes[0].to_string(), "fe80::/64 dev eth0");
        assert_eq!(
            routes[1].to_string(),
            "default IPv6 via 2001:db8::1 dev eth0"
        );
        assert!(routes[0].covers("fe80::1".parse().expect("ip")));
        assert!(!routes[0].covers("fe81::1".parse().expect("ip")));
    }

    #[test]
    fn a_namespace_with_no_routes_has_none_and_garbage_is_refused() {
        let header = V4.lines().next().expect("header");
        assert_eq!(parse_v4(&format!("{header}\n")), Ok(vec![]));
        assert_eq!(parse_v6(""), Ok(vec![]));
        assert_eq!(parse_v4(""), Ok(vec![]));
        assert!(parse_v4("hello\n").is_err());
        assert!(parse_v6("a b c\n").is_err());
    }

    #[test]
    fn resolvers_are_read_with_comments_and_zones() {
        let text = "# generated\nsearch example.org\nnameserver 10.255.255.53\nnameserver fe80::1%eth0 ; link\n;nameserver 1.1.1.1\n";
        assert_eq!(
            resolvers(text),
            Ok(vec![
                "10.255.255.53".parse().expect("ip"),
                "fe80::1".parse().expect("ip")
            ])
        );
        assert!(resolvers("nameserver localhost\n").is_err());
    }
}
