//! The contest's rules, checked on every `cargo test` against what is
//! submitted: the folder `scripts/submission.sh` writes (its
//! `docker-compose.yml`, with a pinned public image and no `build:`, and
//! `haproxy.cfg`). The repository's own `docker-compose.yml` is that file
//! plus `build: .` on the api services, so a checkout comes up with `docker
//! compose up`; a test pins the two to differ by exactly that.
//!
//! A submission that breaks one of these is disqualified or simply does not
//! start on the test machine, and nothing else in the test suite would
//! notice: the stack is never run under Compose by `cargo test` alone (see
//! `tests/docker_e2e.rs` for that, when an engine is available).
//!
//! The compose file is read by `tests/compose/mod.rs`, a parser of the
//! block subset it is written in that refuses every other construct (so
//! nobody can slip a rule past it by writing YAML it misreads). Units follow
//! Docker's: `M`/`MB` are MiB, and the budget is 350 of those.

mod compose;
mod support;

use compose::{Yaml, parse, parse_bytes, parse_cpus};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use support::prerequisite;

/// The contest budget, in thousandths of a CPU and in bytes.
const CPU_BUDGET_MILLI: u64 = 1_500;
const MEMORY_BUDGET: u64 = 350 * 1024 * 1024;
/// Official ("library") images that may appear without a namespace.
const OFFICIAL_IMAGES: &[&str] = &["haproxy", "nginx", "envoy", "traefik"];
/// Images of this name are load balancers.
const LOAD_BALANCERS: &[&str] = &["haproxy", "nginx", "envoy", "traefik"];

fn repo_file(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(name)
}

fn read(name: &str) -> String {
    let path = repo_file(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The image the tests pin in the submission.
const PINNED_IMAGE: &str = "ghcr.io/someone/rinha:1.2.3";
/// What the repository's compose file names (built locally when absent).
const REPO_IMAGE: &str = "ghcr.io/rinha-rs/rinha:latest";

/// A submission folder written by `scripts/submission.sh` into a temporary
/// directory, removed on drop.
struct Submission {
    root: PathBuf,
    folder: PathBuf,
}

impl Submission {
    /// Runs the script with `image` (unset: its default) and the metadata
    /// the folder test checks; the script's output if it failed.
    fn write(name: &str, image: Option<&str>) -> Result<Submission, String> {
        // Tests run in parallel in one process: one directory per call.
        static CALLS: AtomicUsize = AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, Ordering::Relaxed);
        let root = std::env::temp_dir().join(format!(
            "rinha-submission-{}-{call}-{name}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&root);
        let mut command = Command::new("bash");
        command
            .arg(repo_file("scripts/submission.sh"))
            .arg(name)
            .arg(&root)
            .env_remove("RINHA_IMAGE")
            .env("SUBMISSION_PARTICIPANT", "Ana \"Quoted\" Dev")
            .env(
                "SUBMISSION_SOCIAL",
                "https://x.com/ana, https://github.com/ana",
            )
            .env("SUBMISSION_REPO", "https://github.com/ana/rinha");
        if let Some(image) = image {
            command.env("RINHA_IMAGE", image);
        }
        let output = command.output().unwrap();
        let submission = Submission {
            folder: root.join(name),
            root,
        };
        if output.status.success() {
            Ok(submission)
        } else {
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }

    fn pinned() -> Submission {
        Submission::write("rules-check", Some(PINNED_IMAGE))
            .unwrap_or_else(|e| panic!("submission.sh failed:\n{e}"))
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.folder.join(file)).unwrap()
    }
}

impl Drop for Submission {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.root);
    }
}

// ---------------------------------------------------------------- the rules

#[test]
fn the_submission_obeys_every_contest_rule() {
    let submission = Submission::pinned();
    let compose = parse(&submission.read("docker-compose.yml")).unwrap_or_else(|e| panic!("{e}"));
    let violations = violations(&compose, &submission.read("haproxy.cfg"));
    assert!(
        violations.is_empty(),
        "the submission's docker-compose.yml / haproxy.cfg break contest rules:\n  - {}",
        violations.join("\n  - ")
    );
}

/// What the rules were checked on is what runs from a checkout, but for
/// the image's name and the `build: .` lines.
#[test]
fn the_repository_compose_file_is_the_submission_plus_build_keys() {
    let submission = Submission::pinned();
    let repo = read("docker-compose.yml");
    assert!(
        repo.lines().filter(|l| l.trim() == "build: .").count() >= 2,
        "docker-compose.yml: every api service should carry `build: .`"
    );
    let expected: String = repo
        .lines()
        .filter(|l| *l != "    build: .")
        .map(|l| l.replace(REPO_IMAGE, PINNED_IMAGE) + "\n")
        .collect();
    assert_eq!(submission.read("docker-compose.yml"), expected);
}

/// `docker-compose config -q` validates against Compose's own schema,
/// which the subset parser here does not know: both files must pass it.
#[test]
fn docker_compose_accepts_the_file_with_and_without_build_keys() {
    let available = Command::new("docker-compose")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !available {
        eprintln!("skipped: docker-compose is not installed");
        return;
    }
    let submission = Submission::pinned();
    for dir in [repo_file(""), submission.folder.clone()] {
        let output = Command::new("docker-compose")
            .args(["-f", "docker-compose.yml", "config", "-q"])
            .current_dir(&dir)
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "docker-compose config -q in {}:\n{}",
            dir.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The bench scripts read the same file with `bench/compose.py`: both
/// readers must see the same services, images and limits, and refuse the
/// same constructs, or a bench would size its cgroups differently from what
/// the rules were checked on.
#[test]
fn the_bench_reader_reads_what_this_one_reads() {
    if let Err(error) = Command::new("python3").arg("--version").output() {
        let why = format!("python3 --version: {error}");
        prerequisite::missing("python3", &why, "apt-get install python3");
        return;
    }
    let bench_reader = |path: &Path| {
        let output = Command::new("python3")
            .arg(repo_file("bench/compose.py"))
            .arg("facts")
            .arg(path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(stderr)
        }
    };
    let submission = Submission::pinned();
    for path in [
        repo_file("docker-compose.yml"),
        submission.folder.join("docker-compose.yml"),
    ] {
        let ours: String = compose::services(&compose::read(&path))
            .iter()
            .map(|s| {
                let text = |v: Option<String>| v.unwrap_or_else(|| "-".into());
                format!(
                    "{} {} {} {}\n",
                    s.name,
                    text(s.image.clone()),
                    text(s.cpus_milli.map(|v| v.to_string())),
                    text(s.memory_bytes.map(|v| v.to_string()))
                )
            })
            .collect();
        assert_eq!(bench_reader(&path), Ok(ours), "{}", path.display());
    }
    let refused = submission.root.join("refused.yml");
    for source in [
        "services:\n  a: &x 1\n",
        "services:\n  a: {b: 1}\n",
        "services:\n  a: |\n    text\n",
        "services:\n  a:\n    - b: 1\n",
        "services:\n  a: 1\n  a: 2\n",
        "services:\n\ta: 1\n",
    ] {
        let rust = parse(source).expect_err(source);
        std::fs::write(&refused, source).unwrap();
        let python = bench_reader(&refused).expect_err(source);
        let line = |e: &str| e.split("line ").nth(1).map(|r| r[..1].to_string());
        assert_eq!(line(&python), line(&rust), "{source:?}: {python} / {rust}");
    }
}

#[test]
fn haproxy_accepts_the_configuration() {
    let Some(haproxy) = find_haproxy() else {
        eprintln!("skipped: haproxy is not installed (apt-get install haproxy); CI installs it");
        return;
    };
    let output = Command::new(&haproxy)
        .args(["-c", "-f"])
        .arg(repo_file("haproxy.cfg"))
        .output()
        .unwrap_or_else(|e| panic!("{}: {e}", haproxy.display()));
    assert!(
        output.status.success(),
        "haproxy -c -f haproxy.cfg failed:\n{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Each rule must actually bite: a table of one-line breakages of the real
/// file, each of which must be reported with the given words.
#[test]
fn each_rule_catches_its_breakage() {
    let submission = Submission::pinned();
    let original = submission.read("docker-compose.yml");
    let cfg = submission.read("haproxy.cfg");
    let cases: &[(&str, &str, &str, &str)] = &[
        // (what, replace this, with this, expected in a violation)
        (
            "over the CPU budget",
            "cpus: \"0.5\"",
            "cpus: \"0.9\"",
            "cpus add up to 1.900",
        ),
        (
            "over the memory budget",
            "memory: \"125MB\"",
            "memory: \"200MB\"",
            "memory adds up to 425 MiB",
        ),
        (
            "a limit missing",
            "          memory: \"100MB\"\n",
            "",
            "haproxy: no deploy.resources.limits.memory",
        ),
        (
            "host networking",
            "    restart: unless-stopped\n    deploy:",
            "    restart: unless-stopped\n    network_mode: host\n    deploy:",
            "network_mode host",
        ),
        (
            "privileged",
            "    restart: unless-stopped\n    deploy:",
            "    restart: unless-stopped\n    privileged: true\n    deploy:",
            "privileged",
        ),
        (
            "replicas",
            "    deploy:\n      resources:",
            "    deploy:\n      replicas: 2\n      resources:",
            "deploy.replicas",
        ),
        (
            "a port published by an api",
            "    command: [\"api\"]\n",
            "    command: [\"api\"]\n    ports:\n      - \"8080:8080\"\n",
            "publish ports",
        ),
        (
            "a local image",
            "image: ghcr.io/someone/rinha:1.2.3",
            "image: rinha:dev",
            "not on a public registry",
        ),
        (
            "an image that is not pinned",
            "image: ghcr.io/someone/rinha:1.2.3",
            "image: ghcr.io/someone/rinha:latest",
            "not pinned",
        ),
        (
            "an image without a tag",
            "image: haproxy:3.0-alpine",
            "image: haproxy",
            "no explicit tag",
        ),
        (
            "an image built at run time",
            "    command: [\"api\"]",
            "    command: [\"api\"]\n    build: .",
            "builds its image",
        ),
        (
            "the processors' network not external",
            "    external: true",
            "    driver: bridge",
            "payment-processor must be declared external",
        ),
        (
            "an api off the processors' network",
            "      - backend\n      - payment-processor\n",
            "      - backend\n",
            "does not join payment-processor",
        ),
        (
            "a socket haproxy.cfg does not name",
            "RINHA_LISTEN: \"unix:/sockets/api2.sock\"",
            "RINHA_LISTEN: \"unix:/sockets/api9.sock\"",
            "unix@/sockets/api9.sock",
        ),
        (
            "instances with different shared files",
            "RINHA_SHARED_FILE: \"/sockets/rinha.shm\"",
            "RINHA_SHARED_FILE: \"/sockets/other.shm\"",
            "must share one RINHA_SHARED_FILE",
        ),
        (
            "the shared file outside the shared volume",
            "RINHA_SHARED_FILE: \"/sockets/rinha.shm\"",
            "RINHA_SHARED_FILE: \"/tmp/rinha.shm\"",
            "not on a tmpfs volume every api mounts",
        ),
        (
            "the volume on disk",
            "      type: tmpfs\n",
            "      type: none\n",
            "not on a tmpfs volume the load balancer also mounts",
        ),
    ];
    for &(what, from, to, expected) in cases {
        assert!(
            original.contains(from),
            "{what}: the submission's docker-compose.yml no longer contains {from:?}; update this table"
        );
        let broken = original.replacen(from, to, 1);
        let compose = parse(&broken).unwrap_or_else(|e| panic!("{what}: {e}"));
        let found = violations(&compose, &cfg);
        assert!(
            found.iter().any(|v| v.contains(expected)),
            "{what}: expected a violation containing {expected:?}, got {found:#?}"
        );
    }
}

#[test]
fn a_configuration_without_the_arrival_stamp_is_refused() {
    let submission = Submission::pinned();
    let compose = parse(&submission.read("docker-compose.yml")).unwrap();
    let cfg = submission.read("haproxy.cfg");
    let line = "    http-request set-header X-Rinha-Arrived %[date(0,ms)]\n";
    assert!(cfg.contains(line), "haproxy.cfg no longer has {line:?}");
    let found = violations(&compose, &cfg.replacen(line, "", 1));
    assert!(
        found.iter().any(|v| v.contains("X-Rinha-Arrived")),
        "{found:#?}"
    );
}

#[test]
fn a_single_instance_is_refused() {
    let compose = parse(
        "services:\n  lb:\n    image: haproxy:3.0-alpine\n    ports:\n      - \"9999:9999\"\n  \
         api1:\n    image: ghcr.io/a/b:1\n    environment:\n      RINHA_LISTEN: unix:/s/a.sock\n",
    )
    .unwrap();
    let found = violations(&compose, "bind *:9999\nunix@/s/a.sock\n");
    assert!(
        found.iter().any(|v| v.contains("at least two")),
        "{found:#?}"
    );
}

/// `scripts/submission.sh` writes exactly the four files the contest wants,
/// and the compose file in it still obeys every rule with the image pinned.
#[test]
fn the_submission_folder_holds_only_what_the_contest_wants() {
    let submission = Submission::pinned();
    let mut files: Vec<String> = std::fs::read_dir(&submission.folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "README.md",
            "docker-compose.yml",
            "haproxy.cfg",
            "info.json"
        ]
    );
    let compose = submission.read("docker-compose.yml");
    assert_eq!(
        compose.matches(&format!("image: {PINNED_IMAGE}")).count(),
        2
    );
    assert!(!compose.contains(REPO_IMAGE));
    let build_keys = parse(&compose)
        .unwrap()
        .get("services")
        .and_then(Yaml::as_map)
        .unwrap()
        .iter()
        .filter(|(_, service)| service.get("build").is_some())
        .count();
    assert_eq!(build_keys, 0, "the contest pulls images, it never builds");
    assert_eq!(submission.read("haproxy.cfg"), read("haproxy.cfg"));
    let info = submission.read("info.json");
    for expected in [
        r#""name": "Ana \"Quoted\" Dev""#,
        r#""social": ["https://x.com/ana", "https://github.com/ana"]"#,
        r#""source-code-repo": "https://github.com/ana/rinha""#,
        r#""langs": ["rust"]"#,
        r#""load-balancers": ["haproxy"]"#,
    ] {
        assert!(
            info.contains(expected),
            "info.json lacks {expected}:\n{info}"
        );
    }
    let readme = submission.read("README.md");
    assert!(readme.contains("https://github.com/ana/rinha"), "{readme}");
    assert!(readme.contains(PINNED_IMAGE), "{readme}");
}

/// Without RINHA_IMAGE the image is pinned to the crate's version (what the
/// workflow publishes for the tag `v<version>`); `latest` or no tag at all
/// is refused, since a later push would change a run already scheduled.
#[test]
fn the_submission_image_is_always_pinned() {
    let version = read("Cargo.toml")
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|l| l.strip_suffix('"'))
        .unwrap()
        .to_string();
    let default = Submission::write("pin-default", None).unwrap();
    assert!(
        default
            .read("docker-compose.yml")
            .contains(&format!("image: ghcr.io/rinha-rs/rinha:{version}\n")),
        "the default image should be the crate's version"
    );
    let digest = "ghcr.io/someone/rinha@sha256:0123abcd";
    let pinned = Submission::write("pin-digest", Some(digest)).unwrap();
    assert!(pinned.read("docker-compose.yml").contains(digest));
    for image in [
        "ghcr.io/someone/rinha:latest",
        "ghcr.io/someone/rinha",
        "localhost:5000/rinha",
    ] {
        match Submission::write("pin-refused", Some(image)) {
            Ok(_) => panic!("{image}: accepted, but it is not pinned"),
            Err(stderr) => assert!(stderr.contains("is not pinned"), "{image}: {stderr}"),
        }
    }
}

#[test]
fn the_submission_script_refuses_a_name_that_is_a_path() {
    let output = Command::new("bash")
        .arg(repo_file("scripts/submission.sh"))
        .arg("../escape")
        .arg(std::env::temp_dir())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("NAME must match"));
}

fn find_haproxy() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")])
        .map(|dir| dir.join("haproxy"))
        .find(|candidate| candidate.is_file())
}

/// Every contest rule (and every rule our own design adds) that the pair of
/// files breaks, one sentence each.
fn violations(compose: &Yaml, haproxy_cfg: &str) -> Vec<String> {
    let mut out = Vec::new();
    let Some(services) = compose.get("services").and_then(Yaml::as_map) else {
        return vec!["no services".into()];
    };

    // Budget, and the forbidden modes, service by service.
    let (mut cpus, mut memory) = (0u64, 0u64);
    for (name, service) in services {
        let limits = service.path(&["deploy", "resources", "limits"]);
        match limits.and_then(|l| l.get("cpus")).and_then(Yaml::as_str) {
            Some(text) => match parse_cpus(text) {
                Some(milli) => cpus += milli,
                None => out.push(format!("{name}: cpus {text:?} is not a number")),
            },
            None => out.push(format!("{name}: no deploy.resources.limits.cpus")),
        }
        match limits.and_then(|l| l.get("memory")).and_then(Yaml::as_str) {
            Some(text) => match parse_bytes(text) {
                Some(bytes) => memory += bytes,
                None => out.push(format!("{name}: memory {text:?} is not a size")),
            },
            None => out.push(format!("{name}: no deploy.resources.limits.memory")),
        }
        if let Some(mode) = service.get("network_mode").and_then(Yaml::as_str)
            && mode != "bridge"
        {
            out.push(format!(
                "{name}: network_mode {mode} (only bridge is allowed)"
            ));
        }
        if service.get("privileged").and_then(Yaml::as_str) == Some("true") {
            out.push(format!("{name}: privileged mode is forbidden"));
        }
        if service.path(&["deploy", "replicas"]).is_some() || service.get("scale").is_some() {
            out.push(format!(
                "{name}: deploy.replicas / scale is forbidden (declare each instance)"
            ));
        }
        if service.get("build").is_some() {
            out.push(format!(
                "{name}: builds its image; every image must come from a public registry"
            ));
        }
        match service.get("image").and_then(Yaml::as_str) {
            Some(image) => out.extend(image_problem(image).map(|p| format!("{name}: {p}"))),
            None => out.push(format!("{name}: no image")),
        }
    }
    if cpus > CPU_BUDGET_MILLI {
        out.push(format!(
            "cpus add up to {}.{:03}, over the 1.5 budget",
            cpus / 1000,
            cpus % 1000
        ));
    }
    if memory > MEMORY_BUDGET {
        out.push(format!(
            "memory adds up to {} MiB, over the 350 MB budget",
            memory.div_ceil(1 << 20)
        ));
    }

    // Port 9999: published by the load balancer and nothing else.
    let publishers: Vec<&str> = services
        .iter()
        .filter(|(_, s)| s.get("ports").is_some())
        .map(|(n, _)| n.as_str())
        .collect();
    let balancers: Vec<&str> = services
        .iter()
        .filter(|(_, s)| {
            s.get("image")
                .and_then(Yaml::as_str)
                .is_some_and(|i| LOAD_BALANCERS.contains(&image_name(i)))
        })
        .map(|(n, _)| n.as_str())
        .collect();
    match balancers.as_slice() {
        [lb] => {
            let ports = services
                .iter()
                .find(|(n, _)| n == lb)
                .and_then(|(_, s)| s.get("ports"))
                .and_then(Yaml::as_seq)
                .unwrap_or(&[]);
            let texts: Vec<&str> = ports.iter().filter_map(Yaml::as_str).collect();
            if texts != ["9999:9999"] {
                out.push(format!(
                    "{lb}: must publish exactly \"9999:9999\", publishes {texts:?}"
                ));
            }
        }
        _ => out.push(format!(
            "exactly one load balancer expected, found {balancers:?}"
        )),
    }
    for publisher in &publishers {
        if !balancers.contains(publisher) {
            out.push(format!(
                "{publisher}: only the load balancer may publish ports"
            ));
        }
    }
    if !haproxy_cfg
        .lines()
        .any(|l| l.trim_start().starts_with("bind") && l.contains(":9999"))
    {
        out.push("haproxy.cfg: no `bind ...:9999`".into());
    }
    // Our own rule: the instances refuse a payment whose client has given
    // up only if HAProxy stamps when it arrived (src/api/mod.rs).
    if !haproxy_cfg
        .lines()
        .any(|l| l.trim() == "http-request set-header X-Rinha-Arrived %[date(0,ms)]")
    {
        out.push("haproxy.cfg: no `http-request set-header X-Rinha-Arrived %[date(0,ms)]`: stale payments would be paid".into());
    }

    // Networks: bridge only; the processors' network external and joined.
    let networks = compose
        .get("networks")
        .and_then(Yaml::as_map)
        .unwrap_or(&[]);
    for (name, network) in networks {
        let external = network.get("external").and_then(Yaml::as_str) == Some("true");
        let driver = network.get("driver").and_then(Yaml::as_str);
        if name == "payment-processor" && !external {
            out.push("payment-processor must be declared external: true".into());
        }
        if !external && driver.is_some_and(|d| d != "bridge") {
            out.push(format!(
                "network {name}: driver {driver:?}, only bridge is allowed"
            ));
        }
    }
    if !networks.iter().any(|(n, _)| n == "payment-processor") {
        out.push("payment-processor must be declared external: true (it is not declared)".into());
    }

    // The api instances: at least two, on the processors' network, behind
    // sockets the load balancer names, sharing one file on a tmpfs volume.
    let apis: Vec<(&str, &Yaml)> = services
        .iter()
        .filter(|(_, s)| env(s, "RINHA_LISTEN").is_some())
        .map(|(n, s)| (n.as_str(), s))
        .collect();
    if apis.len() < 2 {
        out.push(format!(
            "at least two api instances are required, found {}",
            apis.len()
        ));
    }
    let mut shared_files = Vec::new();
    for &(name, api) in &apis {
        let joined = api
            .get("networks")
            .and_then(Yaml::as_seq)
            .unwrap_or(&[])
            .iter()
            .any(|n| n.as_str() == Some("payment-processor"));
        if !joined {
            out.push(format!("{name}: does not join payment-processor"));
        }
        let listen = env(api, "RINHA_LISTEN").unwrap_or_default();
        match listen.strip_prefix("unix:") {
            Some(socket) => {
                if !haproxy_cfg.contains(&format!("unix@{socket}")) {
                    out.push(format!(
                        "{name}: listens on {socket} but haproxy.cfg has no unix@{socket}"
                    ));
                }
                if !balancers.iter().all(|lb| {
                    let lb = services.iter().find(|(n, _)| n == lb).map(|(_, s)| s);
                    lb.is_some_and(|lb| shares_volume(compose, lb, api, socket))
                }) {
                    out.push(format!(
                        "{name}: socket {socket} is not on a tmpfs volume the load balancer also mounts"
                    ));
                }
            }
            None => out.push(format!(
                "{name}: RINHA_LISTEN {listen} is not a unix socket"
            )),
        }
        match env(api, "RINHA_SHARED_FILE") {
            Some(file) => {
                if !apis
                    .iter()
                    .all(|&(_, other)| shares_volume(compose, api, other, &file))
                {
                    out.push(format!(
                        "{name}: RINHA_SHARED_FILE {file} is not on a tmpfs volume every api mounts"
                    ));
                }
                shared_files.push(file);
            }
            None => out.push(format!("{name}: no RINHA_SHARED_FILE")),
        }
    }
    shared_files.dedup();
    if shared_files.len() > 1 {
        out.push(format!(
            "the api instances must share one RINHA_SHARED_FILE, found {shared_files:?}"
        ));
    }
    // The load balancer starts after the instances it forwards to.
    if let Some(&lb) = balancers.first() {
        let depends = services
            .iter()
            .find(|(n, _)| n == lb)
            .and_then(|(_, s)| s.get("depends_on"))
            .and_then(Yaml::as_seq)
            .unwrap_or(&[]);
        for &(name, _) in &apis {
            if !depends.iter().any(|d| d.as_str() == Some(name)) {
                out.push(format!("{lb}: does not depend_on {name}"));
            }
        }
    }
    out
}

/// Whether `path` lies on a named volume that both services mount at the
/// same place, and that volume is a tmpfs (state and sockets in memory).
fn shares_volume(compose: &Yaml, a: &Yaml, b: &Yaml, path: &str) -> bool {
    let mounts = |service: &Yaml| -> Vec<(String, String)> {
        service
            .get("volumes")
            .and_then(Yaml::as_seq)
            .unwrap_or(&[])
            .iter()
            .filter_map(Yaml::as_str)
            .filter_map(|m| {
                let mut parts = m.split(':');
                Some((parts.next()?.to_string(), parts.next()?.to_string()))
            })
            .collect()
    };
    let b_mounts = mounts(b);
    mounts(a).into_iter().any(|(source, target)| {
        let on_it = path.starts_with(&format!("{}/", target.trim_end_matches('/')));
        let named = !source.starts_with('.') && !source.starts_with('/');
        let tmpfs = compose
            .path(&["volumes", &source, "driver_opts", "type"])
            .and_then(Yaml::as_str)
            == Some("tmpfs");
        on_it && named && tmpfs && b_mounts.contains(&(source.clone(), target.clone()))
    })
}

fn env(service: &Yaml, name: &str) -> Option<String> {
    match service.get("environment")? {
        Yaml::Map(pairs) => pairs
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_str())
            .map(String::from),
        Yaml::Seq(items) => items.iter().filter_map(Yaml::as_str).find_map(|item| {
            let (k, v) = item.split_once('=')?;
            (k == name).then(|| v.to_string())
        }),
        _ => None,
    }
}

/// `ghcr.io/owner/name:tag` → `name`; `haproxy:3.0-alpine` → `haproxy`.
fn image_name(image: &str) -> &str {
    let without_digest = image.split('@').next().unwrap_or(image);
    let last = without_digest.rsplit('/').next().unwrap_or(without_digest);
    last.split(':').next().unwrap_or(last)
}

/// Why an image reference could not be pulled by the contest's machine.
fn image_problem(image: &str) -> Option<String> {
    let (path, tagged) = match image.split_once('@') {
        Some((path, _digest)) => (path, true),
        None => {
            let last = image.rsplit('/').next().unwrap_or(image);
            (image, last.contains(':'))
        }
    };
    if !tagged {
        return Some(format!(
            "image {image} has no explicit tag (pin one, the contest is run later)"
        ));
    }
    if image.ends_with(":latest") {
        return Some(format!(
            "image {image} is not pinned: `latest` moves with every push"
        ));
    }
    let components: Vec<&str> = path.split('/').collect();
    let public = match components.as_slice() {
        [_official] => OFFICIAL_IMAGES.contains(&image_name(image)),
        [first, ..] => {
            let registry = first.contains('.') || first.contains(':');
            let local =
                *first == "localhost" || first.starts_with("127.") || first.ends_with(".local");
            // A Docker Hub namespace, or a registry host followed by a path.
            !local
                && (registry
                    || first.chars().all(|c| {
                        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_'
                    }))
        }
        [] => false,
    };
    (!public).then(|| {
        format!(
            "image {image} is not on a public registry (official library image or registry/namespace/name)"
        )
    })
}

#[test]
fn units_are_parsed_like_docker() {
    for (text, milli) in [
        ("0.5", Some(500)),
        ("1", Some(1000)),
        (".25", Some(250)),
        ("1.2345", None),
        ("x", None),
    ] {
        assert_eq!(parse_cpus(text), milli, "{text}");
    }
    for (text, bytes) in [
        ("100MB", Some(100 << 20)),
        ("100m", Some(100 << 20)),
        ("1G", Some(1 << 30)),
        ("512k", Some(512 << 10)),
        ("1024", Some(1024)),
        ("10 MB", None),
        ("1T", None),
    ] {
        assert_eq!(parse_bytes(text), bytes, "{text}");
    }
    for (image, problem) in [
        ("haproxy:3.0-alpine", false),
        ("ghcr.io/rinha-rs/rinha:1.0.0", false),
        ("ghcr.io/rinha-rs/rinha:latest", true),
        ("someone/rinha:1.0", false),
        ("docker.io/library/haproxy:3.0@sha256:abc", false),
        ("rinha:dev", true),
        ("localhost/rinha:1", true),
        ("ghcr.io/rinha-rs/rinha", true),
    ] {
        assert_eq!(image_problem(image).is_some(), problem, "{image}");
    }
}

#[test]
fn the_yaml_subset_is_read_exactly_and_the_rest_refused() {
    let map = |pairs: &[(&str, Yaml)]| {
        Yaml::Map(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
        )
    };
    let s = |t: &str| Yaml::Str(t.to_string());
    let cases: &[(&str, Result<Yaml, &str>)] = &[
        ("a: 1", Ok(map(&[("a", s("1"))]))),
        (
            "a:\n  b: \"x # not a comment\" # a comment\n",
            Ok(map(&[("a", map(&[("b", s("x # not a comment"))]))])),
        ),
        (
            "a:\n  - \"9999:9999\"\n  - ./h.cfg:/h.cfg:ro\n",
            Ok(map(&[(
                "a",
                Yaml::Seq(vec![s("9999:9999"), s("./h.cfg:/h.cfg:ro")]),
            )])),
        ),
        (
            "a:\n- x\n- y\nb: 'it''s'\n",
            Ok(map(&[
                ("a", Yaml::Seq(vec![s("x"), s("y")])),
                ("b", s("it's")),
            ])),
        ),
        (
            "a: [\"api\", \"--x\", y]\nb:\n",
            Ok(map(&[
                ("a", Yaml::Seq(vec![s("api"), s("--x"), s("y")])),
                ("b", Yaml::Null),
            ])),
        ),
        (
            "url: http://h:8080",
            Ok(map(&[("url", s("http://h:8080"))])),
        ),
        ("a: &anchor 1", Err("anchors")),
        ("a: *anchor", Err("anchors")),
        ("a:\n  <<: *x", Err("merge keys")),
        ("a: |\n  text", Err("block scalars")),
        ("a: {b: 1}", Err("flow mappings")),
        ("a:\n  - b: 1", Err("mappings inside sequence items")),
        ("a: 1\na: 2", Err("duplicate key")),
        ("a:\n  b: 1\n    c: 2", Err("unexpected indentation")),
        ("a:\n\tb: 1", Err("tab")),
        ("just text", Err("expected `key: value`")),
    ];
    for (source, expected) in cases {
        match (parse(source), expected) {
            (Ok(got), Ok(want)) => assert_eq!(&got, want, "{source:?}"),
            (Err(got), Err(want)) => assert!(got.contains(want), "{source:?}: {got}"),
            (got, want) => panic!("{source:?}: got {got:?}, want {want:?}"),
        }
    }
}
