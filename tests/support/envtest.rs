//! A real Kubernetes control plane for tests: etcd and kube-apiserver from
//! `KUBEBUILDER_ASSETS` (the layout of controller-runtime's envtest;
//! `../shared/envtest/install.sh` or `setup-envtest use` make one), with
//! kube-controller-manager when a test binary asks for controllers.
//!
//! - One control plane per test binary ([`shared`]); each test takes a
//!   namespace of its own ([`Cluster::namespace`]).
//! - A fixture that brings its own namespaces, nodes and APIServices gets a
//!   cluster of its own ([`isolated`]): another kube-apiserver on the same
//!   etcd under its own key prefix, ready in about a second. Fixtures reuse
//!   namespace names (`flts`, `seldon-mesh`, `ml`), so they cannot share one.
//! - Every process is started from one long-lived thread with
//!   `PR_SET_PDEATHSIG`, and stopped by pid at exit (`atexit`): whether the
//!   tests pass, panic, or the test process is killed, nothing outlives it.
//! - A server that does not come up fails the test with its last log lines.
//!
//! Without `KUBEBUILDER_ASSETS` the tests that need it print one line saying
//! how to enable them and return.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Condvar, Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use super::rest::Rest;

/// The static token of the `admin` user (group `system:masters`).
pub const ADMIN_TOKEN: &str = "mlopsctl-test-admin";

/// How long a server may take to become ready before the test fails.
const READY_WITHIN: Duration = Duration::from_secs(90);

/// The assets folder, or `None` (after saying once how to get one).
pub fn assets() -> Option<PathBuf> {
    static SAID: Once = Once::new();
    match std::env::var_os("KUBEBUILDER_ASSETS").filter(|v| !v.is_empty()) {
        Some(dir) => Some(PathBuf::from(dir)),
        None => {
            SAID.call_once(|| {
                super::skip::skipped(
                    "the real-control-plane tests need KUBEBUILDER_ASSETS \
                     (export KUBEBUILDER_ASSETS=$(../shared/envtest/install.sh), or \
                     $(setup-envtest use -p path) elsewhere)",
                );
            });
            None
        }
    }
}

/// The control plane of this test binary, started on first use; `None`
/// without assets. `controllers` starts kube-controller-manager with it: a
/// test binary either wants controllers in every test or in none.
pub fn shared(controllers: bool) -> Option<&'static ControlPlane> {
    static SHARED: OnceLock<ControlPlane> = OnceLock::new();
    let assets = assets()?;
    let plane = SHARED.get_or_init(|| ControlPlane::start(&assets, controllers));
    assert_eq!(
        plane.controllers.is_some(),
        controllers,
        "every test of one binary must ask for controllers the same way"
    );
    Some(plane)
}

/// A cluster of its own for one test (a fixture that brings cluster-scoped
/// objects): a kube-apiserver on the shared etcd under a new key prefix, no
/// controllers. Stopped when dropped. At most two start at a time.
pub fn isolated() -> Option<IsolatedCluster> {
    static PREFIX: AtomicUsize = AtomicUsize::new(0);
    static STARTING: (Mutex<usize>, Condvar) = (Mutex::new(0), Condvar::new());
    let etcd = etcd_only()?;
    // Starting an API server takes both cores for a second: two at a time.
    let (count, turn) = &STARTING;
    let mut starting = turn.wait_while(count.lock().unwrap(), |n| *n >= 2).unwrap();
    *starting += 1;
    drop(starting);
    let n = PREFIX.fetch_add(1, Ordering::SeqCst);
    let started = std::panic::catch_unwind(|| {
        ApiServer::start(etcd, &format!("/isolated-{n}"), &format!("isolated-{n}"))
    });
    *count.lock().unwrap() -= 1;
    turn.notify_one();
    let server = started.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    Some(IsolatedCluster {
        cluster: Cluster::new(server.url.clone(), etcd.dir.clone()),
        server,
    })
}

/// The etcd (and keys) that isolated clusters share, without an API server.
fn etcd_only() -> Option<&'static Etcd> {
    static ETCD: OnceLock<Etcd> = OnceLock::new();
    let assets = assets()?;
    Some(ETCD.get_or_init(|| Etcd::start(&assets, "isolated")))
}

/// A cluster a test talks to: its URL, an admin client, kubeconfigs.
pub struct Cluster {
    pub url: String,
    pub rest: Rest,
    /// Where this cluster's kubeconfigs and keys are.
    dir: PathBuf,
}

impl Cluster {
    fn new(url: String, dir: PathBuf) -> Cluster {
        Cluster {
            rest: Rest::new(&url, ADMIN_TOKEN),
            url,
            dir,
        }
    }

    /// A namespace of this test's own, `PREFIX-N`, with its `default`
    /// ServiceAccount (which kube-controller-manager would make, and without
    /// which no Pod can be created).
    pub fn namespace(&self, prefix: &str) -> String {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!("{prefix}-{}", N.fetch_add(1, Ordering::SeqCst));
        self.rest.ensure_namespace(&name);
        name
    }

    /// A kubeconfig for the admin user with `ns` as the context's namespace,
    /// written to `dir`.
    pub fn kubeconfig(&self, dir: &Path, ns: &str) -> PathBuf {
        self.kubeconfig_for(dir, ns, ADMIN_TOKEN)
    }

    /// A kubeconfig for a bearer token (a ServiceAccount's, from
    /// [`Rest::token_for`]).
    pub fn kubeconfig_for(&self, dir: &Path, ns: &str, token: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = dir.join(format!("kubeconfig-{}", N.fetch_add(1, Ordering::SeqCst)));
        std::fs::write(&path, kubeconfig_text(&self.url, ns, token)).unwrap();
        path
    }

    /// The folder of this cluster's keys and logs.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn kubeconfig_text(url: &str, ns: &str, token: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: envtest\n  cluster:\n    server: {url}\n    \
         insecure-skip-tls-verify: true\ncontexts:\n- name: envtest\n  context:\n    cluster: envtest\n    \
         user: envtest\n    namespace: {ns}\ncurrent-context: envtest\nusers:\n- name: envtest\n  user:\n    \
         token: {token}\n"
    )
}

/// etcd, kube-apiserver and, when asked, kube-controller-manager.
pub struct ControlPlane {
    pub cluster: Cluster,
    pub controllers: Option<u32>,
    _apiserver: ApiServer,
}

impl std::ops::Deref for ControlPlane {
    type Target = Cluster;
    fn deref(&self) -> &Cluster {
        &self.cluster
    }
}

impl ControlPlane {
    fn start(assets: &Path, controllers: bool) -> ControlPlane {
        let etcd: &'static Etcd = Box::leak(Box::new(Etcd::start(assets, "shared")));
        let apiserver = ApiServer::start(etcd, "/registry", "shared");
        let cluster = Cluster::new(apiserver.url.clone(), etcd.dir.clone());
        let controllers = controllers.then(|| start_controllers(etcd, &cluster));
        ControlPlane {
            cluster,
            controllers,
            _apiserver: apiserver,
        }
    }
}

/// A cluster of one test's own; its API server stops when it is dropped.
pub struct IsolatedCluster {
    pub cluster: Cluster,
    server: ApiServer,
}

impl std::ops::Deref for IsolatedCluster {
    type Target = Cluster;
    fn deref(&self) -> &Cluster {
        &self.cluster
    }
}

impl Drop for IsolatedCluster {
    fn drop(&mut self) {
        stop(self.server.pid);
    }
}

/// etcd with its data, keys and token file in a temporary folder.
struct Etcd {
    assets: PathBuf,
    dir: PathBuf,
    url: String,
}

impl Etcd {
    fn start(assets: &Path, name: &str) -> Etcd {
        let dir = temp_dir(name);
        // The ServiceAccount token signing key, and the static admin token.
        run(Command::new("openssl")
            .args([
                "ecparam",
                "-name",
                "prime256v1",
                "-genkey",
                "-noout",
                "-out",
            ])
            .arg(dir.join("sa.key")));
        run(Command::new("openssl")
            .args(["ec", "-pubout", "-in"])
            .arg(dir.join("sa.key"))
            .arg("-out")
            .arg(dir.join("sa.pub")));
        std::fs::write(
            dir.join("tokens.csv"),
            format!("{ADMIN_TOKEN},admin,admin,system:masters\n"),
        )
        .unwrap();
        let (client, peer) = (free_port(), free_port());
        let url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let log = dir.join("etcd.log");
        let etcd = assets.join("etcd");
        let mut command = Command::new(&etcd);
        command
            .args([
                "--name",
                "envtest",
                "--unsafe-no-fsync",
                "--log-level",
                "warn",
            ])
            .arg("--data-dir")
            .arg(dir.join("etcd"))
            .args([
                "--listen-client-urls",
                &url,
                "--advertise-client-urls",
                &url,
            ])
            .args(["--listen-peer-urls", &peer_url])
            .args(["--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("envtest={peer_url}")]);
        let pid = spawn_process(command, &log, &etcd);
        wait_until(
            || std::net::TcpStream::connect(("127.0.0.1", client)).is_ok() && process_alive(pid),
            &[&log],
            "etcd",
        );
        Etcd {
            assets: assets.to_path_buf(),
            dir,
            url,
        }
    }
}

/// One kube-apiserver process.
struct ApiServer {
    url: String,
    pid: u32,
}

impl ApiServer {
    fn start(etcd: &Etcd, prefix: &str, name: &str) -> ApiServer {
        let port = free_port();
        let url = format!("https://127.0.0.1:{port}");
        let certs = etcd.dir.join(format!("certs-{name}"));
        let log = etcd.dir.join(format!("apiserver-{name}.log"));
        let binary = etcd.assets.join("kube-apiserver");
        let mut command = Command::new(&binary);
        command
            .arg(format!("--etcd-servers={}", etcd.url))
            .arg(format!("--etcd-prefix={prefix}"))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--secure-port={port}"))
            // The address the API server announces for the `kubernetes`
            // Service; it must not be a loopback address.
            .arg(format!("--advertise-address={}", machine_address()))
            .arg(format!("--cert-dir={}", certs.display()))
            .arg(format!(
                "--token-auth-file={}",
                etcd.dir.join("tokens.csv").display()
            ))
            .arg("--authorization-mode=RBAC")
            // Room for the thousands of Services of benches/scale.rs's
            // synthetic clusters (a /24 holds 254).
            .arg("--service-cluster-ip-range=10.0.0.0/16")
            .arg("--service-account-issuer=https://kubernetes.default.svc")
            .arg(format!(
                "--service-account-key-file={}",
                etcd.dir.join("sa.pub").display()
            ))
            .arg(format!(
                "--service-account-signing-key-file={}",
                etcd.dir.join("sa.key").display()
            ));
        let pid = spawn_process(command, &log, &binary);
        let rest = Rest::new(&url, ADMIN_TOKEN);
        wait_until(
            || {
                assert!(
                    process_alive(pid),
                    "kube-apiserver exited:\n{}",
                    tail(&log, 30)
                );
                rest.ready()
            },
            &[&log],
            "kube-apiserver",
        );
        ApiServer { url, pid }
    }
}

/// kube-controller-manager for this cluster; returns its pid once the
/// `default` ServiceAccount of `default` exists (its controllers run).
fn start_controllers(etcd: &Etcd, cluster: &Cluster) -> u32 {
    let kubeconfig = cluster.kubeconfig_for(&etcd.dir, "default", ADMIN_TOKEN);
    let log = etcd.dir.join("controller-manager.log");
    let binary = etcd.assets.join("kube-controller-manager");
    assert!(
        binary.is_file(),
        "{} is missing: the tests with controllers need kube-controller-manager in \
         KUBEBUILDER_ASSETS (../shared/envtest/install.sh puts it there)",
        binary.display()
    );
    let mut command = Command::new(&binary);
    let k = kubeconfig.display().to_string();
    command
        .arg(format!("--kubeconfig={k}"))
        .arg(format!("--authentication-kubeconfig={k}"))
        .arg(format!("--authorization-kubeconfig={k}"))
        .arg(format!(
            "--service-account-private-key-file={}",
            etcd.dir.join("sa.key").display()
        ))
        .arg(format!(
            "--root-ca-file={}",
            etcd.dir.join("certs-shared/apiserver.crt").display()
        ))
        .args(["--leader-elect=false", "--secure-port=0", "--controllers=*"]);
    let pid = spawn_process(command, &log, &binary);
    wait_until(
        || {
            assert!(
                process_alive(pid),
                "kube-controller-manager exited:\n{}",
                tail(&log, 30)
            );
            cluster
                .rest
                .get("/api/v1/namespaces/default/serviceaccounts/default")
                .0
                == 200
        },
        &[&log],
        "kube-controller-manager",
    );
    pid
}

/// Poll `ready` until it holds; fail with the logs' last lines if it never does.
fn wait_until(mut ready: impl FnMut() -> bool, logs: &[&Path], what: &str) {
    let start = Instant::now();
    while start.elapsed() < READY_WITHIN {
        if ready() {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let tails: Vec<String> = logs
        .iter()
        .map(|l| format!("{}:\n{}", l.display(), tail(l, 30)))
        .collect();
    panic!(
        "{what} was not ready within {}s:\n{}",
        READY_WITHIN.as_secs(),
        tails.join("\n")
    );
}

/// The last `n` lines of a log file.
pub fn tail(path: &Path, n: usize) -> String {
    let Ok(file) = std::fs::File::open(path) else {
        return format!("(no log at {})", path.display());
    };
    let lines: Vec<String> = BufReader::new(file).lines().map_while(Result::ok).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn run(command: &mut Command) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e} (is openssl installed?)"));
    assert!(
        out.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A free loopback port (released for the process that binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// This machine's first non-loopback IPv4 address: what the API server
/// advertises, and what EndpointSlices hold (they may not hold loopback
/// addresses, and nothing dials them in a cluster without nodes).
pub fn machine_address() -> String {
    static ADDRESS: OnceLock<String> = OnceLock::new();
    ADDRESS
        .get_or_init(|| {
            let mut found = None;
            // SAFETY: getifaddrs fills a list we only read, then free.
            unsafe {
                let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
                if libc::getifaddrs(&mut list) == 0 {
                    let mut cursor = list;
                    while !cursor.is_null() && found.is_none() {
                        let addr = (*cursor).ifa_addr;
                        if !addr.is_null() && i32::from((*addr).sa_family) == libc::AF_INET {
                            let v4 = &*(addr as *const libc::sockaddr_in);
                            let ip = std::net::Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr));
                            if !ip.is_loopback() && !ip.is_link_local() {
                                found = Some(ip.to_string());
                            }
                        }
                        cursor = (*cursor).ifa_next;
                    }
                    libc::freeifaddrs(list);
                }
            }
            found.expect(
                "this machine has no non-loopback IPv4 address for kube-apiserver to advertise",
            )
        })
        .clone()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("mlopsctl-envtest-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    registry().lock().unwrap().dirs.push(dir.clone());
    dir
}

/// What to clean up at exit.
#[derive(Default)]
struct Registry {
    pids: Vec<u32>,
    dirs: Vec<PathBuf>,
}

fn registry() -> &'static Mutex<Registry> {
    static REGISTRY: OnceLock<Mutex<Registry>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        // SAFETY: registering a plain function to run at exit.
        unsafe { libc::atexit(stop_all) };
        Mutex::default()
    })
}

/// At exit (tests done, passed or panicked): stop every process by pid and
/// remove the temporary folders.
extern "C" fn stop_all() {
    let Ok(mut registry) = registry().lock() else {
        return;
    };
    for pid in registry.pids.drain(..).rev() {
        stop(pid);
    }
    for dir in registry.dirs.drain(..) {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// SIGTERM, a moment to finish, then SIGKILL.
pub fn stop(pid: u32) {
    let pid = pid as libc::pid_t;
    // SAFETY: signals to a child of ours, by pid.
    unsafe {
        if libc::kill(pid, libc::SIGTERM) != 0 {
            return;
        }
        for _ in 0..50 {
            if libc::waitpid(pid, std::ptr::null_mut(), libc::WNOHANG) == pid {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        libc::kill(pid, libc::SIGKILL);
        libc::waitpid(pid, std::ptr::null_mut(), 0);
    }
}

fn process_alive(pid: u32) -> bool {
    // SAFETY: reaps the child if it exited; does not block.
    unsafe { libc::waitpid(pid as libc::pid_t, std::ptr::null_mut(), libc::WNOHANG) == 0 }
}

type SpawnRequest = (Command, mpsc::Sender<std::io::Result<Child>>);

/// Start a process from the launcher thread, its output to `log`; returns its pid.
pub fn spawn_process(mut command: Command, log: &Path, binary: &Path) -> u32 {
    static LAUNCHER: OnceLock<Mutex<mpsc::Sender<SpawnRequest>>> = OnceLock::new();
    let launcher = LAUNCHER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<SpawnRequest>();
        // PR_SET_PDEATHSIG fires when the *thread* that started a child
        // ends, so children are started from this thread, which lives as
        // long as the test process.
        std::thread::spawn(move || {
            for (mut command, reply) in rx {
                let _ = reply.send(command.spawn());
            }
        });
        Mutex::new(tx)
    });
    let out = std::fs::File::create(log).unwrap();
    command
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    // SAFETY: prctl is async-signal-safe; it only asks the kernel to kill
    // the child when its parent thread exits.
    unsafe {
        use std::os::unix::process::CommandExt;
        command.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    let (tx, rx) = mpsc::channel();
    launcher.lock().unwrap().send((command, tx)).unwrap();
    let child = rx
        .recv()
        .unwrap()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let pid = child.id();
    // The pid is reaped by `stop`/`process_alive`; the handle is not needed.
    std::mem::forget(child);
    registry().lock().unwrap().pids.push(pid);
    pid
}
