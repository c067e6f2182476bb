//! Criterion benches of each hot step alone, against the real components: the server's SRP step,
//! USER_PASSWORD_AUTH's verifier check (and the check tag it compares instead), SignUp's
//! verifier, one RS256 signature in SoftHSM through PKCS#11 (and 16 of them on one thread against
//! two: whether signing scales with workers), one directory read and one synced
//! create in RocksDB, one request body decoded and validated.
//!
//! Run with `cargo bench --bench hot_steps` (release profile: the first run compiles RocksDB).
//! `loadtests/efficiency.sh` runs them and the load scenarios together and divides.

use std::sync::Arc;

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use cryptoki::types::AuthPin;

use portcullis::auth::password::{DataCipher, PasswordOf};
use portcullis::auth::srp::{server_challenge, SrpVerifier};
use portcullis::auth::srp_client::SrpClient;
use portcullis::hsm::{HsmSettings, KeyVault, Pkcs11Vault};
use portcullis::ids::PoolId;
use portcullis::protocol::model::cognito_idp;
use portcullis::store::records::{now_epoch, UserPool};
use portcullis::store::{Directory, RocksStore, StoreMemory};

/// A fresh SoftHSM token in a temporary directory (the module reads `SOFTHSM2_CONF` once per
/// process, so every bench shares this one).
fn dev_vault(dir: &std::path::Path) -> Pkcs11Vault {
    let tokens = dir.join("tokens");
    std::fs::create_dir_all(&tokens).expect("token dir");
    let conf = dir.join("softhsm2.conf");
    std::fs::write(&conf, format!("directories.tokendir = {}\nobjectstore.backend = file\n", tokens.display()))
        .expect("softhsm2.conf");
    std::env::set_var("SOFTHSM2_CONF", &conf);
    Pkcs11Vault::open(&HsmSettings {
        module: portcullis::config::default_pkcs11_module(),
        token_label: "portcullis-bench".into(),
        pin: AuthPin::new("1234".into()),
        init_if_missing: true,
        max_idle_sessions: 4,
    })
    .expect("open SoftHSM token")
}

/// The server's share of USER_SRP_AUTH: B = k·v + g^b, u, S = (A·v^u)^b and the HKDF key
/// (g^b from the fixed-base table, v^u and (A·v^u)^b on OpenSSL's constant-time exponentiation); the
/// PASSWORD_VERIFIER step is one HMAC on top.
fn srp_server_step(c: &mut Criterion) {
    let verifier = SrpVerifier::generate("AbCdEfGhI", "alice", "Correct-Horse-9!").expect("verifier");
    let srp_a = SrpClient::new().expect("client").srp_a_hex();
    c.bench_function("srp_server_step", |b| b.iter(|| server_challenge(black_box(&verifier), black_box(&srp_a))));
}

/// USER_PASSWORD_AUTH's check: x from the password, g^x mod N, constant-time compare with v.
fn password_verifier_check(c: &mut Criterion) {
    let verifier = SrpVerifier::generate("AbCdEfGhI", "alice", "Correct-Horse-9!").expect("verifier");
    c.bench_function("password_verifier_check", |b| {
        b.iter(|| verifier.matches_password("AbCdEfGhI", "alice", black_box("Correct-Horse-9!")))
    });
}

/// What USER_PASSWORD_AUTH does instead (`auth::password`): x from the password, HMAC of x under
/// the check key, constant-time compare with the sealed tag.
fn password_check_tag(c: &mut Criterion) {
    let cipher = DataCipher::new(&DataCipher::generate_data_key().expect("data key"), true).expect("cipher");
    let of = PasswordOf { pool_short: "AbCdEfGhI", user_id_for_srp: "alice", password: "Correct-Horse-9!" };
    let verifier = SrpVerifier::generate(of.pool_short, of.user_id_for_srp, of.password).expect("verifier");
    let sealed = cipher.seal("ctx", &verifier, of).expect("seal");
    let check = cipher.check_of(cipher.open("ctx", &sealed).expect("open"));
    c.bench_function("password_check_tag", |b| b.iter(|| check.matches(black_box(of))));
}

/// SignUp's verifier: a fresh salt, x from the password, v = g^x mod N.
fn signup_verifier(c: &mut Criterion) {
    c.bench_function("signup_verifier_generate", |b| {
        b.iter(|| SrpVerifier::generate("AbCdEfGhI", black_box("alice"), black_box("Correct-Horse-9!")))
    });
}

/// Signatures per iteration of the signing-scaling bench.
const SCALING_BATCH: usize = 16;

fn hsm_sign(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let vault = dev_vault(dir.path());
    vault.generate_signing_key("bench-kid").expect("generate key");
    // A JWT signing input of the size of a Cognito access token's header and claims.
    let message = vec![b'x'; 900];
    c.bench_function("hsm_rs256_sign", |b| b.iter(|| vault.sign_rs256("bench-kid", black_box(&message))));
    // Does SoftHSM serialise signatures on one key object? The same 16 signatures with the same
    // key, on one thread and then split over two (each thread signs on its own pooled session, as
    // the workers do): two threads taking about half the time means signing scales with workers.
    let mut scaling = c.benchmark_group("hsm_rs256_sign_x16");
    scaling.sample_size(20).measurement_time(std::time::Duration::from_secs(8));
    for threads in [1usize, 2] {
        scaling.bench_function(format!("{threads}_threads"), |b| {
            // The threads live for a whole sample (many iterations), as the daemon's workers do: a
            // new thread's first signatures are slow (two threads started per 16 signatures spend
            // their time waiting on locks, futex calls under strace, and scale only ~1.2x).
            b.iter_custom(|iters| {
                let per_thread = iters as usize * SCALING_BATCH / threads;
                let started = std::time::Instant::now();
                std::thread::scope(|scope| {
                    for _ in 0..threads {
                        scope.spawn(|| {
                            for _ in 0..per_thread {
                                let _ = black_box(vault.sign_rs256("bench-kid", black_box(&message)));
                            }
                        });
                    }
                });
                started.elapsed()
            })
        });
    }
    scaling.finish();
    vault.destroy_signing_key("bench-kid").expect("destroy key");
    vault.close();
}

fn store_read(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = RocksStore::open(dir.path(), true, StoreMemory::SMALL).expect("open RocksDB");
    let directory = Directory::new(Arc::new(store));
    let pool = UserPool {
        id: PoolId::generate("us-east-1"),
        name: "bench".into(),
        created: now_epoch(),
        modified: now_epoch(),
        signing_keys: Vec::new(),
        settings: serde_json::Map::new(),
        tags: Default::default(),
    };
    directory.create_pool(&pool).expect("create pool");
    c.bench_function("store_read_pool", |b| b.iter(|| directory.pool(black_box(&pool.id)).map(|v| v.record.id)));
    // SignUp's durable write: a create (absence checked under lock) acknowledged after the WAL's
    // fsync. Wall time, most of it waiting for the disk.
    c.bench_function("store_synced_create", |b| {
        b.iter(|| directory.create_pool(&UserPool { id: PoolId::generate("us-east-1"), ..pool.clone() }))
    });
}

fn decode_and_validate(c: &mut Criterion) {
    let model = cognito_idp();
    let op = model.operation("InitiateAuth").expect("InitiateAuth in the model");
    let body = br#"{"AuthFlow":"USER_SRP_AUTH","ClientId":"abcdefghijklmnopqrstuvwxyz","AuthParameters":{"USERNAME":"alice","SRP_A":"5ded2bdb88d7750a2099072632a1fff026ee8e9896c640205273c62146838d5235bfb5d6582945c74b30de0f11383bbd"}}"#;
    c.bench_function("json_decode_validate", |b| {
        b.iter(|| {
            let value: serde_json::Value = serde_json::from_slice(black_box(body)).expect("valid JSON");
            model.validate_input(op, &value).is_ok()
        })
    });
}

criterion_group!(
    benches,
    srp_server_step,
    password_verifier_check,
    password_check_tag,
    signup_verifier,
    hsm_sign,
    store_read,
    decode_and_validate
);
criterion_main!(benches);
