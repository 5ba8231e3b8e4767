//! The kernel binary: the bootloader's entry point, handing straight over to
//! [`augur_kernel::kmain`]. On the host this file builds to a stub that says how to boot.

#![cfg_attr(target_os = "none", no_std, no_main)]

#[cfg(target_os = "none")]
bootloader_api::entry_point!(
    augur_kernel::kmain::kernel_main,
    config = &augur_kernel::kmain::BOOTLOADER_CONFIG
);

#[cfg(not(target_os = "none"))]
fn main() {
    eprintln!(
        "augur-kernel is a bare-metal kernel for x86_64-unknown-none; boot it in QEMU with \
         `cargo run --release` from the repository root"
    );
    std::process::exit(2);
}
