//! Finding QEMU and OVMF on the host, and installing them where that can be done safely.
//!
//! If `qemu-system-x86_64` (or, for UEFI, the OVMF firmware) is missing, the runner installs
//! Debian's `qemu-system-x86` and `ovmf` packages with `apt-get` when it runs as root or has
//! password-less `sudo`, saying what it runs. Anywhere else it stops with the exact install
//! command for the platform. Setting [`NO_INSTALL_ENV`] turns the installation off.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

/// Set (to anything) to forbid the runner from installing packages.
pub const NO_INSTALL_ENV: &str = "AUGUR_NO_INSTALL";
/// Overrides the QEMU binary.
pub const QEMU_ENV: &str = "AUGUR_QEMU";
/// Override the OVMF firmware files.
pub const OVMF_CODE_ENV: &str = "AUGUR_OVMF_CODE";
pub const OVMF_VARS_ENV: &str = "AUGUR_OVMF_VARS";

const QEMU_BINARY: &str = "qemu-system-x86_64";
const DEBIAN_PACKAGES: &[&str] = &["qemu-system-x86", "ovmf"];

/// Where distributions put OVMF: (code, vars) pairs, most common first.
const OVMF_CANDIDATES: &[(&str, &str)] = &[
    (
        "/usr/share/OVMF/OVMF_CODE.fd",
        "/usr/share/OVMF/OVMF_VARS.fd",
    ),
    (
        "/usr/share/OVMF/OVMF_CODE_4M.fd",
        "/usr/share/OVMF/OVMF_VARS_4M.fd",
    ),
    (
        "/usr/share/edk2/ovmf/OVMF_CODE.fd",
        "/usr/share/edk2/ovmf/OVMF_VARS.fd",
    ),
    (
        "/usr/share/edk2/x64/OVMF_CODE.4m.fd",
        "/usr/share/edk2/x64/OVMF_VARS.4m.fd",
    ),
    (
        "/usr/share/edk2-ovmf/x64/OVMF_CODE.fd",
        "/usr/share/edk2-ovmf/x64/OVMF_VARS.fd",
    ),
    (
        "/usr/share/qemu/edk2-x86_64-code.fd",
        "/usr/share/qemu/edk2-i386-vars.fd",
    ),
    (
        "/opt/homebrew/share/qemu/edk2-x86_64-code.fd",
        "/opt/homebrew/share/qemu/edk2-i386-vars.fd",
    ),
    (
        "/usr/local/share/qemu/edk2-x86_64-code.fd",
        "/usr/local/share/qemu/edk2-i386-vars.fd",
    ),
];

/// OVMF's two files: the firmware code (read-only) and the variable store template.
#[derive(Clone, Debug)]
pub struct Ovmf {
    pub code: PathBuf,
    pub vars: PathBuf,
}

/// A tool is missing and was not installed.
#[derive(Debug)]
pub struct MissingTool {
    pub what: &'static str,
    /// Why it was not installed automatically.
    pub reason: String,
    /// The command the user should run.
    pub install: String,
}

impl fmt::Display for MissingTool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} not found ({}). Install it with:\n    {}",
            self.what, self.reason, self.install
        )
    }
}

impl std::error::Error for MissingTool {}

/// One installation attempt per process, even when tests run in parallel threads.
static INSTALL_LOCK: Mutex<()> = Mutex::new(());

fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// The QEMU binary, installing it if it is missing and installation is allowed.
pub fn qemu() -> Result<PathBuf, MissingTool> {
    if let Some(path) = std::env::var_os(QEMU_ENV) {
        return Ok(PathBuf::from(path));
    }
    if let Some(path) = on_path(QEMU_BINARY) {
        return Ok(path);
    }
    let _guard = INSTALL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(path) = on_path(QEMU_BINARY) {
        return Ok(path);
    }
    install("QEMU (qemu-system-x86_64)")?;
    on_path(QEMU_BINARY).ok_or_else(|| MissingTool {
        what: "QEMU (qemu-system-x86_64)",
        reason: "still missing after installing the packages".into(),
        install: install_command(),
    })
}

/// The OVMF firmware for UEFI boots, installing it if missing and allowed.
pub fn ovmf() -> Result<Ovmf, MissingTool> {
    if let (Some(code), Some(vars)) = (
        std::env::var_os(OVMF_CODE_ENV),
        std::env::var_os(OVMF_VARS_ENV),
    ) {
        return Ok(Ovmf {
            code: code.into(),
            vars: vars.into(),
        });
    }
    let find = || {
        OVMF_CANDIDATES
            .iter()
            .find(|(c, v)| Path::new(c).is_file() && Path::new(v).is_file())
            .map(|(c, v)| Ovmf {
                code: c.into(),
                vars: v.into(),
            })
    };
    if let Some(found) = find() {
        return Ok(found);
    }
    let _guard = INSTALL_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = find() {
        return Ok(found);
    }
    install("OVMF (UEFI firmware for QEMU)")?;
    find().ok_or_else(|| MissingTool {
        what: "OVMF (UEFI firmware for QEMU)",
        reason: format!(
            "not in any known location after installing; set {OVMF_CODE_ENV} and {OVMF_VARS_ENV}"
        ),
        install: install_command(),
    })
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

fn passwordless_sudo() -> bool {
    Command::new("sudo")
        .args(["-n", "true"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn os_release() -> String {
    std::fs::read_to_string("/etc/os-release").unwrap_or_default()
}

/// The command that installs QEMU and OVMF on this platform.
pub fn install_command() -> String {
    if cfg!(target_os = "macos") {
        return "brew install qemu".into();
    }
    let os = os_release();
    let like = |id: &str| {
        os.lines()
            .any(|l| (l.starts_with("ID=") || l.starts_with("ID_LIKE=")) && l.contains(id))
    };
    if like("debian") || like("ubuntu") {
        "sudo apt-get install qemu-system-x86 ovmf".into()
    } else if like("fedora") || like("rhel") {
        "sudo dnf install qemu-system-x86 edk2-ovmf".into()
    } else if like("arch") {
        "sudo pacman -S qemu-system-x86 edk2-ovmf".into()
    } else if like("suse") {
        "sudo zypper install qemu-x86 qemu-ovmf-x86_64".into()
    } else {
        "install QEMU (qemu-system-x86_64) and OVMF with your system's package manager".into()
    }
}

/// Installs Debian's packages with apt-get, as root or through password-less sudo.
fn install(what: &'static str) -> Result<(), MissingTool> {
    let missing = |reason: String| MissingTool {
        what,
        reason,
        install: install_command(),
    };
    if std::env::var_os(NO_INSTALL_ENV).is_some() {
        return Err(missing(format!(
            "automatic installation is off because {NO_INSTALL_ENV} is set"
        )));
    }
    if on_path("apt-get").is_none() {
        return Err(missing(
            "this system has no apt-get, so it is not installed automatically".into(),
        ));
    }
    let prefix: &[&str] = if is_root() {
        &[]
    } else if passwordless_sudo() {
        &["sudo", "-n"]
    } else {
        return Err(missing(
            "installing needs root, and sudo asks for a password".into(),
        ));
    };
    let run = |args: &[&str]| {
        let mut full: Vec<&str> = prefix.to_vec();
        full.extend_from_slice(args);
        eprintln!("augur: {what} is missing; running: {}", full.join(" "));
        Command::new(full[0])
            .args(&full[1..])
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
    };
    let update = run(&["apt-get", "update", "-q"]);
    if !update.as_ref().is_ok_and(|s| s.success()) {
        eprintln!("augur: apt-get update failed ({update:?}); trying the install anyway");
    }
    let mut args = vec!["apt-get", "install", "-y", "-q", "--no-install-recommends"];
    args.extend_from_slice(DEBIAN_PACKAGES);
    match run(&args) {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(missing(format!("apt-get install failed with {s}"))),
        Err(e) => Err(missing(format!("could not run apt-get: {e}"))),
    }
}
