//! Process CPU time from Linux's `/proc/{pid}/stat` (user + system, all threads), for the
//! daemon (`--daemon-pid`) and for the load generator itself.

/// Clock ticks per second of `utime`/`stime`: `USER_HZ`, which Linux fixes at 100 in its ABI on
/// every mainstream architecture (independent of the kernel's `CONFIG_HZ`).
const USER_HZ: f64 = 100.0;

/// Cumulative CPU time (user + system) of a process in milliseconds; `None` if it cannot be read
/// (no such process, not Linux).
pub fn process_cpu_ms(pid: u32) -> Option<f64> {
    parse_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

/// This process's CPU time in milliseconds.
pub fn own_cpu_ms() -> Option<f64> {
    process_cpu_ms(std::process::id())
}

/// utime and stime are fields 14 and 15 of `stat`; the command name (field 2) is in parentheses and
/// may itself contain spaces or parentheses, so fields are counted after the last `)`.
fn parse_stat(stat: &str) -> Option<f64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 * 1000.0 / USER_HZ)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_utime_and_stime() {
        let stat = "4242 (tokio (rt) x) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 75 0 0 20 0 9 0 1000 0 0";
        assert_eq!(parse_stat(stat), Some(3250.0));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn reads_own_process() {
        assert!(own_cpu_ms().is_some());
    }
}
