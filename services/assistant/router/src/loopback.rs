//! Whose program answers on a loopback port. The car's own model listens on loopback, where
//! any local user could bind the port first (or while the model's service restarts) and be
//! sent the driver's questions, the conversation and what the car remembers, and have its
//! words said to the driver. So before each question the router finds the listening socket in
//! `/proc/net/tcp` and `tcp6` and trusts it only when it belongs to the model's service user
//! (`cabin-llm`), to root, or to the assistant's own user (every service run as one user, as
//! `cabin up` does). An endpoint that is not on loopback is the cloud's business: TLS and the
//! owner's policy guard it.

use thiserror::Error;

/// The user `cabin-llm.service` runs as.
pub const LLM_SERVICE_USER: &str = "cabin-llm";

#[derive(Debug, Error, PartialEq)]
pub enum ListenerError {
    #[error("nothing listens on port {0}")]
    NotListening(u16),
    #[error("port {port} is held by another user (uid {uid}), not the car's model")]
    Untrusted { port: u16, uid: u32 },
    #[error("cannot tell who listens on port {port}: {reason}")]
    Unknown { port: u16, reason: String },
}

/// The loopback port `url` names, if it names one (`http://127.0.0.1:8088/v1`).
pub fn loopback_port(url: &str) -> Option<u16> {
    let (scheme, rest) = url.split_once("://")?;
    let authority = rest.split('/').next()?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, port.parse().ok()?),
        _ => (authority, if scheme == "https" { 443 } else { 80 }),
    };
    let loopback = host == "localhost" || host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    loopback.then_some(port)
}

/// Checks that whoever listens on the loopback port of `url` is the car's model (see above).
pub fn check(url: &str) -> Result<(), ListenerError> {
    let Some(port) = loopback_port(url) else { return Ok(()) };
    let unknown = |reason: String| ListenerError::Unknown { port, reason };
    let mut owners = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        match std::fs::read_to_string(table) {
            Ok(text) => owners.extend(listeners_on(&text, port)),
            // A kernel without IPv6 has no tcp6.
            Err(error) if table.ends_with('6') && error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(unknown(format!("{table}: {error}"))),
        }
    }
    if owners.is_empty() {
        return Err(ListenerError::NotListening(port));
    }
    let own = std::os::unix::fs::MetadataExt::uid(&std::fs::metadata("/proc/self").map_err(|e| unknown(e.to_string()))?);
    let service = std::fs::read_to_string("/etc/passwd").ok().and_then(|passwd| uid_of(&passwd, LLM_SERVICE_USER));
    match owners.into_iter().find(|uid| *uid != own && *uid != 0 && Some(*uid) != service) {
        Some(uid) => Err(ListenerError::Untrusted { port, uid }),
        None => Ok(()),
    }
}

/// The owners (uids) of the sockets listening on `port` on loopback or every address, in a
/// `/proc/net/tcp` or `tcp6` table.
fn listeners_on(table: &str, port: u16) -> Vec<u32> {
    const LISTEN: &str = "0A";
    table
        .lines()
        .skip(1)
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (address, state, uid) = (fields.get(1)?, fields.get(3)?, fields.get(7)?);
            let (ip, listening_port) = address.split_once(':')?;
            let reachable_on_loopback = ip.chars().all(|c| c == '0') || is_loopback_hex(ip);
            (*state == LISTEN && u16::from_str_radix(listening_port, 16).ok()? == port && reachable_on_loopback)
                .then(|| uid.parse().ok())?
        })
        .collect()
}

/// 127.x.x.x as the kernel prints it (little-endian), or ::1 and ::ffff:127.x.x.x in tcp6.
fn is_loopback_hex(ip: &str) -> bool {
    match ip.len() {
        8 => ip.ends_with("7F"),
        32 => ip == "00000000000000000000000001000000" || (ip.starts_with("0000000000000000FFFF0000") && ip.ends_with("7F")),
        _ => false,
    }
}

/// The uid of `user` in an `/etc/passwd` text.
fn uid_of(passwd: &str, user: &str) -> Option<u32> {
    passwd.lines().map(|line| line.split(':').collect::<Vec<_>>()).find(|f| f.first() == Some(&user)).and_then(|f| f.get(2)?.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_urls_are_checked() {
        assert_eq!(loopback_port("http://127.0.0.1:8088/v1"), Some(8088));
        assert_eq!(loopback_port("http://localhost/v1"), Some(80));
        assert_eq!(loopback_port("http://[::1]:9000/v1"), Some(9000));
        assert_eq!(loopback_port("https://api.example.com/v1"), None);
        assert_eq!(loopback_port("http://10.0.0.5:8088/v1"), None);
    }

    #[test]
    fn the_listening_sockets_owners_are_read_from_the_kernels_table() {
        let tcp = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:1F98 00000000:0000 0A 00000000:00000000 00:00000000 00000000   998        0 1 1
   1: 00000000:1F99 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1001        0 2 1
   2: 0100007F:1F98 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0        0 3 1
   3: 0502000A:1F9A 00000000:0000 0A 00000000:00000000 00:00000000 00000000    77        0 4 1";
        assert_eq!(listeners_on(tcp, 8088), vec![998], "listening, not the connection to it");
        assert_eq!(listeners_on(tcp, 8089), vec![1001], "every address includes loopback");
        assert_eq!(listeners_on(tcp, 8090), Vec::<u32>::new(), "10.0.2.5 alone is not loopback");
        let tcp6 = "  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000001000000:1F98 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000  1002        0 5 1";
        assert_eq!(listeners_on(tcp6, 8088), vec![1002]);
        assert_eq!(uid_of("root:x:0:0::/root:/bin/sh\ncabin-llm:x:998:998::/:/usr/sbin/nologin\n", "cabin-llm"), Some(998));
    }
}
