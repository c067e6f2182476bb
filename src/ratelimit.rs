//! Request-rate limits with `governor`: per source IP over everything, and per user pool and
//! Cognito quota category (the operation → category table lives in `idp::operations`).

use std::net::IpAddr;
use std::num::NonZeroU32;

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimitConfig;

macro_rules! quota_categories {
    ($( $variant:ident = $rps:literal ),* $(,)?) => {
        /// Cognito's request-rate quota categories, with the default requests per second.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum QuotaCategory { $( $variant ),* }

        impl QuotaCategory {
            pub const ALL: &'static [QuotaCategory] = &[ $( QuotaCategory::$variant ),* ];
            pub fn name(self) -> &'static str {
                match self { $( Self::$variant => stringify!($variant) ),* }
            }
            /// Cognito's default quota in requests per second.
            pub fn default_rps(self) -> u32 {
                match self { $( Self::$variant => $rps ),* }
            }
        }
    };
}

quota_categories! {
    UserAuthentication = 120,
    UserCreation = 50,
    UserFederation = 25,
    UserAccountRecovery = 30,
    UserRead = 120,
    UserUpdate = 25,
    UserToken = 120,
    UserResourceRead = 50,
    UserResourceUpdate = 25,
    UserList = 30,
    UserPoolRead = 15,
    UserPoolUpdate = 15,
    UserPoolResourceRead = 20,
    UserPoolResourceUpdate = 15,
    UserPoolClientRead = 15,
    UserPoolClientUpdate = 15,
    ClientAuthentication = 150,
}

impl QuotaCategory {
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|c| c.name() == name)
    }
}

/// Which limit refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    SourceIp,
    Category(QuotaCategory),
}

pub struct RateLimits {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Indexed like `QuotaCategory::ALL`; keyed by pool id ("" for account-level operations).
    per_category: Vec<DefaultKeyedRateLimiter<String>>,
}

fn quota(rps: u32, burst: u32) -> Quota {
    let rps = NonZeroU32::new(rps).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(rps).allow_burst(NonZeroU32::new(burst).unwrap_or(rps))
}

impl RateLimits {
    pub fn new(config: &RateLimitConfig) -> Self {
        let per_ip = (config.per_ip_rps > 0).then(|| RateLimiter::keyed(quota(config.per_ip_rps, config.per_ip_burst)));
        let per_category = QuotaCategory::ALL
            .iter()
            .map(|c| {
                let rps = config.categories.get(c.name()).copied().unwrap_or_else(|| c.default_rps());
                RateLimiter::keyed(quota(rps, rps))
            })
            .collect();
        Self { per_ip, per_category }
    }

    /// Admits one request to `category` for `pool` ("" for account-level operations). Every
    /// refusal here and in [`RateLimits::check_ip`] counts in `portcullis_rate_limited_total{limit}`.
    pub fn check_category(&self, pool: &str, category: QuotaCategory) -> Result<(), Refusal> {
        let index = QuotaCategory::ALL.iter().position(|c| *c == category).unwrap_or(0);
        match self.per_category.get(index) {
            Some(limiter) => limiter.check_key(&pool.to_owned()).map_err(|_| {
                metrics::counter!("portcullis_rate_limited_total", "limit" => category.name()).increment(1);
                Refusal::Category(category)
            }),
            None => Ok(()),
        }
    }

    /// Admits one request from `ip`; checked before anything else is done for it.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Refusal> {
        match &self.per_ip {
            Some(limiter) => limiter.check_key(&ip).map_err(|_| {
                metrics::counter!("portcullis_rate_limited_total", "limit" => "source_ip").increment(1);
                Refusal::SourceIp
            }),
            None => Ok(()),
        }
    }

    /// Forgets idle keys so the maps do not grow without bound (called periodically).
    pub fn forget_idle(&self) {
        if let Some(l) = &self.per_ip {
            l.retain_recent();
        }
        for l in &self.per_category {
            l.retain_recent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn category_limit_applies_per_pool() {
        let mut categories = BTreeMap::new();
        categories.insert("UserPoolRead".to_owned(), 2);
        let limits = RateLimits::new(&RateLimitConfig { per_ip_rps: 0, per_ip_burst: 0, categories });
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(limits.check_ip(ip).is_ok());
        assert!(limits.check_category("p1", QuotaCategory::UserPoolRead).is_ok());
        assert!(limits.check_category("p1", QuotaCategory::UserPoolRead).is_ok());
        assert_eq!(
            limits.check_category("p1", QuotaCategory::UserPoolRead),
            Err(Refusal::Category(QuotaCategory::UserPoolRead))
        );
        assert!(limits.check_category("p2", QuotaCategory::UserPoolRead).is_ok());
        assert!(limits.check_category("p1", QuotaCategory::UserRead).is_ok());
    }

    #[test]
    fn source_ip_limit_comes_first() {
        let limits = RateLimits::new(&RateLimitConfig { per_ip_rps: 1, per_ip_burst: 1, categories: BTreeMap::new() });
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        assert!(limits.check_ip(ip).is_ok());
        assert_eq!(limits.check_ip(ip), Err(Refusal::SourceIp));
        assert!(limits.check_ip("10.0.0.2".parse().unwrap()).is_ok());
    }
}
