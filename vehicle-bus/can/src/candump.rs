//! Frames recorded by `candump -L`: `(1436509052.249713) vcan0 123#DEADBEEF`. Classic CAN data
//! frames are read; remote frames are skipped; CAN FD frames (`##`) carry their data after a flags
//! digit.

#[derive(Debug, Clone, PartialEq)]
pub struct LoggedFrame {
    pub timestamp_s: f64,
    pub interface: String,
    /// The 11- or 29-bit identifier.
    pub id: u32,
    pub extended: bool,
    pub data: Vec<u8>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{file}:{line}: {message}")]
pub struct LogError {
    pub file: String,
    pub line: usize,
    pub message: String,
}

/// Parses a whole log; blank lines and remote frames are skipped, anything else malformed is an
/// error naming its line.
pub fn parse_log(file: &str, text: &str) -> Result<Vec<LoggedFrame>, LogError> {
    let mut frames = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let error = |message: String| LogError { file: file.to_string(), line: i + 1, message };
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        if let Some(frame) = parse_line(line).map_err(error)? {
            frames.push(frame);
        }
    }
    Ok(frames)
}

fn parse_line(line: &str) -> Result<Option<LoggedFrame>, String> {
    let mut parts = line.split_whitespace();
    let (Some(stamp), Some(interface), Some(frame), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(format!("expected '(TIMESTAMP) INTERFACE ID#DATA', got '{line}'"));
    };
    let timestamp_s = stamp
        .strip_prefix('(')
        .and_then(|s| s.strip_suffix(')'))
        .and_then(|s| s.parse::<f64>().ok())
        .ok_or_else(|| format!("bad timestamp '{stamp}'"))?;
    let (id_text, payload) = frame.split_once('#').ok_or_else(|| format!("no '#' in frame '{frame}'"))?;
    let extended = match id_text.len() {
        3 => false,
        8 => true,
        _ => return Err(format!("bad CAN id '{id_text}' (3 hex digits, or 8 for extended)")),
    };
    let id = u32::from_str_radix(id_text, 16).map_err(|_| format!("bad CAN id '{id_text}'"))?;
    if (!extended && id > 0x7FF) || id > 0x1FFF_FFFF {
        return Err(format!("CAN id '{id_text}' out of range"));
    }
    if payload.starts_with('R') {
        return Ok(None);
    }
    // CAN FD: "##" then one flags digit, then the data.
    let hex = match payload.strip_prefix('#') {
        Some(fd) => fd.get(1..).ok_or_else(|| format!("CAN FD frame '{frame}' has no flags digit"))?,
        None => payload,
    };
    let hex = hex.replace('.', "");
    // Checked before slicing by bytes: "aé" is not two hex digits, and no panic.
    if !hex.bytes().all(|b| b.is_ascii_hexdigit()) || !hex.len().is_multiple_of(2) || hex.len() > 128 {
        return Err(format!("bad data '{hex}' (pairs of hex digits, at most 64 bytes)"));
    }
    let data = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16))
        .collect::<Result<Vec<u8>, _>>()
        .map_err(|_| format!("bad data '{hex}'"))?;
    Ok(Some(LoggedFrame { timestamp_s, interface: interface.to_string(), id, extended, data }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_candump_log_lines() {
        let log = "(1436509052.249713) vcan0 100#1027000000000000\n\n(1436509052.3) vcan0 1ABCDEF0#DEAD\n(1436509052.4) vcan0 200#R\n";
        let frames = parse_log("drive.log", log).unwrap();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].id, 0x100);
        assert_eq!(frames[0].data[..2], [0x10, 0x27]);
        assert!(frames[1].extended);
        assert_eq!(frames[1].data, vec![0xDE, 0xAD]);
    }

    #[test]
    fn a_malformed_line_names_its_number() {
        let err = parse_log("drive.log", "(1.0) vcan0 100#10\n(2.0) vcan0 100#1G\n").unwrap_err();
        assert_eq!(err.to_string(), "drive.log:2: bad data '1G' (pairs of hex digits, at most 64 bytes)");
        let err = parse_log("drive.log", "(1.0) vcan0 100#aé1\n").unwrap_err();
        assert_eq!(err.to_string(), "drive.log:1: bad data 'aé1' (pairs of hex digits, at most 64 bytes)");
        let err = parse_log("drive.log", "vcan0 100#10\n").unwrap_err();
        assert!(err.to_string().starts_with("drive.log:1: expected"), "{err}");
    }
}
