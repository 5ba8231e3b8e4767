//! The QEMU command line, defined once.

use augur_boot::Firmware;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// TCP port of QEMU's gdb stub (`-s`).
pub const GDB_PORT: u16 = 1234;

/// How QEMU executes the guest.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    /// Software emulation: works everywhere, and is the only accelerator `-icount` supports.
    Tcg,
    /// Hardware virtualisation, where the host's KVM works (opt-in).
    Kvm,
}

/// The emulated machine.
#[derive(Clone, Debug)]
pub struct Machine {
    pub firmware: Firmware,
    pub accel: Accel,
    /// `-cpu` model; `None` is `max` under TCG (AVX2 included) and `host` under KVM.
    pub cpu: Option<String>,
    /// Count instructions as time (`-icount shift=0,sleep=off`): reproducible runs.
    pub deterministic: bool,
    /// Start halted with the gdb stub on [`GDB_PORT`].
    pub gdb: bool,
    pub memory_mib: u32,
}

impl Default for Machine {
    fn default() -> Self {
        Machine {
            firmware: Firmware::Bios,
            accel: Accel::Tcg,
            cpu: None,
            deterministic: false,
            gdb: false,
            memory_mib: 256,
        }
    }
}

/// QEMU's arguments for booting `image`. `uefi_flash` is (OVMF code, writable vars copy).
pub fn qemu_args(
    machine: &Machine,
    image: &Path,
    uefi_flash: Option<&(PathBuf, PathBuf)>,
    trace: &Path,
) -> Vec<OsString> {
    let mut args: Vec<OsString> = Vec::new();
    let mut push = |parts: &[&str]| args.extend(parts.iter().map(OsString::from));
    push(&[
        "-machine",
        "q35",
        "-m",
        &format!("{}M", machine.memory_mib),
        "-smp",
        "1",
    ]);
    match machine.accel {
        Accel::Tcg => push(&[
            "-accel",
            "tcg",
            "-cpu",
            machine.cpu.as_deref().unwrap_or("max"),
        ]),
        Accel::Kvm => push(&[
            "-accel",
            "kvm",
            "-cpu",
            machine.cpu.as_deref().unwrap_or("host"),
        ]),
    }
    if machine.deterministic {
        push(&[
            "-icount",
            "shift=0,sleep=off",
            "-rtc",
            "base=2000-01-01,clock=vm",
        ]);
    }
    push(&["-display", "none", "-no-reboot", "-monitor", "none"]);
    push(&["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
    // COM1 -> our stdout (the console), COM2 -> the trace file.
    push(&["-serial", "stdio"]);
    let mut file_arg = OsString::from("file:");
    file_arg.push(trace);
    args.push("-serial".into());
    args.push(file_arg);
    if let Some((code, vars)) = uefi_flash {
        args.push("-drive".into());
        args.push(drive_arg("if=pflash,format=raw,readonly=on,file=", code));
        args.push("-drive".into());
        args.push(drive_arg("if=pflash,format=raw,file=", vars));
    }
    args.push("-drive".into());
    args.push(drive_arg("format=raw,file=", image));
    if machine.gdb {
        args.push("-s".into());
        args.push("-S".into());
    }
    debug_assert!(machine.firmware == Firmware::Uefi || uefi_flash.is_none());
    args
}

fn drive_arg(prefix: &str, path: &Path) -> OsString {
    let mut arg = OsString::from(prefix);
    arg.push(path);
    arg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn joined(args: &[OsString]) -> String {
        args.iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[test]
    fn default_machine_is_tcg_max_with_debug_exit_and_two_serials() {
        let args = joined(&qemu_args(
            &Machine::default(),
            Path::new("/i.img"),
            None,
            Path::new("/t.bin"),
        ));
        assert!(args.contains("-accel tcg -cpu max"), "{args}");
        assert!(
            args.contains("isa-debug-exit,iobase=0xf4,iosize=0x04"),
            "{args}"
        );
        assert!(args.contains("-serial stdio -serial file:/t.bin"), "{args}");
        assert!(args.contains("-drive format=raw,file=/i.img"), "{args}");
        assert!(
            !args.contains("icount") && !args.contains("pflash") && !args.contains(" -S"),
            "{args}"
        );
    }

    #[test]
    fn options_reach_the_command_line() {
        let machine = Machine {
            firmware: Firmware::Uefi,
            accel: Accel::Kvm,
            cpu: Some("qemu64".into()),
            deterministic: true,
            gdb: true,
            memory_mib: 512,
        };
        let flash = (PathBuf::from("/code.fd"), PathBuf::from("/vars.fd"));
        let args = joined(&qemu_args(
            &machine,
            Path::new("/i.img"),
            Some(&flash),
            Path::new("/t"),
        ));
        assert!(args.contains("-accel kvm -cpu qemu64"), "{args}");
        assert!(args.contains("-icount shift=0,sleep=off"), "{args}");
        assert!(
            args.contains("if=pflash,format=raw,readonly=on,file=/code.fd"),
            "{args}"
        );
        assert!(
            args.contains("if=pflash,format=raw,file=/vars.fd"),
            "{args}"
        );
        assert!(
            args.contains("-m 512M") && args.ends_with("-s -S"),
            "{args}"
        );
    }
}
