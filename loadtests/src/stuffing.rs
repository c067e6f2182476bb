//! `stuffing`: credential stuffing. Attackers send USER_PASSWORD_AUTH with wrong passwords for real and
//! unknown usernames from many loopback source addresses while legitimate users sign in as usual.
//!
//! The fixture's users are split: legitimate virtual users sign in as the first half, attackers
//! go after the second half (the victims, whom the daemon's brute-force protection locks out:
//! "Password attempts exceeded"), so the report shows what the attack costs everyone else.

use std::net::{IpAddr, Ipv4Addr};

use serde_json::json;

use crate::client::CallError;
use crate::ops::{password, Op, Ops, Session};
use crate::scenario::{Outcome, Scenario, Transaction, Vu};

/// Virtual users `0..legit` are legitimate, `legit..legit + attackers` attack.
pub struct Stuffing {
    pub ops: Ops,
    /// What legitimate users do: [`Op::Srp`] or [`Op::Password`].
    pub legit_op: Op,
    pub legit: usize,
    pub attackers: usize,
    /// Attackers connect from 127.0.0.2 ..= 127.0.0.(attacker_ips + 1), round robin.
    pub attacker_ips: u8,
}

impl Stuffing {
    fn attacker_ip(&self, attacker: usize) -> Ipv4Addr {
        Ipv4Addr::new(127, 0, 0, 2 + (attacker % usize::from(self.attacker_ips)) as u8)
    }

    /// One stuffing attempt: every other one names a real user (a victim), the rest unknown
    /// ones (all of them when the fixture has a single user, who is the legitimate one).
    async fn attack(&self, vu: &mut Vu, session: &mut Session) -> Outcome {
        session.count += 1;
        let real = session.count.is_multiple_of(2) && !vu.fixture.usernames.is_empty();
        let (username, target) = if real {
            (vu.next_username(), "InitiateAuth (real user)")
        } else {
            (format!("nobody-{}-{}", vu.index, session.count), "InitiateAuth (unknown user)")
        };
        let wrong = format!("wrong-{}", session.count);
        let fixture = vu.fixture.clone();
        let mut tx = Transaction::default();
        let result = password(&mut vu.conn, &mut tx, &fixture, &username, &wrong).await;
        // A wrong password that signs in would be a serious bug: count it as an error of its own.
        let result: Result<(), _> = match result {
            Ok(_) => Err(crate::scenario::tag(target, CallError::new("SignedInWithWrongPassword", username))),
            Err(mut e) => {
                e.operation = target;
                Err(e)
            }
        };
        Outcome {
            attack: true,
            ..tx.finish(if real { "attacker (real user)" } else { "attacker (unknown user)" }, result)
        }
    }
}

impl Scenario for Stuffing {
    type State = Session;

    fn name(&self) -> &'static str {
        "stuffing"
    }

    fn unit(&self) -> [&'static str; 2] {
        ["legitimate sign-ins", "legitimate sign-in"]
    }

    fn options(&self) -> serde_json::Value {
        json!({
            "legit_flow": self.legit_op.name(),
            "attackers": self.attackers,
            "attacker_ips": self.attacker_ips,
            "attacker_sources": format!("127.0.0.2-127.0.0.{}", u32::from(self.attacker_ips) + 1),
            "srp_a_bytes": self.ops.a_bytes,
        })
    }

    fn virtual_users(&self, concurrency: usize) -> usize {
        concurrency + self.attackers
    }

    fn source_ip(&self, index: usize) -> Option<IpAddr> {
        index.checked_sub(self.legit).map(|attacker| IpAddr::V4(self.attacker_ip(attacker)))
    }

    async fn init(&self, vu: &mut Vu) -> Result<Session, String> {
        let (legit, victims) = split_users(&vu.fixture.usernames);
        let share = if vu.index < self.legit { legit } else { victims };
        let mut fixture = (*vu.fixture).clone();
        fixture.usernames = share.to_vec();
        vu.fixture = std::sync::Arc::new(fixture);
        Ok(Session::default())
    }

    async fn iteration(&self, vu: &mut Vu, session: &mut Session) -> Outcome {
        if vu.index < self.legit {
            self.ops.run(self.legit_op, vu, session).await
        } else {
            self.attack(vu, session).await
        }
    }
}

/// The legitimate users (the first half, at least one) and the attackers' victims (the rest).
fn split_users(usernames: &[String]) -> (&[String], &[String]) {
    usernames.split_at(usernames.len().div_ceil(2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attackers_and_legitimate_users_get_different_users() {
        let users: Vec<String> = (0..5).map(|i| format!("u{i}")).collect();
        let (legit, victims) = split_users(&users);
        assert_eq!((legit.len(), victims.len()), (3, 2));
        let one = vec!["only".to_owned()];
        assert_eq!(split_users(&one), (&one[..], &[][..]));
    }

    #[test]
    fn attackers_get_loopback_sources() {
        let s = Stuffing { ops: Ops::new(32, None), legit_op: Op::Srp, legit: 2, attackers: 5, attacker_ips: 3 };
        assert_eq!(s.virtual_users(2), 7);
        assert_eq!(s.source_ip(1), None);
        let ips: Vec<_> = (2..7).map(|i| s.source_ip(i).unwrap().to_string()).collect();
        assert_eq!(ips, ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.2", "127.0.0.3"]);
    }
}
